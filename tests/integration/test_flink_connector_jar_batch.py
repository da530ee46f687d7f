"""cdcops.flink_cdc.flink_connector_jar with several jars, and fetch_mode=controller.

Real HTTP against a private tests/bed/maven_repo.py server with the REAL
published jars (tests/bed/artifacts.py: postgres-cdc 3.3.0 and 3.5.0, StarRocks
1.2.10_flink-1.18 and 1.2.10_flink-1.19, from Maven Central via ~/.m2 with
their published .sha1); jars built by tests/bed/jars.py only where a fault
needs one (a com.ververica 2.4.2 jar, which is not served). Nothing is mocked. Controller mode runs a real playbook
over an inventory of local hosts, each with its own lib/ and its own Python
interpreter wrapper that logs every launch: that is the count of module
executions per host (any stat or checksum module would be counted too).
"""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

import artifacts
import jars

PG = artifacts.PG_CDC[1]
SR = artifacts.STARROCKS[1]
# The real published versions: an upgrade goes from the older to the current build of each.
PG_OLD, PG_NEW = (artifacts.connector("postgres_cdc", role).version for role in ("older", "current"))  # 3.3.0, 3.5.0
SR_OLD, SR_NEW = (artifacts.connector("starrocks", role).version for role in ("older", "current"))


def pg(version=PG_NEW, **extra):
    return dict(dict(group_id="org.apache.flink", artifact_id=PG, version=version), **extra)


def sr(version=SR_NEW, **extra):
    return dict(dict(group_id="com.starrocks", artifact_id=SR, version=version), **extra)


def name(artifact, version):
    return "%s-%s.jar" % (artifact, version)


def make_lib(path):
    path.mkdir(parents=True)
    jars.build_jar(str(path / "flink-dist-1.20.3.jar"), classes=("org.apache.flink.runtime.Main",),
                   title="flink-dist", version="1.20.3")
    return path


def bodies(repo, mark):
    return collections.Counter(r["path"] for r in repo.jar_body_requests(mark))


def sidecars(repo, mark):
    return collections.Counter(r["path"] for r in repo.requests_since(mark) if r["path"].endswith(".sha1"))


@pytest.fixture
def lib(tmp_path):
    return make_lib(tmp_path / "lib")


@pytest.fixture
def published(maven_repo):
    """The real older and current builds of both connectors (hard links into ~/.m2): rel paths by
    (artifact, version). A test that alters a jar's bytes calls ``maven_repo.unshare(rel)`` first."""
    rels = {}
    for group, artifact in (artifacts.PG_CDC, artifacts.STARROCKS):
        for role in ("older", "current"):
            version = artifacts.connector("postgres_cdc" if artifact == PG else "starrocks", role).version
            rels[(artifact, version)] = maven_repo.publish_real(group, artifact, version)
    return rels


def jar_args(repo, dest, entries, **extra):
    return dict(dict(jars=entries, dest=str(dest), repository_url=repo.url), **extra)


# --- jars: several jars in one call (fetch_mode=remote) -------------------------------------------

def test_two_connectors_check_install_rerun(maven_repo, published, ansible, lib):
    args = jar_args(maven_repo, lib, [pg(), sr()])
    before = jars.snapshot_dir(lib)

    mark = maven_repo.mark()
    check = ansible.module("flink_connector_jar", args, check=True, diff=True)
    assert not check.failed, check
    res = check.result
    assert res["changed"] is True and res["removed"] == []
    assert [j["path"] for j in res["jars"]] == [str(lib / name(PG, PG_NEW)), str(lib / name(SR, SR_NEW))]
    assert all(j["changed"] and not j["downloaded"] and j["msg"].startswith("would install") for j in res["jars"])
    assert res["diff"]["after"] == "".join(
        n + "\n" for n in sorted(["flink-dist-1.20.3.jar", name(PG, PG_NEW), name(SR, SR_NEW)]))
    assert bodies(maven_repo, mark) == {}
    assert jars.snapshot_dir(lib) == before

    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", args)
    assert not run.failed, run
    res = run.result
    assert res["changed"] is True
    for entry, key in zip(res["jars"], [(PG, PG_NEW), (SR, SR_NEW)]):
        assert entry["changed"] and entry["downloaded"]
        assert entry["checksum"] == jars.sha256_file(entry["path"]) == jars.sha256_file(os.path.join(maven_repo.root, published[key]))
        assert entry["size"] == os.path.getsize(entry["path"])
        assert entry["url"] == "%s/%s" % (maven_repo.url, published[key])
    # One body request per jar, nothing twice.
    assert bodies(maven_repo, mark) == {"/" + published[(PG, PG_NEW)]: 1, "/" + published[(SR, SR_NEW)]: 1}
    assert sorted(os.listdir(str(lib))) == sorted(["flink-dist-1.20.3.jar", name(PG, PG_NEW), name(SR, SR_NEW)])

    mark = maven_repo.mark()
    again = ansible.module("flink_connector_jar", args)
    assert not again.failed, again
    assert again.result["changed"] is False
    assert all(not j["changed"] and not j["downloaded"] for j in again.result["jars"])
    assert bodies(maven_repo, mark) == {}
    assert sidecars(maven_repo, mark) == {"/%s.sha1" % published[(PG, PG_NEW)]: 1, "/%s.sha1" % published[(SR, SR_NEW)]: 1}

    after = jars.snapshot_dir(lib)
    recheck = ansible.module("flink_connector_jar", args, check=True)
    assert not recheck.failed and recheck.result["changed"] is False
    assert jars.snapshot_dir(lib) == after


def test_upgrade_removes_the_old_versions_after_both_installs(maven_repo, published, ansible, lib):
    old_pg = jars.install_copy(maven_repo.root, published[(PG, PG_OLD)], lib)
    old_sr = jars.install_copy(maven_repo.root, published[(SR, SR_OLD)], lib)
    args = jar_args(maven_repo, lib, [pg(PG_NEW), sr(SR_NEW)])
    before = jars.snapshot_dir(lib)

    check = ansible.module("flink_connector_jar", args, check=True)
    assert check.result["changed"] is True
    assert check.result["removed"] == sorted([old_pg, old_sr])
    assert [j["removed"] for j in check.result["jars"]] == [[old_pg], [old_sr]]
    assert jars.snapshot_dir(lib) == before

    run = ansible.module("flink_connector_jar", args, diff=True)
    assert not run.failed, run
    assert run.result["removed"] == sorted([old_pg, old_sr])
    assert [j["removed"] for j in run.result["jars"]] == [[old_pg], [old_sr]]
    assert sorted(os.listdir(str(lib))) == sorted(["flink-dist-1.20.3.jar", name(PG, PG_NEW), name(SR, SR_NEW)])
    assert run.result["diff"]["before"] == "".join(n + "\n" for n in sorted(
        ["flink-dist-1.20.3.jar", name(PG, PG_OLD), name(SR, SR_OLD)]))
    assert "-%s" % name(SR, SR_OLD) in run.output and "+%s" % name(PG, PG_NEW) in run.output
    assert ansible.module("flink_connector_jar", args).result["changed"] is False


