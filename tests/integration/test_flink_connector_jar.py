"""cdcops.flink_cdc.flink_connector_jar against a real Maven-layout repository on loopback.

Every test runs the module the way users do (``ansible localhost -m ...``)
against a private tests/bed/maven_repo.py server. Every case about a valid
connector installs the REAL published jars (tests/bed/artifacts.py: the
postgres-cdc SQL connector 3.3.0 and 3.5.0, StarRocks 1.2.10_flink-1.18 and
1.2.10_flink-1.19, from Maven Central via ~/.m2, with their published .sha1).
Jars built by tests/bed/jars.py appear only for fault injection: a corrupt
entry, a thin jar, a com.ververica 2.x jar (none is served), or a body that
must be padded, truncated or small enough for a 1 MB filesystem. Nothing is
mocked: failures are injected in the server (truncated body, dropped
connection, HTML page, HTTP status) or on disk (a read-only or immutable
dest, a full filesystem). Only the last test needs the Flink/PostgreSQL bed
(its repository's real jars).
"""

import collections
import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import pytest

import artifacts
import jars
from conftest import tmpfs

GROUP, ARTIFACT = artifacts.PG_CDC
PG3 = jars.PG_CDC_FACTORY_3X
# The real published versions (tests/bed/artifacts.py).
PG_NEW = artifacts.connector("postgres_cdc", "current").version  # 3.5.0
PG_OLD = artifacts.connector("postgres_cdc", "older").version  # 3.3.0
SR_GROUP, SR_ARTIFACT = artifacts.STARROCKS
SR_NEW = artifacts.connector("starrocks", "current").version  # 1.2.10_flink-1.19
# Built jars, for fault injection only: versions nobody reads as the real ones.
BUILT_OLD, BUILT_NEW = "3.1.0", "3.2.0"


def jar_name(version, artifact=ARTIFACT):
    return "%s-%s.jar" % (artifact, version)


def maven_args(repo, dest, version=PG_NEW, group_id=GROUP, artifact_id=ARTIFACT, **extra):
    args = dict(repository_url=repo.url, group_id=group_id, artifact_id=artifact_id, version=version, dest=str(dest))
    args.update(extra)
    return args


def repo_file(repo, rel):
    return os.path.join(repo.root, rel)


def real_pg(repo, version=PG_NEW):
    """The real postgres-cdc SQL connector jar, published into ``repo``; its rel path."""
    return repo.publish_real(GROUP, ARTIFACT, version)


def real_sr(repo, version=SR_NEW):
    return repo.publish_real(SR_GROUP, SR_ARTIFACT, version)


# --- check mode, install, idempotence ---------------------------------------------------------------

def test_check_mode_then_install_then_idempotent_rerun(maven_repo, ansible, lib):
    rel = real_pg(maven_repo)
    args = maven_args(maven_repo, lib)
    before = jars.snapshot_dir(lib)

    mark = maven_repo.mark()
    check = ansible.module("flink_connector_jar", args, check=True)
    assert not check.failed, check
    assert check.result["changed"] is True
    assert check.result["downloaded"] is False
    assert check.result["path"] == str(lib / jar_name(PG_NEW))
    assert check.result["removed"] == []
    assert "would install" in check.result["msg"]
    assert maven_repo.jar_body_requests(mark) == []
    assert jars.snapshot_dir(lib) == before

    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", args)
    assert not run.failed, run
    installed = lib / jar_name(PG_NEW)
    assert run.result["changed"] is True and run.result["downloaded"] is True
    assert run.result["checksum"] == jars.sha256_file(str(installed)) == jars.sha256_file(repo_file(maven_repo, rel))
    assert run.result["size"] == installed.stat().st_size
    assert run.result["url"] == "%s/%s" % (maven_repo.url, rel)
    assert stat.S_IMODE(installed.stat().st_mode) == 0o644
    assert len(maven_repo.jar_body_requests(mark)) == 1
    assert sorted(os.listdir(str(lib))) == ["flink-dist-1.20.3.jar", jar_name(PG_NEW)]
    # The published checksum is the one the module verified against.
    assert jars.sha_hex(str(installed), "sha1") == artifacts.published_sha1(repo_file(maven_repo, rel))

    mark = maven_repo.mark()
    again = ansible.module("flink_connector_jar", args)
    assert not again.failed, again
    assert again.result["changed"] is False and again.result["downloaded"] is False
    assert again.result["checksum"] == run.result["checksum"]
    assert maven_repo.jar_body_requests(mark) == []
    # Only the small sidecar was fetched to know the file is current.
    assert [r["path"] for r in maven_repo.requests_since(mark)] == ["/" + rel + ".sha1"]

    after = jars.snapshot_dir(lib)
    recheck = ansible.module("flink_connector_jar", args, check=True)
    assert not recheck.failed and recheck.result["changed"] is False
    assert jars.snapshot_dir(lib) == after


