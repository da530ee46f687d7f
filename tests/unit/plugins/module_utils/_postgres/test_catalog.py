"""The catalog queries and the table summaries, replayed on recorded facts.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed; what the bed's
public.typed_keys must read as is tests/bed/pg_seed.py's TYPED_KEYS_SUMMARY, which the integration test checks live.
"""

import os
import sys

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import catalog as pg_catalog, text as pg_text
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.pg_recorded import (
    recorded,
    recorded_tables,
    table,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import pg_seed  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.parametrize("version_num, present, absent", [
    (150000, ["pg_wal_lsn_diff", "s.wal_status", "s.temporary"], ["xlog"]),
    (120000, ["pg_wal_lsn_diff", "NULL::text AS wal_status"], ["s.wal_status"]),
    (90600, ["pg_xlog_location_diff", "pg_current_xlog_location()"], ["pg_wal_lsn_diff", "s.temporary"]),
])
def test_slots_sql_follows_the_server_version(version_num, present, absent):
    text = pg_catalog.slots_sql(version_num)
    for part in present:
        assert part in text
    for part in absent:
        assert part not in text


def test_table_summaries_from_recorded_facts():
    data, _by_name = recorded_tables()
    summaries = pg_catalog.table_summaries(data["facts_tables"])
    assert [s["name"] for s in summaries] == ["public.typed_keys", "public.events_nopk", "public.orders_view",
                                              "public.secret", "hidden.t", '"Sales.EU"."Orders"', "public.missing"]
    by_name = {s["name"]: s for s in summaries}
    # Key order, not column order, with format_type() text; every column in table order.
    assert by_name["public.typed_keys"] == pg_seed.TYPED_KEYS_SUMMARY
    assert by_name["public.events_nopk"]["primary_key"] == [] and by_name["public.events_nopk"]["rows"] == 0
    assert (by_name["public.orders_view"]["kind"], by_name["public.orders_view"]["exists"]) == ("view", True)
    sales = by_name['"Sales.EU"."Orders"']
    expected = ("Sales.EU", "Orders", [{"name": "Id", "type": "bigint"}])
    assert (sales["schema"], sales["table"], sales["primary_key"]) == expected
    assert by_name["public.missing"] == {"name": "public.missing", "schema": "public", "table": "missing",
                                         "exists": False, "kind": None, "primary_key": [], "columns": []}
    # Not counted: a view, a table without SELECT, a schema without USAGE, a missing table.
    assert [s["name"] for s in summaries if "rows" not in s] == ["public.orders_view", "public.secret", "hidden.t",
                                                                 "public.missing"]


def test_table_summaries_carry_the_recorded_key_types():
    summaries = pg_catalog.table_summaries(recorded("ready")["facts"]["tables"])
    assert summaries[0]["primary_key"] == [{"name": "id", "type": "bigint"}]
    assert all("rows" not in s for s in summaries)


def test_table_summaries_without_key_types_keep_the_names():
    # Facts without primary_key_types (a catalog row from before the column was read): names, no types.
    rows = [dict(t, primary_key_types=None) for t in recorded("ready")["facts"]["tables"]]
    assert pg_catalog.table_summaries(rows)[0]["primary_key"] == [{"name": "id", "type": None}]


@pytest.mark.parametrize("overrides, counted", [
    ({}, True),
    ({"relkind": "p"}, True),
    ({"relkind": "v"}, False),
    ({"relkind": "m"}, False),
    ({"exists": False, "qualified": None, "relkind": None}, False),
    ({"can_select": False}, False),
    ({"schema_usage": False}, False),
])
def test_countable(overrides, counted):
    assert pg_catalog.countable(table(**overrides)) is counted


def test_count_rows_sql_takes_the_servers_quoting():
    assert pg_catalog.count_rows_sql('public."odd%s ""name"""') == 'SELECT count(*) AS row_count FROM public."odd%s ""name"""'


def test_tables_sql_reads_key_names_and_types_in_key_order():
    text = " ".join(pg_catalog.TABLES_SQL.split())
    assert "pk.names AS primary_key, pk.types AS primary_key_types" in text
    assert "format_type(a.atttypid, a.atttypmod) ORDER BY k.ord" in text
    assert "unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)" in text


class ReplayClient(object):
    """Answers collect()'s queries from recorded facts, and records them as PgClient does."""

    def __init__(self, facts_tables, counts):
        self.endpoint = "127.0.0.1:15432"
        self.user = "plc_fx_cdc"
        self.executed_queries = []
        self.facts_tables = facts_tables
        self.counts = counts

    def query(self, sql, params=None, record=True):
        self.executed_queries.append(" ".join(sql.split()))
        if sql == pg_catalog.SERVER_SQL:
            return [{"version_num": 150018, "version": "15.18", "in_recovery": False, "database": "plc_fx"}]
        if sql == pg_catalog.ROLE_SQL:
            return [{"name": "plc_fx_cdc", "replication": True, "can_login": True}]
        if sql == pg_catalog.SETTINGS_SQL:
            return []
        if sql == pg_catalog.WAL_SENDERS_SQL:
            return [{"active": 0}]
        if sql == pg_catalog.TABLES_SQL:
            assert params["tables"] == [t["table"] for t in self.facts_tables]
            return [{k: v for k, v in t.items() if k != "rows"} for t in self.facts_tables]
        if sql.startswith("SELECT count(*) AS row_count FROM "):
            return [{"row_count": self.counts[sql[len("SELECT count(*) AS row_count FROM "):]]}]
        if sql == pg_catalog.slots_sql(150018):
            return []
        if sql == pg_catalog.LOCK_TIMEOUT_SQL:
            return [{"lock_timeout": params["value"]}]
        raise AssertionError("unexpected query %s" % sql)


@pytest.mark.parametrize("count_rows", [False, True])
def test_collect_counts_only_when_asked_one_query_per_countable_table(count_rows):
    data, by_name = recorded_tables()
    counts = {t["qualified"]: t["rows"] for t in data["facts_tables"] if "rows" in t}
    client = ReplayClient(data["facts_tables"], counts)
    keys = [pg_text.parse_table_name(t) for t in data["tables"]]
    facts = pg_catalog.collect(client, tables=keys, replication_connection=False, count_rows=count_rows)
    table_queries = [q for q in client.executed_queries if "FROM unnest(" in q]
    assert len(table_queries) == 1  # one catalog query for every table
    count_queries = [q for q in client.executed_queries if "row_count" in q]
    if not count_rows:
        assert count_queries == []
        assert all("rows" not in t for t in facts["tables"])
        return
    assert count_queries == [q for q in data["queries"] if "row_count" in q]
    assert count_queries == ["SELECT count(*) AS row_count FROM public.typed_keys",
                             "SELECT count(*) AS row_count FROM public.events_nopk",
                             'SELECT count(*) AS row_count FROM "Sales.EU"."Orders"']
    assert [t.get("rows") for t in facts["tables"]] == [t.get("rows") for t in data["facts_tables"]]