def test_present_and_absent_in_one_call(maven_repo, published, ansible, lib):
    jars.install_copy(maven_repo.root, published[(SR, SR_OLD)], lib)
    jars.install_copy(maven_repo.root, published[(SR, SR_NEW)], lib)
    args = jar_args(maven_repo, lib, [pg(), dict(group_id="com.starrocks", artifact_id=SR, state="absent")])
    run = ansible.module("flink_connector_jar", args)
    assert not run.failed, run
    assert sorted(os.listdir(str(lib))) == ["flink-dist-1.20.3.jar", name(PG, PG_NEW)]
    assert sorted(run.result["jars"][1]["removed"]) == sorted(
        [str(lib / name(SR, SR_OLD)), str(lib / name(SR, SR_NEW))])
    # The top-level state is the default for entries without their own.
    gone = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, [pg()], state="absent"))
    assert not gone.failed and gone.result["removed"] == [str(lib / name(PG, PG_NEW))]


def test_url_and_src_entries(maven_repo, published, ansible, lib, tmp_path):
    staged = tmp_path / "staging" / name(PG, PG_NEW)
    staged.parent.mkdir()
    os.link(os.path.join(maven_repo.root, published[(PG, PG_NEW)]), str(staged))  # src is only read
    entries = [dict(src=str(staged), checksum="sha256:" + jars.sha256_file(str(staged))),
               dict(url="%s/%s" % (maven_repo.url, published[(SR, SR_NEW)]))]
    run = ansible.module("flink_connector_jar", dict(jars=entries, dest=str(lib)))
    assert not run.failed, run
    assert jars.sha256_file(str(lib / name(PG, PG_NEW))) == jars.sha256_file(str(staged)) and os.path.exists(str(staged))
    assert run.result["jars"][1]["downloaded"] is True
    assert ansible.module("flink_connector_jar", dict(jars=entries, dest=str(lib))).result["changed"] is False


def _sidecar_mismatch(repo, rel):
    with open(os.path.join(repo.root, rel) + ".sha1", "w") as f:
        f.write("0" * 40 + "\n")


def _truncated(repo, rel):
    repo.set_fault(rel, mode="truncate")


def _html(repo, rel):
    repo.set_fault(rel, mode="html")


def _bad_crc(repo, rel):
    repo.unshare(rel)  # a private copy of the real jar: the damage must not reach ~/.m2
    jars.corrupt_entry(os.path.join(repo.root, rel))
    jars.write_sidecars(os.path.join(repo.root, rel))


BREAK = {"sidecar-mismatch": (_sidecar_mismatch, "Checksum mismatch"), "truncated-body": (_truncated, "stopped early"),
         "html-served-as-jar": (_html, "HTML page"), "bad-crc": (_bad_crc, "is corrupt")}


@pytest.mark.parametrize("case", sorted(BREAK))
def test_one_bad_jar_leaves_dest_unchanged_for_every_jar(maven_repo, published, ansible, lib, case):
    """The good jar is downloaded and verified first, yet not installed: all or nothing."""
    jars.install_copy(maven_repo.root, published[(PG, PG_OLD)], lib)
    jars.install_copy(maven_repo.root, published[(SR, SR_OLD)], lib)
    break_it, message = BREAK[case]
    break_it(maven_repo, published[(SR, SR_NEW)])
    before = jars.snapshot_dir(lib)

    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, [pg(PG_NEW), sr(SR_NEW)]))
    assert run.failed, run
    assert message in run.result["msg"] and name(SR, SR_NEW) in run.result["msg"], run.result["msg"]
    assert jars.snapshot_dir(lib) == before
    # Both bodies were fetched: the good one sat verified in a temp file, and went with the failure.
    assert bodies(maven_repo, mark) == {"/" + published[(PG, PG_NEW)]: 1, "/" + published[(SR, SR_NEW)]: 1}


def test_failed_rename_puts_back_the_jars_already_renamed(maven_repo, published, ansible, lib):
    """An immutable target makes the second rename fail (EPERM): the first jar's rename is undone."""
    old_pg = jars.install_copy(maven_repo.root, published[(PG, PG_OLD)], lib)
    # A stale, different file under the new StarRocks name, which the call must replace.
    stale = jars.install_copy(maven_repo.root, published[(SR, SR_OLD)], lib, name=name(SR, SR_NEW))
    subprocess.run(["chattr", "+i", stale], check=True)
    try:
        before = jars.snapshot_dir(lib)
        run = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, [pg(PG_NEW), sr(SR_NEW)]))
        assert run.failed, run
        msg = run.result["msg"]
        assert "Operation not permitted" in msg and "were put back" in msg, msg
        assert run.result["changed"] is False
        assert jars.snapshot_dir(lib) == before
        assert os.path.exists(old_pg) and not os.path.exists(str(lib / name(PG, PG_NEW)))
    finally:
        subprocess.run(["chattr", "-i", stale], check=True)


@pytest.mark.parametrize("entries, why", [
    ([pg(PG_NEW), pg(PG_OLD)], "two versions of one artifact"),
    ([pg(PG_NEW), pg(PG_NEW, checksum="sha256:" + "0" * 64)], "name the same file"),
    ([pg(PG_NEW), pg("2.4.2", group_id="com.ververica")], "two versions of one artifact"),
    ([pg(PG_NEW), dict(group_id="org.apache.flink", artifact_id=PG, state="absent")],
     "ask to remove and to install the same connector"),
])
def test_a_list_that_contradicts_itself_is_refused_before_any_request(maven_repo, published, ansible, lib,
                                                                      entries, why):
    before = jars.snapshot_dir(lib)
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, entries))
    assert run.failed, run
    assert "contradict each other" in run.result["msg"] and why in run.result["msg"], run.result["msg"]
    assert maven_repo.requests_since(mark) == []
    assert jars.snapshot_dir(lib) == before


def test_two_jars_registering_one_identifier_are_refused(maven_repo, published, ansible, lib, tmp_path):
    """A renamed 2.x jar beside the 3.x one: Flink would fail with 'Multiple factories for identifier'."""
    old_rel = maven_repo.publish_postgres_cdc("2.4.2")  # built: no com.ververica jar is served here
    renamed = tmp_path / "staging" / "pg-cdc-legacy.jar"
    renamed.parent.mkdir()
    shutil.copyfile(os.path.join(maven_repo.root, old_rel), str(renamed))
    before = jars.snapshot_dir(lib)
    why = "both register the same identifier 'postgres-cdc'"

    # A local src tells what it registers up front: refused before any request.
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, [pg(), dict(src=str(renamed))]))
    assert run.failed and why in run.result["msg"], run.result["msg"]
    assert maven_repo.requests_since(mark) == []

    # A URL tells only once downloaded: refused then, with both verified jars discarded.
    mirror = os.path.join(maven_repo.root, "mirror", "pg-cdc-legacy.jar")
    os.makedirs(os.path.dirname(mirror))
    shutil.copyfile(str(renamed), mirror)
    jars.write_sidecars(mirror)
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, [
        pg(), dict(url="%s/mirror/pg-cdc-legacy.jar" % maven_repo.url)]))
    assert run.failed and why in run.result["msg"], run.result["msg"]
    assert len(bodies(maven_repo, mark)) == 2
    assert jars.snapshot_dir(lib) == before


