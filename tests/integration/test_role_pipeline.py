"""The role's pipeline phase on the real bed: a CDC job generated from the PostgreSQL catalog, PostgreSQL ->
Flink (postgres-cdc) -> PostgreSQL (the JDBC connector; no StarRocks server exists here), kept by flink_job.

Each test checks the sink row by row against the source, and the verify phase's health rows (job, checkpoint,
slot) against the real cluster. The source and sink tables are those of test_flink_job.Pipeline (an audit
trigger counts every write the sink receives).
"""

import os
import random
import time

import artifacts
import bed as bed_mod
from cdc_pipeline import Writer, running
from conftest import lib_state
from test_role_flink_cdc import DEPLOY, Inventory, taskmanager_ids


def pipeline_inventory(bed, tmp_path, p, **pipeline):
    pg = bed["postgres"]["logical"]
    item = {
        "name": "rp-" + p.table, "tables": ["public.%s" % p.table], "slot_name": p.slot,
        "sink": {"connector": "jdbc", "url": "jdbc:postgresql://%s:%d/%s" % (pg["host"], pg["port"], pg["demo"]["sink_database"]),
                 "username": pg["demo"]["user"], "password": pg["demo"]["password"],
                 "sink.buffer-flush.max-rows": "1", "sink.buffer-flush.interval": "500ms"},
    }
    item.update(pipeline)
    return Inventory(bed, tmp_path, flink_cdc_pipelines=[item], flink_cdc_pg_publication=p.publication,
                     flink_cdc_pipeline_checkpoint_interval="1s",
                     flink_cdc_pipeline_savepoint_dir="file://%s/savepoints" % tmp_path,
                     flink_cdc_pipeline_record_dir=str(tmp_path / "records"), flink_cdc_pipeline_timeout=90)


def rows(inv, area="Pipeline"):
    return {r["check"]: r for r in inv.report()["rows"] if r["area"] == area}


# The role's tags (flink_cdc_<phase>): every phase but the smoke job, and the pipeline phase with verify.
UPGRADE_PHASES = "flink_cdc_deploy,flink_cdc_restart,flink_cdc_pipeline,flink_cdc_verify"
PIPELINE_PHASES = "flink_cdc_pipeline,flink_cdc_verify"


def play(ansible, inv, **kw):
    return ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags=PIPELINE_PHASES, **kw)


def test_the_pipeline_phase_generates_keeps_upgrades_and_removes_the_job(cdc_bed, ansible, tmp_path, pipelines):
    p = pipelines("rp_orders")
    inv = pipeline_inventory(cdc_bed, tmp_path, p)
    name = "rp-rp_orders"
    # Check mode first: what would happen, nothing submitted.
    run = play(ansible, inv, check=True)
    assert run.rc == 0, run
    assert rows(inv)[name]["status"] == "skip" and "would be submitted" in rows(inv)[name]["detail"]
    assert not running(name)
    # The real run, at -vvv: generated from the catalog, submitted, healthy; no password in the output.
    run = play(ansible, inv, verbosity=3)
    assert run.rc == 0, run
    assert p.password not in run.output
    got = rows(inv)
    assert got[name]["status"] == "changed" and "submitted, now RUNNING" in got[name]["detail"], got[name]
    assert got[name + " health"]["status"] == "ok", got[name + " health"]
    assert "RUNNING" in got[name + " health"]["detail"] and "0 restart(s)" in got[name + " health"]["detail"]
    p.change(10, random.Random(11))
    p.assert_exactly_once()
    # A rerun changes nothing.
    run = play(ansible, inv)
    assert run.rc == 0, run
    assert rows(inv)[name]["status"] == "ok" and "unchanged" in rows(inv)[name]["detail"]
    # A changed setting is an upgrade through a savepoint, shown first in check mode with its diff.
    inv = pipeline_inventory(cdc_bed, tmp_path, p, settings={"execution.checkpointing.interval": "2s"})
    run = play(ansible, inv, check=True, diff=True)
    assert run.rc == 0, run
    assert "would be upgraded through a savepoint" in rows(inv)[name]["detail"]
    assert "+SET 'execution.checkpointing.interval' = '2s';" in run.stdout
    (job,) = [r["result"]["results"][0] for r in run.records if r["action"].endswith("flink_job")
              and "Keep each job" in r["task"]]
    after = job["diff"]["after"]
    assert "CREATE TEMPORARY TABLE `src_1` (\n  `id` BIGINT NOT NULL,\n  `name` STRING NOT NULL,\n  `n` INT NOT NULL," in after
    assert "'slot.name' = '%s'" % p.slot in after and "'password' = '${sink_password}'" in after
    assert "INSERT INTO `snk_1` SELECT `id`, `name`, `n` FROM `src_1`;" in after
    assert p.password not in run.output
    run = play(ansible, inv)
    assert run.rc == 0, run
    got = rows(inv)
    assert got[name]["status"] == "changed" and "upgraded through a savepoint" in got[name]["detail"], got[name]
    assert "restored from file:%s/savepoints/savepoint-" % tmp_path in got[name]["detail"]
    assert got[name + " health"]["status"] == "ok", got[name + " health"]
    p.change(10, random.Random(12))
    p.assert_exactly_once()
    # absent: the job is cancelled and its slot dropped.
    inv = pipeline_inventory(cdc_bed, tmp_path, p, state="absent")
    run = play(ansible, inv)
    assert run.rc == 0, run
    got = rows(inv)
    assert "cancelled" in got[name]["detail"] and "dropped its slots %s" % p.slot in got[name]["detail"], got[name]
    assert name + " health" not in got
    assert not running(name) and not p.slot_exists()


