"""Lambda assets built without Docker: pip installs manylinux wheels for the Lambda runtime
into the asset folder, then copies the project's packages (and the model, if it serves in
Lambda). Used by CDK through ILocalBundling, and by the bundle tests through the same
`build_bundle`, parameterised by Python version and architecture: the deploy build (Python
3.14, arm64) and the test build (the test interpreter's Python and machine) are one code path.

Every pip install is held to constraints.txt, so a bundle carries the versions the suite
passed with."""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.names import OPTIONAL_SERVING_FILES, SERVING_FILES, VERSION_FILE

if TYPE_CHECKING:
    from aws_cdk import aws_lambda

ROOT = Path(__file__).resolve().parent.parent
#: What the handlers import from the project. The bundle tests prove the closure: a module a
#: handler needs that is not in one of these fails them.
PACKAGES = ("core", "api", "ingest", "dashboards")
HANDLERS = {"api": "api.lambda_handler.handler", "ingest": "ingest.lambda_handler.handler",
            "events": "ingest.stream_handler.handler", "ws": "api.ws.handler",
            "ws_authorizer": "api.ws.authorize", "rescore": "ingest.rescore_handler.handler"}
#: Never in a bundle: caches and test suites anywhere, and the project's tooling, which no
#: handler imports: the command line, the local server, the benchmarks (api/bench), the
#: CloudWatch dashboard construct (CDK code, synth-time only) and its price list.
#: tests/infra/test_bundles.py builds a bundle and proves each is absent.
NOT_BUNDLED = ("api/cli.py", "api/bench", "api/server.py", "api/watch.py", "api/textio.py",
               "core/cliargs.py", "dashboards/cloudwatch.py", "dashboards/prices.json")
_IGNORE_ANYWHERE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.onnx.tmp")


def _ignore(folder: str, names: list[str]) -> set[str]:
    rel = Path(folder).resolve().relative_to(ROOT)
    tooling = {n for n in names if (rel / n).as_posix() in NOT_BUNDLED}
    return set(_IGNORE_ANYWHERE(folder, names)) | tooling

BASE_REQUIREMENTS = ROOT / "infra" / "lambda-requirements.txt"
ONNX_REQUIREMENTS = ROOT / "infra" / "lambda-requirements-onnx.txt"
CONSTRAINTS = ROOT / "constraints.txt"
LAMBDA_SIZE_LIMIT = 250 * 1024 * 1024

Arch = Literal["x86_64", "arm64"]
_WHEEL_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class BundleTarget:
    """The interpreter a bundle is built for: wheels are chosen by these tags."""

    python_version: str
    architecture: Arch

    @property
    def platforms(self) -> tuple[str, ...]:
        # Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34); onnxruntime
        # publishes manylinux_2_28 wheels only, so every tag up to 2_28 is accepted.
        m = _WHEEL_MACHINE[self.architecture]
        return (f"manylinux_2_28_{m}", f"manylinux_2_17_{m}", f"manylinux2014_{m}")

    @classmethod
    def this_interpreter(cls) -> BundleTarget:
        """The test build: wheels this very interpreter can import."""
        machine = platform.machine().lower()
        arch: Arch = "arm64" if machine in ("aarch64", "arm64") else "x86_64"
        return cls(f"{sys.version_info.major}.{sys.version_info.minor}", arch)


#: What the stack deploys (Lambda's python3.14 runtime on Graviton: about 20% cheaper per
#: GB-second than x86_64).
DEPLOY_TARGET = BundleTarget("3.14", "arm64")


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


def pip_command(target: BundleTarget, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--target", str(out), "--implementation", "cp",
           "--python-version", target.python_version, "--only-binary=:all:", "--upgrade",
           "-c", str(CONSTRAINTS)]
    for tag in target.platforms:
        cmd += ["--platform", tag]
    return cmd


def build_bundle(out: Path, *, model_dir: Path | None, target: BundleTarget = DEPLOY_TARGET
                 ) -> Path:
    """Fill `out` with one Lambda bundle: the runtime dependencies (boto3 excluded: the
    runtime provides it), the project packages, and the model when it serves in Lambda."""
    out.mkdir(parents=True, exist_ok=True)
    pip = pip_command(target, out)
    subprocess.run([*pip, "-r", str(BASE_REQUIREMENTS)], check=True)
    if model_dir is not None:
        # --no-deps: inference needs only numpy (see lambda-requirements-onnx.txt).
        subprocess.run([*pip, "--no-deps", "-r", str(ONNX_REQUIREMENTS)], check=True)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, out / pkg, ignore=_ignore, dirs_exist_ok=True)
    if model_dir is not None:
        (out / "model").mkdir(exist_ok=True)
        for name in SERVING_FILES:
            shutil.copy2(model_dir / name, out / "model" / name)
        for name in OPTIONAL_SERVING_FILES:
            if (model_dir / name).exists():
                shutil.copy2(model_dir / name, out / "model" / name)
    _prune(out)
    size = folder_bytes(out)
    if size > LAMBDA_SIZE_LIMIT:
        raise RuntimeError(f"Lambda bundle is {size / 2**20:.0f} MiB, over Lambda's 250 MB "
                           "unzipped limit")
    return out


def asset_hash(model_dir: Path | None, target: BundleTarget = DEPLOY_TARGET) -> str:
    """Changes when the code, the requirements, the pins, the target or the model change."""
    h = hashlib.sha256(f"{target.python_version}/{target.architecture}".encode())
    paths = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and not any(
                       p.relative_to(ROOT).as_posix().startswith(t) for t in NOT_BUNDLED))
    for p in [*paths, *requirement_files(model_dir is not None), CONSTRAINTS]:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    if model_dir is not None:
        h.update((model_dir / VERSION_FILE).read_bytes())
    return h.hexdigest()


def lambda_code(model_dir: Path | None, target: BundleTarget = DEPLOY_TARGET
                ) -> aws_lambda.Code:
    """Code asset: bundled locally when CDK bundles this stack; otherwise (tests, or
    `cdk synth --exclusively` of another stack) staged from the package sources only."""
    import jsii
    from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
    from aws_cdk import aws_lambda as lambda_

    @jsii.implements(ILocalBundling)
    class PipLocalBundling:
        def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
            build_bundle(Path(output_dir), model_dir=model_dir, target=target)
            return True

    return lambda_.Code.from_asset(
        str(ROOT / "core"),  # a small source folder; the bundle replaces it entirely
        asset_hash=asset_hash(model_dir, target),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(image=DockerImage.from_registry("unused-local-bundling"),
                                 local=PipLocalBundling()))
