"""Table and publication checks.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import table_checks as pg_table_checks
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.pg_recorded import (
    assert_failed,
    assert_passed,
    table,
)


def test_table_checks_for_a_good_table():
    checks = pg_table_checks.check_tables([table()], "cdc", "cdc", "shop")
    assert [c["name"] for c in checks] == ["table_exists", "table_select", "table_primary_key",
                                           "table_replica_identity"]
    for check in checks:
        assert_passed(check)
        assert check["table"] == "public.orders"


def test_missing_table_stops_there_and_suggests_the_right_case():
    checks = pg_table_checks.check_tables([table(name="Orders", exists=False, similar=["public.orders"])], "cdc", "cdc", "shop")
    assert len(checks) == 1
    assert_failed(checks[0], "error", "Did you mean public.orders?", "case-sensitive")
    assert checks[0]["message"] == 'table public."Orders" does not exist in database shop'


def test_view_is_not_a_table():
    check = pg_table_checks.check_table_exists(table(name="orders_view", relkind="v"), "shop")
    assert_failed(check, "error")
    assert "is a view, not a table" in check["message"]


def test_select_privilege_and_schema_usage():
    no_select = pg_table_checks.check_table_select(table(can_select=False), "cdc", "cdc")
    assert_failed(no_select, "error", "GRANT SELECT ON public.orders TO cdc;")
    no_usage = pg_table_checks.check_table_select(table(schema="hidden", name="t", schema_usage=False), "cdc", "cdc")
    assert_failed(no_usage, "error", "GRANT USAGE ON SCHEMA hidden TO cdc;", "GRANT SELECT ON hidden.t TO cdc;")


def test_primary_key_missing_and_chunk_key_column():
    missing = pg_table_checks.check_table_primary_key(table(primary_key=None))
    assert_failed(missing, "error", "ALTER TABLE public.orders ADD PRIMARY KEY",
                  "scan.incremental.snapshot.chunk.key-column")
    assert "no primary key" in missing["message"]
    assert_passed(pg_table_checks.check_table_primary_key(table(primary_key=None, chunk_key="event_id", chunk_key_exists=True)))
    wrong = pg_table_checks.check_table_primary_key(table(primary_key=None, chunk_key="nope", chunk_key_exists=False))
    assert_failed(wrong, "error", "chunk_key_columns")


@pytest.mark.parametrize("identity, primary_key, text", [
    ("d", ["id"], "REPLICA IDENTITY DEFAULT: UPDATE and DELETE carry only the old primary key (id)"),
    ("d", None, "REPLICA IDENTITY DEFAULT and no primary key"),
    ("n", ["id"], "REPLICA IDENTITY NOTHING"),
    ("i", ["id"], "REPLICA IDENTITY USING INDEX"),
])
def test_replica_identity_warnings(identity, primary_key, text):
    check = pg_table_checks.check_table_replica_identity(table(replica_identity=identity, primary_key=primary_key))
    assert_failed(check, "warning", "ALTER TABLE public.orders REPLICA IDENTITY FULL;")
    assert text in check["message"]


def test_publication_absent_says_who_could_create_it():
    tables = [table(), table(name="customers")]
    cannot = pg_table_checks.check_publication("dbz_publication", None, tables,
                                               {"name": "cdc", "can_create_in_database": False}, "shop")
    assert_failed(cannot, "error", "CREATE PUBLICATION dbz_publication FOR TABLE public.orders, public.customers;")
    assert "role cdc could not create it: it has no CREATE privilege on the database and it does not own " \
           "public.orders, public.customers" in cannot["message"]
    assert "autocreate" not in cannot["hint"]

    owner_tables = [table(is_owner=True), table(name="customers", is_owner=True)]
    can = pg_table_checks.check_publication("p", None, owner_tables, {"name": "cdc", "can_create_in_database": True}, "shop")
    assert_failed(can, "error", "'debezium.publication.autocreate.mode' = 'filtered'")
    assert "role cdc could create it FOR TABLE" in can["message"]

    # Debezium's default autocreate mode works for a superuser: a warning, not an error.
    superuser = pg_table_checks.check_publication("p", None, tables, {"name": "postgres", "superuser": True}, "shop")
    assert_failed(superuser, "warning", "CREATE PUBLICATION p FOR TABLE public.orders, public.customers;")
    assert "creates it FOR ALL TABLES on first start" in superuser["message"]
    could, why = pg_table_checks.could_create_publication({"name": "postgres", "superuser": True}, tables)
    assert could and "superuser, also FOR ALL TABLES" in why


def test_publication_coverage():
    tables = [table(), table(name="customers"), table(name="gone", exists=False)]
    partial = {"name": "p", "quoted": "p", "owner": "postgres", "all_tables": False,
               "tables": [["public", "orders"]]}
    check = pg_table_checks.check_publication("p", partial, tables, {"name": "cdc"}, "shop")
    assert_failed(check, "error", "ALTER PUBLICATION p ADD TABLE public.customers;")
    assert "does not cover public.customers" in check["message"]
    assert "gone" not in check["message"]  # a missing table is table_exists' problem
    everything = dict(partial, all_tables=True, tables=[])
    assert_passed(pg_table_checks.check_publication("p", everything, tables, {"name": "cdc"}, "shop"))
    full = dict(partial, tables=[["public", "orders"], ["public", "customers"]])
    assert_passed(pg_table_checks.check_publication("p", full, tables, {"name": "cdc"}, "shop"))


def test_publication_actions():
    check = pg_table_checks.check_publication_actions("p", {"insert": True, "update": False, "delete": False})
    assert_failed(check, "error", "ALTER PUBLICATION p SET (publish = 'insert, update, delete');")
    assert "does not publish update, delete" in check["message"]
    assert_passed(pg_table_checks.check_publication_actions("p", {"insert": True, "update": True, "delete": True}))