def test_install_on_python38_target(maven_repo, ansible, lib):
    """Modules run on managed hosts: the module works under Python 3.8."""
    py38 = shutil.which("python3.8")
    candidates = [p for p in ("/root/.pyenv/versions/3.8.18/bin/python3.8", py38) if p and os.path.exists(p)]
    assert candidates, "python3.8 is needed to prove the module runs on 3.8 targets"
    real_pg(maven_repo)
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib),
                         env={"ANSIBLE_PYTHON_INTERPRETER": candidates[0]})
    assert not run.failed, run
    assert run.result["changed"] is True
    assert os.path.exists(str(lib / jar_name(PG_NEW)))


def test_starrocks_from_url_verified_by_its_sidecar(maven_repo, ansible, lib):
    rel = real_sr(maven_repo)
    args = dict(url="%s/%s" % (maven_repo.url, rel), dest=str(lib))
    run = ansible.module("flink_connector_jar", args)
    assert not run.failed, run
    assert run.result["path"] == str(lib / ("flink-connector-starrocks-%s.jar" % SR_NEW))
    assert jars.sha256_file(run.result["path"]) == jars.sha256_file(repo_file(maven_repo, rel))
    mark = maven_repo.mark()
    assert ansible.module("flink_connector_jar", args).result["changed"] is False
    assert maven_repo.jar_body_requests(mark) == []


def test_mode_owner_and_force(maven_repo, ansible, lib):
    real_pg(maven_repo)
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, mode="0640", owner="nobody", group="0"))
    assert not run.failed, run
    path = lib / jar_name(PG_NEW)
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_uid == 65534 and st.st_gid == 0

    # Attributes drift back: fixed in place, no download.
    mark = maven_repo.mark()
    check = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, mode="0644"), check=True)
    assert check.result["changed"] is True and stat.S_IMODE(path.stat().st_mode) == 0o640
    fix = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, mode="0644"))
    assert fix.result["changed"] is True and fix.result["downloaded"] is False
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert maven_repo.jar_body_requests(mark) == []

    # force fetches the body again but changes nothing when the bytes are the same.
    mark = maven_repo.mark()
    forced = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, force=True))
    assert not forced.failed, forced
    assert forced.result["downloaded"] is True and forced.result["changed"] is False
    assert len(maven_repo.jar_body_requests(mark)) == 1
    assert [n for n in os.listdir(str(lib)) if n.endswith(".part")] == []

    # ... and still fixes attributes that drifted.
    forced = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, force=True, mode="0600"))
    assert not forced.failed, forced
    assert forced.result["changed"] is True and stat.S_IMODE(path.stat().st_mode) == 0o600


# --- upgrades and duplicates ------------------------------------------------------------------------

def test_upgrade_removes_the_old_version_only_after_install(maven_repo, ansible, lib):
    old_rel = real_pg(maven_repo, PG_OLD)
    real_pg(maven_repo, PG_NEW)
    jars.install_copy(maven_repo.root, old_rel, lib)
    old = str(lib / jar_name(PG_OLD))

    check = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, version=PG_NEW), check=True, diff=True)
    assert check.result["changed"] is True and check.result["removed"] == [old]
    assert os.path.exists(old) and not os.path.exists(str(lib / jar_name(PG_NEW)))

    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, version=PG_NEW), diff=True)
    assert not run.failed, run
    assert run.result["removed"] == [old]
    assert sorted(os.listdir(str(lib))) == ["flink-dist-1.20.3.jar", jar_name(PG_NEW)]
    assert run.result["diff"]["before"] == "flink-dist-1.20.3.jar\n%s\n" % jar_name(PG_OLD)
    assert run.result["diff"]["after"] == "flink-dist-1.20.3.jar\n%s\n" % jar_name(PG_NEW)
    # --diff shows it as a unified diff of the jar list.
    assert "-%s" % jar_name(PG_OLD) in run.output and "+%s" % jar_name(PG_NEW) in run.output


