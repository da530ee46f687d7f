"""The flink_cdc role's pipelines: slot names, sink options, the generated job SQL and its refusals, the tables to
read, and the report rows of the pipeline phase and of the verify phase's health check.

The catalog facts come from tests/unit/fixtures/pg/tables.json (recorded from the bed's PostgreSQL by
pg_logical_check's ``collect``), turned into pg_logical_check's ``tables`` result with ``table_summaries``.
"""

import contextlib
import copy
import json
import os
import re
import signal

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.catalog import table_summaries
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _pipeline

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "pg")
with open(os.path.join(FIXTURES, "tables.json")) as _f:
    RECORDED = table_summaries(json.load(_f)["facts_tables"])
RECORDED_BY_NAME = {t["name"]: t for t in RECORDED}

PG = {"host": "pg.example.com", "port": 5432, "database": "shop", "user": "flink_cdc", "publication": "flink_cdc_pub",
      "ssl_mode": "require"}
DEFAULTS = {"tables": ["public.orders"], "slot_name": "flink_cdc_shop",
            "settings": {"execution.checkpointing.interval": "30s"}, "upgrade_mode": "savepoint", "savepoint_dir": "",
            "heartbeat_ms": 30000}
JDBC = {"connector": "jdbc", "url": "jdbc:postgresql://dw.example.com:5432/dw", "username": "dw", "password": "Dw-S3cret"}
STARROCKS = {"connector": "starrocks", "jdbc-url": "jdbc:mysql://fe:9030", "load-url": "fe:8030", "database-name": "shop",
             "username": "flink", "password": "S3cret"}

ORDERS = {
    "name": "public.orders", "schema": "public", "table": "orders", "exists": True, "kind": "table",
    "primary_key": [{"name": "id", "type": "bigint"}],
    "columns": [
        {"name": "id", "type": "bigint", "nullable": False},
        {"name": "name", "type": "text", "nullable": False},
        {"name": "amount", "type": "numeric(12,2)", "nullable": True},
        {"name": "created_at", "type": "timestamp with time zone", "nullable": True},
    ],
}
ITEMS = {
    "name": "public.order_items", "schema": "public", "table": "order_items", "exists": True, "kind": "table",
    "primary_key": [{"name": "order_id", "type": "bigint"}, {"name": "line", "type": "integer"}],
    "columns": [
        {"name": "order_id", "type": "bigint", "nullable": False},
        {"name": "line", "type": "integer", "nullable": False},
        {"name": "sku", "type": "character varying(40)", "nullable": True},
    ],
}

ORDERS_COLUMNS = ("  `id` BIGINT NOT NULL,\n"
                  "  `name` STRING NOT NULL,\n"
                  "  `amount` DECIMAL(12, 2),\n"
                  "  `created_at` TIMESTAMP_LTZ(6),\n"
                  "  PRIMARY KEY (`id`) NOT ENFORCED\n")
# The sink takes TIMESTAMP: the job casts the instant into table.local-time-zone.
ORDERS_SINK_COLUMNS = ORDERS_COLUMNS.replace("TIMESTAMP_LTZ(6)", "TIMESTAMP(6)")

EXPECTED_ORDERS_SQL = (
    "CREATE TEMPORARY TABLE `src_1` (\n"
    + ORDERS_COLUMNS
    + ") WITH (\n"
    "  'connector' = 'postgres-cdc',\n"
    "  'hostname' = 'pg.example.com',\n"
    "  'port' = '5432',\n"
    "  'username' = 'flink_cdc',\n"
    "  'password' = '${pg_password}',\n"
    "  'database-name' = 'shop',\n"
    "  'schema-name' = 'public',\n"
    "  'table-name' = 'orders',\n"
    "  'slot.name' = 'flink_cdc_shop',\n"
    "  'decoding.plugin.name' = 'pgoutput',\n"
    "  'debezium.publication.name' = 'flink_cdc_pub',\n"
    "  'debezium.publication.autocreate.mode' = 'disabled',\n"
    "  'scan.incremental.snapshot.enabled' = 'true',\n"
    "  'heartbeat.interval.ms' = '30000',\n"
    "  'debezium.database.sslmode' = 'require'\n"
    ");\n"
    "CREATE TEMPORARY TABLE `snk_1` (\n"
    + ORDERS_SINK_COLUMNS
    + ") WITH (\n"
    "  'connector' = 'jdbc',\n"
    "  'url' = 'jdbc:postgresql://dw.example.com:5432/dw',\n"
    "  'username' = 'dw',\n"
    "  'table-name' = 'orders',\n"
    "  'password' = '${sink_password}'\n"
    ");\n"
    "EXECUTE STATEMENT SET BEGIN\n"
    "  INSERT INTO `snk_1` SELECT `id`, `name`, `amount`, CAST(`created_at` AS TIMESTAMP(6)) FROM `src_1`;\n"
    "END;\n"
)


@contextlib.contextmanager
def time_limit(seconds):
    """Fail instead of hanging the run when the code under test loops forever."""
    def _raise(_signum, _frame):
        raise TimeoutError("did not return within %s s" % seconds)
    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def plans(pipelines, facts=(ORDERS, ITEMS), pg=None, **defaults):
    return _pipeline.plans(pipelines, list(facts), dict(PG, **(pg or {})), dict(DEFAULTS, **defaults))


def one(item, facts=(ORDERS, ITEMS), **kw):
    out = plans([item], facts, **kw)
    assert len(out) == 1
    return out[0]


def pipeline(**kw):
    return dict({"name": "orders_to_dw", "sink": dict(JDBC)}, **kw)


# --- slot_names ---------------------------------------------------------------------------------------------------

def test_slot_names_single_table_keeps_the_slot_name():
    assert _pipeline.slot_names("flink_cdc_shop", ["public.orders"]) == ["flink_cdc_shop"]


def test_slot_names_several_tables_get_the_table_as_suffix():
    assert _pipeline.slot_names("flink_cdc_shop", ["public.orders", "public.Order-Lines", "sales.items2"]) == [
        "flink_cdc_shop_orders", "flink_cdc_shop_order_lines", "flink_cdc_shop_items2"]


def test_slot_names_of_quoted_names_are_valid_slot_names():
    names = _pipeline.slot_names("flink_cdc_shop", ["public.orders", '"Sales.EU"."Orders"'])
    assert names[0] == "flink_cdc_shop_orders"
    assert len(set(names)) == 2
    for name in names:
        assert re.fullmatch(r"flink_cdc_shop_[a-z0-9_]+", name)


def test_slot_names_make_duplicates_unique():
    names = _pipeline.slot_names("flink_cdc_shop", ["public.orders", "sales.orders"])
    assert names[0] == "flink_cdc_shop_orders"
    assert names[1] != names[0]
    assert re.fullmatch(r"[a-z0-9_]+", names[1]) and len(names[1]) <= 59


