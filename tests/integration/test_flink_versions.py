"""The focused subset the test command runs on a real cluster of every Flink version it supports.

``scripts/test.sh flink-matrix`` runs this file once per version (``CDCOPS_BED_FLINK=1.17.2`` ... ``2.3.0``, each
with a bed of its own); the ordinary integration run runs it on the default version (1.20.3) too. On each
cluster: ``flink_cluster_info`` reads it, the role with no ``flink_cdc_connectors`` chooses the connectors for
that version from what the bed's repository lists, deploys them, restarts the TaskManagers one by one and then
the JobManager, runs the smoke job where a postgres-cdc build exists for the version, and verifies.

What the role must choose from the bed's repository (the real builds this machine's Maven Central serves,
tests/bed/artifacts.py), per version, is in tests/version_matrix.yml, which the README's table is printed from.
The support tables behind it: apache/flink-cdc docs/content/docs/connectors/flink-sources/overview.md;
StarRocks/starrocks-connector-for-apache-flink docs/content/connector-sink.md. In short: 1.17 gets postgres-cdc
3.2.1 and no StarRocks build (none for 1.17 is served); 1.18 and 1.19 get both; 1.20 gets 3.5.0 (3.6.0-1.20 is
not served) and no StarRocks build (no _flink-1.20 build is served); no Flink CDC release supports 2.0, 2.1 or 2.3;
3.6.0-2.2 exists but is not served; no StarRocks release has a Flink 2.x build.

Where no connector can be chosen (2.x), the rolling restart runs with a real Flink 2.x jar pinned instead
(``flink-sql-connector-kafka:4.0.1-2.0``), so the restart of every version is still proven on real processes.
"""

import os

import yaml

import bed as bed_mod
from conftest import all_libs, lib_state
from test_role_connector_defaults import connector_rows, unpinned
from test_role_flink_cdc import DEPLOY, Inventory, taskmanager_ids
from test_role_smoke import rows

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"
KAFKA = {"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-kafka", "version": "4.0.1-2.0"}

with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "version_matrix.yml")) as f:
    MATRIX = yaml.safe_load(f)
# Flink minor -> (postgres-cdc version, StarRocks version) the role chooses from the bed's repository.
EXPECTED = {".".join(v.split(".")[:2]): (m["deploys"]["postgres_cdc"], m["deploys"]["starrocks"])
            for v, m in MATRIX["flink"].items()}
# The newest build of the support matrix, named in the rows where the repository lacks it.
NEWEST = {
    "1.17": ("3.2.1", "1.2.15_flink-1.17"),
    "1.18": ("3.2.1", "1.2.15_flink-1.18"),
    "1.19": ("3.5.0", "1.2.15_flink-1.19"),
    "1.20": ("3.6.0-1.20", "1.2.15_flink-1.20"),
    "2.2": ("3.6.0-2.2", None),
}


def minor(bed):
    return ".".join(bed["flink_version"].split(".")[:2])


def test_cluster_info_reads_the_version(bed, ansible):
    bed_mod.job_start("cdcops-version-test")
    try:
        run = ansible.module("flink_cluster_info", {"url": bed["rest_url"],
                                                    "expected_taskmanagers": {"tm1": "127.0.0.2", "tm2": "127.0.0.3"}})
    finally:
        bed_mod.jobs_cancel()
    assert run.rc == 0, run
    res = run.result
    assert res["flink_version"] == bed["flink_version"] and res["flink_commit"]
    assert res["overview"]["taskmanagers"] == 2 and res["overview"]["slots-total"] == 4
    # Flink 1.18 replaced Akka with Pekko (FLINK-32468): the TaskManager's RPC path says which.
    scheme = "akka.tcp" if minor(bed) == "1.17" else "pekko.tcp"
    for tm in res["taskmanagers"]:
        assert tm["path"].startswith("%s://flink@%s:" % (scheme, tm["host"])), tm
        assert tm["slots_total"] == 2 and tm["data_port"] > 0
    assert sorted(res["host_matches"]["matched"]) == ["tm1", "tm2"]
    assert [j["name"] for j in res["jobs"] if j["state"] == "RUNNING"] == ["cdcops-version-test"]


