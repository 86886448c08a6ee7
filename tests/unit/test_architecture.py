"""The layering holds: dependencies point inward and no module imports its way back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "ingest", "api", "model", "infra", "dashboards")


def module_imports() -> dict[str, set[str]]:
    """Every project module and the project modules it imports (anywhere in its body)."""
    graph: dict[str, set[str]] = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
                ".__init__")
            deps: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    deps.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    deps.add(node.module)
            graph[name] = {d for d in deps if d.split(".")[0] in PACKAGES}
    return graph


def test_core_imports_no_outer_layer() -> None:
    for module, deps in module_imports().items():
        if module.startswith("core"):
            assert {d.split(".")[0] for d in deps} <= {"core"}, (module, deps)


def test_no_import_cycle_between_modules() -> None:
    graph = module_imports()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(m: str) -> None:
        if m in done:
            return
        assert m not in visiting, " -> ".join([*visiting[visiting.index(m):], m])
        visiting.append(m)
        for d in graph.get(m, ()):
            visit(d if d in graph else d.rsplit(".", 1)[0])
        visiting.pop()
        done.add(m)

    for module in graph:
        visit(module)


@pytest.mark.parametrize("module", ["core.adapters.dynamodb_store",
                                    "core.adapters.sagemaker_classifier",
                                    "core.adapters.sqlite_store",
                                    "core.adapters.onnx_classifier"])
def test_adapters_do_not_import_the_wiring(module: str) -> None:
    code = f"import sys, {module}; assert 'core.wiring' not in sys.modules, 'wiring imported'"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_core_imports_no_heavy_dependency_at_module_level() -> None:
    code = ("import sys, core.service, core.wiring, core.models, core.queries; "
            "bad = {'torch', 'fastapi', 'boto3', 'aws_cdk', 'transformers'} & set(sys.modules); "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_tracked_files_record_repo_relative_paths() -> None:
    """Metrics, cards and code record paths relative to the repository, never the absolute
    paths of the machine that wrote them (model.data.repo_relative)."""
    import re

    from model.data import REPO_ROOT, repo_relative

    inside = REPO_ROOT / "model" / "data" / "x.csv"
    assert repo_relative({"a": [str(inside)], "b": "/elsewhere/y.csv"}) == {
        "a": ["model/data/x.csv"], "b": "/elsewhere/y.csv"}
    files = subprocess.run(["git", "ls-files", "*.json", "*.py", "*.toml", "*.csv"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    pattern = re.compile(r"/(work|root|home|tmp)/[A-Za-z]")
    this = Path(__file__).resolve().relative_to(ROOT).as_posix()
    offenders = [f for f in files if f != this and (ROOT / f).is_file()
                 and pattern.search((ROOT / f).read_text(errors="replace")[:5_000_000])]
    assert not offenders
