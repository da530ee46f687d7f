"""flink_job on the real bed: a real CDC job, PostgreSQL -> Flink (postgres-cdc) -> PostgreSQL (JDBC connector),
each checked row by row and write by write (cdc_pipeline.Pipeline).

The processes are restarted once for this file with the postgres-cdc jar that fits the bed's Flink and the JDBC
jar in every lib/ (conftest.cdc_bed: real jars from Maven Central), and once more at the end without them.
"""

import json
import os
import random
import time

import bed as bed_mod
from cdc_pipeline import Writer, jobs_named, restart_jobmanager, running


def test_check_mode_submit_rerun_and_diff(cdc_bed, ansible, tmp_path, pipelines):
    p = pipelines("fj_basic")
    # Check mode first: nothing submitted, no record, no lock file, no savepoint directory.
    run = ansible.module("flink_job", p.args(), check=True, diff=True)
    assert run.rc == 0, run
    assert run.result["action"] == "submitted" and run.result["changed"] is True
    assert run.result["msg"] == "would submit job fj-fj_basic"
    assert not jobs_named("fj-fj_basic") and not (tmp_path / "records").exists()
    # The real run, at -vvv: the snapshot arrives; the password is nowhere in the output or the record.
    run = ansible.module("flink_job", p.args(), verbosity=3)
    assert run.rc == 0, run
    res = run.result
    assert res["action"] == "submitted" and res["changed"] is True and res["job_state"] == "RUNNING"
    assert p.password not in run.output
    assert [j["jid"] for j in running("fj-fj_basic")] == [res["job_id"]]
    assert bed_mod.rest("/jobs/%s/config" % res["job_id"])["execution-config"]["user-config"] == {
        "cdcops.flink_job.spec": res["fingerprint"]}
    record = p.record()
    assert record["state"] == "running" and record["job_id"] == res["job_id"] and record["pending"] is None
    assert p.password not in json.dumps(record) and "${pg_password}" in record["spec"]["sql"]
    assert oct(os.stat(res["record"]).st_mode & 0o777) == "0o600"
    p.change(10, random.Random(1))
    p.assert_exactly_once()
    # A rerun, also from another controller (a record directory of its own): unchanged.
    for args in (p.args(), p.args(record_dir=str(tmp_path / "other-controller"))):
        run = ansible.module("flink_job", args)
        assert run.rc == 0, run
        assert run.result["action"] == "unchanged" and run.result["changed"] is False
        assert run.result["job_id"] == res["job_id"]
    # Check mode with a changed spec: what would happen, with the SQL before and after; nothing is stopped.
    changed = p.args(sql=p.sql(where="WHERE n >= 0"))
    run = ansible.module("flink_job", changed, check=True, diff=True)
    assert run.rc == 0, run
    assert run.result["action"] == "upgraded"
    assert run.result["msg"].startswith("would stop job fj-fj_basic (%s) with a savepoint" % res["job_id"])
    diff = run.result["diff"]
    assert "FROM src_fj_basic ;" in diff["before"] and "FROM src_fj_basic WHERE n >= 0;" in diff["after"]
    assert "${pg_password}" in diff["after"] and p.password not in json.dumps(diff)
    assert "+INSERT INTO snk_fj_basic SELECT id, name, n FROM src_fj_basic WHERE n >= 0;" in run.stdout
    assert [j["jid"] for j in running("fj-fj_basic")] == [res["job_id"]]
    assert not (tmp_path / "savepoints").exists()
    # state: absent cancels the job and forgets it; the slot is dropped afterwards, as the role does.
    run = ansible.module("flink_job", p.args(state="absent"))
    assert run.rc == 0, run
    assert run.result["action"] == "cancelled" and run.result["job_state"] == "CANCELED"
    assert not running("fj-fj_basic") and not os.listdir(str(tmp_path / "records"))
    run = ansible.module("pg_replication_slot", {
        "login_host": p.pg["host"], "login_port": p.pg["port"], "login_user": p.pg["user"],
        "login_password": p.pg["password"], "login_db": p.pg["demo"]["database"], "name": p.slot, "state": "absent"})
    assert run.rc == 0, run
    assert not p.slot_exists()


def test_upgrade_through_a_savepoint_while_rows_change(cdc_bed, ansible, tmp_path, pipelines):
    p = pipelines("fj_upgrade")
    first = ansible.module("flink_job", p.args())
    assert first.rc == 0, first
    p.converged()
    writer = Writer(p)
    writer.start()
    try:
        time.sleep(2)
        # A changed sink option and checkpoint interval; the SQL's changelog stays the same (a filter on a column
        # that changes would turn each UPDATE into a DELETE and an INSERT at the sink).
        run = ansible.module("flink_job", p.args(sql=p.sql(flush="200ms"), wait_timeout=120, settings={
            "execution.checkpointing.interval": "2s", "state.checkpoints.dir": "file://%s/checkpoints" % tmp_path}))
        assert run.rc == 0, run
        time.sleep(2)
    finally:
        writer.stop()
    res = run.result
    assert res["action"] == "upgraded" and res["job_state"] == "RUNNING"
    assert res["job_id"] != first.result["job_id"]
    assert res["savepoint"].startswith("file:%s/savepoints/savepoint-" % tmp_path)
    assert res["restored_from"] == res["savepoint"]
    restored = bed_mod.rest("/jobs/%s/checkpoints" % res["job_id"])["latest"]["restored"]
    assert restored["is_savepoint"] is True and restored["external_path"] == res["savepoint"]
    assert bed_mod.rest("/jobs/%s" % first.result["job_id"])["state"] == "FINISHED"
    assert [j["jid"] for j in running("fj-fj_upgrade")] == [res["job_id"]]
    assert p.record()["history"][0] == res["savepoint"]
    p.assert_exactly_once()
    ansible.module("flink_job", p.args(state="absent"))


