"""flink_job on the real bed: a real CDC job, PostgreSQL -> Flink (postgres-cdc) -> PostgreSQL (JDBC connector).

The source is a table of its own in the bed's ``shop`` database with a publication of its own; the sink is a
table of the same name in the bed's ``sink`` database, written through ``org.apache.flink:flink-connector-jdbc``
(no StarRocks server exists here). Every sink table has an audit trigger that counts each row the job writes,
so a test sees not only that the sink equals the source, row by row, but also that nothing was written twice:
with ``sink.buffer-flush.max-rows = 1`` every change the job reads is exactly one write (the upsert sink drops
UPDATE_BEFORE), so the audit count must equal the rows of the snapshot plus the changes made after it.

The processes are restarted once for this file with the postgres-cdc jar that fits the bed's Flink and the JDBC
jar in every lib/ (real jars from Maven Central, tests/bed/artifacts.py), and once more at the end without them.
"""

import json
import os
import random
import shutil
import threading
import time

import psycopg2
import pytest

import artifacts
import bed as bed_mod
from conftest import reset_libs, restart_processes


SECRET_NAME = "pg_password"


@pytest.fixture(scope="module")
def cdc_bed(bed):
    """The bed's processes restarted with postgres-cdc and the JDBC connector in every lib/."""
    jars = [artifacts.fetch(c["group_id"], c["artifact_id"], c["version"]) for c in bed["demo_connectors"]
            if c["artifact_id"] == "flink-sql-connector-postgres-cdc"]
    jdbc = artifacts.jdbc_sink(bed["flink_version"])
    assert jars and jdbc, "the bed's Flink %s has no postgres-cdc or JDBC build here" % bed["flink_version"]
    jars.append(artifacts.fetch(jdbc.group_id, jdbc.artifact_id, jdbc.version))
    reset_libs(bed)
    for home in [bed["jobmanager"]["home"]] + [tm["home"] for tm in bed["taskmanagers"]]:
        for jar in jars:
            shutil.copyfile(jar, os.path.join(home, "lib", os.path.basename(jar)))
    restart_processes_keeping_libs(bed)
    yield bed
    restart_processes(bed)


def restart_processes_keeping_libs(bed):
    for tm in bed["taskmanagers"]:
        bed_mod.stop_taskmanager(tm["host"])
    bed_mod.stop_jobmanager()
    bed_mod.start_jobmanager(bed_mod.flink_dist())
    for tm in bed["taskmanagers"]:
        bed_mod.start_taskmanager(tm["host"])


def restart_jobmanager(bed):
    """The JobManager alone, as after a crash: without high availability it forgets every job."""
    bed_mod.stop_jobmanager()
    bed_mod.start_jobmanager(bed_mod.flink_dist())
    for tm in bed["taskmanagers"]:
        bed_mod.wait_for("TaskManager %s to register again" % tm["host"],
                         lambda h=tm["host"]: h in bed_mod.registered_hosts(heartbeat=True), timeout=120)