def test_unpinned_preflight_says_what_it_chose_for_this_version(bed, ansible, tmp_path, pristine_libs):
    inv = unpinned(bed, tmp_path)
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags="flink_cdc_preflight")
    assert all_libs(bed) == before
    report = inv.report()
    assert report["flink_version"] == bed["flink_version"] and report["connectors_pinned"] is False
    want_pg, want_sr = EXPECTED[minor(bed)]
    chosen = {c["artifact_id"]: c["version"] for c in report["connectors"]}
    assert chosen == {k: v for k, v in ((PG, want_pg), (SR, want_sr)) if v}, report["connectors"]
    got = connector_rows(inv)
    repo = bed["maven"]["url"]
    if want_pg:
        assert got[PG]["status"] == "ok", got[PG]
        assert got[PG]["detail"].startswith("chosen for Flink %s: org.apache.flink:%s:%s (Flink CDC %s" % (
            bed["flink_version"], PG, want_pg, want_pg[:3])), got[PG]
        if NEWEST[minor(bed)][0] != want_pg:
            assert "the repository %s does not list the newest build, %s" % (repo, NEWEST[minor(bed)][0]) \
                in got[PG]["detail"]
    elif minor(bed) == "2.2":
        assert got[PG]["status"] == "fail"
        assert got[PG]["detail"].startswith(
            "cannot choose for Flink %s: the repository %s lists no build of org.apache.flink:%s for Flink 2.2 (it "
            "lists: 3.5.0, 3.3.0, 3.2.1; the newest build for Flink 2.2 is 3.6.0-2.2). Fix: " % (
                bed["flink_version"], repo, PG)), got[PG]
    else:
        assert got[PG]["status"] == "fail"
        assert ("no Flink CDC release supports Flink %s (Flink CDC 3.6, the newest line, supports Flink 1.20, 2.2)"
                % minor(bed)) in got[PG]["detail"], got[PG]
    if want_sr:
        assert got[SR]["status"] == "ok"
        assert got[SR]["detail"].startswith("chosen for Flink %s: com.starrocks:%s:%s (StarRocks connector 1.2.10" % (
            bed["flink_version"], SR, want_sr)), got[SR]
    else:
        assert got[SR]["status"] == "fail"
        if minor(bed).startswith("2."):
            assert ("no StarRocks connector release supports Flink %s (there is no Flink 2.x build" % minor(bed)) \
                in got[SR]["detail"], got[SR]
        else:
            assert "the repository %s lists no build of com.starrocks:%s for Flink %s" % (repo, SR, minor(bed)) \
                in got[SR]["detail"], got[SR]
            assert "the newest build for Flink %s is %s" % (minor(bed), NEWEST[minor(bed)][1]) in got[SR]["detail"]
        assert "Fix: set flink_cdc_starrocks_connector: false to deploy without it" in got[SR]["detail"]
    # One failed row per gap, and the preflight stops the play on it.
    failed = [r for r in report["rows"] if r["status"] == "fail"]
    assert len(failed) == (want_pg is None) + (want_sr is None), failed
    assert (run.rc != 0) == bool(failed), run


