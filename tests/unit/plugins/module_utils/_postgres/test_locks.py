"""locks: who keeps readers out of a table, and the message that names them.

Rows in tests/unit/fixtures/pg/table_locks.json were recorded on the bed's real PostgreSQL 15 with TABLE_LOCKS_SQL:
``held_*`` while a psql-like session (application_name cdcops-test-locker) sat idle in ``BEGIN; LOCK TABLE
public.products IN ACCESS EXCLUSIVE MODE`` and a reader of flink_cdc waited behind it, read by a superuser and
by flink_cdc without pg_read_all_stats; ``queued_privileged`` while an ``ALTER TABLE`` waited behind a long
reader (pid 26225) and a later reader queued behind the ALTER.
"""

import json
import os

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import catalog as pg_catalog
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import locks
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.connection import PgQueryError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "pg")


def recorded(case):
    with open(os.path.join(FIXTURES, "table_locks.json")) as f:
        return json.load(f)[case]


def test_the_sql_reads_only_the_mode_a_read_waits_for_with_bound_parameters():
    params = locks.table_locks_params([("public", "products"), ("Sales.EU", "Orders")])
    assert params == {"modes": ["AccessExclusiveLock"], "schemas": ["public", "Sales.EU"],
                      "tables": ["products", "Orders"]}
    text = " ".join(locks.TABLE_LOCKS_SQL.split())
    assert "l.mode = ANY(%(modes)s)" in text and "unnest(%(schemas)s::text[], %(tables)s::text[])" in text
    assert "LEFT JOIN pg_stat_activity a ON a.pid = l.pid" in text
    assert "l.pid IS DISTINCT FROM pg_backend_pid()" in text  # never blames the reading session itself
    assert "pg_blocking_pids(w.pid)" in text


def test_a_held_lock_names_the_session_since_when_what_it_runs_and_the_fix():
    rows = recorded("held_privileged")
    found, message = locks.lock_diagnosis("public", "products", rows)
    assert [(lock["pid"], lock["mode"], lock["granted"]) for lock in found] == [(26220, "AccessExclusiveLock", True)]
    assert message == (
        "public.products is locked: pid 26220 (application_name 'cdcops-test-locker', user postgres, from 127.0.0.1, "
        "transaction open since 2026-12-06 12:53:47 UTC (0:00:01 ago), idle in transaction since 2026-12-06 12:53:47 "
        "UTC (0:00:01 ago), last statement: LOCK TABLE public.products IN ACCESS EXCLUSIVE MODE) holds "
        "AccessExclusiveLock on it; 1 session(s) wait behind it (pid 26221). Fix: let that session finish its "
        "transaction (COMMIT or ROLLBACK there) or end it: SELECT pg_terminate_backend(26220). Nothing here ends or "
        "cancels another session for you.")


def test_a_role_without_pg_read_all_stats_gets_what_postgres_shows_and_how_to_see_more():
    rows = recorded("held_unprivileged")
    assert rows[0]["query"] == locks.HIDDEN and rows[0]["client_addr"] is None
    _found, message = locks.lock_diagnosis("public", "products", rows)
    assert "pid 26220 (application_name 'cdcops-test-locker', user postgres, its client address, transaction " \
        "start and statement are hidden from this role: GRANT pg_read_all_stats TO it to see them)" in message
    assert locks.HIDDEN not in message  # no "running: <insufficient privilege>"
    assert "SELECT pg_terminate_backend(26220)" in message


def test_a_queued_lock_blocks_later_readers_and_names_what_it_waits_for():
    rows = recorded("queued_privileged")
    found, message = locks.lock_diagnosis("public", "products", rows)
    assert [(lock["pid"], lock["granted"], lock["waits_for"]) for lock in found] == [(26226, False, [26225])]
    assert message.startswith("pid 26226 (application_name 'migrate', user postgres, from 127.0.0.1, ")
    assert "running: SET lock_timeout='8s'; ALTER TABLE public.products ADD COLUMN tmp_x int) waits for " \
        "AccessExclusiveLock on public.products behind pid 26225, and every later read of the table queues " \
        "behind it." in message
    assert "Fix: cancel the waiting statement (SELECT pg_cancel_backend(26226)) or let pid 26225 finish first." \
        in message
    assert "pg_terminate_backend" not in message


def test_other_tables_and_no_locks_give_nothing():
    assert locks.lock_diagnosis("public", "orders", recorded("held_privileged")) == ([], "")
    assert locks.describe_locks("public.products", []) == ""