def test_slot_names_make_three_duplicates_unique():
    with time_limit(2):
        names = _pipeline.slot_names("flink_cdc_shop", ["public.orders", "sales.orders", "archive.orders"])
    assert len(set(names)) == 3
    assert all(re.fullmatch(r"[a-z0-9_]+", n) and len(n) <= 59 for n in names)


def test_slot_names_make_duplicates_that_end_in_x_unique():
    with time_limit(2):
        names = _pipeline.slot_names("flink_cdc_shop", ["public.box", "sales.box"])
    assert names[0] == "flink_cdc_shop_box"
    assert len(set(names)) == 2
    assert all(re.fullmatch(r"[a-z0-9_]+", n) and len(n) <= 59 for n in names)


def test_slot_names_truncate_long_names_to_59_characters():
    slot = "s" * 50
    names = _pipeline.slot_names(slot, ["public." + "t" * 30, "public.other"])
    assert names[0] == (slot + "_" + "t" * 30)[:59]
    assert len(names[0]) == 59
    assert names[1] == slot + "_other"


def test_slot_names_truncated_collisions_stay_unique():
    slot = "s" * 50
    names = _pipeline.slot_names(slot, ["public." + "t" * 20 + "a", "public." + "t" * 20 + "b"])
    assert len(names) == 2 and len(set(names)) == 2
    assert all(len(n) <= 59 for n in names)


def test_slot_names_accept_59_characters():
    assert _pipeline.slot_names("a" * 59, ["public.orders"]) == ["a" * 59]


@pytest.mark.parametrize("slot", ["Flink_cdc", "flink-cdc", "", None, "a" * 60, "slot name", "slöt"])
def test_slot_names_refuse_invalid_slot_names(slot):
    with pytest.raises(_pipeline.PlanError) as exc:
        _pipeline.slot_names(slot, ["public.orders"])
    assert "must be lowercase letters, digits and _, at most 59 characters" in str(exc.value)
    assert repr(slot) in str(exc.value)


# --- sink_options -------------------------------------------------------------------------------------------------

def test_sink_options_jdbc_needs_url():
    with pytest.raises(_pipeline.PlanError, match=r"^the jdbc sink needs sink\.url$"):
        _pipeline.sink_options({"connector": "jdbc", "username": "dw"}, "orders")


def test_sink_options_starrocks_lists_each_missing_option():
    with pytest.raises(_pipeline.PlanError) as exc:
        _pipeline.sink_options({"connector": "starrocks"}, "orders")
    assert str(exc.value) == ("the starrocks sink needs sink.jdbc-url, sink.load-url, sink.database-name, "
                              "sink.username, sink.password")


def test_sink_options_starrocks_names_only_what_is_missing():
    sink = {k: v for k, v in STARROCKS.items() if k not in ("password", "load-url")}
    with pytest.raises(_pipeline.PlanError) as exc:
        _pipeline.sink_options(sink, "orders")
    assert str(exc.value) == "the starrocks sink needs sink.load-url, sink.password"


@pytest.mark.parametrize("sink", [{}, None, {"url": "jdbc:postgresql://dw/dw"}, {"connector": ""}])
def test_sink_options_need_a_connector(sink):
    with pytest.raises(_pipeline.PlanError, match=r"^sink has no connector: set sink\.connector"):
        _pipeline.sink_options(sink, "orders")


def test_sink_options_refuse_a_table_name_of_the_sink():
    with pytest.raises(_pipeline.PlanError, match="sink sets table-name: the pipeline names each sink table"):
        _pipeline.sink_options(dict(JDBC, **{"table-name": "x"}), "orders")


def test_sink_options_set_the_table_name_and_a_password_placeholder():
    options = _pipeline.sink_options(STARROCKS, "ods_public_orders")
    assert options == {"connector": "starrocks", "jdbc-url": "jdbc:mysql://fe:9030", "load-url": "fe:8030",
                       "database-name": "shop", "username": "flink", "table-name": "ods_public_orders",
                       "password": "${sink_password}"}
    assert "S3cret" not in json.dumps(options)
    assert STARROCKS["password"] == "S3cret"  # the input is left alone


def test_sink_options_without_password_have_no_placeholder():
    options = _pipeline.sink_options({"connector": "print"}, "orders")
    assert options == {"connector": "print", "table-name": "orders"}


def test_sink_options_stringify_keys_and_values():
    options = _pipeline.sink_options({"connector": "jdbc", "url": "jdbc:x", "sink.buffer-flush.max-rows": 500,
                                      "sink.ignore-delete": False}, "orders")
    assert options["sink.buffer-flush.max-rows"] == "500"
    assert options["sink.ignore-delete"] == "False"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in options.items())


# --- plans: the generated SQL -------------------------------------------------------------------------------------

def test_plan_of_one_table_is_exactly_this_sql():
    plan = one(pipeline(tables=["public.orders"]))
    assert plan["ok"] is True and "reason" not in plan
    assert plan["sql"] == EXPECTED_ORDERS_SQL
    assert plan["slots"] == ["flink_cdc_shop"]
    assert plan["tables"] == ["public.orders"]
    assert plan["sink_connector"] == "jdbc" and plan["has_sink_password"] is True
    assert "Dw-S3cret" not in json.dumps(plan)


def test_plan_uses_the_default_tables():
    plan = one(pipeline())
    assert plan["ok"] and plan["tables"] == ["public.orders"] and plan["sql"] == EXPECTED_ORDERS_SQL


def test_plan_plan_fields():
    plan = one(pipeline(tables=["public.orders"]))
    assert plan["index"] == 0 and plan["name"] == "orders_to_dw" and plan["state"] == "running"
    assert plan["settings"] == {"execution.checkpointing.interval": "30s"}
    assert plan["upgrade_mode"] == "savepoint" and plan["savepoint_dir"] is None


def test_plan_with_a_starrocks_sink():
    plan = one(pipeline(tables=["public.orders"], sink=dict(STARROCKS), sink_table_name="ods_{schema}_{table}"))
    assert plan["ok"], plan.get("reason")
    sink_ddl = plan["sql"].split("CREATE TEMPORARY TABLE `snk_1` (\n", 1)[1].split(");\n", 1)[0]
    assert sink_ddl == ORDERS_SINK_COLUMNS + (
        ") WITH (\n"
        "  'connector' = 'starrocks',\n"
        "  'jdbc-url' = 'jdbc:mysql://fe:9030',\n"
        "  'load-url' = 'fe:8030',\n"
        "  'database-name' = 'shop',\n"
        "  'username' = 'flink',\n"
        "  'table-name' = 'ods_public_orders',\n"
        "  'password' = '${sink_password}'\n")
    assert "S3cret" not in json.dumps(plan)
    assert plan["has_sink_password"] is True
    assert plan["sink_connector"] == "starrocks"