def test_suspend_write_resume_and_resume_after_the_jobmanager_restarted(cdc_bed, ansible, tmp_path, pipelines):
    p = pipelines("fj_suspend")
    assert ansible.module("flink_job", p.args()).rc == 0
    p.converged()
    run = ansible.module("flink_job", p.args(state="suspended"))
    assert run.rc == 0, run
    assert run.result["action"] == "suspended" and run.result["job_state"] == "FINISHED"
    savepoint = run.result["savepoint"]
    assert not running("fj-fj_suspend")
    again = ansible.module("flink_job", p.args(state="suspended"))
    assert again.result["action"] == "none" and again.result["changed"] is False
    p.change(15, random.Random(2))
    run = ansible.module("flink_job", p.args())
    assert run.rc == 0, run
    assert run.result["action"] == "resumed" and run.result["restored_from"] == savepoint
    p.assert_exactly_once()
    # Suspend, then the JobManager restarts and forgets every job: the record still knows the savepoint.
    run = ansible.module("flink_job", p.args(state="suspended"))
    assert run.rc == 0, run
    savepoint = run.result["savepoint"]
    restart_jobmanager(cdc_bed)
    assert not jobs_named("fj-fj_suspend")
    p.change(10, random.Random(3))
    run = ansible.module("flink_job", p.args())
    assert run.rc == 0, run
    assert run.result["action"] == "resumed" and run.result["restored_from"] == savepoint
    p.assert_exactly_once()
    # A running job that the JobManager loses (restart without HA): savepoint mode refuses, last-state restores
    # the latest completed checkpoint (at least once: the sink converges, writes since it may come twice).
    job_id = run.result["job_id"]
    time.sleep(3)  # a few checkpoints
    restart_jobmanager(cdc_bed)
    run = ansible.module("flink_job", p.args())
    assert run.rc != 0
    msg = run.result["msg"]
    assert "job fj-fj_suspend (%s) is not known to the JobManager" % job_id in msg, msg
    assert "upgrade_mode: last-state restores its latest completed checkpoint" in msg
    p.change(5, random.Random(4))
    run = ansible.module("flink_job", p.args(upgrade_mode="last-state"))
    assert run.rc == 0, run
    assert run.result["action"] == "resumed"
    assert run.result["restored_from"].startswith("file:%s/checkpoints/%s/chk-" % (tmp_path, job_id))
    p.converged()
    ansible.module("flink_job", p.args(state="absent"))


def test_a_failed_restore_is_diagnosed_and_the_way_back_works(cdc_bed, ansible, tmp_path, pipelines):
    p = pipelines("fj_two")
    q = pipelines("fj_other")
    both = p.sql(tables=[p.table, q.table])
    run = ansible.module("flink_job", p.args(sql=both))
    assert run.rc == 0, run
    p.converged()
    q.converged()
    # The new SQL drops one table: its state in the savepoint maps onto nothing.
    run = ansible.module("flink_job", p.args())
    assert run.rc != 0
    res = run.result
    savepoint = res["savepoint"]
    assert savepoint.startswith("file:%s/savepoints/savepoint-" % tmp_path)
    msg = res["msg"]
    assert "the new SQL has no operator for the state of operator" in msg and savepoint in msg, msg
    assert "allow_non_restored_state: true" in msg and "upgrade_mode: stateless" in msg
    assert "Cannot map checkpoint/savepoint state" in res["root_cause"]
    assert not running("fj-fj_two"), "nothing is left running half-way"
    assert p.record()["state"] == "suspended" and p.record()["savepoint"] == savepoint
    # The way back: the previous SQL resumes from the same savepoint; rows changed meanwhile arrive once.
    p.change(5, random.Random(5))
    q.change(5, random.Random(6))
    run = ansible.module("flink_job", p.args(sql=both))
    assert run.rc == 0, run
    assert run.result["action"] == "resumed" and run.result["restored_from"] == savepoint
    p.assert_exactly_once()
    q.assert_exactly_once()
    # Or forward, dropping the removed table's state.
    run = ansible.module("flink_job", p.args(allow_non_restored_state=True))
    assert run.rc == 0, run
    assert run.result["action"] == "upgraded"
    p.change(5, random.Random(7))
    p.assert_exactly_once()
    ansible.module("flink_job", p.args(state="absent"))


def test_a_job_it_did_not_start_is_reported_never_duplicated(cdc_bed, ansible, tmp_path, pipelines):
    bed_mod.job_start("fj-foreign")
    try:
        (job,) = running("fj-foreign")
        p = pipelines("fj_foreign")
        for args in (p.args(name="fj-foreign"), p.args(name="fj-foreign", state="absent")):
            run = ansible.module("flink_job", args)
            assert run.rc != 0
            assert "a job named fj-foreign runs on the cluster that flink_job did not start (%s RUNNING)" % job["jid"] \
                in run.result["msg"]
        assert [j["jid"] for j in running("fj-foreign")] == [job["jid"]]
    finally:
        bed_mod.jobs_cancel()


def test_no_savepoint_directory_fails_before_anything(cdc_bed, ansible, tmp_path, pipelines):
    p = pipelines("fj_nodir", rows=1)
    args = p.args()
    del args["savepoint_dir"]
    run = ansible.module("flink_job", args)
    assert run.rc != 0
    assert run.result["msg"].startswith("no savepoint directory: set savepoint_dir, or the cluster's "
                                        "execution.checkpointing.savepoint-dir")
    assert not jobs_named("fj-fj_nodir")