def test_renamed_duplicate_factory_from_the_old_group_is_removed(maven_repo, ansible, lib):
    # com.ververica 2.4.2, same identifier postgres-cdc: built, since no com.ververica jar is served here.
    old_rel = maven_repo.publish_postgres_cdc("2.4.2")
    real_pg(maven_repo)
    jars.install_copy(maven_repo.root, old_rel, lib, name="foo.jar")
    sr_rel = real_sr(maven_repo)
    jars.install_copy(maven_repo.root, sr_rel, lib)  # another connector: must stay

    mark = maven_repo.mark()
    check = ansible.module("flink_connector_jar", maven_args(maven_repo, lib), check=True)
    assert check.result["removed"] == [str(lib / "foo.jar")]
    assert "postgres-cdc" in check.result["msg"]
    assert maven_repo.jar_body_requests(mark) == []

    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib))
    assert not run.failed, run
    assert run.result["removed"] == [str(lib / "foo.jar")]
    assert sorted(os.listdir(str(lib))) == sorted(
        ["flink-dist-1.20.3.jar", jar_name(PG_NEW), "flink-connector-starrocks-%s.jar" % SR_NEW])


def test_remove_other_versions_false_keeps_them(maven_repo, ansible, lib):
    old_rel = real_pg(maven_repo, PG_OLD)
    real_pg(maven_repo, PG_NEW)
    jars.install_copy(maven_repo.root, old_rel, lib)
    run = ansible.module("flink_connector_jar",
                         maven_args(maven_repo, lib, version=PG_NEW, remove_other_versions=False))
    assert not run.failed, run
    assert run.result["removed"] == []
    assert os.path.exists(str(lib / jar_name(PG_OLD))) and os.path.exists(str(lib / jar_name(PG_NEW)))


def test_backup_keeps_replaced_jars_under_names_flink_ignores(maven_repo, ansible, lib):
    old_rel = real_pg(maven_repo, PG_OLD)
    real_pg(maven_repo, PG_NEW)
    jars.install_copy(maven_repo.root, old_rel, lib)
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, version=PG_NEW, backup=True))
    assert not run.failed, run
    (backup,) = run.result["backup_files"]
    assert os.path.dirname(backup) == str(lib) and not backup.endswith(".jar")
    assert jars.sha256_file(backup) == jars.sha256_file(repo_file(maven_repo, old_rel))
    assert sorted(n for n in os.listdir(str(lib)) if n.endswith(".jar")) == [
        "flink-dist-1.20.3.jar", jar_name(PG_NEW)]


# --- failures leave dest byte-for-byte unchanged --------------------------------------------------

def _break_sidecar(repo, rel):
    with open(repo_file(repo, rel) + ".sha1", "w") as f:
        f.write("0" * 40 + "\n")
    return {}


def _pin_wrong(repo, rel):
    return {"checksum": "sha256:" + "0" * 64}


def _html(repo, rel):
    repo.set_fault(rel, mode="html")
    return {}


def _truncate(repo, rel):
    repo.set_fault(rel, mode="truncate")
    return {}


def _drop(repo, rel):
    repo.set_fault(rel, mode="drop")
    return {}


def _jar_404(repo, rel):
    os.unlink(repo_file(repo, rel))  # the .sha1 stays: the jar itself answers 404
    return {}


def _server_error(repo, rel):
    repo.set_fault(rel, mode="status", code=503)
    return {}


def _bad_crc(repo, rel):
    jars.corrupt_entry(repo_file(repo, rel))
    jars.write_sidecars(repo_file(repo, rel))  # the sidecar matches: only validation can catch it
    return {}


def _html_pinned(repo, rel):
    repo.set_fault(rel, mode="html")
    return {"checksum": "sha1:" + jars.sha_hex(repo_file(repo, rel), "sha1")}