def test_plan_of_two_tables_has_a_source_and_sink_each_and_one_statement_set():
    plan = one(pipeline(tables=["public.orders", "public.order_items"]))
    assert plan["ok"], plan.get("reason")
    sql = plan["sql"]
    assert plan["slots"] == ["flink_cdc_shop_orders", "flink_cdc_shop_order_items"]
    for ident in ("`src_1`", "`snk_1`", "`src_2`", "`snk_2`"):
        assert sql.count("CREATE TEMPORARY TABLE %s (" % ident) == 1
    assert "'slot.name' = 'flink_cdc_shop_orders'" in sql
    assert "'slot.name' = 'flink_cdc_shop_order_items'" in sql
    assert "'table-name' = 'order_items'" in sql
    assert "  `order_id` BIGINT NOT NULL,\n  `line` INT NOT NULL,\n  `sku` STRING,\n" in sql
    assert "  PRIMARY KEY (`order_id`, `line`) NOT ENFORCED\n" in sql
    assert sql.count("EXECUTE STATEMENT SET BEGIN") == 1
    assert sql.count("INSERT INTO") == 2
    assert sql.endswith(
        "EXECUTE STATEMENT SET BEGIN\n"
        "  INSERT INTO `snk_1` SELECT `id`, `name`, `amount`, CAST(`created_at` AS TIMESTAMP(6)) FROM `src_1`;\n"
        "  INSERT INTO `snk_2` SELECT `order_id`, `line`, `sku` FROM `src_2`;\n"
        "END;\n")
    # Each source comes before the statement set, each with its own slot.
    src_2 = sql.index("CREATE TEMPORARY TABLE `src_2`")
    assert sql.index("'slot.name' = 'flink_cdc_shop_orders'") < src_2 < sql.index("'slot.name' = 'flink_cdc_shop_order_items'")


def test_plan_of_the_recorded_mixed_case_table_escapes_its_regex_names():
    sales = RECORDED_BY_NAME['"Sales.EU"."Orders"']
    plan = one(pipeline(tables=['"Sales.EU"."Orders"'], sink_table_name="ods_{schema}_{table}"), facts=RECORDED)
    assert plan["ok"], plan.get("reason")
    assert sales["schema"] == "Sales.EU" and sales["table"] == "Orders"
    sql = plan["sql"]
    assert "  `Id` BIGINT NOT NULL,\n  `total` DECIMAL(38, 18),\n  PRIMARY KEY (`Id`) NOT ENFORCED\n" in sql
    assert "'schema-name' = 'Sales\\.EU'" in sql
    assert "'table-name' = 'Orders'" in sql
    assert "'table-name' = 'ods_Sales.EU_Orders'" in sql
    assert "INSERT INTO `snk_1` SELECT `Id`, `total` FROM `src_1`;" in sql


def test_plan_reads_the_heartbeat_from_the_defaults():
    assert "'heartbeat.interval.ms' = '5000'" in one(pipeline(), heartbeat_ms=5000)["sql"]
    assert "'heartbeat.interval.ms' = '30000'" in one(pipeline(), heartbeat_ms=None)["sql"]


@pytest.mark.parametrize("ssl_mode", ["disable", "require", "verify-ca", "verify-full"])
def test_plan_passes_the_ssl_modes_debezium_knows(ssl_mode):
    assert "'debezium.database.sslmode' = '%s'" % ssl_mode in one(pipeline(), pg={"ssl_mode": ssl_mode})["sql"]


@pytest.mark.parametrize("ssl_mode", ["prefer", "allow", "", None])
def test_plan_leaves_other_ssl_modes_out(ssl_mode):
    plan = one(pipeline(), pg={"ssl_mode": ssl_mode})
    assert plan["ok"] and "sslmode" not in plan["sql"]


def test_plan_with_its_own_slot_name():
    plan = one(pipeline(slot_name="orders_slot", tables=["public.orders", "public.order_items"]))
    assert plan["slots"] == ["orders_slot_orders", "orders_slot_order_items"]


def test_plan_leaves_the_pipelines_alone():
    given = [pipeline(settings={"parallelism.default": 2})]
    before = copy.deepcopy(given)
    plans(given)
    assert given == before


def test_plans_of_nothing_is_nothing():
    assert not plans([])
    assert not plans(None)


# --- plans: refusals ----------------------------------------------------------------------------------------------

def refused(plan, name):
    assert plan["ok"] is False
    assert plan["reason"].startswith("pipeline %s: " % name), plan["reason"]
    return plan["reason"][len("pipeline %s: " % name):]


def test_plan_refuses_a_recorded_table_with_an_unmapped_type():
    reason = refused(one(pipeline(tables=["public.typed_keys"]), facts=RECORDED), "orders_to_dw")
    assert reason.startswith("public.typed_keys.uid has the type uuid, which the postgres-cdc connector does not map")
    assert '"Data Type Mapping"' in reason
    assert "give the pipeline its own sql" in reason


def test_plan_refuses_a_recorded_table_without_primary_key():
    reason = refused(one(pipeline(tables=["public.events_nopk"]), facts=RECORDED), "orders_to_dw")
    assert reason.startswith("public.events_nopk has no primary key")
    assert "ALTER TABLE public.events_nopk ADD PRIMARY KEY" in reason


def test_plan_refuses_a_recorded_view():
    assert RECORDED_BY_NAME["public.orders_view"]["kind"] == "view"
    reason = refused(one(pipeline(tables=["public.orders_view"]), facts=RECORDED), "orders_to_dw")
    assert reason.startswith("public.orders_view ")


def test_plan_refuses_a_recorded_table_that_does_not_exist():
    reason = refused(one(pipeline(tables=["public.missing"]), facts=RECORDED), "orders_to_dw")
    assert reason == "public.missing does not exist in the source database"


def test_plan_refuses_a_table_that_was_not_read():
    reason = refused(one(pipeline(tables=["public.orders", "public.nothere"])), "orders_to_dw")
    assert reason == "public.nothere was not read from the source database"


def test_plan_refuses_a_table_when_nothing_was_read():
    reason = refused(one(pipeline(), facts=()), "orders_to_dw")
    assert reason == "public.orders was not read from the source database"


def test_plan_finds_a_bare_table_name_as_pg_logical_check_reads_it():
    # flink_cdc_pg_tables: "a bare name means public"; pg_logical_check reads orders as public.orders.
    raw = {"schema": "public", "table": "orders", "exists": True, "relkind": "r", "primary_key": ["id"],
           "primary_key_types": ["bigint"], "column_names": ["id", "name"], "column_types": ["bigint", "text"],
           "column_not_null": [True, False]}
    facts = table_summaries([raw])
    assert facts[0]["name"] == "public.orders"
    plan = one(pipeline(tables=["orders"]), facts=facts)
    assert plan["ok"], plan.get("reason")
    assert "'table-name' = 'orders'" in plan["sql"]


