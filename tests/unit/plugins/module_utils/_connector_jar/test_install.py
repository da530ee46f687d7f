"""Writing into lib/: temp files, modes, owners, backups, the lock, cleanup and the reasons a write is refused.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.

The tests with the ``written`` fixture (tests/unit/plugins/conftest.py) check every name the code writes.
"""

import errno
import os
import stat
import threading
import time

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    dest_state,
    install,
    plan as jar_plan,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError, UnsafeNameError
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache as jar_cache
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import PGA


def test_target_path_stays_inside_dest(tmp_path):
    assert install.target_path(str(tmp_path), "a-1.jar") == str(tmp_path / "a-1.jar")
    for bad in ("../a.jar", "a/b.jar", ".a.jar", "a.jar.part", ""):
        with pytest.raises(UnsafeNameError):
            install.target_path(str(tmp_path), bad)


# --- install, remove, lock ------------------------------------------------------------------------

def test_open_temp_never_ends_in_jar(tmp_path):
    out, temp = install.open_temp(str(tmp_path), "a-1.jar")
    out.close()
    assert os.path.dirname(temp) == str(tmp_path)
    assert not temp.endswith(".jar") and temp.endswith(".part")
    assert install.stale_temps(str(tmp_path)) == [os.path.basename(temp)]


def test_install_temp_sets_mode_and_backs_up(tmp_path):
    final = tmp_path / "a-1.jar"
    final.write_bytes(b"old")
    out, temp = install.open_temp(str(tmp_path), "a-1.jar")
    with out:
        out.write(b"new")
    saved = install.install_temps(str(tmp_path), [(temp, "a-1.jar")], 0o640, None, None, backup=True).get("a-1.jar")
    assert final.read_bytes() == b"new"
    assert stat.S_IMODE(final.stat().st_mode) == 0o640
    assert saved and not saved.endswith(".jar") and open(saved, "rb").read() == b"old"
    assert not os.path.exists(temp)
    assert jar_plan.list_jars(str(tmp_path)) == ["a-1.jar"]


def test_remove_jars_with_and_without_backup(tmp_path):
    for n in ("a-1.jar", "a-2.jar"):
        (tmp_path / n).write_bytes(n.encode())
    removed, saved = install.remove_jars(str(tmp_path), ["a-1.jar", "gone.jar"], backup=True)
    assert removed == [str(tmp_path / "a-1.jar")]
    assert len(saved) == 1 and saved[0].endswith(".bak") and open(saved[0]).read() == "a-1.jar"
    removed, saved = install.remove_jars(str(tmp_path), ["a-2.jar"], backup=False)
    assert removed == [str(tmp_path / "a-2.jar")] and saved == []
    assert jar_plan.list_jars(str(tmp_path)) == []


@pytest.mark.parametrize("mode, expected", [("0644", 0o644), ("644", 0o644), (420, 0o644), ("0755", 0o755)])
def test_parse_mode(mode, expected):
    assert install.parse_mode(mode) == expected


@pytest.mark.parametrize("mode", ["u=rw", "999", True, "0o644x", 0o17777])
def test_parse_mode_refuses(mode):
    with pytest.raises(JarError):
        install.parse_mode(mode)


def test_resolve_owner():
    assert install.resolve_owner("root", "0") == (0, 0)
    assert install.resolve_owner(None, None) == (None, None)
    with pytest.raises(JarError):
        install.resolve_owner("no-such-user-cdcops", None)


def test_lock_serializes_and_times_out(tmp_path):
    order = []
    entered = threading.Event()

    def holder():
        with install.dest_lock(str(tmp_path)):
            entered.set()
            time.sleep(0.3)
            order.append("first")

    th = threading.Thread(target=holder)
    th.start()
    entered.wait(5)
    with pytest.raises(JarError) as err:
        with install.dest_lock(str(tmp_path), wait=0.05):
            pass
    assert str(tmp_path) in err.value.msg
    with install.dest_lock(str(tmp_path), wait=10):
        order.append("second")
    th.join()
    assert order == ["first", "second"]
    assert os.listdir(str(tmp_path)) == []  # the lock leaves nothing in lib/


# --- install_temps --------------------------------------------------------------------------------

def _temp(dest, filename, data):
    out, temp = install.open_temp(str(dest), filename)
    with out:
        out.write(data)
    return temp


def test_install_temps_installs_all_and_leaves_nothing_else(tmp_path):
    (tmp_path / "a-1.jar").write_bytes(b"old a")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    assert install.install_temps(str(tmp_path), installs, 0o640, None, None, backup=False) == {}
    assert (tmp_path / "a-1.jar").read_bytes() == b"new a" and (tmp_path / "b-1.jar").read_bytes() == b"new b"
    assert sorted(os.listdir(str(tmp_path))) == ["a-1.jar", "b-1.jar"]  # no keeps, no temps
    assert oct(os.stat(str(tmp_path / "b-1.jar")).st_mode & 0o777) == oct(0o640)


def test_install_temps_backs_up_replaced_files(tmp_path):
    (tmp_path / "a-1.jar").write_bytes(b"old a")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    saved = install.install_temps(str(tmp_path), installs, 0o644, None, None, backup=True)
    assert list(saved) == ["a-1.jar"] and saved["a-1.jar"].endswith(".bak")
    assert open(saved["a-1.jar"], "rb").read() == b"old a"
    assert jar_plan.list_jars(str(tmp_path)) == ["a-1.jar", "b-1.jar"] and install.stale_temps(str(tmp_path)) == []


def test_install_temps_failing_before_any_rename_changes_nothing(tmp_path):
    (tmp_path / "b-1.jar").mkdir()  # a directory where a jar should go: it cannot be kept nor replaced
    (tmp_path / "b-1.jar" / "x").write_bytes(b"x")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    with pytest.raises(JarError):
        install.install_temps(str(tmp_path), installs, 0o644, None, None, backup=False)
    assert not (tmp_path / "a-1.jar").exists()
    assert sorted(os.listdir(str(tmp_path))) == sorted(["b-1.jar"] + [os.path.basename(t) for t, dummy in installs])


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


# --- filesystems and users -----------------------------------------------------------------------------

def test_mount_of_names_the_mount_point():
    point, kind = install.mount_of("/proc/self")
    assert point == "/proc" and kind == "proc"
    point, dummy = install.mount_of(os.path.join(os.getcwd(), "no", "such", "dir"))
    assert os.path.ismount(point) or point == "/"


def test_read_only_is_never_told_to_become(tmp_path):
    err = install.write_error(str(tmp_path), OSError(errno.EROFS, "Read-only file system"))
    assert "is read-only" in err.msg and "mounted at " in err.msg and "become" not in err.msg
    cache = jar_cache.cache_error(str(tmp_path), OSError(errno.EROFS, "Read-only file system"))
    assert "is read-only" in cache.msg and "controller_cache_dir" in cache.msg


def test_root_refused_is_told_what_refuses_it(tmp_path, monkeypatch):
    monkeypatch.setattr(install.os, "geteuid", lambda: 0)
    err = install.write_error(str(tmp_path), OSError(errno.EPERM, "Operation not permitted"))
    assert "Run the task with become" not in err.msg and "lsattr -d %s" % tmp_path in err.msg


def test_a_user_refused_is_told_to_become(tmp_path, monkeypatch):
    monkeypatch.setattr(install.os, "geteuid", lambda: 4242)
    err = install.write_error(str(tmp_path), OSError(errno.EACCES, "Permission denied"))
    assert "become" in err.msg and "lsattr" not in err.msg