def test_an_unhealthy_pipeline_fails_verify_with_the_fix(cdc_bed, ansible, tmp_path, pipelines):
    p = pipelines("rp_sick", rows=3)
    inv = pipeline_inventory(cdc_bed, tmp_path, p)
    name = "rp-rp_sick"
    run = play(ansible, inv)
    assert run.rc == 0, run
    # The job is cancelled behind the role's back: verify names it, and the slot it left.
    (job,) = running(name)
    bed_mod.jobs_cancel()
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags="flink_cdc_verify")
    assert run.rc != 0
    health = rows(inv)[name + " health"]
    assert health["status"] == "fail"
    assert "the job is CANCELED, not RUNNING" in health["detail"], health
    assert "its replication slot %s is not active" % p.slot in health["detail"], health
    assert "Pipeline failed: jobmanager: Pipeline %s health:" % name in run.output
    assert job["jid"] in health["detail"]


def test_a_column_the_connector_cannot_map_stops_the_phase(cdc_bed, ansible, tmp_path, pipelines):
    p = pipelines("rp_typed", rows=1)
    with p.admin(p.pg["demo"]["database"]) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE public.rp_typed ADD COLUMN area point")
    inv = pipeline_inventory(cdc_bed, tmp_path, p)
    run = play(ansible, inv)
    assert run.rc != 0
    assert ("pipeline rp-rp_typed: public.rp_typed.area has the type point, which the postgres-cdc connector does not "
            "map to a Flink type") in run.output, run
    assert not running("rp-rp_typed")


def connectors(bed, postgres_cdc):
    jdbc = artifacts.jdbc_sink(bed["flink_version"])
    return [{"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc", "version": postgres_cdc},
            {"group_id": jdbc.group_id, "artifact_id": jdbc.artifact_id, "version": jdbc.version}]


def test_a_connector_upgrade_under_a_running_pipeline_suspends_and_resumes_it(cdc_bed, ansible, tmp_path, pipelines):
    """postgres-cdc 3.3.0 -> 3.5.0 under a running pipeline while rows keep changing: the restart phase stops it with
    a savepoint, restarts every process onto the new jar, and the pipeline phase resumes it from that savepoint.
    Flink CDC 3.5.0 restores the state that 3.3.0 wrote: the sink ends equal to the source, one write per change."""
    older, current = cdc_bed["connectors"]["postgres_cdc"]["older"], cdc_bed["connectors"]["postgres_cdc"]["current"]
    assert (older, current) == ("3.3.0", "3.5.0")
    p = pipelines("rp_upgrade")
    name = "rp-rp_upgrade"
    # The pipeline runs on postgres-cdc 3.3.0: the deploy puts it in every lib/ and the restart loads it.
    inv = pipeline_inventory(cdc_bed, tmp_path, p)
    inv.vars.update(flink_cdc_restart="rolling", flink_cdc_connectors=connectors(cdc_bed, older))
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags=UPGRADE_PHASES)
    assert run.rc == 0, run
    assert rows(inv)[name]["status"] == "changed" and "submitted, now RUNNING" in rows(inv)[name]["detail"]
    jar = os.path.join(cdc_bed["jobmanager"]["home"], "lib", "flink-sql-connector-postgres-cdc-%s.jar")
    assert jar % older in bed_mod.rest("/jobmanager/environment")["classpath"]
    (before,) = running(name)
    p.change(5, random.Random(21))
    p.converged()
    # A dry run of the upgrade says what it would do and stops nothing.
    inv.vars.update(flink_cdc_connectors=connectors(cdc_bed, current))
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, check=True,
                           tags=UPGRADE_PHASES)
    assert run.rc == 0, run
    assert "would be suspended with a savepoint before the restart of tm1, tm2, jobmanager" in \
        rows(inv)[name + " restart"]["detail"], rows(inv)
    assert [j["jid"] for j in running(name)] == [before["jid"]]
    # The upgrade, while a writer inserts, updates and deletes.
    ids = taskmanager_ids()
    writer = Writer(p, interval=0.1)
    writer.start()
    try:
        time.sleep(3)
        run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags=UPGRADE_PHASES)
        time.sleep(3)
    finally:
        writer.stop()
    assert run.rc == 0, run
    got = rows(inv)
    suspended = got[name + " restart"]
    assert suspended["status"] == "changed", suspended
    assert "job %s suspended with the savepoint file:%s/savepoints/savepoint-" % (before["jid"], tmp_path) in \
        suspended["detail"], suspended
    savepoint = suspended["detail"].split("savepoint ", 1)[1].split(" ", 1)[0]
    assert got[name]["status"] == "changed" and "resumed, now RUNNING" in got[name]["detail"], got[name]
    assert "restored from %s" % savepoint in got[name]["detail"], got[name]
    assert got[name + " health"]["status"] in ("ok", "warn"), got[name + " health"]
    # Every process runs on the new jar, and every TaskManager was replaced.
    assert jar % current in bed_mod.rest("/jobmanager/environment")["classpath"]
    for tm in cdc_bed["taskmanagers"]:
        names = lib_state(tm["home"])
        assert "flink-sql-connector-postgres-cdc-%s.jar" % current in names
        assert "flink-sql-connector-postgres-cdc-%s.jar" % older not in names
    assert all(taskmanager_ids()[h] != old for h, old in ids.items())
    assert p.changes > 25 + 20, "the writer made too few changes to prove anything: %d" % p.changes
    # Nothing lost, nothing read twice, through the upgrade.
    p.assert_exactly_once(timeout=60)
    p.change(5, random.Random(22))
    p.assert_exactly_once()