class Pipeline:
    """One source table (shop.public.<table>), its publication and slot, and its sink table (sink.public.<table>)
    with an audit trigger."""

    def __init__(self, bed, tmp_path, table, rows=20):
        pg = bed["postgres"]["logical"]
        self.bed = bed
        self.pg = pg
        self.table = table
        self.slot = table + "_slot"
        self.publication = table + "_pub"
        self.password = pg["demo"]["password"]
        self.tmp = tmp_path
        self.next_id = rows + 1
        with self.admin(pg["demo"]["database"]) as conn, conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS public.%s" % table)
            cur.execute("CREATE TABLE public.%s (id bigint PRIMARY KEY, name text NOT NULL, n int NOT NULL)" % table)
            cur.execute("ALTER TABLE public.%s REPLICA IDENTITY FULL" % table)
            cur.execute("GRANT SELECT ON public.%s TO %s" % (table, pg["demo"]["user"]))
            cur.execute("INSERT INTO public.%s SELECT g, 'row ' || g, 0 FROM generate_series(1, %d) g" % (table, rows))
            cur.execute("DROP PUBLICATION IF EXISTS %s" % self.publication)
            cur.execute("CREATE PUBLICATION %s FOR TABLE public.%s" % (self.publication, table))
        self.drop_slot()
        with self.admin(pg["demo"]["sink_database"]) as conn, conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS public.%s, public.%s_audit" % (table, table))
            cur.execute("CREATE TABLE public.%s (id bigint PRIMARY KEY, name text NOT NULL, n int NOT NULL)" % table)
            cur.execute("CREATE TABLE public.%s_audit (op text NOT NULL, id bigint NOT NULL)" % table)
            cur.execute("ALTER TABLE public.%s OWNER TO %s" % (table, pg["demo"]["user"]))
            cur.execute("ALTER TABLE public.%s_audit OWNER TO %s" % (table, pg["demo"]["user"]))
            cur.execute("""CREATE OR REPLACE FUNCTION public.%s_audit() RETURNS trigger LANGUAGE plpgsql AS $$
                           BEGIN
                             INSERT INTO public.%s_audit VALUES (TG_OP, COALESCE(NEW.id, OLD.id));
                             RETURN NULL;
                           END $$""" % (table, table))
            cur.execute("CREATE TRIGGER %s_audit AFTER INSERT OR UPDATE OR DELETE ON public.%s FOR EACH ROW "
                        "EXECUTE FUNCTION public.%s_audit()" % (table, table, table))
        self.changes = rows  # every row of the snapshot is one write

    def admin(self, dbname):
        conn = psycopg2.connect(host=self.pg["host"], port=self.pg["port"], user=self.pg["user"],
                                password=self.pg["password"], dbname=dbname)
        conn.autocommit = True
        return conn

    def drop_slot(self):
        with self.admin(self.pg["demo"]["database"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE slot_name = %s AND NOT active", (self.slot,))

    def slot_exists(self):
        with self.admin(self.pg["demo"]["database"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (self.slot,))
            return cur.fetchone()[0] == 1

    def sql(self, where="", tables=None, flush="500ms"):
        pg = self.pg
        statements, inserts = [], []
        for name in tables or [self.table]:
            statements.append(
                "CREATE TABLE src_%(t)s (id BIGINT, name STRING, n INT, PRIMARY KEY (id) NOT ENFORCED) WITH (\n"
                "  'connector' = 'postgres-cdc', 'hostname' = '%(host)s', 'port' = '%(port)d',\n"
                "  'username' = '%(user)s', 'password' = '${%(secret)s}', 'database-name' = '%(db)s',\n"
                "  'schema-name' = 'public', 'table-name' = '%(t)s', 'slot.name' = '%(t)s_slot',\n"
                "  'decoding.plugin.name' = 'pgoutput', 'debezium.publication.name' = '%(t)s_pub',\n"
                "  'debezium.publication.autocreate.mode' = 'disabled', 'scan.incremental.snapshot.enabled' = 'true')"
                % {"t": name, "host": pg["host"], "port": pg["port"], "user": pg["demo"]["user"],
                   "secret": SECRET_NAME, "db": pg["demo"]["database"]})
            statements.append(
                "CREATE TABLE snk_%(t)s (id BIGINT, name STRING, n INT, PRIMARY KEY (id) NOT ENFORCED) WITH (\n"
                "  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://%(host)s:%(port)d/%(db)s', 'table-name' = '%(t)s',\n"
                "  'username' = '%(user)s', 'password' = '${%(secret)s}',\n"
                "  'sink.buffer-flush.max-rows' = '1', 'sink.buffer-flush.interval' = '%(flush)s')"
                % {"t": name, "host": pg["host"], "port": pg["port"], "user": pg["demo"]["user"],
                   "secret": SECRET_NAME, "db": pg["demo"]["sink_database"], "flush": flush})
            inserts.append("INSERT INTO snk_%s SELECT id, name, n FROM src_%s %s;" % (name, name, where))
        return ";\n".join(statements) + ";\nEXECUTE STATEMENT SET BEGIN\n" + "\n".join(inserts) + "\nEND;\n"

    def args(self, **kw):
        out = {"url": self.bed["rest_url"], "flink_home": self.bed["jobmanager"]["home"], "name": "fj-" + self.table,
               "sql": self.sql(), "sql_secrets": {SECRET_NAME: self.password},
               "settings": {"execution.checkpointing.interval": "1s",
                            "state.checkpoints.dir": "file://%s/checkpoints" % self.tmp},
               "savepoint_dir": "file://%s/savepoints" % self.tmp, "record_dir": str(self.tmp / "records"),
               "wait_timeout": 90}
        out.update(kw)
        return out

    def record(self):
        with open(str(self.tmp / "records" / ("fj-%s.json" % self.table))) as f:
            return json.load(f)

    def source_rows(self):
        return self._rows(self.pg["demo"]["database"], "SELECT id, name, n FROM public.%s ORDER BY id" % self.table)

    def sink_rows(self):
        return self._rows(self.pg["demo"]["sink_database"], "SELECT id, name, n FROM public.%s ORDER BY id" % self.table)

    def writes(self):
        return self._rows(self.pg["demo"]["sink_database"], "SELECT count(*) FROM public.%s_audit" % self.table)[0][0]

    def _rows(self, dbname, query):
        with self.admin(dbname) as conn, conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall()

    def change(self, count=1, rng=None):
        """``count`` random changes (insert, update or delete), each its own transaction."""
        rng = rng or random.Random()
        with self.admin(self.pg["demo"]["database"]) as conn, conn.cursor() as cur:
            for _change in range(count):
                cur.execute("SELECT id FROM public.%s ORDER BY id" % self.table)
                ids = [r[0] for r in cur.fetchall()]
                op = rng.choice(("insert", "update", "update", "delete")) if ids else "insert"
                if op == "insert":
                    cur.execute("INSERT INTO public.%s VALUES (%%s, %%s, 0)" % self.table,
                                (self.next_id, "row %d" % self.next_id))
                    self.next_id += 1
                elif op == "update":
                    cur.execute("UPDATE public.%s SET n = n + 1 WHERE id = %%s" % self.table, (rng.choice(ids),))
                else:
                    cur.execute("DELETE FROM public.%s WHERE id = %%s" % self.table, (rng.choice(ids),))
                self.changes += 1

    def converged(self, timeout=60):
        """Wait until the sink equals the source row by row; return the source rows."""
        deadline = time.monotonic() + timeout
        while True:
            source, sink = self.source_rows(), self.sink_rows()
            if source == sink:
                return source
            if time.monotonic() > deadline:
                missing = sorted(set(source) - set(sink))[:5]
                extra = sorted(set(sink) - set(source))[:5]
                raise AssertionError("the sink of %s did not converge in %ds: missing %s, extra %s" % (
                    self.table, timeout, missing, extra))
            time.sleep(0.5)

    def assert_exactly_once(self, timeout=30):
        """The sink equals the source, and it received one write per change: nothing lost, nothing twice."""
        self.converged()
        deadline = time.monotonic() + timeout
        while self.writes() < self.changes and time.monotonic() < deadline:
            time.sleep(0.5)
        assert self.writes() == self.changes, "%d writes in the sink for %d changes in the source" % (
            self.writes(), self.changes)


class Writer(threading.Thread):
    """Changes rows of the source continuously until stopped."""

    def __init__(self, pipeline, interval=0.05):
        super().__init__(daemon=True)
        self.pipeline = pipeline
        self.interval = interval
        self.stop_event = threading.Event()
        self.error = None

    def run(self):
        rng = random.Random(7)
        try:
            while not self.stop_event.is_set():
                self.pipeline.change(1, rng)
                time.sleep(self.interval)
        except Exception as exc:  # pragma: no cover - reported by stop()
            self.error = exc

    def stop(self):
        self.stop_event.set()
        self.join(30)
        assert self.error is None, self.error


def jobs_named(name):
    return [j for j in bed_mod.rest("/jobs/overview")["jobs"] if j["name"] == name]


def running(name):
    return [j for j in jobs_named(name) if j["state"] == "RUNNING"]


def test_check_mode_submit_rerun_and_diff(cdc_bed, ansible, tmp_path):
    p = Pipeline(cdc_bed, tmp_path, "fj_basic")
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


def test_upgrade_through_a_savepoint_while_rows_change(cdc_bed, ansible, tmp_path):
    p = Pipeline(cdc_bed, tmp_path, "fj_upgrade")
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


def test_suspend_write_resume_and_resume_after_the_jobmanager_restarted(cdc_bed, ansible, tmp_path):
    p = Pipeline(cdc_bed, tmp_path, "fj_suspend")
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


def test_a_failed_restore_is_diagnosed_and_the_way_back_works(cdc_bed, ansible, tmp_path):
    p = Pipeline(cdc_bed, tmp_path, "fj_two")
    q = Pipeline(cdc_bed, tmp_path, "fj_other")
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
    q.drop_slot()


def test_a_job_it_did_not_start_is_reported_never_duplicated(cdc_bed, ansible, tmp_path):
    bed_mod.job_start("fj-foreign")
    try:
        (job,) = running("fj-foreign")
        p = Pipeline(cdc_bed, tmp_path, "fj_foreign")
        for args in (p.args(name="fj-foreign"), p.args(name="fj-foreign", state="absent")):
            run = ansible.module("flink_job", args)
            assert run.rc != 0
            assert "a job named fj-foreign runs on the cluster that flink_job did not start (%s RUNNING)" % job["jid"] \
                in run.result["msg"]
        assert [j["jid"] for j in running("fj-foreign")] == [job["jid"]]
    finally:
        bed_mod.jobs_cancel()


def test_no_savepoint_directory_fails_before_anything(cdc_bed, ansible, tmp_path):
    p = Pipeline(cdc_bed, tmp_path, "fj_nodir", rows=1)
    args = p.args()
    del args["savepoint_dir"]
    run = ansible.module("flink_job", args)
    assert run.rc != 0
    assert run.result["msg"].startswith("no savepoint directory: set savepoint_dir, or the cluster's "
                                        "execution.checkpointing.savepoint-dir")
    assert not jobs_named("fj-fj_nodir")
