"""Benchmark: a long-running CDC pipeline kept by flink_job, against the same steps done by hand, on a real cluster.

Usage (from the repository root, with the project venv; bench/bench.py runs it after the role figures):

    .venv/bin/python bench/pipeline_bench.py OUT.json [--rate 20] [--steady 20] [--keep-bed]

On a PRIVATE test bed (tests/bed/bed.py with its own directory and free ports; Flink 1.20.3, two TaskManagers,
the real postgres-cdc 3.5.0 and flink-connector-jdbc 3.3.0-1.20 jars in every lib/), one pipeline streams a source
table ``bench_events`` of the bed's ``shop`` database into a table of the same name in its ``sink`` database (the
JDBC connector; no StarRocks server exists here), with a 1 s sink flush and 1 s checkpoints. A writer inserts
rows at a steady rate; each row carries the time PostgreSQL wrote it (``written_ms``) and the sink table stamps the
time the row arrived (``arrived_ms``, a column default), both from the same server clock. An audit trigger counts
every write the sink receives.

Figures, each for flink_job (``cdcops.flink_cdc.flink_job`` run by ``ansible``) and by hand (what an operator
scripts today: ``bin/sql-client.sh -f job.sql``, then the REST API polled until the job runs; for an upgrade
``POST /jobs/:id/stop`` with a savepoint, its trigger polled, the path copied into ``SET
'execution.state-recovery.path'`` and the SQL client again):

* submit: seconds from the command until the job runs (every vertex RUNNING);
* upgrade downtime: from the stop request until the first row written after it reaches the sink;
* end-to-end latency p50 and p95 of the rows written at the steady rate, outside the upgrades;
* rows lost and rows written twice, over the whole run (the sink against the source, and the audit count against
  the rows written).

Targets: upgrade downtime <= 15 s (flink_job), p95 latency <= 3 s with a 1 s sink flush, 0 rows lost and 0 read
twice. A benchmark: missed targets are printed; the exit status is 0 unless it could not run.
"""

import argparse
import datetime
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))

from bench_common import free_ports, logger  # noqa: E402  pylint: disable=wrong-import-position

