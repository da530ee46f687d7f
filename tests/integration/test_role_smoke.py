"""The role's smoke phase end to end: the real postgres-cdc jar, the real cluster, the real PostgreSQL.

A bounded Flink SQL job reads the bed's public.products (300 rows) through the deployed connector into a
blackhole sink, with the SQL client of the JobManager host. Each test starts from processes that never had a
connector jar on their classpath, as on a cluster before its first deploy.
"""

import glob
import threading
import time

import psycopg2

import bed as bed_mod
from conftest import all_libs
from test_role_flink_cdc import DEPLOY, Inventory

SMOKE_SLOT = "cdcops_smoke"


def pg_admin(bed):
    pg = bed["postgres"]["logical"]
    conn = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"],
                            dbname=pg["demo"]["database"])
    conn.autocommit = True
    return conn


def smoke_slots(bed):
    with pg_admin(bed) as conn, conn.cursor() as cur:
        cur.execute("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s ORDER BY 1",
                    (SMOKE_SLOT + "%",))
        return [r[0] for r in cur.fetchall()]


def publications(bed):
    with pg_admin(bed) as conn, conn.cursor() as cur:
        cur.execute("SELECT pubname FROM pg_publication ORDER BY 1")
        return [r[0] for r in cur.fetchall()]


def rows(inv, area=None, check=None):
    return [r for r in inv.report()["rows"] if (area is None or r["area"] == area)
            and (check is None or r["check"] == check)]


def smoke_jobs():
    return [j for j in bed_mod.rest("/jobs/overview")["jobs"] if j["name"] == "cdcops-smoke"]


def test_smoke_job_finishes_after_the_roles_own_restart(bed, ansible, tmp_path, fresh_cluster):
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True)
    pubs = publications(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, verbosity=3,
                           env={"TMPDIR": str(tmp_path)})
    assert run.rc == 0, run
    # The role restarted both TaskManagers and then the JobManager: nobody restarted anything by hand.
    assert sorted(r["host"] for r in rows(inv, "TaskManager", "restart") if r["status"] == "changed") == ["tm1", "tm2"]
    assert [r["status"] for r in rows(inv, "JobManager", "restart")] == ["changed"]
    (job_row,) = rows(inv, "Smoke", "job")
    assert job_row["status"] == "ok", job_row
    assert "FINISHED" in job_row["detail"]
    assert "read 300 rows of public.products (count(*) 300)" in job_row["detail"]
    assert "org.apache.flink:flink-sql-connector-postgres-cdc:%s" % bed["connectors"]["postgres_cdc"]["current"] \
        in job_row["detail"]
    # The report ends with the smoke job's rows, and the summary has its line.
    assert [r["area"] for r in inv.report()["rows"]][-2:] == ["Smoke", "Smoke"]
    assert "Smoke job: OK job " in run.output
    # It is a real job of the real cluster, and it read every row on the TaskManagers.
    (smoke,) = [r["result"] for r in run.records if r["action"].endswith("flink_sql_job")]
    assert smoke["state"] == "FINISHED" and smoke["source_records"] == 300
    job = bed_mod.rest("/jobs/%s" % smoke["job_id"])
    assert job["state"] == "FINISHED" and job["name"] == "cdcops-smoke"
    assert {tm["host"] for tm in smoke["taskmanagers"]} <= {"127.0.0.2", "127.0.0.3"} and smoke["taskmanagers"]
    # Nothing left behind: no slot, no new publication, no script file.
    assert smoke_slots(bed) == []
    assert publications(bed) == pubs
    assert not glob.glob(str(tmp_path / "cdcops-sql-*"))
    # The password is never shown, even at -vvv.
    assert bed["postgres"]["logical"]["demo"]["password"] not in run.output


def test_deploy_without_restart_gives_the_diagnosis(bed, ansible, tmp_path, fresh_cluster):
    inv = Inventory(bed, tmp_path, flink_cdc_restart="none", flink_cdc_smoke=True)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc != 0
    (job_row,) = rows(inv, "Smoke", "job")
    assert job_row["status"] == "fail"
    # The JobManager still runs without the connector on its classpath: the job cannot even start.
    # (The JobManager fails to deserialize the source: ClassNotFoundException or StreamCorruptedException.)
    assert any(cause in job_row["detail"] for cause in (
        "java.lang.ClassNotFoundException: org.apache.flink.cdc", "StreamCorruptedException")), job_row
    assert "Fix: the JobManager cannot load the connector's classes: it was started before the connector jar " \
        "landed in its lib/" in job_row["detail"]
    assert "Smoke job failed: jobmanager: Smoke job:" in run.output
    # The deploy itself went through and the report says the restarts are still needed.
    assert [r["status"] for r in rows(inv, "JobManager", "restart")] == ["warn"]
    assert smoke_slots(bed) == []


