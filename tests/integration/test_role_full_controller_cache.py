"""Issue 21, fault 5: the controller's jar cache is on a full filesystem when the role downloads a connector.

The cache is a real tmpfs mounted smaller than the real postgres-cdc jar the bed's Maven repository serves (about
20 MB), and the whole role runs against the real bed (real Flink, PostgreSQL, Maven repository), with the rolling
restart and the smoke job switched on, so that a run that went on after the failed download would show.
"""

import errno
import os
import re
import subprocess

import pytest

import jars
from conftest import all_libs
from test_role_flink_cdc import DEPLOY, Inventory, taskmanager_ids

CACHE_FS_SIZE = 4 * 1024 * 1024


@pytest.fixture
def small_cache(tmp_path):
    """``tmp_path/controller-cache`` (the Inventory's cache dir) on a tmpfs of CACHE_FS_SIZE; unmounted after."""
    cache = tmp_path / "controller-cache"
    cache.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % CACHE_FS_SIZE, "tmpfs", str(cache)], check=True)
    try:
        yield str(cache)
    finally:
        subprocess.run(["umount", str(cache)], check=True)


def cache_files(cache):
    """Every file in the cache, relative to it."""
    return sorted(os.path.relpath(os.path.join(d, name), cache) for d, dummy, names in os.walk(cache)
                  for name in names)


def postgres_cdc(bed):
    """The bed's real postgres-cdc connector: its coordinates and its jar's file name."""
    pg = [c for c in bed["demo_connectors"] if c["artifact_id"] == "flink-sql-connector-postgres-cdc"][0]
    return pg, "%s-%s.jar" % (pg["artifact_id"], pg["version"])


def bed_jar_size(bed, connector):
    """The size of a connector's jar in the bed's Maven repository (what it sends as Content-Length)."""
    rel = jars.maven_path(connector["group_id"], connector["artifact_id"], connector["version"])
    return os.path.getsize(os.path.join(bed["maven"]["root"], rel))


def fill_up(directory):
    """Write a file into ``directory`` until its filesystem has no byte left; returns the file's name."""
    path = os.path.join(directory, "filler")
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with open(path, "ab", buffering=0) as f:  # the last partial block
        try:
            while True:
                f.write(b"\0")
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    assert os.statvfs(directory).f_bfree == 0
    return "filler"


def run_role_and_assert_nothing_was_touched(bed, ansible, inv, small_cache, name, size, keep=()):
    """Run the whole role; every host's deploy fails with the one full-cache error, the cache holds nothing of the
    jar, and no host was changed, restarted or ran a job."""
    before, tms_before = all_libs(bed), taskmanager_ids()

    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)

    assert run.rc != 0, run
    deploys = run.results(action="flink_connector_jar")
    assert sorted(r["host"] for r in deploys) == ["jobmanager", "tm1", "tm2"], run
    for rec in deploys:
        res = rec["result"]
        assert rec["status"] == "failed", rec
        msg = res["msg"]
        # The directory the user set, the jar, the space it needs (its size, as the repository reports it) and
        # what to do; the same on every host, whichever found it.
        assert "Not enough space in the controller cache %s for %s" % (small_cache, name) in msg, msg
        assert "needs %d bytes" % size in msg, msg
        assert "controller_cache_dir" in msg, msg
        assert "Nothing was changed on the hosts" in msg, msg
        assert res.get("needed_bytes") == size and res.get("cache_dir") == small_cache, res
    # No jar, whole or partial, and no temp file: only the lock files and the small notes that say which run
    # fetched which sidecar and which download failed (so the other hosts of the run do not download again).
    left = cache_files(small_cache)
    assert [f for f in left if not f.endswith((".lock", ".json")) and f not in keep] == [], left
    assert not [f for f in left if name in f], left
    # Nothing was transferred, installed, restarted or run on any host.
    assert all_libs(bed) == before
    assert taskmanager_ids() == tms_before
    later = [r for r in run.records if re.search(r"(^|: )(Restart|Smoke|Verify) \| ", r["task"])
             and r["status"] != "skipped"]
    assert later == [], later
    return run


def test_full_controller_cache_fails_naming_it_and_touches_no_host(bed, ansible, tmp_path, pristine_libs,
                                                                   small_cache):
    """The repository sends Content-Length: the free space is checked (statvfs) before a byte is written."""
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True)
    assert inv.cache_dir == small_cache
    pg, name = postgres_cdc(bed)
    size = bed_jar_size(bed, pg)
    assert size > CACHE_FS_SIZE, "the real jar must not fit in the cache's filesystem"
    run_role_and_assert_nothing_was_touched(bed, ansible, inv, small_cache, name, size)


def test_cache_filling_up_while_writing_fails_alike(bed, ansible, maven_repo, tmp_path, pristine_libs, small_cache):
    """The repository streams the jar in chunks without Content-Length, so nothing tells its size before the
    write: the real write runs out of space (ENOSPC) part-way, and the size comes from the repository's HEAD."""
    pg, name = postgres_cdc(bed)
    rel = maven_repo.publish_real(pg["group_id"], pg["artifact_id"], pg["version"])
    maven_repo.set_fault(rel, mode="chunked")
    size = os.path.getsize(os.path.join(maven_repo.root, rel))
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True,
                    flink_cdc_maven_repository=maven_repo.url)
    mark = maven_repo.mark()
    run_role_and_assert_nothing_was_touched(bed, ansible, inv, small_cache, name, size)
    # The body was really streamed (the write ran out of space; no check refused it up front), once for the run.
    bodies = maven_repo.jar_body_requests(mark)
    assert len(bodies) == 1 and 0 < bodies[0]["bytes"] <= size, bodies


def test_cache_already_full_fails_alike(bed, ansible, tmp_path, pristine_libs, small_cache):
    """Not a byte free before the run: the notes the cache keeps for the run (the sidecar's, the failure's) do not
    fit either, and are skipped; the error is the same, with the jar's size."""
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True)
    pg, name = postgres_cdc(bed)
    size = bed_jar_size(bed, pg)
    filler = fill_up(small_cache)
    filled = os.path.getsize(os.path.join(small_cache, filler))
    run = run_role_and_assert_nothing_was_touched(bed, ansible, inv, small_cache, name, size, keep=(filler,))
    assert "and the filesystem there has 0 bytes (0.0 MiB) free" in run.results(action="flink_connector_jar")[0][
        "result"]["msg"]
    assert os.path.getsize(os.path.join(small_cache, filler)) == filled