def test_plan_needs_a_name():
    plan = one({"tables": ["public.orders"], "sink": JDBC})
    assert plan["ok"] is False and plan["reason"] == "pipeline #1: it has no name"
    second = plans([pipeline(), {"name": "", "sink": JDBC, "slot_name": "other"}])[1]
    assert second["reason"] == "pipeline #2: it has no name"


def test_plan_refuses_a_duplicate_name():
    out = plans([pipeline(), pipeline(slot_name="other_slot")])
    assert len(out) == 2
    first, second = out[0], out[1]
    assert first["ok"] is True
    assert refused(second, "orders_to_dw") == "another pipeline has the same name"


def test_plan_refuses_an_invalid_state():
    reason = refused(one(pipeline(state="stopped")), "orders_to_dw")
    assert reason == "state 'stopped' is not one of running, suspended, absent"


def test_plan_refuses_a_slot_another_pipeline_uses():
    out = plans([pipeline(name="a"), pipeline(name="b")])
    assert len(out) == 2
    first, second = out[0], out[1]
    assert first["ok"] is True and first["slots"] == ["flink_cdc_shop"]
    reason = refused(second, "b")
    assert reason == "its slot flink_cdc_shop is also the slot of pipeline a: each job needs slots of its own"


def test_plan_refuses_a_slot_that_an_own_sql_pipeline_lists():
    out = plans([{"name": "mine", "sql": "INSERT INTO x SELECT 1;", "slots": ["flink_cdc_shop"]}, pipeline()])
    assert len(out) == 2
    first, second = out[0], out[1]
    assert first["ok"] is True
    assert refused(second, "orders_to_dw").startswith("its slot flink_cdc_shop is also the slot of pipeline mine")


def test_plan_refuses_no_tables():
    reason = refused(one(pipeline(), tables=[]), "orders_to_dw")
    assert reason.startswith("no tables: set tables (or flink_cdc_pg_tables)")


def test_plan_with_null_tables_uses_the_default_tables():
    # tables_to_read reads the default tables for it; plans must plan it with them too.
    plan = one(pipeline(tables=None))
    assert plan["ok"], plan.get("reason")
    assert plan["tables"] == ["public.orders"]


@pytest.mark.parametrize("pattern", ["{nope}", "{0}", "ods_{table", "{table!z}"])
def test_plan_refuses_a_sink_table_name_with_other_fields(pattern):
    reason = refused(one(pipeline(sink_table_name=pattern)), "orders_to_dw")
    assert reason.startswith("sink_table_name %r: only {schema} and {table} may be used" % pattern)


def test_plan_refuses_a_sink_table_name_with_an_attribute():
    reason = refused(one(pipeline(sink_table_name="{table.nope}")), "orders_to_dw")
    assert reason.startswith("sink_table_name '{table.nope}': only {schema} and {table} may be used")


def test_plan_refuses_an_invalid_slot_name():
    reason = refused(one(pipeline(slot_name="Flink-CDC")), "orders_to_dw")
    assert reason.startswith("slot_name 'Flink-CDC' must be lowercase letters")


def test_plan_refuses_a_missing_sink():
    reason = refused(one({"name": "orders_to_dw"}), "orders_to_dw")
    assert reason.startswith("sink has no connector")


def test_plan_refuses_a_sink_without_its_required_options():
    reason = refused(one(pipeline(sink={"connector": "starrocks", "jdbc-url": "jdbc:mysql://fe:9030"})), "orders_to_dw")
    assert reason == "the starrocks sink needs sink.load-url, sink.database-name, sink.username, sink.password"


def test_a_refused_plan_does_not_stop_the_others():
    out = plans([pipeline(name="bad", tables=["public.nothere"], slot_name="bad_slot"), pipeline(name="good")])
    assert [p["ok"] for p in out] == [False, True]
    assert [p["index"] for p in out] == [0, 1]
    assert out[1]["sql"] == EXPECTED_ORDERS_SQL


# --- plans: absent, own sql, settings -----------------------------------------------------------------------------

def test_plan_absent_needs_no_catalog():
    plan = one(pipeline(state="absent", tables=["public.orders", "public.gone"]), facts=())
    assert plan["ok"] is True and plan["sql"] is None
    assert plan["state"] == "absent"
    assert plan["slots"] == ["flink_cdc_shop_orders", "flink_cdc_shop_gone"]


def test_plan_suspended_is_generated_like_running():
    plan = one(pipeline(state="suspended"))
    assert plan["ok"] and plan["state"] == "suspended" and plan["sql"] == EXPECTED_ORDERS_SQL


def test_plan_with_its_own_sql():
    sql = "CREATE TEMPORARY TABLE s (...) WITH (...);\nINSERT INTO k SELECT * FROM s;\n"
    plan = one({"name": "custom", "sql": sql, "slots": ["custom_slot", "custom_slot_2"]}, facts=())
    assert plan["ok"] is True
    assert plan["sql"] == sql
    assert plan["slots"] == ["custom_slot", "custom_slot_2"]
    assert plan["sink_connector"] == "" and plan["has_sink_password"] is False


def test_plan_with_its_own_sql_and_no_slots():
    plan = one({"name": "custom", "sql": "INSERT INTO k SELECT 1;"}, facts=())
    assert plan["ok"] is True and plan["slots"] == []


def test_plan_settings_merge_the_defaults_with_the_item():
    plan = one(pipeline(settings={"execution.checkpointing.interval": "10s", "parallelism.default": 2,
                                  "execution.checkpointing.unaligned.enabled": True}))
    assert plan["settings"] == {"execution.checkpointing.interval": "10s", "parallelism.default": "2",
                                "execution.checkpointing.unaligned.enabled": "True"}


def test_plan_settings_default_to_the_checkpoint_interval():
    assert one(pipeline())["settings"] == {"execution.checkpointing.interval": "30s"}
    assert one(pipeline(), settings=None)["settings"] == {}


def test_plan_upgrade_mode_and_savepoint_dir_come_from_the_defaults_unless_the_item_sets_them():
    plan = one(pipeline(), upgrade_mode="last-state", savepoint_dir="file:///shared/savepoints")
    assert plan["upgrade_mode"] == "last-state"
    assert plan["savepoint_dir"] == "file:///shared/savepoints"
    plan = one(pipeline(upgrade_mode="stateless", savepoint_dir="file:///mine"), upgrade_mode="last-state",
               savepoint_dir="file:///shared/savepoints")
    assert plan["upgrade_mode"] == "stateless"
    assert plan["savepoint_dir"] == "file:///mine"


def test_plan_empty_savepoint_dir_is_none_and_upgrade_mode_defaults_to_savepoint():
    plan = one(pipeline(savepoint_dir=""), savepoint_dir="", upgrade_mode="")
    assert plan["savepoint_dir"] is None
    assert plan["upgrade_mode"] == "savepoint"


def test_plan_has_no_sink_password_without_one():
    plan = one(pipeline(sink={"connector": "jdbc", "url": "jdbc:postgresql://dw/dw"}))
    assert plan["ok"] and plan["has_sink_password"] is False
    assert "${sink_password}" not in plan["sql"]