FAILURES = {
    "sidecar-mismatch": (_break_sidecar, "Checksum mismatch", True),
    "pinned-checksum-mismatch": (_pin_wrong, "from the checksum option", True),
    "html-served-as-jar": (_html, "HTML page", True),
    "html-with-pinned-sha1": (_html_pinned, "HTML page", True),
    "truncated-body": (_truncate, "stopped early", True),
    "dropped-connection": (_drop, "got 0 of", True),
    "jar-404": (_jar_404, "HTTP 404", True),
    "server-error": (_server_error, "HTTP 503", True),
    "bad-crc": (_bad_crc, "is corrupt", True),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_failed_install_leaves_dest_unchanged(maven_repo, ansible, lib, case):
    # Fault injection: built jars (a 3 MB body with a stored entry, so bad-crc is a clean CRC mismatch).
    break_it, message, body_requested = FAILURES[case]
    old_rel = maven_repo.publish_postgres_cdc(BUILT_OLD)
    rel = maven_repo.publish_postgres_cdc(BUILT_NEW, size=3 * 1024 * 1024)
    jars.install_copy(maven_repo.root, old_rel, lib)  # must survive: removal only after a good install
    extra = break_it(maven_repo, rel)
    before = jars.snapshot_dir(lib)

    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, version=BUILT_NEW, **extra))
    assert run.failed, run
    assert message in run.result["msg"], run.result["msg"]
    assert "127.0.0.1:%d" % maven_repo.port in run.result["msg"] or case in ("pinned-checksum-mismatch", "bad-crc")
    assert jars.snapshot_dir(lib) == before
    assert (len(maven_repo.jar_body_requests(mark)) == 1) == body_requested


def test_missing_sidecar_never_installs_unverified(maven_repo, ansible, lib):
    rel = real_pg(maven_repo)
    os.unlink(repo_file(maven_repo, rel) + ".sha1")  # a copy: ~/.m2 keeps its own
    before = jars.snapshot_dir(lib)
    mark = maven_repo.mark()
    for check in (True, False):
        run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib), check=check)
        assert run.failed, run
        assert "no sha1 checksum file" in run.result["msg"] and "checksum: sha256:" in run.result["msg"]
        assert rel + ".sha1" in run.result["msg"]
    assert maven_repo.jar_body_requests(mark) == []
    assert jars.snapshot_dir(lib) == before

    # Pinning a checksum is the documented way out.
    ok = ansible.module("flink_connector_jar",
                        maven_args(maven_repo, lib, checksum="sha256:" + jars.sha256_file(repo_file(maven_repo, rel))))
    assert not ok.failed, ok


def test_unpublished_version_fails_on_the_sidecar(maven_repo, ansible, lib):
    before = jars.snapshot_dir(lib)
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, version="9.9.9"))
    assert run.failed
    assert "9.9.9" in run.result["msg"] and "cannot be verified" in run.result["msg"]
    assert jars.snapshot_dir(lib) == before