def test_a_prepared_transaction_has_no_session_to_end():
    lock = {"pid": None, "prepared": True, "mode": "AccessExclusiveLock", "granted": True, "blocked_pids": None}
    message = locks.describe_locks("public.products", [lock])
    assert "a prepared transaction (no session: find it in pg_prepared_xacts" in message
    assert "Fix: end the prepared transaction (COMMIT PREPARED or ROLLBACK PREPARED)." in message
    assert "pg_terminate_backend" not in message


# --------------------------------------------------------------------------- catalog.collect with a locked table


class LockedTableClient:
    """Answers collect()'s queries like the bed's PostgreSQL with public.products locked by another session."""

    def __init__(self, lock_rows):
        self.endpoint = "127.0.0.1:25432"
        self.user = "flink_cdc"
        self.executed_queries = []
        self.params = {}
        self.lock_rows = lock_rows

    def query(self, sql, params=None, record=True):
        self.executed_queries.append(" ".join(sql.split()))
        self.params[sql] = params
        if sql == pg_catalog.SERVER_SQL:
            return [{"version_num": 150018, "version": "15.18", "in_recovery": False, "database": "shop"}]
        if sql == pg_catalog.ROLE_SQL:
            return [{"name": "flink_cdc", "replication": True, "can_login": True}]
        if sql in (pg_catalog.SETTINGS_SQL, pg_catalog.slots_sql(150018)):
            return []
        if sql == pg_catalog.WAL_SENDERS_SQL:
            return [{"active": 0}]
        if sql == pg_catalog.TABLES_SQL:
            return [{"schema": "public", "table": "products", "exists": True, "relkind": "r",
                     "qualified": "public.products", "schema_usage": True, "can_select": True,
                     "primary_key": ["id"], "primary_key_types": ["bigint"]}]
        if sql == pg_catalog.LOCK_TIMEOUT_SQL:
            return [{"lock_timeout": params["value"]}]
        if sql.startswith("SELECT count(*)"):
            # What psycopg2 raises once lock_timeout has passed (seen on the bed).
            raise PgQueryError("a read-only query failed on PostgreSQL at 127.0.0.1:25432: canceling statement due "
                               "to lock timeout", locks.LOCK_NOT_AVAILABLE, "canceling statement due to lock timeout")
        if sql == locks.TABLE_LOCKS_SQL:
            return self.lock_rows
        raise AssertionError("unexpected query %s" % sql)


def test_a_count_gives_up_on_the_lock_and_names_its_holder_instead_of_hanging():
    client = LockedTableClient(recorded("held_privileged"))
    facts = pg_catalog.collect(client, tables=[("public", "products")], replication_connection=False,
                               count_rows=True, lock_timeout=2.5)
    assert client.params[pg_catalog.LOCK_TIMEOUT_SQL] == {"value": "2500ms"}
    (table,) = pg_catalog.table_summaries(facts["tables"])
    assert "rows" not in table
    assert table["count_error"] == ("counting the rows of public.products waited 2.5s for a lock and gave up "
                                    "(lock_timeout)")
    assert [lock["pid"] for lock in table["locks"]] == [26220]
    assert table["lock_diagnosis"].startswith("public.products is locked: pid 26220 (application_name "
                                              "'cdcops-test-locker'")
    # The lock query ran after the count, as the module's queries show.
    assert [q for q in client.executed_queries if "pg_locks" in q or "count(*) AS row_count" in q][-1] \
        == " ".join(locks.TABLE_LOCKS_SQL.split())


def test_other_query_errors_of_a_count_still_fail():
    client = LockedTableClient([])

    def query(sql, params=None, record=True):
        if sql.startswith("SELECT count(*)"):
            raise PgQueryError("permission denied", "42501")
        return LockedTableClient.query(client, sql, params, record)

    client.query = query
    with pytest.raises(PgQueryError):
        pg_catalog.collect(client, tables=[("public", "products")], replication_connection=False, count_rows=True)


def test_table_locks_are_read_only_when_asked_or_after_a_count_gave_up():
    client = LockedTableClient(recorded("held_privileged"))
    facts = pg_catalog.collect(client, tables=[("public", "products")], replication_connection=False)
    assert not any("pg_locks" in q for q in client.executed_queries)
    assert "locks" not in pg_catalog.table_summaries(facts["tables"])[0]
    facts = pg_catalog.collect(client, tables=[("public", "products")], replication_connection=False,
                               table_locks=True)
    (table,) = pg_catalog.table_summaries(facts["tables"])
    assert table["lock_diagnosis"].startswith("public.products is locked: pid 26220")
    assert client.params[locks.TABLE_LOCKS_SQL] == locks.table_locks_params([("public", "products")])


@pytest.mark.parametrize("seconds, value", [(10, "10000ms"), (0.0001, "1ms"), (2.5, "2500ms")])
def test_lock_timeout_value_is_never_zero(seconds, value):
    assert pg_catalog.lock_timeout_value(seconds) == value