def test_defaults_deploy_rolling_restart_smoke_and_verify(bed, ansible, tmp_path, fresh_cluster):
    want_pg, want_sr = EXPECTED[minor(bed)]
    if want_pg:
        # The version's own defaults; the StarRocks connector switched off where the repository has no build.
        inv = unpinned(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True,
                       flink_cdc_starrocks_connector=bool(want_sr))
        wanted = ["%s-%s.jar" % (PG, want_pg)] + (["%s-%s.jar" % (SR, want_sr)] if want_sr else [])
    else:
        # No connector exists (or is served) for this Flink: a real Flink 2.x jar stands in, so the deploy and
        # the rolling restart still run on this version's real processes. There is nothing for the smoke job.
        inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_connectors=[KAFKA])
        wanted = ["%(artifact_id)s-%(version)s.jar" % KAFKA]
    before_ids = taskmanager_ids()
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    # Deployed to every host.
    for home in [bed["jobmanager"]["home"]] + [tm["home"] for tm in bed["taskmanagers"]]:
        assert set(wanted) <= set(lib_state(home)), (home, sorted(lib_state(home)))
    # Both TaskManagers replaced one by one, then the JobManager, which loads the new jars.
    after_ids = taskmanager_ids()
    assert sorted(after_ids) == ["127.0.0.2", "127.0.0.3"]
    assert all(after_ids[h] != before_ids[h] for h in before_ids), (before_ids, after_ids)
    assert sorted(r["host"] for r in rows(inv, "TaskManager", "restart") if r["status"] == "changed") == ["tm1", "tm2"]
    assert [r["status"] for r in rows(inv, "JobManager", "restart")] == ["changed"]
    classpath = bed_mod.rest("/jobmanager/environment")["classpath"]
    for name in wanted:
        assert os.path.join(bed["jobmanager"]["home"], "lib", name) in classpath
    if not want_pg:
        # The support matrix has no table for the Kafka connector: its row says so, and claims no fit.
        kafka = connector_rows(inv)[KAFKA["artifact_id"]]
        assert kafka["status"] == "skip" and kafka["detail"] == (
            "pinned: org.apache.flink:%s:%s: not in the support matrix, so not checked against Flink %s" % (
                KAFKA["artifact_id"], KAFKA["version"], bed["flink_version"])), kafka
    # The smoke job, where a postgres-cdc build exists for this version.
    smoke = rows(inv, "Smoke", "job")
    assert MATRIX["flink"][bed["flink_version"]]["smoke"] == bool(want_pg)
    if want_pg:
        (job_row,) = smoke
        assert job_row["status"] == "ok", job_row
        assert "FINISHED" in job_row["detail"] and "read 300 rows of public.products (count(*) 300)" in job_row["detail"]
        assert "org.apache.flink:%s:%s" % (PG, want_pg) in job_row["detail"]
        (result,) = [r["result"] for r in run.records if r["action"].endswith("flink_sql_job")]
        assert result["state"] == "FINISHED" and result["source_records"] == 300
    else:
        assert smoke == [] and not [r for r in run.records if r["action"].endswith("flink_sql_job") and r["status"] != "skipped"]
    # Verify: the JobManager is healthy and every TaskManager host is registered, after all the restarts.
    (verify,) = [r for r in run.records if "Verify | JobManager healthy" in r["task"]]
    assert verify["status"] == "ok", verify
    assert verify["result"]["flink_version"] == bed["flink_version"]
    assert sorted(verify["result"]["host_matches"]["matched"]) == ["tm1", "tm2"]
    assert verify["result"]["host_matches"]["missing"] == []


# A streaming job whose source has state (a datagen sequence keeps its position; it holds every value it has
# still to emit, so its end stays small), on every version: the restore
# keys differ (execution.savepoint.* before 1.20, execution.state-recovery.* from 1.20) and the module must pick
# the right ones, or the new job would start empty and latest.restored would say so.
LIFECYCLE_SQL = """
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '100000');
CREATE TABLE snk (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT id FROM gen;
"""


def test_flink_job_lifecycle_restores_on_this_version(bed, ansible, tmp_path):
    def args(rate="5", **kw):
        out = {"url": bed["rest_url"], "flink_home": bed["jobmanager"]["home"], "name": "cdcops-lifecycle",
               "sql": LIFECYCLE_SQL.format(rate=rate), "settings": {"execution.checkpointing.interval": "1s"},
               "savepoint_dir": "file://%s/savepoints" % tmp_path, "record_dir": str(tmp_path / "records"),
               "wait_timeout": 90}
        out.update(kw)
        return out

    try:
        run = ansible.module("flink_job", args())
        assert run.rc == 0, run
        first = run.result["job_id"]
        assert run.result["action"] == "submitted" and run.result["job_state"] == "RUNNING"
        run = ansible.module("flink_job", args(rate="10"))
        assert run.rc == 0, run
        res = run.result
        assert res["action"] == "upgraded" and res["restored_from"] == res["savepoint"], res
        restored = bed_mod.rest("/jobs/%s/checkpoints" % res["job_id"])["latest"]["restored"]
        assert restored["is_savepoint"] is True and restored["external_path"] == res["savepoint"]
        assert bed_mod.rest("/jobs/%s" % first)["state"] == "FINISHED"
        run = ansible.module("flink_job", args(rate="10", state="suspended"))
        assert run.rc == 0, run
        assert run.result["action"] == "suspended" and run.result["job_state"] == "FINISHED"
        savepoint = run.result["savepoint"]
        run = ansible.module("flink_job", args(rate="10"))
        assert run.rc == 0, run
        assert run.result["action"] == "resumed" and run.result["restored_from"] == savepoint
        restored = bed_mod.rest("/jobs/%s/checkpoints" % run.result["job_id"])["latest"]["restored"]
        assert restored["external_path"] == savepoint
    finally:
        bed_mod.jobs_cancel()