@pytest.mark.parametrize("extra, message", [
    ({"artifact_id": PG}, "mutually exclusive"),
    ({"checksum": "sha256:" + "0" * 64}, "mutually exclusive"),
    ({"_pushed": {"jars": []}}, "_pushed"),
])
def test_jars_excludes_the_single_jar_options(maven_repo, ansible, lib, extra, message):
    run = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, [pg()], **extra))
    assert run.failed and message in run.result["msg"], run.result["msg"]


def test_jar_entry_options_are_validated(maven_repo, ansible, lib):
    run = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, [dict(group_id="org.apache.flink")]))
    assert run.failed and "jars" in run.result["msg"], run.result["msg"]
    run = ansible.module("flink_connector_jar", jar_args(maven_repo, lib, [pg(version=None)]))
    assert run.failed and run.result["msg"].startswith("jars[0]: version is required"), run.result["msg"]


# --- fetch_mode=controller: a playbook over several local hosts ------------------------------------

PLAY = """
- name: Connectors
  hosts: flink_taskmanagers
  gather_facts: false
  tasks:
    - name: Install the connector jars
      cdcops.flink_cdc.flink_connector_jar:
        jars: "{{ connectors }}"
        dest: "{{ jar_dest }}"
        repository_url: "{{ repo_url }}"
        fetch_mode: "{{ fetch_mode | default('controller') }}"
        controller_cache_dir: "{{ cache_dir }}"
%(extra)s
"""


class Fleet:
    """Local hosts, each with its own lib/ and an interpreter wrapper that logs each module execution."""

    def __init__(self, base, count, python=sys.executable, one_command=True):
        self.base = base
        self.hosts = ["tm%d" % i for i in range(1, count + 1)]
        self.cache_dir = str(base / "controller-cache")
        self.remote_tmp = base / "remote-tmp"
        self.remote_tmp.mkdir(parents=True)
        lines = ["[flink_taskmanagers]"]
        for host in self.hosts:
            make_lib(base / host / "lib")
            wrapper = base / host / "python"
            # Each launch logs its pid and what it is: "install" for the one-command install (its code calls
            # run_pushed), else its first argument: "-c" for the controller's dest_state probe, the
            # AnsiballZ file for the module. Without one_command, the wrapper refuses the one-command install
            # (logged as "refused"), as a host whose Python cannot run it would: then the module runs.
            refuse = "" if one_command else 'if [ "$kind" = install ]; then echo "$$ refused" >> %s; exit 3; fi\n' % (
                self.exec_log(host))
            wrapper.write_text('#!/bin/sh\ncase "$2" in *run_pushed*) kind=install ;; *) kind="$1" ;; esac\n'
                               '%secho "$$ $kind" >> %s\nexec %s "$@"\n' % (refuse, self.exec_log(host), python))
            wrapper.chmod(0o755)
            lines.append("%s ansible_connection=local ansible_python_interpreter=%s jar_dest=%s"
                         % (host, wrapper, self.lib(host)))
        self.inventory = base / "inventory.ini"
        self.inventory.write_text("\n".join(lines) + "\n")

    def lib(self, host):
        return self.base / host / "lib"

    def exec_log(self, host):
        return self.base / host / "executions.log"

    def executions(self):
        """Module executions per host since the last call (and reset the count)."""
        counts = {}
        for host in self.hosts:
            path = self.exec_log(host)
            counts[host] = len(path.read_text().splitlines()) if path.exists() else 0
            if path.exists():
                path.unlink()
        return counts

    def launches(self):
        """What each host launched since the last ``executions()`` (not reset): "install", "refused", "-c" (the
        dest_state probe) or "module"."""
        found = {}
        for host in self.hosts:
            path = self.exec_log(host)
            kinds = [line.split(" ", 1)[1] for line in path.read_text().splitlines()] if path.exists() else []
            found[host] = [k if k in ("install", "refused", "-c") else "module" for k in kinds]
        return found

    def probes(self):
        """Of the launches since the last ``executions()``, those that were the dest_state probe (not reset)."""
        counts = {}
        for host in self.hosts:
            path = self.exec_log(host)
            lines = path.read_text().splitlines() if path.exists() else []
            counts[host] = sum(1 for line in lines if line.split(" ", 1)[1:] == ["-c"])
        return counts

    def forget_reruns(self):
        """Drop the recorded rerun answers from the controller's memory: the next run executes the module."""
        hosts_dir = os.path.join(self.cache_dir, "hosts")
        for entry in os.listdir(hosts_dir):
            path = os.path.join(hosts_dir, entry)
            with open(path) as f:
                memory = json.load(f)
            assert memory.get("rerun"), memory  # there was one to forget
            memory["rerun"] = None
            with open(path, "w") as f:
                json.dump(memory, f)

    def snapshots(self):
        return {host: jars.snapshot_dir(self.lib(host)) for host in self.hosts}

    def cached_files(self):
        return sorted(os.path.relpath(os.path.join(d, f), self.cache_dir)
                      for d, dummy, files in os.walk(self.cache_dir) for f in files)

    def play(self, ansible, repo, connectors, check=False, diff=False, verbosity=0, extra="", env=None, **variables):
        extra_vars = dict(connectors=connectors, repo_url=repo.url, cache_dir=self.cache_dir, **variables)
        environ = dict({"ANSIBLE_REMOTE_TMP": str(self.remote_tmp)}, **(env or {}))
        run = ansible.playbook(PLAY % {"extra": extra}, inventory=str(self.inventory), forks=len(self.hosts),
                               check=check, diff=diff, verbosity=verbosity, extra_vars=extra_vars, env=environ)
        # Nothing is left in the hosts' temp dirs, whatever happened.
        assert os.listdir(str(self.remote_tmp)) == [], os.listdir(str(self.remote_tmp))
        return run

    def results(self, run):
        got = {r["host"]: r for r in run.records if r["action"].endswith("flink_connector_jar")}
        assert sorted(got) == self.hosts, run
        return got


@pytest.fixture
def fleet(tmp_path):
    return Fleet(tmp_path / "fleet", 4)