def test_unreachable_repository(ansible, lib):
    """Nothing listens on the port: a clear error naming the host, dest unchanged."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = jars.snapshot_dir(lib)
    args = dict(repository_url="http://127.0.0.1:%d/m2" % port, group_id=GROUP, artifact_id=ARTIFACT,
                version=PG_NEW, dest=str(lib), timeout=5)
    for extra in ({}, {"checksum": "sha256:" + "0" * 64}):  # via the sidecar, and straight to the jar
        run = ansible.module("flink_connector_jar", dict(args, **extra))
        assert run.failed, run
        assert "cannot reach host 127.0.0.1:%d" % port in run.result["msg"], run.result["msg"]
        assert "refused" in run.result["msg"].lower()
    assert jars.snapshot_dir(lib) == before


def test_thin_jar_is_refused_with_a_hint(maven_repo, ansible, lib):
    # Fault injection: a built thin jar shaped like the real one (patched io/debezium/connector classes, neither
    # Debezium's engine nor pgjdbc); the real thin jar itself follows below.
    rel = maven_repo.publish_postgres_cdc(BUILT_OLD, thin=True)
    before = jars.snapshot_dir(lib)
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, version=BUILT_OLD,
                                                           artifact_id="flink-connector-postgres-cdc"))
    assert run.failed
    assert "artifact_id: flink-sql-connector-postgres-cdc" in run.result["msg"]
    assert maven_repo.requests_since(mark) == []  # refused before any download

    # Refused by name from a URL too, before any download.
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", dict(url="%s/%s" % (maven_repo.url, rel), dest=str(lib)))
    assert run.failed and "Refusing flink-connector-postgres-cdc" in run.result["msg"]
    assert maven_repo.jar_body_requests(mark) == []

    # Under a neutral name only its content gives it away: refused after download, dest unchanged.
    mirror = os.path.join(maven_repo.root, "mirror", "pg-cdc-3.1.0.jar")
    os.makedirs(os.path.dirname(mirror))
    shutil.copyfile(repo_file(maven_repo, rel), mirror)
    jars.write_sidecars(mirror)
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", dict(url="%s/mirror/pg-cdc-3.1.0.jar" % maven_repo.url, dest=str(lib)))
    assert run.failed
    msg = run.result["msg"]
    assert "carries no io/debezium/embedded/ or org/postgresql/jdbc/ classes" in msg and "thin connector jar" in msg, msg
    assert "artifact_id: flink-sql-connector-postgres-cdc" in msg
    assert len(maven_repo.jar_body_requests(mark)) == 1
    assert jars.snapshot_dir(lib) == before

    # The real thin jar from Maven Central, under a neutral name: refused the same way, dest unchanged.
    thin = artifacts.THIN_PG_CDC
    real = os.path.join(maven_repo.root, "mirror", "pg-cdc-real.jar")
    shutil.copyfile(artifacts.fetch(thin.group_id, thin.artifact_id, thin.version), real)
    jars.write_sidecars(real)
    run = ansible.module("flink_connector_jar", dict(url="%s/mirror/pg-cdc-real.jar" % maven_repo.url, dest=str(lib)))
    assert run.failed
    assert "carries no io/debezium/embedded/ or org/postgresql/jdbc/ classes" in run.result["msg"], run.result["msg"]
    assert jars.snapshot_dir(lib) == before


def tree_snapshot(root):
    """Every file and directory under root, recursively: relative path -> (sha256 or 'dir', mode)."""
    out = {}
    for base, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, str(root))
            st = os.lstat(path)
            out[rel] = ("dir" if stat.S_ISDIR(st.st_mode) else jars.sha256_file(path), stat.S_IMODE(st.st_mode))
    return out


@pytest.mark.parametrize("args", [
    {"version": "../../x"},
    {"version": "3.1.0/../../../../tmp/evil"},
    {"artifact_id": "../evil"},
    {"group_id": "org/../../evil"},
    {"classifier": "../../x"},
])
def test_path_traversal_is_refused(maven_repo, ansible, tmp_path, args):
    # Refused before any request: a built jar is enough for the repository to hold something.
    maven_repo.publish_postgres_cdc(BUILT_OLD)
    outer = tmp_path / "outer"
    dest = outer / "flink" / "lib"
    dest.mkdir(parents=True)
    before = tree_snapshot(outer)
    mark = maven_repo.mark()
    full = maven_args(maven_repo, dest, version=BUILT_OLD)
    full.update(args)
    run = ansible.module("flink_connector_jar", full)
    assert run.failed
    assert "not a valid Maven" in run.result["msg"] and "Nothing was changed" in run.result["msg"]
    assert maven_repo.requests_since(mark) == []
    assert tree_snapshot(outer) == before


@pytest.mark.parametrize("args", [
    {"url": "file:///etc/hostname.jar"},
    {"url": "ftp://127.0.0.1/x-1.jar"},
    {"repository_url": "file:///srv/m2", "group_id": GROUP, "artifact_id": ARTIFACT, "version": PG_NEW},
])
def test_only_http_urls_are_accepted(ansible, lib, args):
    before = jars.snapshot_dir(lib)
    run = ansible.module("flink_connector_jar", dict(args, dest=str(lib)))
    assert run.failed and "http(s)" in run.result["msg"]
    assert jars.snapshot_dir(lib) == before


def test_missing_dest_is_not_created(maven_repo, ansible, tmp_path):
    real_pg(maven_repo)
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, tmp_path / "no" / "lib"))
    assert run.failed and "is not a directory" in run.result["msg"]
    assert not (tmp_path / "no").exists()


# --- state: absent and src ------------------------------------------------------------------------

def test_state_absent_removes_every_version(maven_repo, ansible, lib):
    for v in (PG_OLD, PG_NEW):
        jars.install_copy(maven_repo.root, real_pg(maven_repo, v), lib)
    args = dict(group_id=GROUP, artifact_id=ARTIFACT, dest=str(lib), state="absent")
    before = jars.snapshot_dir(lib)
    check = ansible.module("flink_connector_jar", args, check=True, diff=True)
    assert check.result["changed"] is True
    assert sorted(check.result["removed"]) == [str(lib / jar_name(PG_OLD)), str(lib / jar_name(PG_NEW))]
    assert check.result["diff"]["after"] == "flink-dist-1.20.3.jar\n"
    assert jars.snapshot_dir(lib) == before

    run = ansible.module("flink_connector_jar", args)
    assert not run.failed, run
    assert sorted(run.result["removed"]) == sorted(check.result["removed"])
    assert os.listdir(str(lib)) == ["flink-dist-1.20.3.jar"]
    again = ansible.module("flink_connector_jar", args)
    assert again.result["changed"] is False and again.result["removed"] == []


def test_src_install_and_rerun(maven_repo, ansible, lib, tmp_path):
    rel = real_pg(maven_repo)
    staged = tmp_path / "staging" / jar_name(PG_NEW)
    staged.parent.mkdir()
    os.link(repo_file(maven_repo, rel), str(staged))  # the module only reads src: a hard link will do
    args = dict(src=str(staged), dest=str(lib), checksum="sha256:" + jars.sha256_file(str(staged)))

    check = ansible.module("flink_connector_jar", args, check=True)
    assert check.result["changed"] is True and check.result["checksum"] == jars.sha256_file(str(staged))
    assert not os.path.exists(str(lib / jar_name(PG_NEW)))

    run = ansible.module("flink_connector_jar", args)
    assert not run.failed, run
    assert jars.sha256_file(str(lib / jar_name(PG_NEW))) == jars.sha256_file(str(staged))
    assert os.path.exists(str(staged))  # copied, not moved
    assert ansible.module("flink_connector_jar", args).result["changed"] is False

    before = jars.snapshot_dir(lib)
    bad = ansible.module("flink_connector_jar", dict(args, checksum="sha256:" + "1" * 64))
    assert bad.failed and "Checksum mismatch" in bad.result["msg"]
    assert jars.snapshot_dir(lib) == before


# --- permissions, full disk ----------------------------------------------------------------------

@pytest.fixture
def shared_lib():
    """A lib/ outside pytest's 0700 tmp root, so an unprivileged user can reach it."""
    base = tempfile.mkdtemp(prefix="cdcops-jar-perm-")
    os.chmod(base, 0o755)
    dest = os.path.join(base, "lib")
    os.mkdir(dest, 0o755)
    try:
        yield dest
    finally:
        subprocess.run(["chattr", "-i", dest], capture_output=True, check=False)
        shutil.rmtree(base)


