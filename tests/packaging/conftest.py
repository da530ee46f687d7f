"""The collection as users get it: the tarball ``ansible-galaxy collection build`` makes, installed
with ``ansible-galaxy collection install`` into an empty collections path.

The tarball is built from a copy of this checkout into which the leftovers of a working tree are
planted (a venv, test bed state, benchmark output, caches, byte code, an earlier tarball), so
galaxy.yml's ``build_ignore`` is tested against all of them whatever this machine's tree holds.
Every Ansible command that uses the installed collection runs with ``ANSIBLE_COLLECTIONS_PATH`` set
to the install directory alone, from a directory outside the checkout, so nothing can come from it.
"""

from __future__ import annotations

import os
import sys
import tarfile

import pytest

from packaging_lib import VENV_BIN, clean_env, copy_checkout, galaxy_yml, run


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("packaging"))


@pytest.fixture(scope="session")
def tree(workdir: str) -> str:
    """A copy of the checkout, with the planted leftovers."""
    path = os.path.join(workdir, "tree")
    copy_checkout(path)
    return path


@pytest.fixture(scope="session")
def tarball(tree: str, workdir: str) -> str:
    """The tarball ``ansible-galaxy collection build`` makes of the tree."""
    out = os.path.join(workdir, "dist")
    os.makedirs(out)
    run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--output-path", out, tree], cwd=workdir)
    built = os.listdir(out)
    meta = galaxy_yml()
    assert built == ["%s-%s-%s.tar.gz" % (meta["namespace"], meta["name"], meta["version"])]
    return os.path.join(out, built[0])


@pytest.fixture(scope="session")
def members(tarball: str) -> list[str]:
    with tarfile.open(tarball) as tar:
        return [m.name.rstrip("/") for m in tar.getmembers()]


@pytest.fixture(scope="session")
def installed(tarball: str, workdir: str) -> str:
    """An empty collections path with only the tarball installed (no server: no dependencies)."""
    path = os.path.join(workdir, "collections")
    os.makedirs(path)
    run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", tarball, "-p", path], cwd=workdir)
    assert os.listdir(os.path.join(path, "ansible_collections")) == ["cdcops"]
    return path


@pytest.fixture(scope="session")
def installed_root(installed: str) -> str:
    return os.path.join(installed, "ansible_collections", "cdcops", "flink_cdc")


@pytest.fixture(scope="session")
def ansible_env(installed: str, workdir: str) -> dict[str, str]:
    """Ansible sees the installed collection and nothing else (no sys.path scan, an empty config)."""
    config = os.path.join(workdir, "ansible.cfg")
    with open(config, "w") as f:
        f.write("[defaults]\n")
    return clean_env(
        ANSIBLE_COLLECTIONS_PATH=installed,
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
        ANSIBLE_CONFIG=config,
        ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "ansible-local"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
