"""The controller's jar cache: filled once per run, checked, content-addressed, safe when space runs out.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.

The tests with the ``written`` fixture (tests/unit/plugins/conftest.py) check every name the code writes.
"""

import errno
import json
import os
import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    checksums,
    download,
    options,
    sources,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import (
    ChecksumError,
    InvalidJarError,
    JarError,
    UnsafeNameError,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache as jar_cache, host_records
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import (
    PG3,
    PGA,
    jars,
    jars_written,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import Checksum
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache


# --- the controller cache -------------------------------------------------------------------------

def test_cache_jar_fills_once_and_reuses(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    source = sources.src_source(src)

    cold = jar_cache.cache_jar(source, cache, options.HttpOptions(), check_mode=True)
    assert cold.path is None and cold.checksum.hexdigest == jars.sha256_file(src) and cold.factories == (PG3,)
    assert not os.path.exists(cache)  # check mode writes nothing

    first = jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-1")
    assert first.path == os.path.join(cache, "sha256", jars.sha256_file(src), os.path.basename(src))
    assert jars.sha256_file(first.path) == jars.sha256_file(src) and first.checksum.hexdigest == jars.sha256_file(src)
    assert first.factories == (PG3,) and first.size == os.path.getsize(src) and not first.downloaded
    inode = os.stat(first.path).st_ino

    again = jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-2")
    assert again.path == first.path and os.stat(first.path).st_ino == inode and again.factories == (PG3,)
    assert jar_cache.cache_jar(source, cache, options.HttpOptions(), check_mode=True).path == first.path  # warm check mode


def test_cache_jar_refetches_an_entry_changed_behind_its_back(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    first = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions())
    with open(first.path, "ab") as f:
        f.write(b"junk")
    again = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions())
    assert jars.sha256_file(again.path) == jars.sha256_file(src)


def test_cache_jar_validates_an_entry_cached_without_validation(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    plain = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), validate=False)
    with open(plain.path + jar_cache.CACHE_META_SUFFIX) as f:
        assert json.load(f)["validated"] is False
    inode = os.stat(plain.path).st_ino
    checked = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), validate=True)
    assert os.stat(checked.path).st_ino == inode  # validated in place, not copied again
    with open(plain.path + jar_cache.CACHE_META_SUFFIX) as f:
        assert json.load(f)["validated"] is True


def test_cache_jar_force_fetches_again_once_per_run(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    first = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    inode = os.stat(first.path).st_ino
    forced = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), force=True, run_id="run-2")
    inode2 = os.stat(forced.path).st_ino
    assert inode2 != inode
    same_run = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), force=True, run_id="run-2")
    assert os.stat(same_run.path).st_ino == inode2


def test_cache_jar_failure_is_not_retried_within_a_run(tmp_path):
    thin = jars.published_path(str(tmp_path / "repo"), "3.1.0", thin=True)
    cache = str(tmp_path / "cache")
    source = sources.src_source(thin)._replace(artifact_id=PGA)  # neutral to the name check: only content tells
    with pytest.raises(InvalidJarError) as first:
        jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-1")
    assert "thin connector jar" in first.value.msg and "earlier in this run" not in first.value.msg
    with pytest.raises(JarError) as second:
        jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-1")
    assert "thin connector jar" in second.value.msg and "earlier in this run" in second.value.msg
    with pytest.raises(InvalidJarError) as next_run:
        jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-2")
    assert "earlier in this run" not in next_run.value.msg
    entry = os.path.join(cache, "sha256", jars.sha256_file(thin))
    assert sorted(os.listdir(entry)) == [jar_cache.CACHE_FAILURE, jar_cache.CACHE_LOCK]  # no jar, no temp