def test_controller_mode_fetches_each_body_once_and_reruns_in_one_execution(maven_repo, published, ansible, fleet):
    connectors = [pg(), sr()]
    paths = ["/" + published[(PG, PG_NEW)], "/" + published[(SR, SR_NEW)]]
    before = fleet.snapshots()

    # Check mode on a cold cache: no body fetched, nothing written on the hosts or in the cache.
    mark = maven_repo.mark()
    check = fleet.play(ansible, maven_repo, connectors, check=True, diff=True)
    assert not check.failed, check
    for host, record in fleet.results(check).items():
        assert record["status"] == "ok" and record["result"]["changed"] is True
        assert [j["msg"] for j in record["result"]["jars"]] == [
            "would install %s (not present)" % name(PG, PG_NEW), "would install %s (not present)" % name(SR, SR_NEW)]
        assert not any(j["downloaded"] or j["transferred"] for j in record["result"]["jars"])
    assert bodies(maven_repo, mark) == {}
    assert fleet.snapshots() == before
    assert fleet.cached_files() == []
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)

    # First deploy: each body fetched exactly once for four hosts; the controller has no memory of the hosts, so
    # it pushes both jars first: one module execution per host.
    mark = maven_repo.mark()
    run = fleet.play(ansible, maven_repo, connectors)
    assert not run.failed, run
    results = fleet.results(run)
    assert all(r["result"]["changed"] is True for r in results.values())
    assert bodies(maven_repo, mark) == dict.fromkeys(paths, 1)
    assert sidecars(maven_repo, mark) == {p + ".sha1": 1 for p in paths}  # and each sidecar once per run
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    downloads = collections.Counter(j["path"].rsplit("/", 1)[1] for r in results.values()
                                    for j in r["result"]["jars"] if j["downloaded"])
    assert downloads == {name(PG, PG_NEW): 1, name(SR, SR_NEW): 1}
    assert all(j["transferred"] for r in results.values() for j in r["result"]["jars"])
    snaps = fleet.snapshots()
    assert {h: s for h, s in snaps.items() if s != snaps[fleet.hosts[0]]} == {}, snaps[fleet.hosts[0]]
    for artifact, version in ((PG, PG_NEW), (SR, SR_NEW)):
        assert snaps[fleet.hosts[0]][name(artifact, version)] == (
            jars.sha256_file(os.path.join(maven_repo.root, published[(artifact, version)])), 0o644, 0)

    # Rerun: nothing fetched, nothing transferred, one module execution per host, changed=false everywhere.
    mark = maven_repo.mark()
    again = fleet.play(ansible, maven_repo, connectors)
    assert not again.failed, again
    assert all(r["result"]["changed"] is False and r["status"] == "ok" for r in fleet.results(again).values())
    assert not any(j["transferred"] or j["downloaded"] for r in fleet.results(again).values()
                   for j in r["result"]["jars"])
    assert bodies(maven_repo, mark) == {}
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.snapshots() == snaps

    # Check mode on the warm cache: no change reported, none made.
    mark = maven_repo.mark()
    recheck = fleet.play(ansible, maven_repo, connectors, check=True)
    assert not recheck.failed and all(r["result"]["changed"] is False for r in fleet.results(recheck).values())
    assert bodies(maven_repo, mark) == {}
    assert fleet.snapshots() == snaps


def test_controller_mode_pushes_only_what_each_host_lacks(maven_repo, published, ansible, fleet):
    connectors = [pg(PG_NEW), sr()]
    assert not fleet.play(ansible, maven_repo, connectors).failed
    fleet.executions()
    tm2, tm3 = fleet.hosts[1], fleet.hosts[2]
    os.unlink(str(fleet.lib(tm2) / name(SR, SR_NEW)))  # lost a jar
    jars.install_copy(maven_repo.root, published[(PG, PG_OLD)], fleet.lib(tm3))  # someone added an old version
    os.chmod(str(fleet.lib(tm3) / name(PG, PG_NEW)), 0o600)  # and changed a mode

    check = fleet.play(ansible, maven_repo, connectors, check=True)
    changed = {h: r["result"]["changed"] for h, r in fleet.results(check).items()}
    assert changed == {h: h in (tm2, tm3) for h in fleet.hosts}
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)

    mark = maven_repo.mark()
    run = fleet.play(ansible, maven_repo, connectors)
    assert not run.failed, run
    results = fleet.results(run)
    assert bodies(maven_repo, mark) == {}  # the controller cache has both
    # Every host is probed first. tm1 and tm4 are as the last run left them: the probe is all. tm2's probe shows
    # the lost jar, pushed before the module's only execution. tm3's removal and mode fix need no transfer.
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.executions() == {h: 2 if h in (tm2, tm3) else 1 for h in fleet.hosts}
    assert [j["transferred"] for j in results[tm2]["result"]["jars"]] == [False, True]
    assert results[tm3]["result"]["removed"] == [str(fleet.lib(tm3) / name(PG, PG_OLD))]
    assert {h: r["result"]["changed"] for h, r in results.items()} == changed
    snaps = fleet.snapshots()
    assert {h: s for h, s in snaps.items() if s != snaps[fleet.hosts[0]]} == {}, snaps[fleet.hosts[0]]


def memories(fleet):
    """The controller's memory of each host: dest -> {jar name: checksum}."""
    hosts_dir = os.path.join(fleet.cache_dir, "hosts")
    found = {}
    for entry in sorted(os.listdir(hosts_dir)) if os.path.isdir(hosts_dir) else []:
        with open(os.path.join(hosts_dir, entry)) as f:
            memory = json.load(f)
        found[memory["dest"]] = memory["jars"]
    return found


def memory_file(fleet, host):
    hosts_dir = os.path.join(fleet.cache_dir, "hosts")
    for entry in os.listdir(hosts_dir):
        with open(os.path.join(hosts_dir, entry)) as f:
            if json.load(f)["dest"] == str(fleet.lib(host)):
                return os.path.join(hosts_dir, entry)
    raise AssertionError("no memory of %s" % host)


def pushed_jars(run):
    """The jar transfers in a -vvv output."""
    return [line for line in run.output.splitlines() if " PUT " in line and line.rstrip().endswith(".jar")]


def published_sha256(repo, published, keys):
    return {name(*key): jars.sha256_file(os.path.join(repo.root, published[key])) for key in keys}


def test_controller_mode_first_deploy_is_one_execution_per_host(maven_repo, published, ansible, fleet):
    """No memory of the hosts: the controller pushes both jars first, then runs the module once per host."""
    want = published_sha256(maven_repo, published, [(PG, PG_NEW), (SR, SR_NEW)])
    run = fleet.play(ansible, maven_repo, [pg(), sr()], verbosity=3)
    assert not run.failed, run
    # The controller knows each host's Python: the install is one command that carries its code, no module.
    assert fleet.launches() == dict.fromkeys(fleet.hosts, ["install"])
    assert "AnsiballZ_flink_connector_jar" not in run.output
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert len(pushed_jars(run)) == 2 * len(fleet.hosts), pushed_jars(run)
    for host, record in fleet.results(run).items():
        assert record["result"]["changed"] is True
        assert [j["transferred"] for j in record["result"]["jars"]] == [True, True]
        snap = jars.snapshot_dir(fleet.lib(host))
        assert sorted(snap) == sorted(["flink-dist-1.20.3.jar"] + list(want))  # no temp file left
        assert {n: snap[n][:2] for n in want} == {n: (sha, 0o644) for n, sha in want.items()}
    # It remembers what each host now holds, by the SHA-256 the host computed.
    assert memories(fleet) == {str(fleet.lib(h)): {n: "sha256:" + sha for n, sha in want.items()}
                               for h in fleet.hosts}


