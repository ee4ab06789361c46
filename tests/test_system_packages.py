"""tools/system-packages.sh asks apt-get only for what is missing, each package on its own.

On an image whose nodejs bundles npm, Debian's npm package conflicts with it: asking for npm
there fails the whole install line. The script is run against stub commands (apt-get records what
it is asked; `id` says root), so the test needs neither root nor a network.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    _stub(bin_dir, "apt-get", f'echo "$@" >> {log}')
    _stub(bin_dir, "id", "echo 0")
    for tool in ("bash", "env", "cat", "sh"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    return bin_dir, log, tmp_path


def _run(bin_dir: Path, tmp_path: Path, present: set[str], chromium: bool):
    for name in present:
        if name == "python3":
            os.symlink(sys.executable, bin_dir / "python3")  # has venv and ensurepip
        else:
            _stub(bin_dir, name, "exit 0")
    browser = tmp_path / "chromium"
    if chromium:
        _stub(tmp_path, "chromium", "exit 0")
    env = {"PATH": str(bin_dir), "CHROMIUM": str(browser), "HOME": str(tmp_path)}
    return subprocess.run([str(bin_dir / "bash"), str(ROOT / "tools" / "system-packages.sh")], env=env,
                          capture_output=True, text=True)


def _installed(log: Path) -> list[str]:
    lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return [word for line in lines if "install" in line for word in line if not word.startswith("-")
            and word != "install"]


def test_nothing_missing_installs_nothing(sandbox):
    bin_dir, log, tmp = sandbox
    result = _run(bin_dir, tmp, {"make", "npm", "python3"}, chromium=True)
    assert result.returncode == 0, result.stderr
    assert "nothing missing" in result.stdout and not log.exists()


def test_npm_is_not_asked_for_where_a_nodejs_provides_it(sandbox):
    bin_dir, log, tmp = sandbox
    result = _run(bin_dir, tmp, {"make", "npm", "node", "python3"}, chromium=False)
    assert result.returncode == 0, result.stderr
    assert _installed(log) == ["chromium"]


def test_a_bare_machine_gets_each_missing_package(sandbox):
    bin_dir, log, tmp = sandbox
    result = _run(bin_dir, tmp, {"python3"}, chromium=False)
    assert result.returncode == 0, result.stderr
    assert sorted(_installed(log)) == ["chromium", "make", "npm"]