def test_permission_denied_dest_as_unprivileged_user(maven_repo, ansible, shared_lib, tmp_path):
    """A root-owned 0755 lib/ and the module running as 'nobody': a real EACCES."""
    old_rel = real_pg(maven_repo, PG_OLD)
    real_pg(maven_repo, PG_NEW)
    jars.install_copy(maven_repo.root, old_rel, shared_lib)
    wrapper = tmp_path / "python-as-nobody"
    # The module runs as nobody; pipelining feeds it on stdin, so it needs no root-only temp dir.
    wrapper.write_text("#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "
                       "env HOME=/tmp /usr/bin/python3 \"$@\"\n")
    wrapper.chmod(0o755)
    before = jars.snapshot_dir(shared_lib)
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, shared_lib, version=PG_NEW),
                         env={"ANSIBLE_PYTHON_INTERPRETER": str(wrapper), "ANSIBLE_PIPELINING": "1"})
    assert run.failed, run
    msg = run.result["msg"]
    assert "Cannot write in %s as user nobody" % shared_lib in msg and "Permission denied" in msg
    assert "become" in msg
    assert jars.snapshot_dir(shared_lib) == before
    assert maven_repo.jar_body_requests(mark) == []  # failed before downloading


def test_permission_denied_immutable_dest(maven_repo, ansible, shared_lib):
    """Even root cannot write into a directory with the immutable attribute."""
    old_rel = real_pg(maven_repo, PG_OLD)
    real_pg(maven_repo, PG_NEW)
    jars.install_copy(maven_repo.root, old_rel, shared_lib)
    subprocess.run(["chattr", "+i", shared_lib], check=True)
    before = jars.snapshot_dir(shared_lib)
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, shared_lib, version=PG_NEW))
    assert run.failed, run
    assert "Cannot write in %s" % shared_lib in run.result["msg"]
    assert "Operation not permitted" in run.result["msg"]
    assert jars.snapshot_dir(shared_lib) == before


@pytest.fixture
def tiny_fs(tmp_path):
    with tmpfs(tmp_path / "small", size="1m") as mnt:
        yield mnt