# --- tables_to_read -----------------------------------------------------------------------------------------------

def test_tables_to_read_in_order_once():
    pipelines = [
        {"name": "a", "tables": ["public.b", "public.a"]},
        {"name": "b"},
        {"name": "c", "sql": "INSERT INTO x SELECT 1;", "tables": ["public.own_sql"]},
        {"name": "d", "state": "absent", "tables": ["public.absent"]},
        {"name": "e", "tables": ["public.b", "public.z"], "state": "suspended"},
    ]
    assert _pipeline.tables_to_read(pipelines, ["public.a", "public.c"]) == ["public.b", "public.a", "public.c", "public.z"]


def test_tables_to_read_uses_the_default_tables():
    assert _pipeline.tables_to_read([{"name": "a"}, {"name": "b", "tables": None}], ["public.orders"]) == ["public.orders"]


def test_tables_to_read_of_nothing():
    assert not _pipeline.tables_to_read([], ["public.orders"])
    assert not _pipeline.tables_to_read(None, ["public.orders"])
    assert not _pipeline.tables_to_read([{"name": "a"}], [])
    assert not _pipeline.tables_to_read([{"name": "a", "sql": "x"}, {"name": "b", "state": "absent"}], ["public.orders"])


# --- job_rows -----------------------------------------------------------------------------------------------------

HOST = "jm1"


def a_plan(name="p1", state="running", ok=True, slots=("flink_cdc_shop",), reason=None):
    plan = {"name": name, "state": state, "ok": ok, "slots": list(slots)}
    if reason:
        plan["reason"] = reason
    return plan


def job_result(plan, action, job_id="j1", job_state="RUNNING", **kw):
    result = {"item": plan, "changed": action not in ("unchanged", "none"), "action": action, "name": plan["name"]}
    if job_id:
        result["job_id"] = job_id
    if job_state:
        result["job_state"] = job_state
    result.update(kw)
    return result


def single_row(plan, result, slot_results=(), check_mode=False):
    rows = _pipeline.job_rows([plan], [result], list(slot_results), HOST, check_mode)
    assert len(rows) == 1
    row = rows[0]
    assert row["host"] == HOST and row["area"] == "Pipeline" and row["check"] == (plan["name"] or "?")
    assert row["line"] == "%s: Pipeline %s: %s" % (HOST, row["check"], row["detail"])
    assert set(row) == {"host", "area", "check", "status", "detail", "line"}
    return row


def test_job_row_submitted():
    plan = a_plan()
    row = single_row(plan, job_result(plan, "submitted"))
    assert row == {"host": "jm1", "area": "Pipeline", "check": "p1", "status": "changed",
                   "detail": "job j1 submitted, now RUNNING", "line": "jm1: Pipeline p1: job j1 submitted, now RUNNING"}


def test_job_row_unchanged():
    plan = a_plan()
    row = single_row(plan, job_result(plan, "unchanged"))
    assert row["status"] == "ok" and row["detail"] == "job j1 unchanged, now RUNNING"


def test_job_row_upgraded():
    plan = a_plan()
    result = job_result(plan, "upgraded", job_id="j2", savepoint="file:/sp/savepoint-j1-aa",
                        restored_from="file:/sp/savepoint-j1-aa")
    row = single_row(plan, result)
    assert row["status"] == "changed"
    assert row["detail"] == "job j2 upgraded through a savepoint, now RUNNING, restored from file:/sp/savepoint-j1-aa"


def test_job_row_resumed():
    plan = a_plan()
    row = single_row(plan, job_result(plan, "resumed", job_id="j3", restored_from="file:/sp/savepoint-j1-bb"))
    assert row["status"] == "changed"
    assert row["detail"] == "job j3 resumed, now RUNNING, restored from file:/sp/savepoint-j1-bb"


def test_job_row_suspended():
    plan = a_plan(state="suspended")
    row = single_row(plan, job_result(plan, "suspended", job_state="FINISHED", savepoint="file:/sp/savepoint-j1-cc"))
    assert row["status"] == "changed"
    assert row["detail"] == "job j1 suspended with a savepoint, now FINISHED, savepoint file:/sp/savepoint-j1-cc"


def test_job_row_absent_lists_the_dropped_slots():
    plan = a_plan(state="absent", slots=("s1",))
    slot_results = [{"item": [plan, "s1"], "changed": True, "dropped": ["s1", "s1_0"]}]
    row = single_row(plan, job_result(plan, "cancelled", job_state="CANCELED"), slot_results)
    assert row["status"] == "changed"
    assert row["detail"] == "job j1 cancelled, now CANCELED; dropped its slots s1, s1_0"


def test_job_row_absent_with_several_slots_and_no_job():
    plan = a_plan(state="absent", slots=("s_a", "s_b"))
    other = a_plan(name="p2", state="absent", slots=("s_c",))
    slot_results = [
        {"item": [plan, "s_a"], "changed": True, "dropped": ["s_a"]},
        {"item": [plan, "s_b"], "changed": True, "dropped": ["s_b", "s_b_0", "s_b_1"]},
        {"item": [other, "s_c"], "changed": True, "dropped": ["s_c"]},
    ]
    row = single_row(plan, job_result(plan, "none", job_id=None, job_state=None), slot_results)
    assert row["status"] == "ok"
    assert row["detail"] == "job - nothing to do; dropped its slots s_a, s_b, s_b_0, s_b_1"


def test_job_row_absent_without_dropped_slots():
    plan = a_plan(state="absent", slots=("s1",))
    slot_results = [{"item": [plan, "s1"], "changed": False, "skipped": True}]
    row = single_row(plan, job_result(plan, "none", job_id=None, job_state=None), slot_results)
    assert row["detail"] == "job - nothing to do"


def test_job_row_dropped_slots_only_for_absent():
    plan = a_plan()
    slot_results = [{"item": [plan, "flink_cdc_shop"], "dropped": ["flink_cdc_shop"]}]
    row = single_row(plan, job_result(plan, "unchanged"), slot_results)
    assert "dropped" not in row["detail"]


def test_job_row_failed_with_its_savepoint():
    plan = a_plan()
    result = {"item": plan, "failed": True, "msg": "the new job failed: ClassNotFoundException",
              "savepoint": "file:/sp/savepoint-j1-dd", "action": "upgraded"}
    row = single_row(plan, result)
    assert row["status"] == "fail"
    assert row["detail"] == "the new job failed: ClassNotFoundException (savepoint file:/sp/savepoint-j1-dd)"


def test_job_row_failed_without_savepoint_or_msg():
    plan = a_plan()
    assert single_row(plan, {"item": plan, "failed": True, "msg": "no JobManager"})["detail"] == "no JobManager"
    assert single_row(plan, {"item": plan, "failed": True})["detail"] == "failed"