def test_a_running_job_the_role_does_not_own_refuses_the_restart_and_stops_no_pipeline(
        bed, ansible, tmp_path, pristine_libs):
    """A declared pipeline (its own SQL: datagen into blackhole) and a job the role did not start both run: the
    restart refuses before it suspends anything."""
    sql = ("CREATE TEMPORARY TABLE src (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5');\n"
           "CREATE TEMPORARY TABLE snk (n BIGINT) WITH ('connector' = 'blackhole');\n"
           "INSERT INTO snk SELECT n FROM src;\n")
    inv = Inventory(bed, tmp_path, flink_cdc_pipelines=[{"name": "rp-datagen", "sql": sql}],
                    flink_cdc_pipeline_savepoint_dir="file://%s/savepoints" % tmp_path,
                    flink_cdc_pipeline_record_dir=str(tmp_path / "records"), flink_cdc_pipeline_timeout=90)
    try:
        run = play(ansible, inv)
        assert run.rc == 0, run
        (pipeline,) = running("rp-datagen")
        bed_mod.job_start("cdcops-restart-guard")
        inv.vars.update(flink_cdc_restart="rolling", flink_cdc_connectors=[{
            "group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc",
            "version": bed["connectors"]["postgres_cdc"]["older"]}])
        ids = taskmanager_ids()
        run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
        assert run.rc != 0
        assert ("Refusing to restart TaskManagers (tm1, tm2): 1 job(s) that are not pipelines of flink_cdc_pipelines "
                "run: cdcops-restart-guard.") in run.output, run
        assert "Nothing was stopped or restarted" in run.output
        assert [j["jid"] for j in running("rp-datagen")] == [pipeline["jid"]]
        assert taskmanager_ids() == ids
        # Without that job, the restart goes on: run alone (--tags flink_cdc_deploy,flink_cdc_restart), the restart
        # phase suspends the pipeline, restarts every process and resumes it from the savepoint itself.
        (guard,) = running("cdcops-restart-guard")
        bed_mod.job_cancel(guard["jid"])
        bed_mod.wait_for("the guard job to end", lambda: not running("cdcops-restart-guard"))
        # (Another version: the refused run left its jars in lib/, and a restart follows a change of them.)
        inv.vars["flink_cdc_connectors"][0]["version"] = bed["connectors"]["postgres_cdc"]["current"]
        run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags="flink_cdc_deploy,flink_cdc_restart")
        assert run.rc == 0, run
        got = rows(inv)
        assert "job %s suspended with the savepoint file:%s/savepoints/savepoint-" % (pipeline["jid"], tmp_path) in \
            got["rp-datagen restart"]["detail"], got
        savepoint = got["rp-datagen restart"]["detail"].split("savepoint ", 1)[1].split(" ", 1)[0]
        assert "resumed, now RUNNING, restored from %s" % savepoint in got["rp-datagen"]["detail"], got
        (resumed,) = running("rp-datagen")
        assert resumed["jid"] != pipeline["jid"]
        assert all(taskmanager_ids()[h] != old for h, old in ids.items())
    finally:
        bed_mod.jobs_cancel()