def test_full_disk_leaves_dest_unchanged(maven_repo, ansible, tiny_fs):
    """Refused up front from Content-Length: the 3 MB jar cannot fit in 1 MB."""
    # Built jars: the installed old one must itself fit in the 1 MB filesystem (a real one is 19 MB).
    old_rel = maven_repo.publish_postgres_cdc(BUILT_OLD)
    maven_repo.publish_postgres_cdc(BUILT_NEW, size=3 * 1024 * 1024)
    jars.install_copy(maven_repo.root, old_rel, tiny_fs)
    before = jars.snapshot_dir(tiny_fs)
    run = ansible.module("flink_connector_jar", maven_args(maven_repo, tiny_fs, version=BUILT_NEW))
    assert run.failed, run
    # Only the Content-Length check says this; a write that ran out of space says "No space left".
    assert "Not enough space" in run.result["msg"] and str(tiny_fs) in run.result["msg"]
    assert jars.snapshot_dir(tiny_fs) == before


def test_disk_full_while_writing_leaves_dest_unchanged(maven_repo, ansible, tiny_fs, tmp_path):
    """src has no Content-Length to check, so the write itself hits ENOSPC; the partial temp goes."""
    # Built jars, as above: the old one must fit in 1 MB.
    old_rel = maven_repo.publish_postgres_cdc(BUILT_OLD)
    rel = maven_repo.publish_postgres_cdc(BUILT_NEW, size=3 * 1024 * 1024)
    jars.install_copy(maven_repo.root, old_rel, tiny_fs)
    before = jars.snapshot_dir(tiny_fs)
    run = ansible.module("flink_connector_jar", dict(src=repo_file(maven_repo, rel), dest=str(tiny_fs)))
    assert run.failed, run
    assert "No space left in %s" % tiny_fs in run.result["msg"], run.result["msg"]
    assert jars.snapshot_dir(tiny_fs) == before


# --- concurrency ----------------------------------------------------------------------------------

def _in_thread(fn, *args, **kw):
    box = {}

    def target():
        box["run"] = fn(*args, **kw)

    th = threading.Thread(target=target)
    th.start()
    return th, box


def test_runs_serialize_on_the_dest_lock(maven_repo, ansible, lib):
    """While another process holds the lock, the module waits and touches nothing."""
    real_pg(maven_repo)
    before = jars.snapshot_dir(lib)
    fd = os.open(str(lib), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        mark = maven_repo.mark()
        th, box = _in_thread(ansible.module, "flink_connector_jar", maven_args(maven_repo, lib))
        time.sleep(6)
        assert th.is_alive(), box.get("run")
        assert jars.snapshot_dir(lib) == before
        assert maven_repo.requests_since(mark) == []
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    th.join(120)
    assert not box["run"].failed, box["run"]
    assert box["run"].result["changed"] is True


def test_two_concurrent_runs_same_jar(maven_repo, ansible, lib):
    rel = real_pg(maven_repo)
    maven_repo.set_fault(rel, mode="slow", seconds=2)
    mark = maven_repo.mark()
    runs = [_in_thread(ansible.module, "flink_connector_jar", maven_args(maven_repo, lib)) for dummy in range(2)]
    for th, dummy in runs:
        th.join(180)
    results = [box["run"] for dummy, box in runs]
    assert all(not r.failed for r in results), results
    assert sorted(r.result["changed"] for r in results) == [False, True]
    assert len(maven_repo.jar_body_requests(mark)) == 1
    assert sorted(os.listdir(str(lib))) == ["flink-dist-1.20.3.jar", jar_name(PG_NEW)]
    assert jars.sha256_file(str(lib / jar_name(PG_NEW))) == jars.sha256_file(repo_file(maven_repo, rel))


def test_two_concurrent_runs_different_versions(maven_repo, ansible, lib):
    for v in (PG_OLD, PG_NEW):
        rel = real_pg(maven_repo, v)
        maven_repo.set_fault(rel, mode="slow", seconds=1)
    runs = [_in_thread(ansible.module, "flink_connector_jar", maven_args(maven_repo, lib, version=v))
            for v in (PG_OLD, PG_NEW)]
    for th, dummy in runs:
        th.join(180)
    results = [box["run"] for dummy, box in runs]
    assert all(not r.failed for r in results), results
    names = sorted(os.listdir(str(lib)))
    assert len(names) == 2 and names[0] == "flink-dist-1.20.3.jar", names  # exactly one connector jar, no temp
    assert names[1] in (jar_name(PG_OLD), jar_name(PG_NEW))


# --- secrets and headers -------------------------------------------------------------------------

def test_password_is_used_and_never_shown(maven_repo, ansible, lib):
    secret = "pw-7Qx9Zr2Lm"
    real_pg(maven_repo)
    maven_repo.require(auth="deployer:%s" % secret)

    denied = ansible.module("flink_connector_jar", maven_args(maven_repo, lib))
    assert denied.failed and "HTTP 401" in denied.result["msg"] and "url_username" in denied.result["msg"]

    run = ansible.module("flink_connector_jar",
                         maven_args(maven_repo, lib, url_username="deployer", url_password=secret), verbosity=3)
    assert not run.failed, run
    assert run.result["changed"] is True
    assert secret not in run.output
    assert secret not in repr(run.records)


def test_headers_carry_a_token_and_are_never_shown(maven_repo, ansible, lib):
    token = "tok-5f2e9c1a77"
    real_pg(maven_repo)
    maven_repo.require(header="X-Token: %s" % token)

    denied = ansible.module("flink_connector_jar", maven_args(maven_repo, lib))
    assert denied.failed and "HTTP 401" in denied.result["msg"]

    run = ansible.module("flink_connector_jar", maven_args(maven_repo, lib, headers={"X-Token": token}), verbosity=3)
    assert not run.failed, run
    assert run.result["changed"] is True
    assert token not in run.output


# --- the real jars in the bed's repository --------------------------------------------------------

REAL_RECORD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "unit", "fixtures", "jars", "real_connectors.json")


