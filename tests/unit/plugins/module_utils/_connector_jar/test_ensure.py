"""One jar or several, present or absent, from a src, pushed by the controller or moved into place.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.

The tests with the ``written`` fixture (tests/unit/plugins/conftest.py) check every name the code writes.
"""

import errno
import os
import shutil

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    checksums,
    dest_state,
    ensure,
    errors,
    install,
    options,
    sources,
    wire,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import ChecksumError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache as jar_cache, push
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import (
    PGA,
    _item,
    _lib_with_two_jars,
    _push_copy,
    _pushed,
    jars,
    jars_written,
    starrocks,
)


# --- one jar end to end from a local src ----------------------------------------------------------

def _one_jar(source, state, dest, http_options, opts, check_mode):
    """One jar, as the module runs it without ``jars``: ``ensure_jars`` and its answer in the single-jar form."""
    return ensure.final_result(ensure.ensure_jars([JarRequest(source, state)], dest, http_options, opts, check_mode),
                               True, True)


def test_ensure_present_from_src_check_install_rerun(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    old = jars.published_path(str(tmp_path / "repo"), "2.4.2")
    os.link(old, str(lib / "foo.jar"))  # a renamed com.ververica 2.x jar
    new = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    source = sources.src_source(new)
    opts = options.InstallOptions()

    before = sorted(os.listdir(str(lib)))
    check = _one_jar(source, "present", str(lib), options.HttpOptions(), opts, check_mode=True)
    assert check["changed"] and not check["downloaded"]
    assert check["removed"] == [str(lib / "foo.jar")]
    assert check["checksum"] == jars.sha256_file(new)
    assert sorted(os.listdir(str(lib))) == before

    done = _one_jar(source, "present", str(lib), options.HttpOptions(), opts, check_mode=False)
    assert done["changed"] and done["removed"] == [str(lib / "foo.jar")]
    assert os.listdir(str(lib)) == ["flink-sql-connector-postgres-cdc-3.1.0.jar"]
    assert jars.sha256_file(str(lib / "flink-sql-connector-postgres-cdc-3.1.0.jar")) == jars.sha256_file(new) == done["checksum"]

    again = _one_jar(source, "present", str(lib), options.HttpOptions(), opts, check_mode=False)
    assert not again["changed"] and again["removed"] == []


def test_ensure_present_src_checksum_mismatch_changes_nothing(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    source = sources.src_source(new, "sha256:" + "0" * 64)
    with pytest.raises(ChecksumError):
        _one_jar(source, "present", str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert os.listdir(str(lib)) == []


def test_ensure_absent(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for v in ("2.4.2", "3.1.0"):
        p = jars.published_path(str(tmp_path / "repo"), v)
        os.link(p, str(lib / os.path.basename(p)))
    os.link(jars.published_path(str(tmp_path / "repo"), "2.4.2"), str(lib / "renamed.jar"))
    source = sources.maven_artifact("com.ververica", "flink-sql-connector-postgres-cdc")
    check = _one_jar(source, "absent", str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=True)
    assert check["changed"] and len(os.listdir(str(lib))) == 3
    done = _one_jar(source, "absent", str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert sorted(os.path.basename(p) for p in done["removed"]) == [
        "flink-sql-connector-postgres-cdc-2.4.2.jar", "flink-sql-connector-postgres-cdc-3.1.0.jar", "renamed.jar"]
    assert os.listdir(str(lib)) == []
    assert not _one_jar(source, "absent", str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)["changed"]


def test_ensure_jars_with_pushed_jars_asks_then_installs(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    os.link(jars.published_path(str(tmp_path / "repo"), "3.0.1"), str(lib / ("%s-3.0.1.jar" % PGA)))
    before = sorted(os.listdir(str(lib)))
    opts, http = options.InstallOptions(), options.HttpOptions()

    check = ensure.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=True)
    assert check["changed"] and "_needed" not in check
    assert [j["transferred"] for j in check["jars"]] == [False, False]
    assert check["removed"] == [str(lib / ("%s-3.0.1.jar" % PGA))]

    asked = ensure.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=False)
    assert asked == {"changed": False, "_needed": [os.path.basename(new_pg), os.path.basename(new_sr)],
                     "msg": asked["msg"]}
    assert sorted(os.listdir(str(lib))) == before

    done = ensure.ensure_jars([_pushed(new_pg, src=new_pg), _pushed(new_sr, src=new_sr)], str(lib), http, opts, False)
    assert done["changed"] and [j["transferred"] for j in done["jars"]] == [True, True]
    assert sorted(os.listdir(str(lib))) == sorted(os.path.basename(p) for p in (new_pg, new_sr))
    assert done["jars"][0]["checksum"] == jars.sha256_file(new_pg)

    again = ensure.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=False)
    assert not again["changed"] and "_needed" not in again


def test_a_pushed_file_that_does_not_match_changes_nothing(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    with pytest.raises(ChecksumError) as err:
        ensure.ensure_jars([_pushed(new_pg, src=new_pg), _pushed(new_sr, src=new_sr, checksum="0" * 64)], str(lib),
                           options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert "pushed from the controller" in err.value.msg
    assert os.listdir(str(lib)) == []


def _pushed_in(path, tmpdir, checksum=None):
    item = push.pushed_item(JarRequest(sources.src_source(path)),
                            jar_cache.CachedJar(path, checksums.Checksum("sha256", checksum or jars.sha256_file(path))))
    item["src"] = _push_copy(path, tmpdir)
    return wire.pushed_request(item, str(tmpdir))


def test_ensure_jars_moves_the_pushed_copies_into_dest(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    tmpdir = tmp_path / "remote-tmp" / "ansible-tmp-1"
    requests = [_pushed_in(new_pg, tmpdir), _pushed_in(new_sr, tmpdir)]
    inodes = {os.path.basename(r.source.src): os.stat(r.source.src).st_ino for r in requests}

    done = ensure.ensure_jars(requests, str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert done["changed"] and [j["checksum"] for j in done["jars"]] == [jars.sha256_file(p) for p in (new_pg, new_sr)]
    assert os.listdir(str(tmpdir)) == []  # moved, not copied
    for name, inode in inodes.items():
        st = os.stat(str(lib / name))
        assert st.st_ino == inode and oct(st.st_mode & 0o7777) == oct(0o644)
    assert sorted(os.listdir(str(lib))) == sorted(inodes)  # no temp left behind


def test_a_pushed_copy_on_another_filesystem_is_copied(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    request = _pushed_in(new_pg, tmp_path / "remote-tmp")
    rename = os.rename

    def cross_device(src, dst):
        if src == request.source.src:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return rename(src, dst)

    monkeypatch.setattr(install.os, "rename", cross_device)
    done = ensure.ensure_jars([request], str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert done["changed"] and os.path.exists(request.source.src)  # left for the action plugin to remove
    assert jars.sha256_file(str(lib / os.path.basename(new_pg))) == jars.sha256_file(new_pg)
    assert os.stat(str(lib / os.path.basename(new_pg))).st_ino != os.stat(request.source.src).st_ino


def test_a_moved_copy_that_does_not_match_changes_nothing(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    tmpdir = tmp_path / "remote-tmp"
    with pytest.raises(ChecksumError) as err:
        ensure.ensure_jars([_pushed_in(new_pg, tmpdir), _pushed_in(new_sr, tmpdir, checksum="0" * 64)], str(lib),
                           options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert "pushed from the controller" in err.value.msg
    assert os.listdir(str(lib)) == []  # neither jar, nor a temp file


def test_a_pushed_jar_is_sent_with_its_sha256_and_hashed_once_on_the_host(tmp_path, monkeypatch):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    pinned = sources.src_source(src, "sha1:" + jars.sha_hex(src, "sha1"))
    cached = jar_cache.cache_jar(pinned, str(tmp_path / "cache"), options.HttpOptions(), run_id="run-1")
    item = push.pushed_item(JarRequest(pinned), cached)
    assert item["checksum"] == "sha256:" + jars.sha256_file(src)
    hashed = []
    hasher_init = checksums.Hasher.__init__

    def recording(self, algorithms=()):
        hasher_init(self, algorithms)
        hashed.append(sorted(self._hashes))

    monkeypatch.setattr(checksums.Hasher, "__init__", recording)
    lib = tmp_path / "lib"
    lib.mkdir()
    item["src"] = _push_copy(cached.path, tmp_path / "remote-tmp")
    ensure.ensure_jars([wire.pushed_request(item, str(tmp_path / "remote-tmp"))], str(lib), options.HttpOptions(),
                       options.InstallOptions(), check_mode=False)
    assert hashed == [["sha256"]]  # one pass, one algorithm
    del hashed[:]
    # In the same module run (the rerun answer, ensure.rerun_record), the jar it just installed is not read again.
    same_run = ensure.ensure_jars([wire.pushed_request(dict(item, src=None))], str(lib), options.HttpOptions(),
                                  options.InstallOptions(), check_mode=True)
    assert not same_run["changed"] and hashed == []
    # A later run is another process, which knows nothing of this one: it reads the jar once.
    monkeypatch.setattr(checksums, "_INSTALLED", {})
    again = ensure.ensure_jars([wire.pushed_request(dict(item, src=None))], str(lib), options.HttpOptions(),
                               options.InstallOptions(), check_mode=False)
    assert not again["changed"] and hashed == [["sha256"]]


def test_rerun_record_is_what_a_rerun_answers(tmp_path):
    lib, a = _lib_with_two_jars(tmp_path)
    sha = jars.sha256_file(a)
    item = dict(_item("a-1.jar", "sha256:" + sha), artifact_id="a", factories=["a.Factory"])
    request = wire.pushed_request(dict(item, src=str(tmp_path / "gone.jar")), str(tmp_path))
    opts = options.InstallOptions(validate=False, remove_other_versions=True, mode=0o644, uid=None, gid=None,
                                  backup=False, force=False)
    http = options.HttpOptions(timeout=5, validate_certs=True, url_username=None, url_password=None, headers={},
                               use_proxy=False, force=False)
    os.chmod(a, 0o644)
    record = ensure.rerun_record([request], str(lib), http, opts)
    rerun = ensure.ensure_jars([wire.pushed_request(item)], str(lib), http, opts, False)
    assert record["result"] == rerun and rerun["changed"] is False  # the pushed copy is not needed for it
    assert record["state"] == dest_state.dest_state(str(lib), ["a-1.jar"])
    os.chmod(a, 0o600)  # a rerun would fix the mode: nothing to replay
    assert ensure.rerun_record([request], str(lib), http, opts) is None


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