def test_cache_jar_src_must_exist_and_match_its_pin(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    with pytest.raises(JarError) as err:
        jar_cache.cache_jar(sources.src_source(str(tmp_path / "none-1.jar")), cache, options.HttpOptions())
    assert "not a file on the controller" in err.value.msg
    with pytest.raises(ChecksumError):
        jar_cache.cache_jar(sources.src_source(src, "sha256:" + "0" * 64), cache, options.HttpOptions())
    assert not os.path.exists(cache)


def _left_in(cache):
    return sorted(os.path.relpath(os.path.join(d, n), cache) for d, dummy, names in os.walk(cache) for n in names)


def _full_cache_message(cache, src):
    """The start every full-cache error shares, whichever path found it."""
    return "Not enough space in the controller cache %s for %s: it needs %d bytes" % (
        cache, os.path.basename(src), os.path.getsize(src))


def test_cache_jar_refuses_up_front_a_jar_larger_than_the_free_space(tmp_path, monkeypatch):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    # statvfs of the cache's filesystem says 1000 bytes are free.
    monkeypatch.setattr(download, "free_bytes", lambda path: 1000)
    writes = []
    monkeypatch.setattr(download, "_write_all", lambda out, data: writes.append(len(data)))
    with pytest.raises(JarError) as err:
        jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    msg = err.value.msg
    assert msg.startswith(_full_cache_message(cache, src)), msg
    assert "the filesystem there has 1000 bytes (0.0 MiB) free" in msg
    assert "set controller_cache_dir" in msg and "Nothing was changed on the hosts" in msg
    assert err.value.details == {"cache_dir": cache, "needed_bytes": os.path.getsize(src), "free_bytes": 1000}
    assert writes == []  # refused before a byte was written
    assert [f for f in _left_in(cache) if not f.endswith((".lock", ".json"))] == []
    # The other hosts of the run get the same error, with its details, without trying again.
    with pytest.raises(JarError) as again:
        jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    assert again.value.msg.startswith(msg) and "earlier in this run" in again.value.msg
    assert again.value.details["needed_bytes"] == os.path.getsize(src)


def test_cache_jar_out_of_space_while_writing_fails_alike_and_leaves_nothing(tmp_path, monkeypatch):
    """statvfs said there was room, then the write failed with ENOSPC (another writer filled the filesystem)."""
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    real_write_all, real_free_bytes = download._write_all, download.free_bytes
    full = []

    def write_some_then_fill_up(out, data):
        if os.fstat(out.fileno()).st_size:
            full.append(True)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write_all(out, data[:100])  # a partial file that must not stay

    monkeypatch.setattr(download, "_write_all", write_some_then_fill_up)
    monkeypatch.setattr(download, "CHUNK_SIZE", 1024)  # several writes: the first one lands, the next fails
    # statvfs: the real (ample) free space before the write, none once the filesystem has filled up.
    monkeypatch.setattr(download, "free_bytes", lambda path: 0 if full else real_free_bytes(path))
    with pytest.raises(JarError) as err:
        jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    msg = err.value.msg
    assert msg.startswith(_full_cache_message(cache, src)), msg
    assert "the filesystem there has 0 bytes (0.0 MiB) free" in msg and "set controller_cache_dir" in msg
    assert err.value.details["needed_bytes"] == os.path.getsize(src)
    assert [f for f in _left_in(cache) if not f.endswith((".lock", ".json"))] == []


def test_write_json_that_runs_out_of_space_leaves_no_temp_file(tmp_path, monkeypatch):
    path = str(tmp_path / "note.json")
    jar_cache.write_json(path, {"a": 1})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(jar_cache.json, "dump", full)
    with pytest.raises(OSError):
        jar_cache.write_json(path, {"a": 2})
    assert os.listdir(str(tmp_path)) == ["note.json"]  # the old note, and no temp beside it
    with open(path) as f:
        assert json.load(f) == {"a": 1}


def test_cache_path_is_content_addressed_and_safe(tmp_path):
    expected = checksums.Checksum("sha1", "b" * 40)
    assert jar_cache.cache_path("/c", expected, "a-1.jar") == "/c/sha1/%s/a-1.jar" % ("b" * 40)
    with pytest.raises(UnsafeNameError):
        jar_cache.cache_path("/c", expected, "../a-1.jar")


# --- controller work done once per run, not once per host -----------------------------------------

def test_a_src_jar_is_hashed_once_per_run_on_the_controller(tmp_path, monkeypatch):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    calls = []
    digests = checksums.file_digests

    def counting(path, algorithms=()):
        calls.append(path)
        return digests(path, algorithms)

    monkeypatch.setattr(checksums, "file_digests", counting)
    first = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    hashed = len(calls)
    for dummy in range(3):  # the other hosts of the run
        assert jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1") == first
    assert len(calls) == hashed
    jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-2")  # a new run looks again
    assert len(calls) == hashed + 1
    jars.publish_postgres_cdc(str(tmp_path / "repo"), "3.1.0", size=4096)  # the file changes within the run
    changed = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-2")
    assert changed.checksum.hexdigest == jars.sha256_file(src) != first.checksum.hexdigest
    notes = sorted(os.listdir(os.path.join(cache, "sources")))
    with open(os.path.join(cache, "sources", notes[0])) as f:
        note = f.read()
    hashed = len(calls)
    jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), check_mode=True, run_id="run-3")
    assert len(calls) == hashed + 1  # check mode hashes, and notes nothing
    assert sorted(os.listdir(os.path.join(cache, "sources"))) == notes
    with open(os.path.join(cache, "sources", notes[0])) as f:
        assert f.read() == note


def test_the_controller_cache_writes_no_jar_but_its_entries(tmp_path, repo, written):
    cache = tmp_path / "cache"
    cached = jar_cache.cache_jar(sources.src_source(repo["pg_new"]), str(cache), options.HttpOptions(), run_id="run-1")
    host_records.write_host_memory(str(cache), "tm1 10.0.0.1", "/opt/flink/lib", {os.path.basename(repo["pg_new"]): "x"})
    entry = os.path.relpath(cached.path, str(cache))
    assert jars_written(written, cache, [entry]) == []


def test_cached_copies_finds_every_copy_that_cache_path_places(tmp_path):
    name = "flink-sql-connector-postgres-cdc-3.5.0.jar"
    cache_dir = str(tmp_path / "cache [1]")  # glob characters in the cache dir are taken literally
    placed = []
    for checksum in (Checksum("sha256", "ab" * 32), Checksum("sha1", "cd" * 20)):
        path = cache.cache_path(cache_dir, checksum, name)
        tmp_path.joinpath(path).parent.mkdir(parents=True)
        tmp_path.joinpath(path).write_bytes(b"jar")
        placed.append(path)
    other = cache.cache_path(cache_dir, Checksum("sha256", "ef" * 32), "other-1.jar")
    tmp_path.joinpath(other).parent.mkdir(parents=True)
    tmp_path.joinpath(other).write_bytes(b"jar")
    assert sorted(cache.cached_copies(cache_dir, name)) == sorted(placed)
    assert cache.cached_copies(cache_dir, "absent-1.jar") == []
    assert cache.cached_copies(str(tmp_path / "no-cache"), name) == []
