"""The pipeline filters: the entry points the flink_cdc role's pipeline and verify phases call (plugins/filter/pipeline.py)."""

import json
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.pipeline import (
    FilterModule,
    pipeline_endpoints,
    pipeline_health_rows,
    pipeline_plans,
    pipeline_restart_jobs,
    pipeline_restart_refusal,
    pipeline_rows,
    pipeline_suspension_rows,
    pipeline_tables,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.catalog import table_summaries

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "pg")
with open(os.path.join(FIXTURES, "tables.json")) as _f:
    # What the role registers from pg_logical_check: its result with the ``tables`` list.
    CATALOG = {"changed": False, "ready": False, "tables": table_summaries(json.load(_f)["facts_tables"])}

PG = {"host": "pg.example.com", "port": 5432, "database": "shop", "user": "flink_cdc", "publication": "flink_cdc_pub",
      "ssl_mode": "require"}
DEFAULTS = {"tables": ['"Sales.EU"."Orders"'], "slot_name": "flink_cdc_shop",
            "settings": {"execution.checkpointing.interval": "30s"}, "upgrade_mode": "savepoint", "savepoint_dir": "",
            "heartbeat_ms": 30000}
SINK = {"connector": "starrocks", "jdbc-url": "jdbc:mysql://fe:9030", "load-url": "fe:8030", "database-name": "shop",
        "username": "flink", "password": "S3cret"}


def test_the_filters_are_registered():
    filters = FilterModule().filters()
    assert filters == {"pipeline_tables": pipeline_tables, "pipeline_plans": pipeline_plans,
                       "pipeline_rows": pipeline_rows, "pipeline_health_rows": pipeline_health_rows,
                       "pipeline_endpoints": pipeline_endpoints,
                       "pipeline_restart_jobs": pipeline_restart_jobs,
                       "pipeline_restart_refusal": pipeline_restart_refusal,
                       "pipeline_suspension_rows": pipeline_suspension_rows}


def test_each_filter_has_its_documentation():
    folder = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")
    for name in FilterModule().filters():
        with open(os.path.join(folder, "%s.yml" % name)) as f:
            assert "name: %s\n" % name in f.read()


def test_pipeline_tables():
    pipelines = [{"name": "a", "tables": ["public.b"]}, {"name": "b"}, {"name": "c", "state": "absent", "tables": ["public.x"]}]
    assert pipeline_tables(pipelines, ["public.a", "public.b"]) == ["public.b", "public.a"]


def test_pipeline_tables_of_nothing():
    assert not pipeline_tables(None, ["public.a"])
    assert not pipeline_tables([{"name": "a"}], None)


def test_pipeline_plans_from_the_registered_catalog():
    out = pipeline_plans([{"name": "sales", "sink": SINK, "sink_table_name": "ods_{table}"}], CATALOG, PG, DEFAULTS)
    assert len(out) == 1
    plan = out[0]
    assert plan["ok"] is True, plan.get("reason")
    assert plan["slots"] == ["flink_cdc_shop"]
    assert "'schema-name' = 'Sales\\.EU'" in plan["sql"]
    assert "'table-name' = 'ods_Orders'" in plan["sql"]
    assert "'password' = '${sink_password}'" in plan["sql"]
    assert "S3cret" not in json.dumps(out)


def test_pipeline_plans_of_recorded_tables_it_cannot_plan():
    pipelines = [{"name": "typed", "tables": ["public.typed_keys"], "sink": SINK, "slot_name": "typed"},
                 {"name": "nopk", "tables": ["public.events_nopk"], "sink": SINK, "slot_name": "nopk"},
                 {"name": "gone", "tables": ["public.missing"], "sink": SINK, "slot_name": "gone"}]
    reasons = [p.get("reason") for p in pipeline_plans(pipelines, CATALOG, PG, DEFAULTS)]
    assert reasons[0].startswith("pipeline typed: public.typed_keys.uid has the type uuid")
    assert reasons[1].startswith("pipeline nopk: public.events_nopk has no primary key")
    assert reasons[2] == "pipeline gone: public.missing does not exist in the source database"


def test_pipeline_plans_without_a_catalog():
    # The role passes ``__flink_cdc_pipeline_catalog | default({})`` when no table had to be read.
    plan = pipeline_plans([{"name": "a", "sink": SINK}], None, PG, DEFAULTS)[0]
    assert plan["ok"] is False
    assert plan["reason"] == 'pipeline a: "Sales.EU"."Orders" was not read from the source database'
    absent = pipeline_plans([{"name": "a", "state": "absent"}], {}, PG, DEFAULTS)[0]
    assert absent["ok"] is True and absent["sql"] is None and absent["slots"] == ["flink_cdc_shop"]