def test_controller_mode_moves_the_pushed_jars_into_dest(maven_repo, published, ansible, tmp_path):
    """The copy pushed into the host's temp dir is moved into dest, or copied when they are on two filesystems."""
    want = published_sha256(maven_repo, published, [(PG, PG_NEW), (SR, SR_NEW)])
    cases = [("same filesystem", str(tmp_path / "kept-tmp"), True)]
    if os.path.isdir("/dev/shm") and os.stat("/dev/shm").st_dev != os.stat(str(tmp_path)).st_dev:
        cases.append(("another filesystem", tempfile.mkdtemp(prefix="cdcops-kept-tmp-", dir="/dev/shm"), False))
    try:
        for index, (case, kept_tmp, moved) in enumerate(cases):
            fleet = Fleet(tmp_path / ("fleet-%d" % index), 2)
            env = {"ANSIBLE_REMOTE_TMP": kept_tmp, "ANSIBLE_KEEP_REMOTE_FILES": "1"}
            run = ansible.playbook(PLAY % {"extra": ""}, inventory=str(fleet.inventory), forks=2, env=env,
                                   extra_vars=dict(connectors=[pg(), sr()], repo_url=maven_repo.url,
                                                   cache_dir=fleet.cache_dir))
            assert not run.failed, run
            assert fleet.executions() == dict.fromkeys(fleet.hosts, 1), case
            for host in fleet.hosts:
                snap = jars.snapshot_dir(fleet.lib(host))
                assert {n: snap[n][:2] for n in want} == {n: (sha, 0o644) for n, sha in want.items()}, case
            # The kept temp dirs (one per host) still hold what the module did not move.
            left = sorted(f for d, dummy, files in os.walk(kept_tmp) for f in files if f.endswith(".jar"))
            assert left == ([] if moved else sorted(list(want) * len(fleet.hosts))), case
    finally:
        for dummy, kept_tmp, moved in cases[1:]:
            shutil.rmtree(kept_tmp, ignore_errors=True)


def test_controller_mode_a_wrong_memory_still_ends_correct(maven_repo, published, ansible, fleet):
    """The memory only decides what is pushed first: the host checks every jar, and asks for what it lacks."""
    connectors = [pg(), sr()]
    assert not fleet.play(ansible, maven_repo, connectors).failed
    fleet.executions()
    snaps = fleet.snapshots()
    remembered = memories(fleet)
    tm1, tm2, tm3, tm4 = fleet.hosts
    os.unlink(str(fleet.lib(tm1) / name(SR, SR_NEW)))  # deleted behind the memory's back
    jars.install_copy(maven_repo.root, published[(PG, PG_OLD)], fleet.lib(tm2), name=name(PG, PG_NEW))  # other bytes
    os.unlink(memory_file(fleet, tm3))  # the controller forgot tm3 (tm3 is up to date)

    mark = maven_repo.mark()
    run = fleet.play(ansible, maven_repo, connectors)
    assert not run.failed, run
    assert bodies(maven_repo, mark) == {}
    assert fleet.executions() == {tm1: 2, tm2: 2, tm3: 1, tm4: 1}
    results = {h: r["result"] for h, r in fleet.results(run).items()}
    assert {h: r["changed"] for h, r in results.items()} == {tm1: True, tm2: True, tm3: False, tm4: False}
    assert {h: [j["transferred"] for j in r["jars"]] for h, r in results.items()} == {
        tm1: [False, True], tm2: [True, False], tm3: [True, True], tm4: [False, False]}
    assert fleet.snapshots() == snaps  # every host ends with exactly the right jars
    assert memories(fleet) == remembered

    again = fleet.play(ansible, maven_repo, connectors)
    assert not again.failed, again
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert not any(j["transferred"] or r["result"]["changed"] for r in fleet.results(again).values()
                   for j in r["result"]["jars"])


def test_controller_mode_check_mode_pushes_nothing_and_remembers_nothing(maven_repo, published, ansible, fleet):
    connectors = [pg(), sr()]
    before = fleet.snapshots()
    # Cold cache, cold memory: no body fetched, nothing transferred, nothing written anywhere.
    mark = maven_repo.mark()
    check = fleet.play(ansible, maven_repo, connectors, check=True, verbosity=3)
    assert not check.failed, check
    assert all(r["result"]["changed"] is True for r in fleet.results(check).values())
    assert bodies(maven_repo, mark) == {} and pushed_jars(check) == []
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.snapshots() == before and fleet.cached_files() == []

    # Warm cache; one host lost a jar, the controller forgot another: still nothing pushed or remembered.
    assert not fleet.play(ansible, maven_repo, connectors).failed
    fleet.executions()
    tm1, tm2 = fleet.hosts[:2]
    os.unlink(str(fleet.lib(tm1) / name(PG, PG_NEW)))
    os.unlink(memory_file(fleet, tm2))
    snaps, remembered = fleet.snapshots(), dict(memories(fleet))
    mark = maven_repo.mark()
    check = fleet.play(ansible, maven_repo, connectors, check=True, verbosity=3)
    assert not check.failed, check
    assert {h: r["result"]["changed"] for h, r in fleet.results(check).items()} == {
        h: h == tm1 for h in fleet.hosts}
    assert not any(j["transferred"] for r in fleet.results(check).values() for j in r["result"]["jars"])
    assert bodies(maven_repo, mark) == {} and pushed_jars(check) == []
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.snapshots() == snaps
    assert memories(fleet) == remembered and str(fleet.lib(tm2)) not in remembered


