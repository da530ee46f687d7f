"""Fixtures shared by the unit tests of plugins/module_utils/_connector_jar/ and plugins/plugin_utils/_connector_jar/.

``written`` records every path the code creates or renames onto: Flink puts every file named ``*.jar`` under
``lib/`` on its classpath (``bin/config.sh``, ``constructFlinkClassPath``: ``find "$FLINK_LIB_DIR" ! -type d -name
'*.jar'``), so the only ``*.jar`` this code may ever create is a verified jar at its final name. The killed-run
case on the real bed is tests/integration/test_reliability.py.
"""

import builtins
import os
import tempfile

import pytest

from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import jars


@pytest.fixture
def written(monkeypatch):
    """Every path created (open for writing, os.open with O_CREAT, mkstemp, link) or renamed onto, in order."""
    paths = []
    real_open, real_os_open, real_mkstemp = builtins.open, os.open, tempfile.mkstemp
    real_link, real_rename, real_replace = os.link, os.rename, os.replace

    def spy_open(file, mode="r", *args, **kwargs):
        if isinstance(file, str) and any(c in mode for c in "wax+"):
            paths.append(os.path.abspath(file))
        return real_open(file, mode, *args, **kwargs)

    def spy_os_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            paths.append(os.path.abspath(path))
        return real_os_open(path, flags, *args, **kwargs)

    def spy_mkstemp(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        paths.append(os.path.abspath(path))
        return fd, path

    def spy_link(src, dst, *args, **kwargs):
        paths.append(os.path.abspath(dst))
        return real_link(src, dst, *args, **kwargs)

    def spy_rename(src, dst, *args, **kwargs):
        paths.append(os.path.abspath(dst))
        return real_rename(src, dst, *args, **kwargs)

    def spy_replace(src, dst, *args, **kwargs):
        paths.append(os.path.abspath(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(tempfile, "mkstemp", spy_mkstemp)
    monkeypatch.setattr(os, "link", spy_link)
    monkeypatch.setattr(os, "rename", spy_rename)
    monkeypatch.setattr(os, "replace", spy_replace)
    return paths


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    return {
        "pg_old": jars.published_path(str(root), "3.0.1"),
        "pg_new": jars.published_path(str(root), "3.1.0"),
        "sr_old": str(root / jars.publish_starrocks(str(root), "1.2.10_flink-1.20")),
        "sr_new": str(root / jars.publish_starrocks(str(root), "1.2.11_flink-1.20")),
    }