def test_pipeline_plans_without_defaults():
    plan = pipeline_plans([{"name": "a", "sql": "INSERT INTO k SELECT 1;", "slots": ["s"]}], None, None, None)[0]
    assert plan["ok"] is True and plan["settings"] == {} and plan["upgrade_mode"] == "savepoint"


@pytest.mark.parametrize("pipelines, kind", [
    ({"name": "a"}, "dict"),
    ("a", "str"),
    (None, "NoneType"),
    (3, "int"),
])
def test_pipeline_plans_wants_a_list(pipelines, kind):
    with pytest.raises(AnsibleFilterError) as exc:
        pipeline_plans(pipelines, CATALOG, PG, DEFAULTS)
    assert str(exc.value) == "pipeline_plans expects flink_cdc_pipelines as a list, got %s" % kind


def test_pipeline_plans_takes_a_tuple():
    assert pipeline_plans(({"name": "a", "state": "absent"},), CATALOG, PG, DEFAULTS)[0]["ok"] is True


def test_pipeline_rows():
    plan = {"name": "p1", "state": "running", "ok": True, "slots": ["s1"]}
    results = [{"item": plan, "changed": True, "action": "submitted", "job_id": "j1", "job_state": "RUNNING"}]
    assert pipeline_rows([plan], results, None, "jm1") == [
        {"host": "jm1", "area": "Pipeline", "check": "p1", "status": "changed", "detail": "job j1 submitted, now RUNNING",
         "line": "jm1: Pipeline p1: job j1 submitted, now RUNNING"}]
    rows = pipeline_rows([plan], results, [], "jm1", 1)
    assert rows[0]["status"] == "skip" and rows[0]["detail"] == "job j1 would be submitted"


def test_pipeline_rows_of_nothing():
    assert not pipeline_rows(None, None, None, "jm1")
    plan = {"name": "p1", "state": "running", "ok": True, "slots": ["s1"]}
    assert pipeline_rows([plan], None, None, "jm1")[0]["detail"] == "flink_job did not run"


def test_pipeline_health_rows():
    plan = {"name": "p1", "state": "running", "ok": True, "slots": ["s1"]}
    jobs = [{"item": plan, "action": "unchanged", "job_id": "j1", "job_state": "RUNNING",
             "health": {"restarts": 0, "checkpoints_completed": 5, "checkpoints_failed": 0, "last_checkpoint_age_s": 3.2}}]
    slots = [{"item": [plan, "s1"], "slots": [{"name": "s1", "active": True, "lag_bytes": 2048}]}]
    rows = pipeline_health_rows([plan], jobs, slots, {"max_checkpoint_age": 600, "max_slot_lag": 1024}, "jm1")
    assert [(r["check"], r["status"]) for r in rows] == [("p1 health", "fail")]
    assert rows[0]["detail"].startswith("its replication slot s1 lags 2048 bytes behind, more than 1024")
    rows = pipeline_health_rows([plan], jobs, slots, None, "jm1")
    assert rows[0]["status"] == "ok"
    assert rows[0]["detail"] == "job j1 RUNNING, last checkpoint 3 s ago, 0 restart(s); slot lag s1 2048 bytes"


def test_pipeline_health_rows_of_nothing():
    assert not pipeline_health_rows(None, None, None, None, "jm1")
    plan = {"name": "p1", "state": "running", "ok": True, "slots": ["s1"]}
    row = pipeline_health_rows([plan], None, None, None, "jm1")[0]
    assert row["status"] == "fail"
    assert row["detail"].startswith("the job is missing, not RUNNING; its replication slot s1 does not exist. ")


def test_pipeline_restart_jobs_of_nothing():
    assert pipeline_restart_jobs(None, None) == {"suspend": [], "others": []}


def test_pipeline_restart_refusal_of_nothing():
    assert pipeline_restart_refusal(None, None) == []
    assert pipeline_restart_refusal(["etl"], None, "yes") == []


def test_pipeline_suspension_rows_of_nothing():
    assert pipeline_suspension_rows(None, None, "jm1") == []


def test_pipeline_endpoints():
    assert pipeline_endpoints([{"name": "a", "sink": SINK}]) == [
        {"name": "StarRocks FE query", "host": "fe", "port": 9030}, {"name": "StarRocks FE http", "host": "fe", "port": 8030}]


def test_pipeline_endpoints_wants_a_list():
    with pytest.raises(AnsibleFilterError, match="pipeline_endpoints expects flink_cdc_pipelines as a list, got str"):
        pipeline_endpoints("orders")
