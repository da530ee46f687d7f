"""A real CDC pipeline on the bed for the integration tests: PostgreSQL -> Flink (postgres-cdc) -> PostgreSQL
(the JDBC connector; no StarRocks server exists here).

``Pipeline`` makes a source table of its own in the bed's ``shop`` database with a publication of its own, and a
sink table of the same name in the bed's ``sink`` database. Every sink table has an audit trigger that counts each
row the job writes, so a test sees not only that the sink equals the source, row by row, but also that nothing was
written twice: with ``sink.buffer-flush.max-rows = 1`` every change the job reads is exactly one write (the upsert
sink drops UPDATE_BEFORE), so the audit count must equal the rows of the snapshot plus the changes made after it.
``Writer`` changes rows continuously while a test upgrades the job. The ``pipelines`` fixture (conftest.py) makes
them and drops their slots afterwards.
"""

import json
import random
import threading
import time

import psycopg2

import bed as bed_mod

SECRET_NAME = "pg_password"


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

    def drop_slot(self, timeout=30):
        """Drop this pipeline's slots (its own and the backfill slots ``<slot>_<n>``), once no job reads them."""
        deadline = time.monotonic() + timeout
        with self.admin(self.pg["demo"]["database"]) as conn, conn.cursor() as cur:
            while True:
                cur.execute("SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = %s OR slot_name ~ %s",
                            (self.slot, "^%s_[0-9]+$" % self.slot))
                slots = cur.fetchall()
                if not any(active for _name, active in slots) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            for name, active in slots:
                if not active:
                    cur.execute("SELECT pg_drop_replication_slot(%s)", (name,))

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