@pytest.mark.parametrize("one_command", [True, False], ids=["one-command", "module"])
def test_controller_mode_with_pipelining(maven_repo, published, ansible, tmp_path, one_command):
    """Pipelining: no temp dir on an up-to-date host, so the rerun is one round trip per host, whether the install
    is the one command or (a host that refuses it) the module."""
    fleet = Fleet(tmp_path / "fleet", 4, one_command=one_command)
    install = ["install"] if one_command else ["refused", "module"]
    env = {"ANSIBLE_PIPELINING": "1"}
    run = fleet.play(ansible, maven_repo, [pg(), sr()], env=env, verbosity=3)
    assert not run.failed, run
    assert fleet.launches() == dict.fromkeys(fleet.hosts, install)
    assert fleet.executions() == dict.fromkeys(fleet.hosts, len(install))
    # Each jar was put into a temp dir under remote_tmp once per host (and the temp dirs are gone: see play()).
    puts = [line for line in run.output.splitlines() if " PUT " in line and str(fleet.remote_tmp) in line]
    assert collections.Counter(line.rsplit("/", 1)[1].strip() for line in puts) == {
        name(PG, PG_NEW): len(fleet.hosts), name(SR, SR_NEW): len(fleet.hosts)}, puts
    # The install on an up-to-date host (its recorded answer forgotten): one command, or one pipelined execution.
    fleet.forget_reruns()
    again = fleet.play(ansible, maven_repo, [pg(), sr()], env=env, verbosity=3)
    assert not again.failed and all(r["result"]["changed"] is False for r in fleet.results(again).values())
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 0)
    assert fleet.launches() == dict.fromkeys(fleet.hosts, install)
    assert fleet.executions() == dict.fromkeys(fleet.hosts, len(install))
    assert "mkdir" not in again.output  # no remote temp dir was made
    assert again.output.count("Pipelining is enabled.") == (0 if one_command else len(fleet.hosts))
    # With the answer recorded again: the probe alone, no module, no temp dir.
    third = fleet.play(ansible, maven_repo, [pg(), sr()], env=env, verbosity=3)
    assert not third.failed and all(r["result"]["changed"] is False for r in fleet.results(third).values())
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert "mkdir" not in third.output and "Pipelining is enabled." not in third.output
    assert third.output.count("(no module execution)") == len(fleet.hosts)


def fallback_warned(fleet, run):
    """Whether the run warned, for every host, that the one-command install gave no answer so the module ran; False
    when it warned for none (anything between fails)."""
    text = " ".join(run.output.split())  # a warning may be wrapped to the terminal's width
    warned = ["flink_connector_jar on %s: the one-command install gave no answer" % host in text
              for host in fleet.hosts]
    assert len(set(warned)) == 1, (warned, run.output)
    return warned[0]


def normalized(fleet, run):
    """Each host's result with its own paths written as <lib> and <tmp>, the invocation and the warnings left out
    (``fallback_warned`` checks those), and without ``downloaded`` (which host of a run fetches a jar into the
    controller cache is a race between the forks)."""
    found = {}
    for host, record in fleet.results(run).items():
        result = {k: v for k, v in record["result"].items() if k not in ("invocation", "warnings")}
        result["jars"] = [{k: v for k, v in j.items() if k != "downloaded"} for j in result["jars"]]
        text = json.dumps(result, sort_keys=True)
        found[host] = json.loads(text.replace(str(fleet.lib(host)), "<lib>").replace(str(fleet.remote_tmp), "<tmp>"))
    return found


def test_controller_mode_the_module_and_the_one_command_install_agree(maven_repo, published, ansible, tmp_path):
    """The same runs on two fleets, one whose hosts refuse the one-command install (so the module runs): the same
    results, the same lib/ and the same memory, through a first deploy, check mode with diff, a jar lost behind
    the controller's back (the host names it and the controller pushes it) and an upgrade that removes the old
    version."""
    fleets = {one: Fleet(tmp_path / ("fleet-%s" % one), 2, one_command=one) for one in (True, False)}

    def lose_a_jar(fl):
        for host in fl.hosts:
            os.unlink(str(fl.lib(host) / name(SR, SR_NEW)))
        fl.forget_reruns()  # no probe: the controller believes the host has it, the host names it as missing

    steps = [
        ("first deploy", dict(connectors=[pg(PG_OLD), sr()])),
        ("check mode with diff", dict(connectors=[pg(PG_NEW), sr()], check=True, diff=True)),
        ("lost jar", dict(connectors=[pg(PG_OLD), sr()], before=lose_a_jar)),
        ("upgrade with diff", dict(connectors=[pg(PG_NEW), sr()], diff=True)),
    ]
    for label, step in steps:
        results, libs = {}, {}
        for one, fl in fleets.items():
            if "before" in step:
                step["before"](fl)
            run = fl.play(ansible, maven_repo, step["connectors"], check=step.get("check", False),
                          diff=step.get("diff", False))
            assert not run.failed, (label, run)
            kinds = set(k for launched in fl.launches().values() for k in launched)
            assert ("install" in kinds) is one and ("module" in kinds) is not one, (label, fl.launches())
            assert fallback_warned(fl, run) is not one, label
            fl.executions()
            results[one] = list(normalized(fl, run).values())
            libs[one] = [jars.snapshot_dir(fl.lib(h)) for h in fl.hosts]
        assert results[True] == results[False], label
        assert libs[True] == libs[False], label
    assert [r["removed"] for r in results[True]] == [["<lib>/" + name(PG, PG_OLD)]] * 2
    assert sorted(libs[True][0]) == sorted(["flink-dist-1.20.3.jar", name(PG, PG_NEW), name(SR, SR_NEW)])
    assert [sorted(m.values()) for m in memories(fleets[True]).values()] == [
        sorted(m.values()) for m in memories(fleets[False]).values()]


def without_invocation(results):
    # The module adds its invocation (its arguments); a rerun without a module execution has none to report. A
    # module run after a refused one-command install also warns (checked with fallback_warned).
    return {h: {k: v for k, v in r["result"].items() if k not in ("invocation", "warnings")}
            for h, r in results.items()}


@pytest.mark.parametrize("one_command", [True, False], ids=["one-command", "module"])
@pytest.mark.parametrize("diff", [False, True])
def test_controller_mode_rerun_without_the_module_answers_as_the_module(maven_repo, published, ansible, tmp_path,
                                                                        diff, one_command):
    fleet = Fleet(tmp_path / "fleet", 4, one_command=one_command)
    connectors = [pg(), sr()]
    assert not fleet.play(ansible, maven_repo, connectors).failed
    fleet.executions()

    replayed = fleet.play(ansible, maven_repo, connectors, diff=diff, verbosity=3)
    assert not replayed.failed, replayed
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)  # the probe only
    assert replayed.output.count("(no module execution)") == len(fleet.hosts)

    fleet.forget_reruns()
    executed = fleet.play(ansible, maven_repo, connectors, diff=diff)
    assert not executed.failed, executed
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 0)
    assert fleet.launches() == dict.fromkeys(fleet.hosts, ["install"] if one_command else ["refused", "module"])
    assert fallback_warned(fleet, executed) is not one_command
    assert fallback_warned(fleet, replayed) is False
    fleet.executions()

    assert without_invocation(fleet.results(replayed)) == without_invocation(fleet.results(executed))
    for host, result in without_invocation(fleet.results(replayed)).items():
        assert result["changed"] is False and ("diff" in result) is diff
        assert [j["msg"] for j in result["jars"]] == ["%s is up to date" % name(PG, PG_NEW),
                                                      "%s is up to date" % name(SR, SR_NEW)]
        assert [j["path"] for j in result["jars"]] == [str(fleet.lib(host) / name(PG, PG_NEW)),
                                                       str(fleet.lib(host) / name(SR, SR_NEW))]


