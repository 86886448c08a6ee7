"""Lambda assets built without Docker: pip installs manylinux wheels for the Lambda runtime
into the asset folder, then copies the project's packages (and the model, if it serves in
Lambda). Used by CDK through ILocalBundling."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "api", "ingest")
PYTHON_VERSION = "3.14"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.X86_64
# Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34); onnxruntime publishes
# manylinux_2_28 wheels only, so every tag up to 2_28 is accepted.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
MODEL_FILES = ("model.int8.onnx", "tokenizer.json", "labels.json", "model_version")
#: Never in a bundle: caches, test suites, and benchmark tooling (ingest/bench: the local
#: feed server and `newsig bench ingest`, which no handler imports).
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.onnx.tmp", "bench")


BASE_REQUIREMENTS = ROOT / "infra" / "lambda-requirements.txt"
ONNX_REQUIREMENTS = ROOT / "infra" / "lambda-requirements-onnx.txt"
LAMBDA_SIZE_LIMIT = 250 * 1024 * 1024


def requirement_files(with_model: bool) -> list[Path]:
    return [BASE_REQUIREMENTS, *([ONNX_REQUIREMENTS] if with_model else [])]


def _prune(out: Path) -> None:
    """Drop what never runs in Lambda: bytecode caches, test suites, console scripts."""
    for pattern in ("**/__pycache__", "**/tests", "*/testing/_private", "bin"):
        for path in out.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    def __init__(self, model_dir: Path | None) -> None:
        self.model_dir = model_dir

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--target", str(out), "--implementation", "cp",
               "--python-version", PYTHON_VERSION, "--only-binary=:all:", "--upgrade"]
        for platform in PLATFORMS:
            pip += ["--platform", platform]
        subprocess.run([*pip, "-r", str(BASE_REQUIREMENTS)], check=True)
        if self.model_dir is not None:
            subprocess.run([*pip, "--no-deps", "-r", str(ONNX_REQUIREMENTS)], check=True)
        for pkg in PACKAGES:
            shutil.copytree(ROOT / pkg, out / pkg, ignore=_IGNORE, dirs_exist_ok=True)
        if self.model_dir is not None:
            (out / "model").mkdir(exist_ok=True)
            for name in MODEL_FILES:
                shutil.copy2(self.model_dir / name, out / "model" / name)
        _prune(out)
        size = folder_bytes(out)
        if size > LAMBDA_SIZE_LIMIT:
            raise RuntimeError(f"Lambda bundle is {size / 2**20:.0f} MiB, over Lambda's 250 MB "
                               "unzipped limit")
        return True


def asset_hash(model_dir: Path | None) -> str:
    """Changes when the code, the requirements or the served model change."""
    h = hashlib.sha256()
    paths = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    for p in [*paths, *requirement_files(model_dir is not None)]:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    if model_dir is not None:
        h.update((model_dir / "model_version").read_bytes())
    return h.hexdigest()


def lambda_code(model_dir: Path | None) -> lambda_.Code:
    """Code asset: bundled locally when CDK bundles this stack; otherwise (tests, or
    `cdk synth --exclusively` of another stack) staged from the package sources only."""
    return lambda_.Code.from_asset(
        str(ROOT / "core"),  # a small source folder; the bundle replaces it entirely
        asset_hash=asset_hash(model_dir),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(image=DockerImage.from_registry("unused-local-bundling"),
                                 local=PipLocalBundling(model_dir)))