def test_a_jobmanager_host_without_the_jar_gives_the_factory_diagnosis(bed, ansible, tmp_path, pristine_libs):
    inv = Inventory(bed, tmp_path, flink_cdc_deploy_to_jobmanager=False, flink_cdc_smoke=True)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc != 0
    (job_row,) = rows(inv, "Smoke", "job")
    assert job_row["status"] == "fail"
    assert "Could not find any factory for identifier 'postgres-cdc'" in job_row["detail"]
    assert "Fix: no connector jar for 'postgres-cdc' is in lib/ of %s on this host" % bed["jobmanager"]["home"] \
        in job_row["detail"]
    assert not smoke_jobs() or all(j["state"] != "RUNNING" for j in smoke_jobs())


def test_check_mode_submits_nothing_and_says_what_it_would_run(bed, ansible, tmp_path, fresh_cluster):
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True)
    before_jobs = smoke_jobs()
    before_libs = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, check=True)
    assert run.rc == 0, run
    assert smoke_jobs() == before_jobs
    assert all_libs(bed) == before_libs
    (job_row,) = rows(inv, "Smoke", "job")
    assert job_row["status"] == "skip"
    assert ("would run a bounded job (cdcops-smoke) with the SQL client on jobmanager against public.products "
            "(300 rows)") in job_row["detail"]
    assert smoke_slots(bed) == []


def test_an_older_line_leaves_its_slot_and_the_role_drops_it(bed, ansible, tmp_path, fresh_cluster):
    older = bed["connectors"]["postgres_cdc"]["older"]
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True)
    inv.vars["flink_cdc_connectors"] = [{"group_id": "org.apache.flink",
                                         "artifact_id": "flink-sql-connector-postgres-cdc", "version": older}]
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    (job_row,) = rows(inv, "Smoke", "job")
    assert job_row["status"] == "ok" and "read 300 rows" in job_row["detail"] and ":%s on " % older in job_row["detail"]
    # Before 3.5 the source keeps its main slot when the snapshot ends (FLINK-38277): the role dropped it.
    (slots_row,) = rows(inv, "Smoke", "slots")
    assert slots_row["status"] == "ok" and slots_row["detail"].startswith("dropped ") and SMOKE_SLOT in \
        slots_row["detail"], slots_row
    assert smoke_slots(bed) == []


LOCKER_APP = "cdcops-test-locker"


class TableLocker(threading.Thread):
    """Another session, as a forgotten psql would be: ``BEGIN; LOCK TABLE <table> IN ACCESS EXCLUSIVE MODE`` once
    ``ready()`` says so, then idle in that transaction until ``release()``."""

    def __init__(self, bed, table, ready):
        super().__init__(daemon=True)
        self.bed, self.table, self.ready = bed, table, ready
        self.locked = threading.Event()
        self.stop = threading.Event()
        self.pid = None
        self.locked_at = None
        self.error = None

    def run(self):
        try:
            while not self.ready():
                if self.stop.wait(0.2):
                    return
            pg = self.bed["postgres"]["logical"]
            conn = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"],
                                    dbname=pg["demo"]["database"], application_name=LOCKER_APP)
            try:
                with conn.cursor() as cur:  # psycopg2 opens the transaction (BEGIN) with the first statement
                    cur.execute("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE" % self.table)
                self.pid = conn.get_backend_pid()
                self.locked_at = time.time()
                self.locked.set()
                self.stop.wait()
                conn.rollback()
            finally:
                conn.close()
        except Exception as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def release(self):
        self.stop.set()
        self.join(30)


def smoke_job_rows_of(run):
    return [r["result"] for r in run.records if r["action"].endswith("flink_sql_job") and r["status"] != "skipped"]


