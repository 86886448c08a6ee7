"""Real headless Chromium (Debian's package) for the dashboard tests.

If no Chromium is on the machine, the fixture installs Debian's `chromium` with apt-get (as
the project's setup for these tests). Only if that is impossible here is the test skipped,
with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def install_chromium() -> str:
    """Install Debian's chromium; returns why not if it cannot be done here."""
    if not shutil.which("apt-get"):
        return "no apt-get on this machine"
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            done = subprocess.run(prefix + cmd, capture_output=True, text=True, env=env,
                                  timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(cmd)} failed: {exc}"
        if done.returncode:
            return f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        why = install_chromium()
        path = find_chromium()
        if path is None:
            pytest.skip(f"Chromium could not be installed: {why or 'not found after install'}")
    return path