def test_controller_mode_rerun_sees_every_change_behind_its_back(maven_repo, published, ansible, fleet):
    """A host whose lib/ changed in any way the module cares about gets the module, and ends right."""
    connectors = [pg(), sr()]
    assert not fleet.play(ansible, maven_repo, connectors).failed
    fleet.executions()
    snaps = fleet.snapshots()
    tm1, tm2, tm3, tm4 = fleet.hosts
    # tm1: the postgres-cdc jar rewritten in place, same size, same mtime (only its ctime and bytes tell).
    target = str(fleet.lib(tm1) / name(PG, PG_NEW))
    st = os.stat(target)
    with open(target, "r+b") as f:
        f.seek(st.st_size // 2)
        byte = f.read(1)
        f.seek(st.st_size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    # tm2: a mode changed. tm3: a renamed copy of the StarRocks jar (the same factories, twice on the classpath).
    os.chmod(str(fleet.lib(tm2) / name(SR, SR_NEW)), 0o600)
    dup = jars.install_copy(maven_repo.root, published[(SR, SR_NEW)], fleet.lib(tm3), name="starrocks-copy.jar")

    mark = maven_repo.mark()
    run = fleet.play(ansible, maven_repo, connectors)
    assert not run.failed, run
    results = {h: r["result"] for h, r in fleet.results(run).items()}
    assert bodies(maven_repo, mark) == {}
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.executions() == {tm1: 2, tm2: 2, tm3: 2, tm4: 1}
    assert {h: r["changed"] for h, r in results.items()} == {tm1: True, tm2: True, tm3: True, tm4: False}
    assert [j["transferred"] for j in results[tm1]["jars"]] == [True, False]  # only the damaged one, pushed first
    assert results[tm1]["jars"][0]["msg"] == "install %s (replaces a file with other content)" % name(PG, PG_NEW)
    assert results[tm2]["jars"][1]["msg"] == "fix mode/owner of %s" % name(SR, SR_NEW)
    assert results[tm3]["removed"] == [dup]
    assert fleet.snapshots() == snaps  # every host ends exactly as after the first deploy

    # And each of them has a new recorded answer: the next rerun is the probe alone everywhere.
    again = fleet.play(ansible, maven_repo, connectors)
    assert not again.failed and not any(r["result"]["changed"] for r in fleet.results(again).values())
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)


def test_controller_mode_another_option_runs_the_module(maven_repo, published, ansible, fleet):
    """The recorded answer is for the same task only: another mode is another answer."""
    connectors = [pg(), sr()]
    assert not fleet.play(ansible, maven_repo, connectors).failed
    fleet.executions()
    run = fleet.play(ansible, maven_repo, connectors, extra="        mode: '0640'")
    assert not run.failed, run
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 0)
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert all(r["result"]["changed"] is True for r in fleet.results(run).values())
    assert all(s[name(PG, PG_NEW)][1] == 0o640 for s in fleet.snapshots().values())


SINGLE = """
- name: One connector, the single-jar form
  hosts: flink_taskmanagers
  gather_facts: false
  tasks:
    - name: Install the connector jar
      cdcops.flink_cdc.flink_connector_jar:
        group_id: org.apache.flink
        artifact_id: %s
        version: "%s"
        dest: "{{ jar_dest }}"
        repository_url: "{{ repo_url }}"
        fetch_mode: controller
        controller_cache_dir: "{{ cache_dir }}"
""" % (PG, PG_NEW)


def test_controller_mode_single_jar_form(maven_repo, published, ansible, tmp_path):
    fleet = Fleet(tmp_path / "fleet-single", 3)
    extra_vars = dict(repo_url=maven_repo.url, cache_dir=fleet.cache_dir)
    env = {"ANSIBLE_REMOTE_TMP": str(fleet.remote_tmp)}
    mark = maven_repo.mark()
    run = ansible.playbook(SINGLE, inventory=str(fleet.inventory), forks=3, extra_vars=extra_vars, env=env)
    assert not run.failed, run
    results = [r["result"] for r in fleet.results(run).values()]
    assert all("jars" not in r and r["changed"] and r["transferred"] for r in results)
    assert all(r["path"].endswith(name(PG, PG_NEW)) and r["checksum"] == jars.sha256_file(r["path"]) for r in results)
    assert sum(r["downloaded"] for r in results) == 1
    assert bodies(maven_repo, mark) == {"/" + published[(PG, PG_NEW)]: 1}
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    again = ansible.playbook(SINGLE, inventory=str(fleet.inventory), forks=3, extra_vars=extra_vars, env=env)
    assert not again.failed
    assert all(not r["result"]["changed"] and not r["result"]["transferred"] for r in fleet.results(again).values())
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert os.listdir(str(fleet.remote_tmp)) == []


def test_controller_mode_on_python38_hosts(maven_repo, published, ansible, tmp_path):
    """The host side (several jars, pushed jars) runs on Python 3.8 managed hosts: the one-command install, and
    the module when a host refuses that."""
    py38 = [p for p in ("/root/.pyenv/versions/3.8.18/bin/python3.8", shutil.which("python3.8")) if p and os.path.exists(p)]
    assert py38, "python3.8 is needed to prove the module runs on 3.8 targets"
    module_fleet = Fleet(tmp_path / "fleet38-module", 2, python=py38[0], one_command=False)
    run = module_fleet.play(ansible, maven_repo, [pg(), sr()])
    assert not run.failed, run
    assert module_fleet.launches() == dict.fromkeys(module_fleet.hosts, ["refused", "module"])
    fleet = Fleet(tmp_path / "fleet38", 2, python=py38[0])
    run = fleet.play(ansible, maven_repo, [pg(), sr()])
    assert not run.failed, run
    assert fleet.launches() == dict.fromkeys(fleet.hosts, ["install"])
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    again = fleet.play(ansible, maven_repo, [pg(), sr()])
    assert not again.failed and all(r["result"]["changed"] is False for r in fleet.results(again).values())
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)


def test_hosts_need_no_access_to_the_repository(maven_repo, published, ansible, fleet):
    """The hosts' environment points HTTP at a dead proxy: remote mode fails, controller mode does not."""
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    airgap = ("      environment:\n        http_proxy: http://127.0.0.1:%d\n        HTTP_PROXY: http://127.0.0.1:%d\n"
              "        no_proxy: ''\n        NO_PROXY: ''" % (dead, dead))
    remote = fleet.play(ansible, maven_repo, [pg()], extra=airgap, fetch_mode="remote")
    assert remote.failed
    assert all("cannot reach" in r["result"]["msg"] for r in fleet.results(remote).values()), remote

    run = fleet.play(ansible, maven_repo, [pg(), sr()], extra=airgap)
    assert not run.failed, run
    assert all(os.path.exists(str(fleet.lib(h) / name(PG, PG_NEW))) for h in fleet.hosts)