log = logger("pipeline-bench")
VENV_BIN = os.path.dirname(sys.executable)
TABLE = "bench_events"
SLOT = "bench_events_slot"
PUBLICATION = "bench_events_pub"
NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
TARGETS = {"downtime_s": 15.0, "latency_p95_s": 3.0}


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="cdcops-pipeline-bench-")
        self.bed = None
        self.state = None
        self.pg = None
        self.seq = 0
        self.written = 0

    # --- the private bed

    def bed_up(self):
        ports = free_ports(5)
        os.environ.update({"CDCOPS_BED_DIR": os.path.join(self.work, "bed"), "CDCOPS_BED_REST_PORT": str(ports[0]),
                           "CDCOPS_BED_JM_RPC_PORT": str(ports[1]), "CDCOPS_BED_PG_PORT": str(ports[2]),
                           "CDCOPS_BED_PG_REPLICA_PORT": str(ports[3]), "CDCOPS_BED_MAVEN_PORT": str(ports[4])})
        os.environ.pop("CDCOPS_BED_FLINK", None)
        self.bed = importlib.import_module("bed")
        artifacts = importlib.import_module("artifacts")
        log("private bed in %s (REST port %d)" % (self.work, ports[0]))
        self.bed.up()
        self.state = self.bed.state()
        self.pg = self.state["postgres"]["logical"]
        jars = [artifacts.fetch(c["group_id"], c["artifact_id"], c["version"]) for c in self.state["demo_connectors"]
                if c["artifact_id"] == "flink-sql-connector-postgres-cdc"]
        jdbc = artifacts.jdbc_sink(self.state["flink_version"])
        jars.append(artifacts.fetch(jdbc.group_id, jdbc.artifact_id, jdbc.version))
        homes = [self.state["jobmanager"]["home"]] + [tm["home"] for tm in self.state["taskmanagers"]]
        for home in homes:
            for jar in jars:
                shutil.copyfile(jar, os.path.join(home, "lib", os.path.basename(jar)))
        for tm in self.state["taskmanagers"]:
            self.bed.stop_taskmanager(tm["host"])
        self.bed.stop_jobmanager()
        self.bed.start_jobmanager(self.bed.flink_dist())
        for tm in self.state["taskmanagers"]:
            self.bed.start_taskmanager(tm["host"])
        log("Flink %s with %s" % (self.state["flink_version"], ", ".join(os.path.basename(j) for j in jars)))

    def bed_down(self):
        if self.bed is None:
            return
        if self.args.keep_bed:
            log("bed kept: CDCOPS_BED_DIR=%s" % os.environ["CDCOPS_BED_DIR"])
            return
        self.bed.down()
        shutil.rmtree(self.bed.pg_root(), ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)

    # --- PostgreSQL

    def sql(self, dbname, *statements, fetch=False):
        pg_seed = importlib.import_module("pg_seed")
        conn = pg_seed.admin_connect(self.pg, dbname)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
                return cur.fetchall() if fetch else None
        finally:
            conn.close()

    def tables(self):
        demo = self.pg["demo"]
        self.sql(demo["database"],
                 "DROP TABLE IF EXISTS %s" % TABLE,
                 "CREATE TABLE %s (id bigint PRIMARY KEY, written_ms bigint NOT NULL DEFAULT %s)" % (TABLE, NOW_MS),
                 "GRANT SELECT ON %s TO %s" % (TABLE, demo["user"]),
                 "DROP PUBLICATION IF EXISTS %s" % PUBLICATION,
                 "CREATE PUBLICATION %s FOR TABLE %s" % (PUBLICATION, TABLE))
        self.sql(demo["sink_database"],
                 "DROP TABLE IF EXISTS %s, %s_audit" % (TABLE, TABLE),
                 "CREATE TABLE %s (id bigint PRIMARY KEY, written_ms bigint NOT NULL, arrived_ms bigint NOT NULL "
                 "DEFAULT %s)" % (TABLE, NOW_MS),
                 "CREATE TABLE %s_audit (id bigint NOT NULL)" % TABLE,
                 "CREATE OR REPLACE FUNCTION %s_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "INSERT INTO %s_audit VALUES (NEW.id); RETURN NULL; END $$" % (TABLE, TABLE),
                 "CREATE TRIGGER %s_audit AFTER INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s_audit()"
                 % (TABLE, TABLE, TABLE),
                 "ALTER TABLE %s OWNER TO %s" % (TABLE, demo["user"]),
                 "ALTER TABLE %s_audit OWNER TO %s" % (TABLE, demo["user"]))
        self.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                             "WHERE slot_name LIKE '%s%%' AND NOT active" % SLOT)

    def now_ms(self):
        return self.sql("postgres", "SELECT %s" % NOW_MS, fetch=True)[0][0]

    def job_sql(self, flush="1s"):
        demo = self.pg["demo"]
        common = {"host": self.pg["host"], "port": self.pg["port"], "user": demo["user"]}
        return (
            "CREATE TABLE src (id BIGINT, written_ms BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ("
            "'connector' = 'postgres-cdc', 'hostname' = '%(host)s', 'port' = '%(port)d', 'username' = '%(user)s', "
            "'password' = '${pg_password}', 'database-name' = '%(db)s', 'schema-name' = 'public', "
            "'table-name' = '%(table)s', 'slot.name' = '%(slot)s', 'decoding.plugin.name' = 'pgoutput', "
            "'debezium.publication.name' = '%(pub)s', 'debezium.publication.autocreate.mode' = 'disabled', "
            "'scan.incremental.snapshot.enabled' = 'true');\n"
            "CREATE TABLE snk (id BIGINT, written_ms BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ("
            "'connector' = 'jdbc', 'url' = 'jdbc:postgresql://%(host)s:%(port)d/%(sink)s', 'table-name' = '%(table)s', "
            "'username' = '%(user)s', 'password' = '${pg_password}', 'sink.buffer-flush.interval' = '%(flush)s', "
            "'sink.buffer-flush.max-rows' = '1');\n"
            "INSERT INTO snk SELECT id, written_ms FROM src;\n" % dict(
                common, db=demo["database"], sink=demo["sink_database"], table=TABLE, slot=SLOT, pub=PUBLICATION,
                flush=flush))

    # --- the writer

    def insert(self, count):
        rows = []
        for _i in range(count):
            self.seq += 1
            rows.append("(%d)" % self.seq)
        self.sql(self.pg["demo"]["database"], "INSERT INTO %s (id) VALUES %s" % (TABLE, ", ".join(rows)))
        self.written += count

    def write_for(self, seconds, stop=None):
        """Insert one row every 1/rate s for ``seconds`` (or until ``stop`` is set)."""
        interval = 1.0 / self.args.rate
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            self.insert(1)
            time.sleep(interval)

    def arrivals(self, since_id=0):
        return self.sql(self.pg["demo"]["sink_database"], "SELECT id, written_ms, arrived_ms FROM %s WHERE id > %d "
                        "ORDER BY id" % (TABLE, since_id), fetch=True)

    def wait_converged(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.sql(self.pg["demo"]["sink_database"], "SELECT count(*) FROM %s" % TABLE, fetch=True)[0][0]
            if got >= self.written:
                return True
            time.sleep(0.5)
        return False

    def integrity(self):
        demo = self.pg["demo"]
        source = {r[0] for r in self.sql(demo["database"], "SELECT id FROM %s" % TABLE, fetch=True)}
        sink = {r[0] for r in self.sql(demo["sink_database"], "SELECT id FROM %s" % TABLE, fetch=True)}
        writes = self.sql(demo["sink_database"], "SELECT count(*) FROM %s_audit" % TABLE, fetch=True)[0][0]
        return {"rows_written": self.written, "lost": len(source - sink), "extra": len(sink - source),
                "written_twice": writes - len(sink)}

    # --- REST and the two ways of running the job

    def rest(self, path, method="GET", body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.state["rest_url"] + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
        return json.loads(text) if text.strip() else {}

    def wait_running(self, job_id, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                job = self.rest("/jobs/%s" % job_id)
                if job["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in job["vertices"]):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("job %s did not run within %ds" % (job_id, timeout))

    def module(self, name, **kw):
        args = {"url": self.state["rest_url"], "flink_home": self.state["jobmanager"]["home"], "name": name,
                "sql": self.job_sql(kw.pop("flush", "1s")), "sql_secrets": {"pg_password": self.pg["demo"]["password"]},
                "settings": {"execution.checkpointing.interval": "1s"},
                "savepoint_dir": "file://%s/savepoints" % self.work, "record_dir": os.path.join(self.work, "records"),
                "wait_timeout": 120}
        args.update(kw)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(os.path.dirname(VENV_BIN), "collections"),
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m",
                               "cdcops.flink_cdc.flink_job", "-a", json.dumps(args)], env=env, capture_output=True,
                              text=True, check=False, stdin=subprocess.DEVNULL, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError("flink_job failed: %s" % (proc.stdout[-2000:] + proc.stderr[-1000:]))
        # "localhost | CHANGED => {...}": the module's result, as the default callback prints it.
        return json.loads(proc.stdout[proc.stdout.index("=> {") + 3:])

    def client(self, script_sql, explain=False):
        """bin/sql-client.sh -f, as an operator runs it; the job ID it printed (with ``explain``, the plan)."""
        home = self.state["jobmanager"]["home"]
        path = os.path.join(self.work, "job.sql")
        with open(path, "w") as f:
            f.write(script_sql.replace("${pg_password}", self.pg["demo"]["password"]))
        os.chmod(path, 0o600)
        env = dict(os.environ, FLINK_HOME=home, FLINK_CONF_DIR=os.path.join(home, "conf"))
        proc = subprocess.run([os.path.join(home, "bin", "sql-client.sh"), "--history", os.path.join(self.work, "h"),
                               "-f", path], env=env, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=300)
        os.unlink(path)
        if explain:
            if "== Optimized Physical Plan ==" not in proc.stdout:
                raise RuntimeError("the SQL client planned nothing: %s" % proc.stdout[-1500:])
            return None
        for line in proc.stdout.splitlines():
            if "Job ID:" in line:
                return line.split("Job ID:")[1].strip()
        raise RuntimeError("the SQL client submitted no job: %s" % proc.stdout[-1500:])

    def by_hand_submit(self, name, restore=None):
        settings = "SET 'pipeline.name' = '%s';\nSET 'execution.checkpointing.interval' = '1s';\n" % name
        if restore:
            settings += "SET 'execution.state-recovery.path' = '%s';\n" % restore
        job_id = self.client(settings + self.job_sql())
        self.wait_running(job_id)
        return job_id

    def by_hand_stop(self, job_id):
        trigger = self.rest("/jobs/%s/stop" % job_id, "POST", {"targetDirectory": "file://%s/savepoints" % self.work,
                                                               "drain": False})["request-id"]
        while True:
            status = self.rest("/jobs/%s/savepoints/%s" % (job_id, trigger))
            if status["status"]["id"] == "COMPLETED":
                return status["operation"]["location"]
            time.sleep(0.2)

    # --- measurements

    def steady_latency(self, seconds):
        first = self.seq
        self.write_for(seconds)
        self.wait_converged()
        latencies = [(arrived - written) / 1000.0 for _id, written, arrived in self.arrivals(first)]
        return {"rows": len(latencies), "p50_s": percentile(latencies, 0.5), "p95_s": percentile(latencies, 0.95),
                "max_s": max(latencies) if latencies else None}

    def running_job(self, name):
        return next(j["jid"] for j in self.rest("/jobs/overview")["jobs"] if j["name"] == name and j["state"] == "RUNNING")

    def downtime(self, name, upgrade):
        """Rows keep coming while ``upgrade()`` runs. The downtime runs from the stop request (the trigger time of
        the old job's savepoint, by the JobManager's clock, the same host's as PostgreSQL's here) until the first
        row written after it reached the sink: the old job emits nothing after its savepoint, so that row waited
        for the new job."""
        old = self.running_job(name)
        stop = threading.Event()
        writer = threading.Thread(target=self.write_for, args=(3600, stop), daemon=True)
        writer.start()
        time.sleep(2)
        first = self.seq
        started = time.monotonic()
        upgrade()
        took = time.monotonic() - started
        time.sleep(3)
        stop.set()
        writer.join(30)
        self.wait_converged()
        savepoint = self.rest("/jobs/%s/checkpoints" % old)["latest"]["savepoint"]
        t0 = savepoint["trigger_timestamp"]
        after = [arrived for _id, written, arrived in self.arrivals(first) if written >= t0]
        out = {"downtime_s": round((min(after) - t0) / 1000.0, 2) if after else None, "command_s": round(took, 2)}
        # Where the downtime goes, by the JobManager's clock: the savepoint, the gap until the new job reached the
        # JobManager (the old job's end, then the SQL client's start and planning), its scheduling until every task
        # ran, and the source's first change after that.
        old_job, new_job = self.rest("/jobs/%s" % old), self.rest("/jobs/%s" % self.running_job(name))
        tasks_running = max(v.get("start-time") or 0 for v in new_job.get("vertices") or [{}])
        marks = [("savepoint_s", savepoint.get("latest_ack_timestamp")), ("old_job_end_s", old_job.get("end-time")),
                 ("submitted_s", new_job.get("start-time")), ("tasks_running_s", tasks_running),
                 ("first_row_s", min(after) if after else None)]
        out["phases"] = {}
        previous = t0
        for key, mark in marks:
            if mark and mark > 0 and previous:
                out["phases"][key] = round((mark - previous) / 1000.0, 2)
                previous = mark
        return out

    def run(self):
        self.bed_up()
        self.tables()
        self.insert(100)
        # One SQL client run that plans the job (EXPLAIN) first, so that neither side pays for the first read of
        # the connector jars and the planner's classes from disk.
        self.client(self.job_sql().replace("INSERT INTO", "EXPLAIN INSERT INTO"), explain=True)
        out = {"generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "flink_version": self.state["flink_version"], "rate_per_s": self.args.rate, "sink_flush": "1s",
               "flink_job": {}, "by_hand": {}}
        # flink_job: submit, steady latency, upgrade through a savepoint (a changed sink flush), steady again.
        started = time.monotonic()
        self.module("bench-pipeline")
        out["flink_job"]["submit_s"] = round(time.monotonic() - started, 2)
        self.wait_converged()
        out["flink_job"]["latency"] = self.steady_latency(self.args.steady)
        out["flink_job"]["upgrade"] = self.downtime("bench-pipeline",
                                                    lambda: self.module("bench-pipeline", flush="900ms"))
        savepoint = self.module("bench-pipeline", state="suspended")["savepoint"]
        # By hand, from the savepoint flink_job left: the SQL client, REST polling, a savepoint copied by hand.
        started = time.monotonic()
        job_id = self.by_hand_submit("bench-by-hand", restore=savepoint)
        out["by_hand"]["submit_s"] = round(time.monotonic() - started, 2)
        out["by_hand"]["latency"] = self.steady_latency(self.args.steady)
        holder = {"job": job_id}

        def by_hand_upgrade():
            location = self.by_hand_stop(holder["job"])
            holder["job"] = self.by_hand_submit("bench-by-hand", restore=location)

        out["by_hand"]["upgrade"] = self.downtime("bench-by-hand", by_hand_upgrade)
        self.rest("/jobs/%s?mode=cancel" % holder["job"], "PATCH")
        out["integrity"] = self.integrity()
        out["targets"] = targets(out)
        return out


def targets(out):
    job, integrity = out["flink_job"], out["integrity"]
    downtime = job["upgrade"]["downtime_s"]
    p95 = job["latency"]["p95_s"]
    rows = [
        ("upgrade downtime <= %.0f s (flink_job)" % TARGETS["downtime_s"], downtime,
         downtime is not None and downtime <= TARGETS["downtime_s"]),
        ("p95 latency <= %.0f s with a 1 s sink flush (flink_job)" % TARGETS["latency_p95_s"], p95,
         p95 is not None and p95 <= TARGETS["latency_p95_s"]),
        ("0 rows lost", integrity["lost"], integrity["lost"] == 0 and integrity["extra"] == 0),
        ("0 rows read twice", integrity["written_twice"], integrity["written_twice"] == 0),
    ]
    return [{"target": name, "value": value, "facts": "measured %s" % value, "holds": bool(holds)}
            for name, value, holds in rows]


def table(out):
    def fmt(value):
        return "-" if value is None else ("%.2f" % value if isinstance(value, float) else str(value))

    job, hand = out["flink_job"], out["by_hand"]
    lines = ["Pipeline figures (bench/pipeline_bench.py, Flink %s, %s rows/s, sink flush %s):" % (
        out["flink_version"], out["rate_per_s"], out["sink_flush"]),
        "  %-46s %12s %12s" % ("", "flink_job", "by hand"),
        "  %-46s %12s %12s" % ("submit until running (s)", fmt(job["submit_s"]), fmt(hand["submit_s"])),
        "  %-46s %12s %12s" % ("upgrade downtime (s)", fmt(job["upgrade"]["downtime_s"]),
                               fmt(hand["upgrade"]["downtime_s"])),
        "  %-46s %12s %12s" % ("upgrade command (s)", fmt(job["upgrade"]["command_s"]), fmt(hand["upgrade"]["command_s"])),
    ]
    for key, label in (("savepoint_s", "savepoint"), ("old_job_end_s", "then the old job ended"),
                       ("submitted_s", "then the new job was submitted"),
                       ("tasks_running_s", "then its tasks ran"), ("first_row_s", "then the first row arrived")):
        phases = [fmt(side["upgrade"].get("phases", {}).get(key)) for side in (job, hand)]
        lines.append("  %-46s %12s %12s" % ("  downtime, %s (s)" % label, phases[0], phases[1]))
    lines += [
        "  %-46s %12s %12s" % ("latency p50 (s)", fmt(job["latency"]["p50_s"]), fmt(hand["latency"]["p50_s"])),
        "  %-46s %12s %12s" % ("latency p95 (s)", fmt(job["latency"]["p95_s"]), fmt(hand["latency"]["p95_s"])),
        "  rows written %(rows_written)d, lost %(lost)d, extra %(extra)d, written twice %(written_twice)d"
        % out["integrity"]]
    for target in out["targets"]:
        lines.append("  target %s: %s (%s)" % (target["target"], "HOLDS" if target["holds"] else "MISSED",
                                               fmt(target["value"])))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the JSON file to write (key pipeline_bench)")
    parser.add_argument("--rate", type=float, default=20.0, help="rows written per second (default %(default)s)")
    parser.add_argument("--steady", type=float, default=20.0, help="seconds of steady writing per latency figure")
    parser.add_argument("--keep-bed", action="store_true", help="leave the private bed running")
    args = parser.parse_args(argv)
    bench = Bench(args)
    try:
        out = bench.run()
    except Exception as exc:  # a benchmark reports what stopped it and writes what it has
        out = {"error": "%s: %s" % (type(exc).__name__, exc)}
    finally:
        bench.bed_down()
    if "error" not in out:
        out["table"] = table(out)
        print("\n".join(out["table"]))
    else:
        print("pipeline bench could not run: %s" % out["error"])
    with open(args.out, "w") as f:
        json.dump({"pipeline_bench": out}, f, indent=2)
        f.write("\n")
    return 0 if "error" not in out else 1


if __name__ == "__main__":
    sys.exit(main())