def test_job_row_in_check_mode():
    plan = a_plan()
    row = single_row(plan, job_result(plan, "submitted", job_id=None, job_state=None), check_mode=True)
    assert row["status"] == "skip"
    assert row["detail"] == "job - would be submitted"
    row = single_row(plan, job_result(plan, "upgraded"), check_mode=True)
    assert row["status"] == "skip"
    assert row["detail"] == "job j1 would be upgraded through a savepoint"
    row = single_row(plan, job_result(plan, "unchanged"), check_mode=True)
    assert row["status"] == "skip" and row["detail"] == "job j1 unchanged"


def test_job_row_of_a_plan_that_is_not_ok():
    plan = a_plan(ok=False, reason="pipeline p1: public.nothere was not read from the source database")
    row = single_row(plan, {"item": plan, "skipped": True})
    assert row["status"] == "fail"
    assert row["detail"] == "pipeline p1: public.nothere was not read from the source database"


def test_job_row_of_a_plan_without_name_or_reason():
    rows = _pipeline.job_rows([{"name": "", "ok": False}], [], [], HOST)
    assert rows == [{"host": HOST, "area": "Pipeline", "check": "?", "status": "fail", "detail": "not planned",
                     "line": "jm1: Pipeline ?: not planned"}]


def test_job_row_of_a_skipped_or_missing_result():
    plan = a_plan()
    assert single_row(plan, {"item": plan, "skipped": True, "changed": False})["detail"] == "flink_job did not run"
    rows = _pipeline.job_rows([plan], [], [], HOST)
    assert [(r["status"], r["detail"]) for r in rows] == [("fail", "flink_job did not run")]


def test_job_rows_follow_the_plans_and_match_results_by_name():
    p1, p2, p3 = a_plan("p1"), a_plan("p2", slots=("s2",)), a_plan("p3", ok=False, reason="pipeline p3: no tables")
    results = [job_result(p2, "submitted", job_id="j2"), "not a dict", job_result(p1, "unchanged")]
    rows = _pipeline.job_rows([p1, p2, p3], results, [], HOST)
    assert [(r["check"], r["status"], r["detail"]) for r in rows] == [
        ("p1", "ok", "job j1 unchanged, now RUNNING"),
        ("p2", "changed", "job j2 submitted, now RUNNING"),
        ("p3", "fail", "pipeline p3: no tables"),
    ]


def test_job_rows_of_real_plans():
    planned = plans([pipeline(name="a", slot_name="slot_a"), pipeline(name="b", state="absent", slot_name="slot_b")])
    results = [job_result(planned[0], "submitted"), job_result(planned[1], "cancelled", job_id="j9", job_state="CANCELED")]
    slot_results = [{"item": [planned[1], "slot_b"], "dropped": ["slot_b"]}]
    rows = _pipeline.job_rows(planned, results, slot_results, HOST)
    assert [r["line"] for r in rows] == ["jm1: Pipeline a: job j1 submitted, now RUNNING",
                                         "jm1: Pipeline b: job j9 cancelled, now CANCELED; dropped its slots slot_b"]


# --- health_rows --------------------------------------------------------------------------------------------------

BOUNDS = {"max_checkpoint_age": 600, "max_slot_lag": 1000000}
HEALTHY = {"restarts": 0, "checkpoints_completed": 5, "checkpoints_failed": 0, "last_checkpoint_age_s": 3.2}


def health_job(plan, job_state="RUNNING", action="unchanged", health=None, **kw):
    result = {"item": plan, "changed": action != "unchanged", "action": action, "job_id": "j1", "job_state": job_state,
              "health": dict(HEALTHY) if health is None else health}
    result.update(kw)
    return result


def slot_result(plan, slot, active=True, lag_bytes=1024, present=True):
    found = [{"name": slot, "slot_type": "logical", "active": active, "lag_bytes": lag_bytes}] if present else []
    return {"item": [plan, slot], "changed": not present, "slots": found}


def health_row(plan, job, slots, bounds=None):
    rows = _pipeline.health_rows([plan], [job] if job else [], slots, BOUNDS if bounds is None else bounds, HOST)
    assert len(rows) == 1
    row = rows[0]
    assert row["host"] == HOST and row["area"] == "Pipeline" and row["check"] == "%s health" % plan["name"]
    assert row["line"] == "%s: Pipeline %s: %s" % (HOST, row["check"], row["detail"])
    return row


def test_health_row_of_a_healthy_pipeline():
    plan = a_plan()
    row = health_row(plan, health_job(plan), [slot_result(plan, "flink_cdc_shop")])
    assert row["status"] == "ok"
    assert row["detail"] == "job j1 RUNNING, last checkpoint 3 s ago, 0 restart(s); slot lag flink_cdc_shop 1024 bytes"


def test_health_row_of_a_job_that_is_not_running():
    plan = a_plan()
    job = health_job(plan, job_state="CANCELED", action="submitted", health={}, msg="job j1 was cancelled by hand")
    row = health_row(plan, job, [slot_result(plan, "flink_cdc_shop", active=False)])
    assert row["status"] == "fail"
    assert row["detail"].startswith("the job is CANCELED, not RUNNING: job j1 was cancelled by hand; ")
    assert "does not run its declared spec" not in row["detail"]
    assert "no checkpoint completed yet" not in row["detail"]
    assert row["detail"].endswith(". job j1 CANCELED, last checkpoint never, ? restart(s); slot lag flink_cdc_shop 1024 bytes")


def test_health_row_of_a_missing_job():
    plan = a_plan()
    row = health_row(plan, None, [slot_result(plan, "flink_cdc_shop")])
    assert row["status"] == "fail"
    assert row["detail"].startswith("the job is missing, not RUNNING. job - missing, last checkpoint never")


def test_health_row_of_a_job_that_does_not_run_its_spec():
    plan = a_plan()
    row = health_row(plan, health_job(plan, action="upgraded"), [slot_result(plan, "flink_cdc_shop")])
    assert row["status"] == "fail"
    assert row["detail"].startswith("the job does not run its declared spec (flink_job would say upgraded). job j1 RUNNING")


def test_health_row_without_a_checkpoint():
    plan = a_plan()
    row = health_row(plan, health_job(plan, health=dict(HEALTHY, last_checkpoint_age_s=None, checkpoints_completed=0)),
                     [slot_result(plan, "flink_cdc_shop")])
    assert row["status"] == "fail"
    assert row["detail"].startswith("no checkpoint completed yet: the slot advances only on checkpoints")
    assert "execution.checkpointing.interval" in row["detail"]
    assert "last checkpoint never" in row["detail"]


def test_health_row_without_a_checkpoint_for_longer_than_the_bound():
    plan = a_plan()
    health = dict(HEALTHY, last_checkpoint_age_s=None, checkpoints_completed=0, running_s=700.0)
    row = health_row(plan, health_job(plan, health=health), [slot_result(plan, "flink_cdc_shop")])
    assert row["status"] == "fail"
    assert row["detail"].startswith("no checkpoint completed in 700 s: the slot advances only on checkpoints")


