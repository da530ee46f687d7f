"""What the packaging tests share: paths, the planted leftovers, a clean environment, a checked run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import typing as t

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV_BIN = os.path.dirname(sys.executable)
FQCN = "cdcops.flink_cdc"

# Never copied from the checkout: big or machine-local. Planted again, small.
NOT_COPIED = {".git", ".venv", "tests/output", "bench/out", ".ansible", ".pytest_cache", ".cache", ".mypy_cache"}

# What a working tree accumulates; none of it may reach the tarball.
PLANTED = (
    ".venv/bin/python",
    ".venv/pyvenv.cfg",
    "tests/output/bed/state.json",
    "tests/output/bed/group_vars/all.yml",
    "bench/out/bench.json",
    "bench/out/bench.png",
    ".pytest_cache/v/cache/nodeids",
    "tests/unit/.pytest_cache/v/cache/nodeids",
    "plugins/modules/__pycache__/flink_connector_jar.cpython-311.pyc",
    "tests/unit/__pycache__/conftest.cpython-311-pytest-9.2.0.pyc",
    "plugins/module_utils/_connector_jar/ensure.pyc",
    ".ansible/tmp/ansible-local-1/x",
    ".cache/x",
    ".mypy_cache/3.11/x.json",
    "changelogs/.plugin-cache.yaml",
    "flink-cdc-report/flink_cdc_report.md",
    "cdcops-flink_cdc-0.1.0.tar.gz",
)


def galaxy_yml() -> dict[str, t.Any]:
    with open(os.path.join(ROOT, "galaxy.yml")) as f:
        return yaml.safe_load(f)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any ANSIBLE_* setting of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def run(cmd: list[str], cwd: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, check=False)
    assert proc.returncode == 0, "%s failed (rc=%s):\n%s\n%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc


def copy_checkout(dest: str) -> None:
    """Copy the checkout (less its heavy machine-local parts) and plant the leftovers into the copy."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        rel = os.path.relpath(directory, ROOT)
        return {name for name in names
                if (name if rel == "." else os.path.join(rel, name)) in NOT_COPIED
                or name == "__pycache__" or name.endswith(".tar.gz")}

    shutil.copytree(ROOT, dest, symlinks=True, ignore=ignore)
    for rel in PLANTED:
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("planted by tests/packaging: must not be in the tarball\n")
