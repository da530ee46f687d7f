"""Reliability: what a new user runs into, on the real bed.

Each case runs the collection the way users do (``ansible``/``ansible-playbook``) against real servers: the
bed's Flink, its PostgreSQL (and one of the test's own, for TLS-only pg_hba), private Maven-layout repositories
(tests/bed/maven_repo.py) and the same server as a JobManager that answers slowly (its ``trickle_headers``
fault). Nothing is mocked: faults are injected in the servers, on real mounts, or by killing a real process.

1. A password in a URL's userinfo never reaches any output, at -vvv, in either fetch mode, nor in the role's.
2. A server that trickles bounds every REST request by ``timeout`` and a wait by ``wait_timeout``; a jar
   download fails when it stalls for ``timeout`` seconds (naming host:port and the bytes that had arrived) and
   finishes when it is merely slow.
3. A version the repository does not have is named as such, with the versions it has, nearest first.
5. Hints: a read-only filesystem names its mount point; a TLS-only pg_hba offers ssl_mode first.
6. A download killed mid-way leaves no ``*.jar``, and the next run removes what it left.
7. The bed's PostgreSQL starts from a checkout that others cannot traverse.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import artifacts
import bed as bed_mod
import jars

GROUP, ARTIFACT = artifacts.PG_CDC
PG_NEW = artifacts.connector("postgres_cdc", "current").version  # 3.5.0
PG_OLD = artifacts.connector("postgres_cdc", "older").version  # 3.3.0
SR_GROUP, SR_ARTIFACT = artifacts.STARROCKS
SR_NEW = artifacts.connector("starrocks", "current").version
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "playbooks", "deploy.yml")
PREFLIGHT = os.path.join(ROOT, "playbooks", "preflight.yml")


def jar_name(version, artifact=ARTIFACT):
    return "%s-%s.jar" % (artifact, version)


def with_userinfo(url, user, password):
    scheme, rest = url.split("://", 1)
    return "%s://%s:%s@%s" % (scheme, user, password, rest)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- 1. a password inside a URL ---------------------------------------------------------------------

SECRET = "Url-S3cret-9Qz"


def run_task(ansible, module, args, check=False, verbosity=3):
    """The module as one task of a playbook, each option templated from a variable, as playbooks pass secrets.

    (An ad-hoc ``ansible -m`` run would do too, but Ansible itself echoes an ad-hoc task's arguments, the
    user's own command line, shortened to 120 characters, when the task fails.)"""
    lines = ["- hosts: localhost", "  gather_facts: false", "  tasks:", "    - name: The module under test",
             "      cdcops.flink_cdc.%s:" % module]
    lines += ["        %s: \"{{ task_args['%s'] }}\"" % (key, key) for key in args]
    return ansible.playbook("\n".join(lines) + "\n", check=check, verbosity=verbosity,
                            extra_vars={"task_args": args})


def assert_no_secret(run, secret=SECRET):
    """The whole output (stdout and stderr, -vvv) and every recorded result: never the secret."""
    assert secret not in run.output, [line for line in run.output.splitlines() if secret in line]
    assert secret not in json.dumps(run.records, default=str)


@pytest.mark.parametrize("fetch_mode", ["remote", "controller"])
def test_password_in_repository_url_never_shown(maven_repo, ansible, lib, tmp_path, fetch_mode):
    maven_repo.publish_real(GROUP, ARTIFACT, PG_NEW)
    maven_repo.publish_real(SR_GROUP, SR_ARTIFACT, SR_NEW)
    maven_repo.require(auth="deployer:%s" % SECRET)
    repo = with_userinfo(maven_repo.url, "deployer", SECRET)
    common = dict(dest=str(lib), fetch_mode=fetch_mode, controller_cache_dir=str(tmp_path / "cache"))
    single = dict(common, repository_url=repo, group_id=GROUP, artifact_id=ARTIFACT, version=PG_NEW)

    # Success: the credentials in the URL are used, and masked everywhere.
    for check in (True, False):
        run = run_task(ansible, "flink_connector_jar", single, check=check)
        assert not run.failed, run
        assert run.result["changed"] is True
        assert_no_secret(run)
        assert run.result["url"].startswith("http://****:****@127.0.0.1:%d/" % maven_repo.port)

    # Failure: a version that is not there, the same URL.
    run = run_task(ansible, "flink_connector_jar", dict(single, version="9.9.9"))
    assert run.failed
    assert_no_secret(run)

    # url, and url inside jars.
    sr_url = "%s/%s" % (repo, jars.maven_path(SR_GROUP, SR_ARTIFACT, SR_NEW))
    for args in (dict(common, url=sr_url), dict(common, jars=[dict(url=sr_url)]),
                 dict(common, jars=[dict(url=sr_url.replace(SR_NEW, "0.0.1"))])):
        run = run_task(ansible, "flink_connector_jar", args)
        assert_no_secret(run)
    assert run.failed  # the last one names a jar the repository lacks
    assert os.path.exists(str(lib / jar_name(SR_NEW, SR_ARTIFACT)))

    # Refused by the action plugin before anything runs, in either mode: its failure shows no secret either.
    short = "http://u:%s@r/a.jar" % SECRET
    for bad in (dict(url=short, dest=str(lib), fetch_mode=fetch_mode + "x"),
                dict(url=short, dest=str(lib), fetch_mode=fetch_mode, _pushed={})):
        run = run_task(ansible, "flink_connector_jar", bad)
        assert run.failed
        assert_no_secret(run)


def test_password_in_rest_url_never_shown(bed, ansible, tmp_path):
    url = with_userinfo(bed["rest_url"], "ops", SECRET)
    ok = run_task(ansible, "flink_cluster_info", {"url": url})
    assert not ok.failed, ok
    assert ok.result["flink_version"] == bed["flink_version"]
    assert ok.result["url"] == bed["rest_url"]  # without the credentials, for the role's messages and report
    assert_no_secret(ok)
    refused = with_userinfo("http://127.0.0.1:%d" % free_port(), "ops", SECRET)
    failed = run_task(ansible, "flink_cluster_info", {"url": refused})
    assert failed.failed and "connection refused" in failed.result["msg"]
    assert_no_secret(failed)

    job = {"url": url, "flink_home": bed["jobmanager"]["home"], "job_name": "cdcops-it-url-secret",
           "sql": "CREATE TEMPORARY TABLE g (id INT) WITH ('connector' = 'datagen');"}
    check = run_task(ansible, "flink_sql_job", job, check=True)
    assert not check.failed, check
    assert_no_secret(check)
    failed = run_task(ansible, "flink_sql_job", dict(job, flink_home=str(tmp_path / "no-flink")))
    assert failed.failed
    assert_no_secret(failed)


@pytest.mark.parametrize("fetch_mode", ["controller", "remote"])
def test_password_in_role_repository_never_shown(bed, ansible, maven_repo, tmp_path, fetch_mode):
    for connector in bed["demo_connectors"]:
        maven_repo.publish_real(connector["group_id"], connector["artifact_id"], connector["version"])
    maven_repo.require(auth="deployer:%s" % SECRET)
    homes = [bed["jobmanager"]["home"]] + [tm["home"] for tm in bed["taskmanagers"]]
    inventory = tmp_path / "inventory.ini"
    lines = ["[flink_jobmanager]", "jobmanager ansible_host=127.0.0.1 flink_cdc_flink_home=%s" % homes[0],
             "", "[flink_taskmanagers]"]
    lines += ["tm%d ansible_host=%s flink_cdc_flink_home=%s" % (i, tm["host"], tm["home"])
              for i, tm in enumerate(bed["taskmanagers"], 1)]
    lines += ["", "[all:vars]", "ansible_connection=local", "ansible_python_interpreter=%s" % bed["python"]]
    inventory.write_text("\n".join(lines) + "\n")
    role_vars = bed_mod.sandbox_role_vars(bed["postgres"], with_userinfo(maven_repo.url, "deployer", SECRET),
                                          str(tmp_path / "cache"), str(tmp_path / "report"))
    role_vars.update(flink_cdc_rest_url=bed["rest_url"], flink_cdc_fetch_mode=fetch_mode)
    dist = set(os.listdir(os.path.join(bed_mod.flink_dist(), "lib")))

    def reset():
        for home in homes:
            for name in set(os.listdir(os.path.join(home, "lib"))) - dist:
                os.unlink(os.path.join(home, "lib", name))

    reset()
    try:
        run = ansible.playbook(DEPLOY, inventory=str(inventory), extra_vars=role_vars, verbosity=3)
        assert run.rc == 0, run
        assert_no_secret(run)
        for home in homes:
            for connector in bed["demo_connectors"]:
                assert os.path.exists(os.path.join(home, "lib", jar_name(connector["version"],
                                                                         connector["artifact_id"])))
        for base, dummy, files in os.walk(str(tmp_path / "report")):
            for name in files:
                with open(os.path.join(base, name)) as f:
                    assert SECRET not in f.read(), name
    finally:
        reset()


def test_password_in_role_rest_url_never_shown(bed, ansible, tmp_path):
    # Flink has no HTTP authentication of its own, so the JobManager ignores the userinfo: the play runs,
    # and neither its -vvv output nor the report may show the password.
    inventory = tmp_path / "inventory.ini"
    lines = ["[flink_jobmanager]", "jobmanager ansible_host=127.0.0.1 flink_cdc_flink_home=%s" % bed["jobmanager"]["home"],
             "", "[flink_taskmanagers]"]
    lines += ["tm%d ansible_host=%s flink_cdc_flink_home=%s" % (i, tm["host"], tm["home"])
              for i, tm in enumerate(bed["taskmanagers"], 1)]
    lines += ["", "[all:vars]", "ansible_connection=local", "ansible_python_interpreter=%s" % bed["python"]]
    inventory.write_text("\n".join(lines) + "\n")
    role_vars = bed_mod.sandbox_role_vars(bed["postgres"], bed["maven"]["url"], str(tmp_path / "cache"),
                                          str(tmp_path / "report"))
    role_vars.update(flink_cdc_rest_url=with_userinfo(bed["rest_url"], "ops", SECRET))
    run = ansible.playbook(PREFLIGHT, inventory=str(inventory), extra_vars=role_vars, verbosity=3)
    assert run.rc == 0, run
    assert_no_secret(run)
    with open(str(tmp_path / "report" / "flink_cdc_report.md")) as f:
        md = f.read()
    assert SECRET not in md and "- Cluster: %s (Flink %s)" % (bed["rest_url"], bed["flink_version"]) in md
    with open(str(tmp_path / "report" / "flink_cdc_report.json")) as f:
        assert SECRET not in f.read()


# --- 2. servers that answer slowly --------------------------------------------------------------------

# Before the fix, every case below ran for as long as the server trickled (45 s and more): a socket timeout bounds
# each read, and each read found a byte.
TRICKLE = dict(mode="trickle_headers", interval=1, bytes=45)


def timed(call):
    start = time.monotonic()
    run = call()
    return run, time.monotonic() - start


def test_rest_timeout_bounds_the_whole_request(ansible, maven_repo):
    maven_repo.set_fault("/overview", **TRICKLE)
    where = "127.0.0.1:%d" % maven_repo.port
    run, took = timed(lambda: ansible.module("flink_cluster_info", {"url": maven_repo.url, "timeout": 3}))
    assert run.failed
    assert took < 20, took
    assert where in run.result["msg"] and "timed out" in run.result["msg"], run.result["msg"]
    assert "3 s" in run.result["msg"], run.result["msg"]


def test_rest_wait_timeout_bounds_the_whole_wait(ansible, maven_repo):
    maven_repo.set_fault("/overview", **TRICKLE)
    run, took = timed(lambda: ansible.module("flink_cluster_info", {
        "url": maven_repo.url, "timeout": 5, "wait_for_taskmanagers": 1, "wait_timeout": 8}))
    assert run.failed
    assert took < 8 + 10, took
    msg = run.result["msg"]
    assert msg.startswith("gave up after 8s waiting for the Flink cluster at 127.0.0.1:%d" % maven_repo.port), msg
    assert "timed out" in msg, msg


def test_sql_job_rest_timeout_bounds_the_request(ansible, maven_repo, tmp_path):
    maven_repo.set_fault("/overview", **TRICKLE)
    run, took = timed(lambda: ansible.module("flink_sql_job", {
        "url": maven_repo.url, "timeout": 3, "flink_home": str(tmp_path), "sql": "SELECT 1;"}))
    assert run.failed
    assert took < 20, took
    assert "127.0.0.1:%d" % maven_repo.port in run.result["msg"] and "timed out" in run.result["msg"]


def download_args(repo, dest, tmp_path, fetch_mode, **extra):
    return dict(dict(repository_url=repo.url, group_id=GROUP, artifact_id=ARTIFACT, version=PG_NEW, dest=str(dest),
                     fetch_mode=fetch_mode, controller_cache_dir=str(tmp_path / "cache")), **extra)


@pytest.mark.parametrize("fetch_mode", ["remote", "controller"])
def test_download_headers_that_trickle_time_out(maven_repo, ansible, lib, tmp_path, fetch_mode):
    rel = maven_repo.publish_real(GROUP, ARTIFACT, PG_NEW)
    before = jars.snapshot_dir(lib)
    for path, extra in (("/" + rel + ".sha1", {}),  # the checksum file
                        ("/" + rel, {"checksum": "sha256:" + jars.sha256_file(os.path.join(maven_repo.root, rel))})):
        maven_repo.clear_faults()
        maven_repo.set_fault(path, **TRICKLE)
        run, took = timed(lambda: ansible.module("flink_connector_jar", download_args(
            maven_repo, lib, tmp_path, fetch_mode, timeout=3, **extra)))
        assert run.failed, run
        assert took < 20, (path, took)
        msg = run.result["msg"]
        assert "127.0.0.1:%d" % maven_repo.port in msg and "3 s" in msg, msg
        assert jars.snapshot_dir(lib) == before


@pytest.mark.parametrize("fetch_mode", ["remote", "controller"])
def test_stalled_download_fails_naming_what_arrived(maven_repo, ansible, lib, tmp_path, fetch_mode):
    rel = maven_repo.publish_real(GROUP, ARTIFACT, PG_NEW)
    size = os.path.getsize(os.path.join(maven_repo.root, rel))
    maven_repo.set_fault("/" + rel, mode="stall", after=300000, seconds=60)
    before = jars.snapshot_dir(lib)
    run, took = timed(lambda: ansible.module("flink_connector_jar", download_args(maven_repo, lib, tmp_path,
                                                                                  fetch_mode, timeout=3)))
    assert run.failed, run
    assert took < 20, took
    msg = run.result["msg"]
    assert "127.0.0.1:%d" % maven_repo.port in msg, msg
    assert "300000 of %d bytes" % size in msg and "3 s" in msg, msg
    assert jars.snapshot_dir(lib) == before
    assert not [n for base, dummy, names in os.walk(str(tmp_path / "cache")) for n in names if n.endswith(".part")]


@pytest.mark.parametrize("fetch_mode", ["remote", "controller"])
def test_slow_but_progressing_download_finishes(maven_repo, ansible, lib, tmp_path, fetch_mode):
    rel = maven_repo.publish_real(SR_GROUP, SR_ARTIFACT, SR_NEW)
    size = os.path.getsize(os.path.join(maven_repo.root, rel))
    # About 8 s in all, far beyond timeout, but never 2 s without a byte.
    maven_repo.set_fault("/" + rel, mode="trickle", piece=size // 40 + 1, interval=0.2)
    run, took = timed(lambda: ansible.module("flink_connector_jar", download_args(
        maven_repo, lib, tmp_path, fetch_mode, group_id=SR_GROUP, artifact_id=SR_ARTIFACT, version=SR_NEW,
        timeout=2)))
    assert not run.failed, run
    assert took > 2 * 2, took
    assert jars.sha256_file(str(lib / jar_name(SR_NEW, SR_ARTIFACT))) == \
        jars.sha256_file(os.path.join(maven_repo.root, rel))


# --- 3. a version the repository does not have ---------------------------------------------------------

METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>%(group)s</groupId>
  <artifactId>%(artifact)s</artifactId>
  <versioning>
    <latest>%(latest)s</latest>
    <release>%(latest)s</release>
    <versions>
%(versions)s
    </versions>
    <lastUpdated>20250917093041</lastUpdated>
  </versioning>
</metadata>
"""


def write_metadata(repo, group, artifact, versions):
    """``<group path>/<artifact>/maven-metadata.xml`` as Maven Central lays it out."""
    path = os.path.join(repo.root, *(group.split(".") + [artifact, "maven-metadata.xml"]))
    with open(path, "w") as f:
        f.write(METADATA % {"group": group, "artifact": artifact, "latest": versions[-1],
                            "versions": "\n".join("      <version>%s</version>" % v for v in versions)})


@pytest.mark.parametrize("fetch_mode", ["remote", "controller"])
def test_absent_version_is_named_with_the_versions_the_repository_has(maven_repo, ansible, lib, tmp_path, fetch_mode):
    for version in (PG_OLD, PG_NEW):
        maven_repo.publish_real(GROUP, ARTIFACT, version)
    write_metadata(maven_repo, GROUP, ARTIFACT, [PG_OLD, PG_NEW])
    maven_repo.require(auth="deployer:%s" % SECRET)
    repo = with_userinfo(maven_repo.url, "deployer", SECRET)
    before = jars.snapshot_dir(lib)
    for version, nearest, extra, check in (
            ("9.9.9", "3.5.0, 3.3.0", {}, False),
            ("9.9.9", "3.5.0, 3.3.0", {}, True),  # check mode fetches the checksum file too
            ("3.3.1", "3.3.0, 3.5.0", {}, False),
            ("3.4.0", "3.5.0, 3.3.0", {"checksum": "sha256:" + "0" * 64}, False)):  # pinned: the jar itself is asked
        run = run_task(ansible, "flink_connector_jar", download_args(
            maven_repo, lib, tmp_path, fetch_mode, repository_url=repo, version=version, **extra), check=check)
        assert run.failed, run
        msg = run.result["msg"]
        assert "%s:%s:%s is not in the repository http://****:****@127.0.0.1:%d (HTTP 404 for" % (
            GROUP, ARTIFACT, version, maven_repo.port) in msg, msg
        assert "It has 2 version(s) of %s:%s, nearest first: %s." % (GROUP, ARTIFACT, nearest) in msg, msg
        assert "no sha1 checksum file" not in msg and "Pin the expected checksum" not in msg, msg
        assert_no_secret(run)
    assert jars.snapshot_dir(lib) == before

    # Without maven-metadata.xml it says so.
    os.unlink(os.path.join(maven_repo.root, *(GROUP.split(".") + [ARTIFACT, "maven-metadata.xml"])))
    run = run_task(ansible, "flink_connector_jar", download_args(maven_repo, lib, tmp_path, fetch_mode,
                                                                 repository_url=repo, version="9.9.9"))
    assert run.failed
    assert "is not in the repository" in run.result["msg"] and "serves no maven-metadata.xml" in run.result["msg"]

    # A URL that names no jar.
    missing = "%s/%s" % (repo, jars.maven_path(GROUP, ARTIFACT, "9.9.9"))
    run = run_task(ansible, "flink_connector_jar", dict(url=missing, dest=str(lib), fetch_mode=fetch_mode,
                                                        controller_cache_dir=str(tmp_path / "cache")))
    assert run.failed
    assert "The jar %s is not at http://****:****@127.0.0.1:%d/" % (jar_name("9.9.9"), maven_repo.port) \
        in run.result["msg"] and "(HTTP 404)" in run.result["msg"], run.result["msg"]
    assert_no_secret(run)

    # The jar is there but its checksum file is not: that advice stays.
    rel = jars.maven_path(GROUP, ARTIFACT, PG_NEW)
    os.unlink(os.path.join(maven_repo.root, rel + ".sha1"))  # a copy: ~/.m2 keeps its own
    run = run_task(ansible, "flink_connector_jar", download_args(maven_repo, lib, tmp_path, fetch_mode,
                                                                 repository_url=repo))
    assert run.failed
    assert "no sha1 checksum file" in run.result["msg"] and "checksum: sha256:" in run.result["msg"]
    assert jars.snapshot_dir(lib) == before


def rest_client_module():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "collections"))
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import rest as _flink_rest
    return _flink_rest


def test_a_job_flink_does_not_know_is_not_called_another_api(bed):
    """The same wrong advice in the REST client: Flink's 404 for an unknown job id said "is not a Flink REST API"."""
    rest = rest_client_module()
    client = rest.FlinkRestClient(bed["rest_url"], timeout=10)
    with pytest.raises(rest.FlinkRestError) as err:
        client.job("0" * 32)
    msg = err.value.message
    assert "is not a Flink REST API" not in msg and not err.value.not_flink, msg
    assert msg == "the Flink REST API at %s/jobs/%s (%s) answered HTTP 404: Job %s not found" % (
        bed["rest_url"], "0" * 32, bed["rest_url"].split("://", 1)[1], "0" * 32), msg
    # A path that is no endpoint still says where url points.
    with pytest.raises(rest.FlinkRestError) as err:
        client.get("/no-such-endpoint")
    assert err.value.not_flink and "is not a Flink REST API" in err.value.message


# --- 5. hints that point the right way ----------------------------------------------------------------

def mount(*args):
    subprocess.run(["mount"] + list(args), check=True)


def umount(path):
    subprocess.run(["umount", str(path)], check=False)


@pytest.fixture
def readonly_mounts(tmp_path, lib):
    """Two read-only filesystems holding a Flink home: a tmpfs mounted read-only, and a read-only bind mount of a
    directory of this same filesystem (a mount point os.path.ismount cannot see). Yields {kind: (mount point,
    lib/)}, each lib/ holding the unrelated jar of ``lib``."""
    made = {}
    try:
        tmpfs = tmp_path / "ro-tmpfs"
        tmpfs.mkdir()
        mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(tmpfs))
        made["tmpfs"] = tmpfs
        shutil.copytree(str(lib), str(tmpfs / "flink" / "lib"))
        mount("-o", "remount,ro", str(tmpfs))
        source = tmp_path / "bind-source"
        shutil.copytree(str(lib), str(source / "flink" / "lib"))
        bind = tmp_path / "ro-bind"
        bind.mkdir()
        mount("--bind", str(source), str(bind))
        made["bind"] = bind
        mount("-o", "remount,bind,ro", str(bind))
        yield {kind: (point, point / "flink" / "lib") for kind, point in made.items()}
    finally:
        for point in made.values():
            umount(point)


@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
def test_read_only_filesystem_is_named_with_its_mount_point(maven_repo, ansible, readonly_mounts, tmp_path, kind):
    maven_repo.publish_real(GROUP, ARTIFACT, PG_NEW)
    point, dest = readonly_mounts[kind]
    before = jars.snapshot_dir(dest)
    for fetch_mode in ("remote", "controller"):
        run = ansible.module("flink_connector_jar", download_args(maven_repo, dest, tmp_path, fetch_mode))
        assert run.failed, run
        msg = run.result["msg"]
        assert "read-only" in msg and "mounted at %s" % point in msg, msg
        assert "Run the task with become" not in msg, msg
        assert jars.snapshot_dir(dest) == before

    # The controller cache on a read-only filesystem: the same.
    run = ansible.module("flink_connector_jar", download_args(maven_repo, tmp_path / "lib", tmp_path, "controller",
                                                              controller_cache_dir=str(dest.parent / "cache")))
    assert run.failed, run
    assert "read-only" in run.result["msg"] and "mounted at %s" % point in run.result["msg"], run.result["msg"]


def test_root_refused_is_not_told_to_become(maven_repo, ansible, lib):
    """Root is refused by an immutable directory: become cannot help, and the message says what can."""
    maven_repo.publish_real(GROUP, ARTIFACT, PG_NEW)
    subprocess.run(["chattr", "+i", str(lib)], check=True)
    try:
        run = ansible.module("flink_connector_jar", download_args(maven_repo, lib, lib, "remote"))
    finally:
        subprocess.run(["chattr", "-i", str(lib)], check=True)
    assert run.failed, run
    msg = run.result["msg"]
    assert "Cannot write in %s as user root" % lib in msg and "Operation not permitted" in msg, msg
    assert "Run the task with become" not in msg and "lsattr -d %s" % lib in msg, msg


class SslOnlyPostgres:
    """A PostgreSQL cluster of the test's own: ssl=on with a self-signed certificate, and a pg_hba.conf that admits
    TCP clients only over SSL (``hostssl``). Run as the ``postgres`` OS user, as tests/bed/bed.py does."""

    def __init__(self):
        import secrets
        self.base = tempfile_dir("cdcops-pg-ssl-")
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        os.makedirs(self.sock)
        pwfile = os.path.join(self.base, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password)
        os.chmod(pwfile, 0o600)
        if os.geteuid() == 0:
            for path in (self.base, self.sock, pwfile):
                shutil.chown(path, "postgres", "postgres")
        bin_dir = bed_mod.pg_bin()
        bed_mod.as_pg([os.path.join(bin_dir, "initdb"), "-D", self.data, "-U", "postgres", "--pwfile", pwfile,
                       "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"],
                      stdout=subprocess.DEVNULL)
        os.unlink(pwfile)
        bed_mod.as_pg(["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=127.0.0.1",
                       "-keyout", os.path.join(self.data, "server.key"), "-out", os.path.join(self.data, "server.crt")],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(os.path.join(self.data, "server.key"), 0o600)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nssl = on\n"
                    "fsync = off\n" % (self.port, self.sock))
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
        bed_mod.as_pg([os.path.join(bin_dir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.base, "server.log"),
                       "-w", "-t", "60", "start"], stdout=subprocess.DEVNULL)

    def stop(self):
        bed_mod.as_pg([os.path.join(bed_mod.pg_bin(), "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"],
                      check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.base, ignore_errors=True)

    def login(self, **extra):
        return dict(dict(login_host="127.0.0.1", login_port=self.port, login_user="postgres",
                         login_password=self.password, login_db="postgres"), **extra)


def tempfile_dir(prefix):
    """A directory outside pytest's 0700 tree, so that the postgres OS user can reach it."""
    import tempfile
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o711)
    return path


@pytest.fixture
def ssl_only_pg():
    server = SslOnlyPostgres()
    try:
        yield server
    finally:
        server.stop()


def test_ssl_only_pg_hba_offers_ssl_mode_first(ansible, ssl_only_pg):
    run = ansible.module("pg_logical_check", ssl_only_pg.login(ssl_mode="disable"))
    assert run.failed, run
    (connect,) = [c for c in run.result["checks"] if c["name"] == "connect"]
    assert "no pg_hba.conf entry" in connect["message"] and "no encryption" in connect["message"], connect
    hint = connect["hint"]
    assert hint.startswith("No pg_hba.conf line admits this client unencrypted. If the server admits it over SSL"), hint
    assert "ssl_mode: require" in hint and "verify-full" in hint and "ca_cert" in hint, hint
    assert hint.index("ssl_mode: require") < hint.find("'host "), hint
    assert ssl_only_pg.password not in run.output

    # A client that asks for SSL where no line admits it over SSL either is told to add a hostssl line.
    with open(os.path.join(ssl_only_pg.data, "pg_hba.conf"), "w") as f:
        f.write("local all all trust\nhostnossl all all 127.0.0.1/32 scram-sha-256\n")
    bed_mod.as_pg([os.path.join(bed_mod.pg_bin(), "pg_ctl"), "-D", ssl_only_pg.data, "reload"],
                  stdout=subprocess.DEVNULL)
    time.sleep(1)
    run = ansible.module("pg_logical_check", ssl_only_pg.login(ssl_mode="require"))
    assert run.failed, run
    (connect,) = [c for c in run.result["checks"] if c["name"] == "connect"]
    assert "SSL encryption" in connect["message"], connect
    assert "'hostssl postgres postgres <client address>/32 scram-sha-256'" in connect["hint"], connect
    with open(os.path.join(ssl_only_pg.data, "pg_hba.conf"), "w") as f:
        f.write("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
    bed_mod.as_pg([os.path.join(bed_mod.pg_bin(), "pg_ctl"), "-D", ssl_only_pg.data, "reload"],
                  stdout=subprocess.DEVNULL)
    time.sleep(1)

    # And the hint is right: with ssl_mode require the same client connects.
    ok = ansible.module("pg_logical_check", ssl_only_pg.login(ssl_mode="require", fail_on_not_ready=False))
    assert not ok.failed, ok
    assert [c["ok"] for c in ok.result["checks"] if c["name"] == "connect"] == [True]


# --- 6. a run killed mid-download -------------------------------------------------------------------

def start_module(ansible, module, args):
    """``ansible -m`` in its own session, not waited for: (process, its output file)."""
    out = open(os.path.join(ansible.tmpdir, "killed-%s.log" % time.monotonic()), "w+")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-m", "cdcops.flink_cdc." + module, "-a", json.dumps(args)]
    # A killed module cannot remove the directory AnsiballZ unpacked it into: TMPDIR puts that in the test's tmpdir.
    proc = subprocess.Popen(cmd, env=ansible.env({"TMPDIR": str(ansible.tmpdir)}), stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    return proc, out


def descendants(pid):
    """Pids of every live descendant of ``pid`` (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def partial_files(directory):
    """``.part`` files under ``directory`` (recursively) that already hold bytes."""
    found = []
    for base, dummy, names in os.walk(str(directory)):
        for name in names:
            path = os.path.join(base, name)
            if name.endswith(".part") and os.path.getsize(path) > 0:
                found.append(path)
    return found


def kill_mid_download(proc, watch, whole_run=False, timeout=90):
    """Once a temp file under ``watch`` holds part of the jar, SIGKILL the module's process (``whole_run``: the
    whole ansible run, whose controller is downloading); returns the temp files left behind."""
    deadline = time.monotonic() + timeout
    while not partial_files(watch):
        assert proc.poll() is None, "the run ended before the download was under way"
        assert time.monotonic() < deadline, "no partial download appeared under %s" % watch
        time.sleep(0.1)
    if whole_run:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        (module,) = [p for p in descendants(proc.pid) if "AnsiballZ_flink_connector_jar" in cmdline(p)
                     and "python" in cmdline(p).split(" ", 1)[0]]
        os.kill(module, signal.SIGKILL)
    proc.wait(timeout=60)
    return partial_files(watch)


def every_file(directory):
    return sorted(os.path.relpath(os.path.join(base, name), str(directory))
                  for base, dummy, names in os.walk(str(directory)) for name in names)


def test_killed_download_leaves_no_jar_and_the_next_run_cleans_up(maven_repo, ansible, lib, tmp_path):
    rel = maven_repo.publish_real(GROUP, ARTIFACT, PG_NEW)
    size = os.path.getsize(os.path.join(maven_repo.root, rel))
    slow = dict(mode="trickle", piece=128 * 1024, interval=0.2)  # about a minute for the whole jar
    args = download_args(maven_repo, lib, tmp_path, "remote")
    cache = tmp_path / "cache"
    installed = lib / jar_name(PG_NEW)

    # Remote: killed during the first install. What is left never ends in .jar; the next run removes it.
    maven_repo.set_fault("/" + rel, **slow)
    proc, dummy = start_module(ansible, "flink_connector_jar", args)
    left = kill_mid_download(proc, lib)
    assert left and all(os.path.basename(p).startswith(".%s." % jar_name(PG_NEW)) for p in left), left
    assert not [n for n in os.listdir(str(lib)) if n.endswith(".jar") and n != "flink-dist-1.20.3.jar"]
    assert all(0 < os.path.getsize(p) < size for p in left)
    maven_repo.clear_faults()
    run = ansible.module("flink_connector_jar", args)
    assert not run.failed, run
    assert sorted(os.listdir(str(lib))) == ["flink-dist-1.20.3.jar", jar_name(PG_NEW)]

    # Controller: the controller's fetch into its cache killed with the whole run; the next run removes it there.
    controller = dict(args, fetch_mode="controller")
    other = tmp_path / "lib2"
    other.mkdir()
    maven_repo.set_fault("/" + rel, **slow)
    proc, dummy = start_module(ansible, "flink_connector_jar", dict(controller, dest=str(other)))
    left = kill_mid_download(proc, cache, whole_run=True)
    assert left and not [p for p in every_file(cache) if p.endswith(".jar")], every_file(cache)
    maven_repo.clear_faults()
    run = ansible.module("flink_connector_jar", dict(controller, dest=str(other)))
    assert not run.failed, run
    assert not [p for p in every_file(cache) if p.endswith(".part")], every_file(cache)
    assert os.listdir(str(other)) == [jar_name(PG_NEW)]

    # A run killed while it fetched a jar that dest already holds (force): the next run has nothing to fetch, and
    # removes what the killed one left all the same, in either mode.
    for rerun in (args, controller):
        if rerun is controller:
            # The controller remembers lib/ as its last run left it, and answers a rerun without the module.
            assert not ansible.module("flink_connector_jar", controller).failed
        maven_repo.set_fault("/" + rel, **slow)
        proc, dummy = start_module(ansible, "flink_connector_jar", dict(args, force=True))
        left = kill_mid_download(proc, lib)
        assert left and os.path.exists(str(installed))
        maven_repo.clear_faults()
        run = ansible.module("flink_connector_jar", rerun)
        assert not run.failed, run
        assert run.result["changed"] is False
        assert sorted(os.listdir(str(lib))) == ["flink-dist-1.20.3.jar", jar_name(PG_NEW)], rerun["fetch_mode"]
    assert jars.sha256_file(str(installed)) == jars.sha256_file(os.path.join(maven_repo.root, rel))


# --- 7. a checkout that the postgres OS user cannot reach ------------------------------------------------

def test_bed_postgres_starts_from_a_checkout_others_cannot_traverse(tmp_path):
    # As root the bed runs PostgreSQL as the postgres OS user, which cannot traverse a 0700 directory: this is
    # the case the fix is for. As another user PostgreSQL runs as that user; the checks hold all the same.
    import tempfile
    base = tempfile.mkdtemp(prefix="cdcops-x700-")  # mode 0700, like mktemp -d or root's home
    assert oct(os.stat(base).st_mode & 0o777) == "0o700"
    clone = os.path.join(base, "ci")
    subprocess.run(["git", "clone", "-q", ROOT, clone], check=True)
    # This checkout's bed code, committed or not.
    for name in os.listdir(os.path.join(ROOT, "tests", "bed")):
        if name.endswith(".py"):
            shutil.copy2(os.path.join(ROOT, "tests", "bed", name), os.path.join(clone, "tests", "bed", name))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDCOPS_BED_")}
    ports = {"CDCOPS_BED_PG_PORT": free_port(), "CDCOPS_BED_PG_REPLICA_PORT": free_port()}
    env.update({k: str(v) for k, v in ports.items()})

    def bed(code):
        return subprocess.run([sys.executable, "-c", "import json, bed\n" + code], cwd=os.path.join(clone, "tests", "bed"),
                              env=env, capture_output=True, text=True, check=False)

    try:
        up = bed("print(json.dumps({n: bed.start_postgres(n, bed.PORTS['pg_' + n], w) "
                 "for n, w in (('logical', 'logical'), ('replica', 'replica'))}))")
        assert up.returncode == 0, up.stderr[-3000:]
        pg = json.loads(up.stdout.strip().splitlines()[-1])
        import psycopg2
        for name in ("logical", "replica"):
            assert pg[name]["port"] == ports["CDCOPS_BED_PG_PORT" if name == "logical" else "CDCOPS_BED_PG_REPLICA_PORT"]
            conn = psycopg2.connect(host="127.0.0.1", port=pg[name]["port"], user="postgres",
                                    password=pg[name]["password"], dbname="postgres", connect_timeout=10)
            with conn, conn.cursor() as cur:
                cur.execute("SHOW wal_level")
                assert cur.fetchone()[0] == name
            conn.close()
        # Every file of the bed's PostgreSQL that holds a password is readable by its owner only.
        secret_files = [os.path.join(d, f) for top in (os.path.join(clone, "tests", "output", "bed"),
                                                       os.path.dirname(os.path.dirname(pg["logical"]["data"])))
                        for d, dummy, files in os.walk(top) for f in files
                        if "password" in f or f in ("pwfile", "state.json", "all.yml")]
        assert secret_files
        for path in secret_files:
            assert os.stat(path).st_mode & 0o077 == 0, path
        # Down stops both clusters; the next up reuses them.
        down = bed("bed.stop_postgres('logical'); bed.stop_postgres('replica')")
        assert down.returncode == 0, down.stderr
        assert not bed_mod.port_open("127.0.0.1", pg["logical"]["port"])
        again = bed("print(bed.start_postgres('logical', bed.PORTS['pg_logical'], 'logical')['data'])")
        assert again.returncode == 0 and "initdb" not in again.stderr, again.stderr
    finally:
        bed("bed.stop_postgres('logical'); bed.stop_postgres('replica')")
        state = bed("print(bed.pg_root())")
        if state.returncode == 0 and state.stdout.strip():
            shutil.rmtree(state.stdout.strip().splitlines()[-1], ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