def test_a_locked_smoke_table_fails_in_time_names_the_holder_and_leaves_nothing(
        bed, ansible, tmp_path, fresh_cluster):
    timeout = 60
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True,
                    flink_cdc_smoke_timeout=timeout)
    # The lock is taken once the role has counted the table's rows and is about to start the SQL client: its
    # script file appears in TMPDIR. The job is planned, submitted and started only then, so its source meets
    # the lock.
    locker = TableLocker(bed, "public.products", lambda: glob.glob(str(tmp_path / "cdcops-sql-*" / "job.sql")))
    user = bed["postgres"]["logical"]["demo"]["user"]
    # PostgreSQL shows another role's client address, transaction start and statement only to members of
    # pg_read_all_stats, as an operator's monitoring role would be (the diagnosis without it: the unit tests).
    with pg_admin(bed) as conn, conn.cursor() as cur:
        cur.execute("GRANT pg_read_all_stats TO %s" % user)
    locker.start()
    try:
        run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, env={"TMPDIR": str(tmp_path)})
        ended = time.time()
        assert locker.error is None, locker.error
        assert locker.locked.is_set(), "the smoke job never started, so the table was never locked: %s" % run
        assert run.rc != 0, run
        (smoke,) = smoke_job_rows_of(run)
        assert smoke.get("job_id"), smoke  # submitted: the lock met a real job
        job = bed_mod.rest("/jobs/%s" % smoke["job_id"])
        # Within its deadline: from the job's start to the end of the play (diagnosis, slot clean-up and the
        # report included) takes the smoke timeout and a bounded rest, not until someone releases the lock.
        assert ended - job["start-time"] / 1000.0 < timeout + 60, (ended - job["start-time"] / 1000.0, smoke)
        (job_row,) = rows(inv, "Smoke", "job")
        assert job_row["status"] == "fail", job_row
        detail = job_row["detail"]
        # The diagnosis names the lock, the session that holds it, and the fix, which is not done for the user.
        assert "public.products" in detail and "AccessExclusiveLock" in detail, detail
        assert "pid %d" % locker.pid in detail and "application_name '%s'" % LOCKER_APP in detail, detail
        assert "user %s" % bed["postgres"]["logical"]["user"] in detail, detail
        assert "idle in transaction" in detail and "LOCK TABLE public.products IN ACCESS EXCLUSIVE MODE" in detail
        assert "SELECT pg_terminate_backend(%d)" % locker.pid in detail, detail
        assert "Smoke job failed: jobmanager: Smoke job:" in run.output
        # The job was cancelled: no smoke job is left on the cluster.
        assert job["state"] == "CANCELED", job["state"]
        assert [j["state"] for j in smoke_jobs() if j["state"] not in ("FINISHED", "FAILED", "CANCELED")] == []
        # Its slots are gone, and the report says so.
        assert smoke_slots(bed) == []
        (slots_row,) = rows(inv, "Smoke", "slots")
        assert slots_row["status"] == "ok", slots_row
        # The other session was left alone: it still holds its lock.
        with pg_admin(bed) as conn, conn.cursor() as cur:
            cur.execute("SELECT mode FROM pg_locks WHERE pid = %s AND relation = 'public.products'::regclass "
                        "AND granted", (locker.pid,))
            assert cur.fetchall() == [("AccessExclusiveLock",)]
    finally:
        locker.release()
        with pg_admin(bed) as conn, conn.cursor() as cur:
            cur.execute("REVOKE pg_read_all_stats FROM %s" % user)
    # Once the lock is gone nothing of the smoke job comes back: no slot whose creation waited behind it.
    time.sleep(5)
    assert smoke_slots(bed) == []
    assert [j["state"] for j in smoke_jobs() if j["state"] not in ("FINISHED", "FAILED", "CANCELED")] == []


SMOKE_ONLY = """
- hosts: flink_jobmanager:flink_taskmanagers
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: cdcops.flink_cdc.flink_cdc
        tasks_from: smoke
"""


def test_a_connector_line_without_a_bounded_mode_is_not_started(bed, ansible, tmp_path):
    inv = Inventory(bed, tmp_path, flink_cdc_smoke=True)
    inv.vars["flink_cdc_connectors"] = [{"group_id": "com.ververica", "artifact_id": "flink-sql-connector-postgres-cdc",
                                         "version": "3.0.1"}]
    before = smoke_jobs()
    run = ansible.playbook(SMOKE_ONLY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    assert not [r for r in run.records if r["action"].endswith("flink_sql_job") and r["status"] != "skipped"]
    assert smoke_jobs() == before
    facts = [r["result"]["ansible_facts"] for r in run.records if "ansible_facts" in r["result"]
             and "__flink_cdc_smoke_rows" in r["result"]["ansible_facts"]]
    (row,) = facts[-1]["__flink_cdc_smoke_rows"]
    assert row["status"] == "warn"
    assert row["detail"].startswith("not run: postgres-cdc 3.0.1 has no bounded mode")


def test_a_table_locked_before_the_phase_fails_it_at_once_without_a_job(bed, ansible, tmp_path):
    inv = Inventory(bed, tmp_path, flink_cdc_smoke=True)
    before = smoke_jobs()
    locker = TableLocker(bed, "public.products", lambda: True)
    locker.start()
    try:
        assert locker.locked.wait(30), locker.error
        started = time.monotonic()
        run = ansible.playbook(SMOKE_ONLY, inventory=inv.path, extra_vars=inv.vars)
        took = time.monotonic() - started
        assert run.rc == 0, run  # tasks_from: smoke records the row; the summary that fails the play is not run
        # The count of the table waited its 10 s for the lock, not until the lock ended.
        assert took < 10 + 60, took
        (count,) = [r["result"] for r in run.records if r["task"].endswith("Read the smoke table (primary key, count(*))")]
        assert count["tables"][0]["count_error"].endswith("waited 10s for a lock and gave up (lock_timeout)")
        assert smoke_job_rows_of(run) == []
        assert smoke_jobs() == before
        facts = [r["result"]["ansible_facts"] for r in run.records if "ansible_facts" in r["result"]
                 and "__flink_cdc_smoke_rows" in r["result"]["ansible_facts"]]
        (row,) = facts[-1]["__flink_cdc_smoke_rows"]
        assert row["status"] == "fail", row
        assert row["detail"].startswith("not run: counting the rows of public.products waited 10s for a lock and "
                                        "gave up (lock_timeout): the job was not started. public.products is locked: "
                                        "pid %d (application_name '%s', user " % (locker.pid, LOCKER_APP)), row
        assert "SELECT pg_terminate_backend(%d)" % locker.pid in row["detail"]
    finally:
        locker.release()
    assert locker.error is None, locker.error
