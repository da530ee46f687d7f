"""The smoke job's plan (SQL, refusals) and its report rows."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _smoke

PG = {"host": "pg.example.com", "port": 5432, "database": "shop", "user": "flink_cdc", "ssl_mode": "prefer"}
PG_CDC = {"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc", "version": "3.5.0"}
SR = {"group_id": "com.starrocks", "artifact_id": "flink-connector-starrocks", "version": "1.2.10_flink-1.19"}


def source(rows=300, primary_key=None, exists=True, name="public.products"):
    key = [{"name": "id", "type": "bigint"}] if primary_key is None else primary_key
    return {"tables": [{"name": name, "exists": exists, "primary_key": key, "rows": rows}]}


def plan(connectors=(PG_CDC, SR), src=None, table="public.products", **kw):
    return _smoke.plan(list(connectors), source() if src is None else src, table, "cdcops_smoke", "flink_cdc_pub",
                       dict(PG, **kw.pop("pg", {})), **kw)


def test_plan_builds_a_bounded_snapshot_job_that_names_the_publication():
    p = plan()
    assert p["ok"] and p["expected_rows"] == 300 and p["connector_version"] == "3.5.0" and p["drops_main_slot"]
    sql = p["sql"]
    assert "CREATE TEMPORARY TABLE cdcops_smoke_source (`id` BIGINT, PRIMARY KEY (`id`) NOT ENFORCED)" in sql
    for option in ("'connector' = 'postgres-cdc'", "'scan.incremental.snapshot.enabled' = 'true'",
                   "'scan.startup.mode' = 'snapshot'", "'slot.name' = 'cdcops_smoke'",
                   "'debezium.publication.name' = 'flink_cdc_pub'",
                   "'debezium.publication.autocreate.mode' = 'disabled'", "'decoding.plugin.name' = 'pgoutput'",
                   "'password' = '${pg_password}'", "'schema-name' = 'public'", "'table-name' = 'products'",
                   "'hostname' = 'pg.example.com'", "'port' = '5432'"):
        assert option in sql
    assert "'connector' = 'blackhole'" in sql
    assert sql.rstrip().endswith("INSERT INTO cdcops_smoke_sink SELECT `id` FROM cdcops_smoke_source;")
    assert "sslmode" not in sql  # libpq's prefer has no Debezium 1.9 equivalent


def test_plan_passes_ssl_modes_debezium_knows_and_escapes_regex_names():
    p = plan(table="my.sch.orders$1", src=source(name="my.sch.orders$1"), pg={"ssl_mode": "verify-full"})
    assert "'debezium.database.sslmode' = 'verify-full'" in p["sql"]
    assert "'schema-name' = 'my'" in p["sql"] and "'table-name' = 'sch\\.orders\\$1'" in p["sql"]


def test_plan_declares_composite_keys_with_flink_types():
    keys = [{"name": "tenant", "type": "character varying(20)"}, {"name": "day", "type": "date"},
            {"name": "amount", "type": "numeric(10,2)"}, {"name": "at", "type": "timestamp with time zone"},
            {"name": "odd`name", "type": "uuid"}]
    sql = plan(src=source(primary_key=keys))["sql"]
    assert ("(`tenant` STRING, `day` DATE, `amount` DECIMAL(10, 2), `at` TIMESTAMP_LTZ(6), `odd``name` STRING, "
            "PRIMARY KEY (`tenant`, `day`, `amount`, `at`, `odd``name`) NOT ENFORCED)") in sql


@pytest.mark.parametrize("pg_type, flink", [
    ("smallint", "SMALLINT"), ("integer", "INT"), ("bigint", "BIGINT"), ("numeric", "DECIMAL(38, 18)"),
    ("numeric(12)", "DECIMAL(12, 0)"), ("timestamp(3) without time zone", "TIMESTAMP(3)"),
    ("timestamp without time zone", "TIMESTAMP(6)"), ("text", "STRING"), ("boolean", "BOOLEAN"),
    ("bytea", "BYTES"), ("double precision", "DOUBLE"), ("inet", "STRING"),
])
def test_flink_types(pg_type, flink):
    assert _smoke.flink_type(pg_type) == flink


@pytest.mark.parametrize("kw, reason", [
    ({"connectors": (SR,)}, "flink_cdc_connectors has no flink-sql-connector-postgres-cdc"),
    ({"connectors": (dict(PG_CDC, group_id="com.ververica", version="3.0.1"),)},
     "postgres-cdc 3.0.1 has no bounded mode (scan.startup.mode = 'snapshot' exists from Flink CDC 3.1.0), so a "
     "smoke job would never end; it was not started"),
    ({"src": source(primary_key=[])}, "public.products has no primary key"),
    ({"src": source(exists=False)}, "public.products does not exist in database shop"),
    ({"src": {"msg": "cannot connect to PostgreSQL at pg:5432"}}, "cannot read public.products: cannot connect"),
    ({"src": source(rows=None)}, "cannot count the rows of public.products"),
    ({"table": ""}, "flink_cdc_smoke_table is empty"),
    ({"jobmanager_host": ""}, "no host in the inventory group flink_jobmanager"),
    ({"cdc_slot_name": "cdcops_smoke_2"}, "would clash with the CDC job's slot cdcops_smoke_2"),
    ({"cdc_slot_name": "cdcops_smoke"}, "would clash with the CDC job's slot cdcops_smoke"),
])
def test_plan_refuses_what_cannot_run_with_the_reason(kw, reason):
    p = plan(**kw)
    assert not p["ok"]
    assert reason in p["reason"]


def test_a_cdc_slot_that_only_starts_alike_is_fine():
    assert plan(cdc_slot_name="cdcops_smoke_shop")["ok"]


def test_older_lines_keep_the_main_slot():
    assert plan(connectors=(dict(PG_CDC, version="3.3.0"),))["drops_main_slot"] is False


FINISHED = {"changed": True, "job_id": "4e40", "state": "FINISHED", "duration_ms": 3054, "source_records": 300,
            "taskmanagers": [{"host": "127.0.0.2", "id": "a"}, {"host": "127.0.0.3", "id": "b"}]}


def test_rows_of_a_finished_job_and_its_cleanup():
    rows = _smoke.rows(plan(), FINISHED, [{"dropped": []}, {"dropped": ["cdcops_smoke"]}], "jm1")
    assert [(r["area"], r["check"], r["status"]) for r in rows] == [("Smoke", "job", "ok"), ("Smoke", "slots", "ok")]
    assert rows[0]["detail"] == ("job 4e40 FINISHED in 3.1 s: read 300 rows of public.products (count(*) 300) with "
                                 "org.apache.flink:flink-sql-connector-postgres-cdc:3.5.0 on 127.0.0.2, 127.0.0.3")
    assert rows[1]["detail"] == "dropped cdcops_smoke: nothing of the smoke job is left"
    assert rows[0]["line"].startswith("jm1: Smoke job: job 4e40")


def test_rows_of_a_failed_job_carry_the_fix():
    job = {"failed": True, "msg": "job 1 (cdcops-smoke) ended FAILED: java.io.StreamCorruptedException",
           "diagnosis": "the JobManager cannot load the connector's classes"}
    rows = _smoke.rows(plan(), job, [{}, {"dropped": []}], "jm1")
    assert rows[0]["status"] == "fail"
    assert rows[0]["detail"].endswith("StreamCorruptedException. Fix: the JobManager cannot load the connector's classes")
    assert rows[1] == dict(rows[1], status="ok", detail="the smoke job left no replication slot")


def test_a_failure_registered_with_failed_when_false_is_still_a_failure():
    # failed_when: false resets "failed"; the module's message and the job's state still tell.
    job = {"failed": False, "changed": True, "msg": "job 1 (cdcops-smoke) ended FAILED: x", "state": "FAILED",
           "job_id": "1", "diagnosis": "restart"}
    assert _smoke.rows(plan(), job, [], "jm1")[0]["status"] == "fail"
    wrong_count = dict(FINISHED, source_records=299)
    row = _smoke.rows(plan(), wrong_count, [], "jm1")[0]
    assert row["status"] == "fail" and row["detail"] == "job 4e40 ended FINISHED and read 299 of 300 rows"


def test_rows_in_check_mode_say_what_would_run():
    rows = _smoke.rows(plan(), {"changed": False}, [{"dropped": ["cdcops_smoke"]}], "jm1", check_mode=True)
    assert rows[0]["status"] == "skip"
    assert "would run a bounded job (cdcops-smoke) with the SQL client on jm1 against public.products (300 rows)" \
        in rows[0]["detail"]
    assert rows[1]["status"] == "skip" and "would drop" in rows[1]["detail"]


def test_a_plan_that_cannot_run_is_one_warning_row():
    rows = _smoke.rows(plan(connectors=(SR,)), {}, [], "jm1")
    assert [(r["check"], r["status"]) for r in rows] == [("job", "warn")]
    assert rows[0]["detail"].startswith("not run: flink_cdc_connectors has no")


def test_a_failed_cleanup_is_a_failure():
    rows = _smoke.rows(plan(), FINISHED, [{"failed": True, "msg": "slot cdcops_smoke is active for PID 7"}], "jm1")
    assert rows[1]["status"] == "fail" and "active for PID 7" in rows[1]["detail"]


# --------------------------------------------------------------------------- a locked smoke table

LOCK = ("public.products is locked: pid 4711 (application_name 'psql', user admin, from 10.0.0.5, transaction open "
        "since 2026-12-06 12:53:47 UTC (0:05:00 ago), idle in transaction since 2026-12-06 12:53:47 UTC (0:05:00 ago), "
        "last statement: LOCK TABLE public.products) holds AccessExclusiveLock on it; 1 session(s) wait behind it "
        "(pid 4800). Fix: let that session finish its transaction (COMMIT or ROLLBACK there) or end it: SELECT "
        "pg_terminate_backend(4711). Nothing here ends or cancels another session for you.")
# flink_sql_job's result for a job still running at its deadline, registered with failed_when: false.
TIMED_OUT = {"failed": False, "changed": True, "job_id": "b50d", "state": "RUNNING", "timed_out": True,
             "cancelled": True, "wait_timeout": 60.0,
             "msg": "job b50d did not end within 60s: it is RUNNING. It was cancelled. A bounded job that runs this "
                    "long reads more than expected, waits for slots, or is not bounded at all; raise the deadline, "
                    "or check that the source is bounded."}


def locks_result(diagnosis=LOCK, name="public.products"):
    return {"tables": [{"name": name, "exists": True, "locks": [{"pid": 4711}] if diagnosis else [],
                        "lock_diagnosis": diagnosis}]}


def test_a_job_that_waited_for_a_lock_until_its_deadline_names_the_lock_first():
    job_row, slots_row = _smoke.rows(plan(), TIMED_OUT, [{"dropped": []}], "jm1", locks=locks_result())
    assert job_row["status"] == "fail"
    assert job_row["detail"] == ("job b50d waited for a lock on public.products until its deadline (60s) and was "
                                 "cancelled. " + LOCK)
    assert "reads more than expected" not in job_row["detail"]  # the generic guess gives way to the cause
    assert slots_row["status"] == "ok"


def test_a_cancel_that_failed_is_said():
    job = dict(TIMED_OUT, cancelled=False, msg="job b50d did not end within 60s: it is RUNNING. Cancelling it "
               "failed (503): cancel it by hand (flink cancel b50d).")
    detail = _smoke.rows(plan(), job, [], "jm1", locks=locks_result())[0]["detail"]
    assert detail.startswith("job b50d waited for a lock on public.products until its deadline (60s) and could not "
                             "be cancelled (job b50d did not end within 60s: it is RUNNING. Cancelling it failed")
    assert detail.endswith(LOCK)


def test_a_timeout_without_a_lock_keeps_the_modules_message():
    detail = _smoke.rows(plan(), TIMED_OUT, [], "jm1", locks=locks_result(""))[0]["detail"]
    assert detail == TIMED_OUT["msg"]
    assert _smoke.rows(plan(), TIMED_OUT, [], "jm1")[0]["detail"] == TIMED_OUT["msg"]


def test_a_lock_on_another_table_is_not_the_smoke_tables():
    detail = _smoke.rows(plan(), TIMED_OUT, [], "jm1", locks=locks_result(name="public.orders"))[0]["detail"]
    assert detail == TIMED_OUT["msg"]


def test_another_failure_with_the_table_locked_keeps_its_cause_and_adds_the_lock():
    job = {"failed": False, "msg": "job 1 (cdcops-smoke) ended FAILED: x", "state": "FAILED", "job_id": "1",
           "diagnosis": "do y"}
    detail = _smoke.rows(plan(), job, [], "jm1", locks=locks_result())[0]["detail"]
    assert detail == "job 1 (cdcops-smoke) ended FAILED: x. Fix: do y. Its table is locked as well: " + LOCK


def test_a_table_locked_before_the_job_is_not_started_and_fails_the_phase():
    src = source()
    src["tables"][0].pop("rows")
    src["tables"][0].update(count_error="counting the rows of public.products waited 10s for a lock and gave up "
                                        "(lock_timeout)", lock_diagnosis=LOCK)
    p = plan(src=src)
    assert not p["ok"] and p["blocked"]
    (row,) = _smoke.rows(p, {}, [], "jm1")
    assert row["status"] == "fail"
    assert row["detail"] == ("not run: counting the rows of public.products waited 10s for a lock and gave up "
                             "(lock_timeout): the job was not started. " + LOCK)


def test_a_lock_that_ended_before_it_was_read_says_to_run_again():
    src = source()
    src["tables"][0].pop("rows")
    src["tables"][0].update(count_error="counting ... gave up (lock_timeout)", lock_diagnosis="")
    assert plan(src=src)["reason"].endswith("No session holds a lock on it any more: run again.")
