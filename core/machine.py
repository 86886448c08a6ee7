"""What machine a figure came from: CPU model, vector ISA, cores (benchmarks and training)."""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path

ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


@lru_cache(maxsize=1)
def machine_info() -> dict[str, object]:
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    isa = [f for f in ISA_FLAGS if f in flags]
    return {"cpu": model, "isa": isa, "cpus": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version()}


def machine_line() -> str:
    m = machine_info()
    isa = ", ".join(m["isa"]) if m["isa"] else "no AVX2"  # type: ignore[arg-type]
    return f"{m['cpu']} ({isa}), {m['cpus']} cores"
