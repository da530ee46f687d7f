"""The role's pipeline phase on the real bed: a CDC job generated from the PostgreSQL catalog, PostgreSQL ->
Flink (postgres-cdc) -> PostgreSQL (the JDBC connector; no StarRocks server exists here), kept by flink_job.

Each test checks the sink row by row against the source, and the verify phase's health rows (job, checkpoint,
slot) against the real cluster. The source and sink tables are those of test_flink_job.Pipeline (an audit
trigger counts every write the sink receives).
"""

import random

import bed as bed_mod
from cdc_pipeline import running
from test_role_flink_cdc import DEPLOY, Inventory


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


def play(ansible, inv, **kw):
    return ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags="pipeline,verify", **kw)


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
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags="verify")
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