def test_controller_mode_bad_jar_fails_every_host_once_and_changes_nothing(maven_repo, published, ansible, fleet):
    for host in fleet.hosts:
        jars.install_copy(maven_repo.root, published[(PG, PG_OLD)], fleet.lib(host))
    _sidecar_mismatch(maven_repo, published[(SR, SR_NEW)])
    before = fleet.snapshots()
    mark = maven_repo.mark()
    run = fleet.play(ansible, maven_repo, [pg(PG_NEW), sr()])
    assert run.failed
    for record in fleet.results(run).values():
        assert record["status"] == "failed" and record["result"]["changed"] is False
        assert "Checksum mismatch" in record["result"]["msg"] and name(SR, SR_NEW) in record["result"]["msg"]
    assert fleet.snapshots() == before
    # The bad body was fetched once, not once per host; nothing ran on the hosts.
    assert bodies(maven_repo, mark)["/" + published[(SR, SR_NEW)]] == 1
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 0)
    assert not [f for f in fleet.cached_files() if f.endswith(name(SR, SR_NEW))]

    # Fixed in the repository: the next run fetches it again and deploys.
    jars.write_sidecars(os.path.join(maven_repo.root, published[(SR, SR_NEW)]))
    ok = fleet.play(ansible, maven_repo, [pg(PG_NEW), sr()])
    assert not ok.failed, ok


def test_controller_mode_src_is_a_file_on_the_controller(maven_repo, published, ansible, fleet, tmp_path):
    staged = tmp_path / "on-controller" / name(PG, PG_NEW)
    staged.parent.mkdir()
    os.link(os.path.join(maven_repo.root, published[(PG, PG_NEW)]), str(staged))  # src is only read
    mark = maven_repo.mark()
    run = fleet.play(ansible, maven_repo, [dict(src=str(staged))])
    assert not run.failed, run
    assert maven_repo.requests_since(mark) == []
    assert all(jars.sha256_file(str(fleet.lib(h) / name(PG, PG_NEW))) == jars.sha256_file(str(staged)) for h in fleet.hosts)
    missing = fleet.play(ansible, maven_repo, [dict(src=str(tmp_path / "nowhere" / name(PG, PG_OLD)))])
    assert missing.failed
    assert all("is not a file on the controller" in r["result"]["msg"] for r in fleet.results(missing).values())


def test_controller_mode_secrets_never_shown_at_vvv(maven_repo, published, ansible, fleet):
    password, token = "pw-Zq81Lk3xV", "tok-0c9e77d1ab"
    maven_repo.require(auth="deployer:%s" % password, header="X-Token: %s" % token)
    creds = ("        url_username: deployer\n        url_password: %s\n        headers:\n"
             "          X-Token: %s" % (password, token))
    denied = fleet.play(ansible, maven_repo, [pg(), sr()], verbosity=3)
    assert denied.failed and all("HTTP 401" in r["result"]["msg"] for r in fleet.results(denied).values())

    for dummy in range(2):  # the first deploy, then the rerun
        run = fleet.play(ansible, maven_repo, [pg(), sr()], verbosity=3, extra=creds)
        assert not run.failed, run
        assert password not in run.output and token not in run.output
        assert password not in repr(run.records) and token not in repr(run.records)
    assert all(os.path.exists(str(fleet.lib(h) / name(SR, SR_NEW))) for h in fleet.hosts)


def bare_python():
    """A host Python that cannot import Ansible, as on a managed host: the system's."""
    python = "/usr/bin/python3"
    proc = subprocess.run([python, "-c", "import ansible"], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "No module named 'ansible'" in proc.stderr, (python, proc.stderr)
    return python


class Credentialed:
    """The private repository under a URL that carries user:password (what ``play`` reads of a repo)."""

    def __init__(self, repo, user, password):
        self.url = repo.url.replace("http://", "http://%s:%s@" % (user, password), 1)


def test_controller_mode_credentialed_repository_url_is_one_command_per_host(maven_repo, published, ansible, tmp_path):
    """repository_url with user:password, on hosts whose Python has no Ansible: the one-command install carries
    only the standard library, so each host runs exactly one command (no module), and the password shows nowhere,
    -vvv included."""
    password = "pw-Url7Qx2Lm"
    maven_repo.require(auth="deployer:%s" % password)
    fleet = Fleet(tmp_path / "fleet", 3, python=bare_python())
    repo = Credentialed(maven_repo, "deployer", password)
    want = published_sha256(maven_repo, published, [(PG, PG_NEW), (SR, SR_NEW)])
    run = fleet.play(ansible, repo, [pg(), sr()], verbosity=3)
    assert not run.failed, run
    assert fleet.launches() == dict.fromkeys(fleet.hosts, ["install"])
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert "AnsiballZ_flink_connector_jar" not in run.output and "gave no answer" not in run.output
    for host, record in fleet.results(run).items():
        assert record["result"]["changed"] is True
        assert [j["url"].split("@", 1)[0] for j in record["result"]["jars"]] == ["http://****:****"] * 2
        assert {n: jars.sha256_file(str(fleet.lib(host) / n)) for n in want} == want
    assert password not in run.output and password not in repr(run.records)
    # The rerun: the probe alone, one command per host.
    again = fleet.play(ansible, repo, [pg(), sr()], verbosity=3)
    assert not again.failed and all(r["result"]["changed"] is False for r in fleet.results(again).values())
    assert fleet.probes() == dict.fromkeys(fleet.hosts, 1)
    assert fleet.executions() == dict.fromkeys(fleet.hosts, 1)
    assert password not in again.output and password not in repr(again.records)


def test_controller_mode_a_fallback_to_the_module_is_a_warning(maven_repo, published, ansible, tmp_path):
    """Hosts whose Python refuses the one-command install (the wrapper exits 3): the module runs instead, and the
    user sees why without -vvv, host by host, still without the repository's password."""
    password = "pw-Fb9Kd2Wq"
    maven_repo.require(auth="deployer:%s" % password)
    fleet = Fleet(tmp_path / "fleet", 2, one_command=False)
    run = fleet.play(ansible, Credentialed(maven_repo, "deployer", password), [pg(), sr()])
    assert not run.failed, run
    assert fleet.launches() == dict.fromkeys(fleet.hosts, ["refused", "module"])
    text = " ".join(run.output.split())  # a warning may be wrapped to the terminal's width
    for host in fleet.hosts:
        assert ("[WARNING]: flink_connector_jar on %s: the one-command install gave no answer (rc=3, nothing on "
                "stderr), so the module ran instead: one more command on this host each run. Check that its Python "
                "(%s) runs on the host" % (host, fleet.base / host / "python")) in text, run.output
    assert "ansible_python_interpreter" in text
    assert password not in run.output and password not in repr(run.records)