def _jar_modules():
    """The collection's own jar code, from the collections path the ansible runs use (conftest.COLLECTIONS)."""
    sys.path.insert(0, os.environ.get("CDCOPS_COLLECTIONS_PATH")
                    or os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "collections"))
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import checksums, connectors, jarfile
    return checksums, connectors, jarfile


def test_real_jars_in_the_bed_repository_match_the_record(bed):
    """The module's validation and factory scan on each real jar the bed serves, against the recorded data
    (tests/bed/record_jars.py) that tests/unit/plugins/module_utils/_connector_jar/test_jarfile.py replays."""
    checksums, connectors, jarfile = _jar_modules()
    with open(REAL_RECORD) as f:
        record = json.load(f)
    assert [(a["connector"], a["role"], a["version"]) for a in record["artifacts"]] == [
        (a.connector, a.role, a.version) for a in artifacts.CONNECTORS]
    for real in record["artifacts"]:
        rel = jars.maven_path(real["group_id"], real["artifact_id"], real["version"])
        path = os.path.join(bed["maven"]["root"], rel)
        # The published file, byte for byte, next to the published checksum.
        assert os.path.getsize(path) == real["size"], rel
        assert jars.sha_hex(path, "sha1") == real["sha1"], rel
        with open(path + ".sha1") as f:
            assert checksums.parse_sidecar(f.read(), "sha1").hexdigest == real["sha1"], rel
        (connector,) = connectors.connectors_for(real["artifact_id"], real["group_id"])
        info = jarfile.validate_jar(path, rel, expected_factories=connector.factories)
        assert info.factories == tuple(real["factories"]) and info.entries == real["entries"], rel
        assert jarfile.read_factories(path) == tuple(real["factories"]), rel
        # The cheap central-directory scan reads the real jars itself (no fallback to zipfile).
        with open(path, "rb") as f:
            assert jarfile._factories_in_central_directory(f, real["size"]) == tuple(real["factories"]), rel
        with zipfile.ZipFile(path) as jar:
            names = jar.namelist()
            assert jar.read(jars.FACTORY_SERVICE).decode("utf-8") == real["factory_service"], rel
        classes = [n for n in names if n.endswith(".class")]
        packages = collections.Counter("/".join(n.split("/")[:-1][:3]) or "(default package)" for n in classes)
        assert dict(packages) == real["packages"], rel
        assert sorted(n for n in names if n.startswith("META-INF/services/") and n != "META-INF/services/") \
            == real["services"], rel
    # state.json names the same builds, and deploys only what fits the bed's Flink.
    for name, entry in bed["connectors"].items():
        assert (entry["current"], entry["older"]) == (artifacts.connector(name, "current").version,
                                                      artifacts.connector(name, "older").version)
    assert bed["demo_connectors"] == artifacts.demo_connectors(bed["flink_version"])