def test_health_row_of_a_job_just_submitted_without_a_checkpoint_yet():
    plan = a_plan()
    health = dict(HEALTHY, last_checkpoint_age_s=None, checkpoints_completed=0, running_s=2.5)
    row = health_row(plan, health_job(plan, health=health), [slot_result(plan, "flink_cdc_shop")])
    assert row["status"] == "ok", row
    assert "last checkpoint never" in row["detail"]


def test_health_row_of_an_old_checkpoint():
    plan = a_plan()
    job = health_job(plan, health=dict(HEALTHY, last_checkpoint_age_s=900.4, checkpoints_failed=2))
    row = health_row(plan, job, [slot_result(plan, "flink_cdc_shop")])
    assert row["status"] == "fail"
    assert row["detail"].startswith("the last checkpoint completed 900 s ago, more than 600 s "
                                    "(flink_cdc_pipeline_max_checkpoint_age): checkpoints fail or stall (2 failed)")


def test_health_row_checkpoint_age_within_or_without_a_bound():
    plan = a_plan()
    job = health_job(plan, health=dict(HEALTHY, last_checkpoint_age_s=600))
    assert health_row(plan, job, [slot_result(plan, "flink_cdc_shop")])["status"] == "ok"
    job = health_job(plan, health=dict(HEALTHY, last_checkpoint_age_s=99999))
    row = health_row(plan, job, [slot_result(plan, "flink_cdc_shop")], bounds={"max_slot_lag": 1000000})
    assert row["status"] == "ok" and "last checkpoint 99999 s ago" in row["detail"]


def test_health_row_of_a_missing_slot():
    plan = a_plan()
    for slots in ([], [slot_result(plan, "flink_cdc_shop", present=False)],
                  [{"item": [plan, "flink_cdc_shop"], "failed": True, "msg": "could not connect"}]):
        row = health_row(plan, health_job(plan), slots)
        assert row["status"] == "fail"
        assert row["detail"].startswith("its replication slot flink_cdc_shop does not exist. ")
        assert row["detail"].endswith("; slot lag flink_cdc_shop None bytes")


def test_health_row_of_an_inactive_slot():
    plan = a_plan()
    row = health_row(plan, health_job(plan), [slot_result(plan, "flink_cdc_shop", active=False)])
    assert row["status"] == "fail"
    assert row["detail"].startswith("its replication slot flink_cdc_shop is not active: no job reads it, and it holds back WAL. ")


def test_health_row_of_a_lagging_slot():
    plan = a_plan()
    row = health_row(plan, health_job(plan), [slot_result(plan, "flink_cdc_shop", lag_bytes=2000000)])
    assert row["status"] == "fail"
    assert row["detail"].startswith("its replication slot flink_cdc_shop lags 2000000 bytes behind, more than 1000000 "
                                    "(flink_cdc_pipeline_max_slot_lag). ")


def test_health_row_slot_lag_within_or_without_a_bound():
    plan = a_plan()
    assert health_row(plan, health_job(plan), [slot_result(plan, "flink_cdc_shop", lag_bytes=1000000)])["status"] == "ok"
    row = health_row(plan, health_job(plan), [slot_result(plan, "flink_cdc_shop", lag_bytes=2000000)],
                     bounds={"max_checkpoint_age": 600})
    assert row["status"] == "ok"
    assert health_row(plan, health_job(plan), [slot_result(plan, "flink_cdc_shop", lag_bytes=None)])["status"] == "ok"


def test_health_row_joins_every_problem_and_checks_each_slot():
    plan = a_plan(slots=("s_orders", "s_items"))
    job = health_job(plan, action="upgraded", health=dict(HEALTHY, last_checkpoint_age_s=None, restarts=4))
    row = health_row(plan, job, [slot_result(plan, "s_orders", active=False), slot_result(plan, "s_items", lag_bytes=5)])
    assert row["status"] == "fail"
    assert row["detail"] == (
        "the job does not run its declared spec (flink_job would say upgraded); "
        "no checkpoint completed yet: the slot advances only on checkpoints (set execution.checkpointing.interval); "
        "its replication slot s_orders is not active: no job reads it, and it holds back WAL. "
        "job j1 RUNNING, last checkpoint never, 4 restart(s); slot lag s_orders 1024 bytes, s_items 5 bytes")


def test_health_rows_only_for_running_planned_pipelines():
    running, suspended = a_plan("run"), a_plan("sus", state="suspended", slots=("s2",))
    absent, bad = a_plan("gone", state="absent", slots=("s3",)), a_plan("bad", ok=False, reason="x", slots=("s4",))
    rows = _pipeline.health_rows([running, suspended, absent, bad], [health_job(running)],
                                 [slot_result(running, "flink_cdc_shop")], BOUNDS, HOST)
    assert [(r["check"], r["status"]) for r in rows] == [("run health", "ok")]


def test_health_rows_of_nothing():
    assert not _pipeline.health_rows([], [], [], BOUNDS, HOST)
    assert not _pipeline.health_rows(None, None, None, {}, HOST)


def test_health_row_of_a_young_job_whose_slot_is_not_active_yet_is_a_warning():
    plan = a_plan()
    health = dict(HEALTHY, running_s=4.0)
    row = health_row(plan, health_job(plan, health=health), [slot_result(plan, "flink_cdc_shop", active=False)])
    assert row["status"] == "warn", row
    assert row["detail"].startswith("its replication slot flink_cdc_shop is not active yet: the job started 4 s ago")
    old = health_row(plan, health_job(plan, health=dict(HEALTHY, running_s=700.0)),
                     [slot_result(plan, "flink_cdc_shop", active=False)])
    assert old["status"] == "fail" and "is not active: no job reads it" in old["detail"]


# --------------------------------------------------------------------------- a restart under running pipelines

def _job(name, state="RUNNING", jid=None):
    """A job as flink_cluster_info returns it."""
    return {"id": jid or "0" * 32, "name": name, "state": state, "start_time": 1}


def test_restart_jobs_suspends_the_declared_pipelines_and_names_the_others():
    jobs = [_job("orders", jid="a" * 32), _job("etl"), _job("payments", jid="b" * 32), _job("old", "CANCELED"),
            _job("late", "FAILED")]
    pipelines = [{"name": "orders"}, {"name": "payments", "savepoint_dir": "s3://bucket/sp"}, {"name": "idle"}]
    assert _pipeline.restart_jobs(jobs, pipelines, "file:///flink/sp") == {
        "suspend": [{"name": "orders", "job_id": "a" * 32, "savepoint_dir": "file:///flink/sp"},
                    {"name": "payments", "job_id": "b" * 32, "savepoint_dir": "s3://bucket/sp"}],
        "others": ["etl"]}


