"""Real validators on the synthesized templates of both classifier modes: cfn-lint with zero
errors and zero warnings, and checkov with every remaining finding acknowledged, with its
reason, in infra/checkov-acks.toml (and every acknowledgment still needed).

Both tools run from .venv-tools (pinned in tools-constraints.txt; `make test` installs it):
checkov's own pins clash with the project's, so they live apart."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
pytest.importorskip("aws_cdk", reason="needs the infra extra")

from infra import app as infra_app
from model.export import export_sagemaker

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("NEWSIG_TOOLS_BIN", ROOT / ".venv-tools" / "bin"))
ACKS = ROOT / "infra" / "checkov-acks.toml"


def tool(name: str) -> Path:
    path = TOOLS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` installs cfn-lint and checkov into "
                    f"{TOOLS.parent} (or point NEWSIG_TOOLS_BIN at them)")
    return path


@pytest.fixture(scope="module")
def templates(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    artifact = export_sagemaker(tiny_model_dir, tmp_path_factory.mktemp("sm"))
    out = []
    for name, context in (("sagemaker", {"model_artifact": str(artifact)}),
                          ("lambda", {"classifier": "lambda",
                                      "model_dir": str(tiny_model_dir)})):
        outdir = tmp_path_factory.mktemp(f"cdk-{name}")
        app, stack = infra_app.build_app({"aws:cdk:bundling-stacks": [], **context},
                                         outdir=str(outdir), nag=True)
        app.synth()
        out.append(outdir / f"{stack.stack_name}.template.json")
    return out


def test_cfn_lint_zero_errors_zero_warnings(templates: list[Path]) -> None:
    run = subprocess.run([str(tool("cfn-lint")), "--format", "parseable",
                          *map(str, templates)], capture_output=True, text=True, timeout=300)
    assert run.stdout.strip() == "" and run.returncode == 0, run.stdout + run.stderr


def test_cfn_lint_does_fail_on_a_broken_template(templates: list[Path],
                                                 tmp_path: Path) -> None:
    """The check can fail: a retired runtime and a timeout over Lambda's 900 s are caught."""
    body = json.loads(templates[0].read_text())
    (fn_id,) = [k for k, v in body["Resources"].items()
                if v["Type"] == "AWS::Lambda::Function" and k.startswith("Ingest")]
    body["Resources"][fn_id]["Properties"]["Runtime"] = "python2.7"
    body["Resources"][fn_id]["Properties"]["Timeout"] = 1200
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(body))
    run = subprocess.run([str(tool("cfn-lint")), "--format", "parseable", str(broken)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "Runtime" in run.stdout, run.stdout


def checkov_findings(templates: list[Path]) -> set[tuple[str, str]]:
    cmd = [str(tool("checkov")), "--framework", "cloudformation", "--quiet", "--compact",
           "--output", "json", "--skip-download"]
    for t in templates:
        cmd += ["-f", str(t)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "BC_SKIP_MAPPING": "TRUE",
                              "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
    reports: Any = json.loads(run.stdout)
    found = set()
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report["results"]["failed_checks"]:
            found.add((check["check_id"], check["resource"].split(".", 1)[1]))
    return found


def acknowledged(check_id: str, logical_id: str, acks: dict[str, Any]) -> bool:
    ack = acks.get(check_id)
    return ack is not None and any(p == "*" or logical_id.startswith(p)
                                   for p in ack["resources"])


def test_checkov_findings_are_fixed_or_acknowledged_with_a_reason(
        templates: list[Path]) -> None:
    acks = tomllib.loads(ACKS.read_text())
    for check_id, ack in acks.items():
        assert len(ack["why"].split()) >= 8, f"{check_id}: say why"
    findings = checkov_findings(templates)
    assert findings, "checkov found nothing at all: is it running?"
    unacknowledged = sorted(f for f in findings if not acknowledged(*f, acks))
    assert not unacknowledged, f"fix these or acknowledge them in {ACKS.name}: {unacknowledged}"
    stale = [(c, p) for c, ack in acks.items() for p in ack["resources"]
             if not any(fc == c and (p == "*" or fl.startswith(p)) for fc, fl in findings)]
    assert not stale, f"acknowledgments nothing needs any more: {stale}"
    # The findings that matter are fixed, not acknowledged.
    fixed = {"CKV_AWS_115", "CKV_AWS_370", "CKV_AWS_28", "CKV_AWS_119"}
    assert not {c for c, _ in findings} & fixed
