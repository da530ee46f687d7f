"""Every name plugins/module_utils/_connector_jar/ (and the controller cache) writes: none can be taken for a jar.

Flink puts every file named ``*.jar`` under ``lib/`` on its classpath (``bin/config.sh``,
``constructFlinkClassPath``: ``find "$FLINK_LIB_DIR" ! -type d -name '*.jar'``), so the only ``*.jar`` this code
may ever create is a verified jar at its final name. These tests record every path the code creates or renames
onto while it works, on real files in tmp dirs, and check each name; the killed-run case on the real bed is
tests/integration/test_reliability.py.
"""

import builtins
import errno
import os
import shutil
import sys
import tempfile

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    dest_state,
    ensure,
    errors,
    install,
    options,
    sources,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache as jar_cache, host_records
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import jars  # noqa: E402

PGA = "flink-sql-connector-postgres-cdc"
SRA = "flink-connector-starrocks"


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


def jars_written(paths, directory, finals):
    """The ``*.jar`` names written in ``directory`` (recursively) other than ``finals``."""
    directory = os.path.abspath(str(directory))
    inside = [p for p in paths if p == directory or p.startswith(directory + os.sep)]
    assert inside, "nothing was recorded in %s" % directory
    return sorted({os.path.relpath(p, directory) for p in inside if p.endswith(".jar")} - set(finals))


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    return {
        "pg_old": jars.published_path(str(root), "3.0.1"),
        "pg_new": jars.published_path(str(root), "3.1.0"),
        "sr_old": str(root / jars.publish_starrocks(str(root), "1.2.10_flink-1.20")),
        "sr_new": str(root / jars.publish_starrocks(str(root), "1.2.11_flink-1.20")),
    }


def lib_with_old_jars(tmp_path, repo):
    lib = tmp_path / "lib"
    lib.mkdir()
    for key in ("pg_old", "sr_old"):
        os.link(repo[key], str(lib / os.path.basename(repo[key])))
    return lib


@pytest.mark.parametrize("backup", [False, True])
def test_installing_writes_no_jar_but_the_verified_ones(tmp_path, repo, written, backup):
    lib = lib_with_old_jars(tmp_path, repo)
    del written[:]  # the set-up is not the code under test
    # The same file names with new content (a second name is kept for each until every rename is done) ...
    other = tmp_path / "other"
    other.mkdir()
    for key, new in (("pg_old", "pg_new"), ("sr_old", "sr_new")):
        shutil.copyfile(repo[new], str(other / os.path.basename(repo[key])))
    same_names = [JarRequest(sources.src_source(str(other / os.path.basename(repo[key]))), "present")
                  for key in ("pg_old", "sr_old")]
    opts = options.InstallOptions(backup=backup)
    result = ensure.ensure_jars(same_names, str(lib), options.HttpOptions(), opts, False)
    assert result["changed"]
    # ... then new versions, which replace the old ones (removed, or renamed to backups).
    new_versions = [JarRequest(sources.src_source(repo[key]), "present") for key in ("pg_new",)]
    result = ensure.ensure_jars(new_versions, str(lib), options.HttpOptions(), opts, False)
    assert result["changed"] and result["removed"]
    finals = [os.path.basename(repo[key]) for key in ("pg_old", "sr_old", "pg_new")]
    assert jars_written(written, lib, finals) == []
    # Whatever is left besides the jars is a backup (with backup) and never ends in .jar.
    left = sorted(set(os.listdir(str(lib))) - set(finals))
    assert all(name.endswith(install.BACKUP_SUFFIX) for name in left) and bool(left) == backup, left


def test_a_failed_install_writes_no_jar(tmp_path, repo, written):
    lib = lib_with_old_jars(tmp_path, repo)
    broken = tmp_path / "broken" / os.path.basename(repo["pg_new"])
    broken.parent.mkdir()
    with open(repo["pg_new"], "rb") as f:
        data = f.read()
    broken.write_bytes(data[:len(data) // 2])
    del written[:]  # the set-up above is not the code under test
    with pytest.raises(errors.JarError):
        ensure.ensure_jars([JarRequest(sources.src_source(repo["sr_new"]), "present"),
                            JarRequest(sources.src_source(str(broken)), "present")],
                           str(lib), options.HttpOptions(), options.InstallOptions(), False)
    assert jars_written(written, lib, []) == []
    assert sorted(os.listdir(str(lib))) == sorted(os.path.basename(repo[k]) for k in ("pg_old", "sr_old"))


def test_the_controller_cache_writes_no_jar_but_its_entries(tmp_path, repo, written):
    cache = tmp_path / "cache"
    cached = jar_cache.cache_jar(sources.src_source(repo["pg_new"]), str(cache), options.HttpOptions(), run_id="run-1")
    host_records.write_host_memory(str(cache), "tm1 10.0.0.1", "/opt/flink/lib", {os.path.basename(repo["pg_new"]): "x"})
    entry = os.path.relpath(cached.path, str(cache))
    assert jars_written(written, cache, [entry]) == []


def test_every_temp_name_is_found_by_the_cleanup(tmp_path):
    """What the next run removes is exactly what a killed run can leave: the temp files and the second names."""
    lib = tmp_path / "lib"
    lib.mkdir()
    out, temp = install.open_temp(str(lib), "%s-3.5.0.jar" % PGA)
    out.close()
    keep = "%s%s%s" % (install.temp_prefix("%s-3.5.0.jar" % PGA), os.urandom(6).hex(), install.TEMP_SUFFIX)
    (lib / keep).write_bytes(b"")
    backup = install.backup_name("%s-3.5.0.jar" % PGA)
    (lib / backup).write_bytes(b"")
    names = [os.path.basename(temp), keep]
    assert not [n for n in names + [backup] if n.endswith(".jar")]
    assert install.stale_temps(str(lib)) == sorted(names)  # never a backup, which the user asked to keep
    # The controller's probe sees them, so a rerun runs the module (which removes them) instead of replaying.
    state = dest_state.dest_state(str(lib), [])
    assert sorted(state["entries"]) == sorted(names)
    install.remove_stale_temps(str(lib))
    assert os.listdir(str(lib)) == [backup]


def test_cleanup_of_what_cannot_be_removed_is_best_effort(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    out, temp = install.open_temp(str(lib), "%s-3.5.0.jar" % PGA)
    out.close()

    def refuse(path):
        raise OSError(errno.EROFS, "Read-only file system", path)

    monkeypatch.setattr(os, "unlink", refuse)
    install.remove_stale_temps(str(lib))  # nothing raised: the file is no jar, and a later run tries again
    assert os.path.exists(temp)