def test_restart_jobs_leaves_the_savepoint_dir_to_the_cluster_when_none_is_set():
    got = _pipeline.restart_jobs([_job("orders", jid="a" * 32)], [{"name": "orders"}], "")
    assert got["suspend"] == [{"name": "orders", "job_id": "a" * 32, "savepoint_dir": None}]


def test_restart_jobs_lists_a_pipeline_running_twice_once():
    # flink_job then refuses to suspend it, naming both jobs.
    got = _pipeline.restart_jobs([_job("orders", jid="a" * 32), _job("orders", jid="b" * 32)], [{"name": "orders"}], None)
    assert got == {"suspend": [{"name": "orders", "job_id": "a" * 32, "savepoint_dir": None}], "others": []}


def test_restart_jobs_only_counts_running_jobs():
    jobs = [_job("orders", "FINISHED"), _job("etl", "CANCELED")]
    assert _pipeline.restart_jobs(jobs, [{"name": "orders"}], None) == {"suspend": [], "others": []}


def test_restart_refusal_names_the_jobs_the_role_does_not_own():
    assert _pipeline.restart_refusal(["etl", "report"], [], False) == [
        "2 job(s) that are not pipelines of flink_cdc_pipelines run: etl, report"]
    assert _pipeline.restart_refusal(["etl"], [], True) == []


def test_restart_refusal_names_a_pipeline_flink_job_cannot_suspend_even_when_jobs_may_run():
    checks = [{"item": {"name": "orders"}, "changed": True, "action": "suspended"},
              {"item": {"name": "payments"}, "failed": True,
               "msg": "a job named payments runs on the cluster that flink_job did not start (b1 RUNNING)"}]
    assert _pipeline.restart_refusal([], checks, True) == [
        "pipeline payments cannot be suspended: a job named payments runs on the cluster that flink_job did not "
        "start (b1 RUNNING)"]


def test_restart_refusal_of_running_pipelines_alone_is_nothing():
    assert _pipeline.restart_refusal([], [{"item": {"name": "orders"}, "action": "suspended"}], False) == []


def test_suspension_rows():
    results = [
        {"item": {"name": "orders"}, "changed": True, "action": "suspended", "job_id": "a1",
         "savepoint": "file:/flink/sp/savepoint-a1b2c3-0123"},
        {"item": {"name": "payments"}, "failed": True, "msg": "the savepoint of job payments (b1) failed"},
        {"item": {"name": "idle"}, "skipped": True},
    ]
    rows = _pipeline.suspension_rows(results, ["tm1", "tm2", "jm1"], "jm1")
    assert [(r["check"], r["status"]) for r in rows] == [("orders restart", "changed"), ("payments restart", "fail")]
    assert rows[0]["detail"] == ("job a1 suspended with the savepoint file:/flink/sp/savepoint-a1b2c3-0123 before the "
                                 "restart of tm1, tm2, jm1; the pipeline phase resumes it from there")
    assert rows[1]["detail"] == "not suspended, so nothing was restarted: the savepoint of job payments (b1) failed"
    assert rows[0]["area"] == "Pipeline" and rows[0]["host"] == "jm1" and rows[0]["line"]


def test_suspension_rows_in_check_mode():
    results = [{"item": {"name": "orders"}, "changed": True, "action": "suspended", "job_id": "a1"}]
    (row,) = _pipeline.suspension_rows(results, ["tm1"], "jm1", check_mode=True)
    assert row["status"] == "skip"
    assert row["detail"] == ("job a1 would be suspended with a savepoint before the restart of tm1, and resumed from "
                             "it by the pipeline phase")


# --------------------------------------------------------------------------- the StarRocks FE, reached when planned

def test_starrocks_endpoints():
    sink = dict(STARROCKS, **{"jdbc-url": "jdbc:mysql://fe1:9030,fe2:9031/shop?useSSL=false",
                              "load-url": "fe1:8030;http://fe2:8031/"})
    assert _pipeline.starrocks_endpoints(sink) == [
        {"name": "StarRocks FE query", "host": "fe1", "port": 9030},
        {"name": "StarRocks FE query", "host": "fe2", "port": 9031},
        {"name": "StarRocks FE http", "host": "fe1", "port": 8030},
        {"name": "StarRocks FE http", "host": "fe2", "port": 8031}]


def test_starrocks_endpoints_of_ipv6_and_the_drivers_default_port():
    sink = dict(STARROCKS, **{"jdbc-url": "jdbc:mysql://[fd00::1]", "load-url": "[fd00::1]:8030"})
    assert _pipeline.starrocks_endpoints(sink) == [
        {"name": "StarRocks FE query", "host": "fd00::1", "port": 3306},
        {"name": "StarRocks FE http", "host": "fd00::1", "port": 8030}]


@pytest.mark.parametrize("option, value, message", [
    ("jdbc-url", "fe:9030", "sink.jdbc-url is 'fe:9030'; a StarRocks sink needs jdbc:mysql://<fe-host>:<query_port> "
                            "(9030), several FEs separated by commas"),
    ("jdbc-url", "jdbc:mysql://fe:90300", "sink.jdbc-url has 'fe:90300' where it needs host:port (the FE query_port, 9030)"),
    ("load-url", "fe", "sink.load-url has 'fe' where it needs host:port (the FE http_port, 8030; several FEs "
                       "separated by ;)"),
    ("load-url", "fe:8030,fe2:8030", "sink.load-url has 'fe:8030,fe2:8030' where it needs host:port (the FE "
                                     "http_port, 8030; several FEs separated by ;)"),
])
def test_a_starrocks_url_it_cannot_read_stops_the_plan(option, value, message):
    reason = refused(one(pipeline(sink=dict(STARROCKS, **{option: value}))), "orders_to_dw")
    assert reason == message


def test_planner_endpoints_of_every_starrocks_pipeline_once():
    other = dict(STARROCKS, **{"jdbc-url": "jdbc:mysql://fe:9030,fe2:9030", "load-url": "fe:8030"})
    pipelines = [{"name": "a", "sink": STARROCKS}, {"name": "b", "sink": other},
                 {"name": "c", "sink": dict(STARROCKS, **{"load-url": "gone:8030"}), "state": "absent"},
                 {"name": "d", "sink": JDBC}, {"name": "e", "sql": "INSERT ...", "sink": dict(STARROCKS, **{"load-url": "x:1"})},
                 {"name": "f", "sink": dict(STARROCKS, **{"jdbc-url": "broken"})}, {"name": "g"}]
    assert _pipeline.planner_endpoints(pipelines) == [
        {"name": "StarRocks FE query", "host": "fe", "port": 9030},
        {"name": "StarRocks FE http", "host": "fe", "port": 8030},
        {"name": "StarRocks FE query", "host": "fe2", "port": 9030}]


def test_planner_endpoints_of_no_pipeline():
    assert _pipeline.planner_endpoints([]) == []
