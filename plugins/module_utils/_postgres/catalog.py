# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Read-only catalog queries, all with bound parameters, that return plain data (the "facts"): ``collect()`` reads
everything the readiness checks need; ``table_summaries()`` turns its table rows into pg_logical_check's
``tables`` result.
"""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.connection import (
    PgClient,
    PgConnectError,
    PgQueryError,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.locks import (
    LOCK_NOT_AVAILABLE,
    TABLE_LOCKS_SQL,
    lock_diagnosis,
    table_locks_params,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import display_table

# PostgreSQL version data lives with the other version data, with its sources.
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import (
    PGOUTPUT_MIN_VERSION_NUM,
    TESTED_MIN_VERSION_NUM,
)

# GUCs returned in ``settings`` and read by the checks.
RELEVANT_SETTINGS = (
    "server_version",
    "wal_level",
    "max_replication_slots",
    "max_wal_senders",
    "max_slot_wal_keep_size",
    "wal_sender_timeout",
    "shared_preload_libraries",
    "rds.logical_replication",
)

CAPTURABLE_RELKINDS = ("r", "p")

# What each pg_class.relkind is, for the ``tables`` result.
RELKIND_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
                 "f": "foreign table", "S": "sequence", "i": "index", "I": "index", "c": "composite type",
                 "t": "TOAST table"}

SERVER_SQL = """
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       pg_is_in_recovery() AS in_recovery,
       current_database() AS database,
       quote_ident(current_database()) AS quoted_database
"""

ROLE_SQL = """
SELECT r.rolname AS name, quote_ident(r.rolname) AS quoted, r.rolcanlogin AS can_login,
       r.rolreplication AS replication, r.rolsuper AS superuser,
       COALESCE((SELECT pg_has_role(r.oid, g.oid, 'MEMBER') FROM pg_roles g
                 WHERE g.rolname = 'rds_replication'), false) AS rds_replication,
       has_database_privilege(current_database(), 'CREATE') AS can_create_in_database
FROM pg_roles r WHERE r.rolname = current_user
"""

SETTINGS_SQL = """
SELECT name, setting, unit, pending_restart FROM pg_settings
WHERE name = ANY(%(names)s) OR pending_restart ORDER BY name
"""

# pg_file_settings is readable by superusers only; used to tell what a pending change will become.
FILE_SETTING_SQL = """
SELECT setting FROM pg_file_settings WHERE name = %(name)s AND error IS NULL
ORDER BY seqno DESC LIMIT 1
"""

WAL_SENDERS_SQL = "SELECT count(*)::int AS active FROM pg_stat_replication"

TABLES_SQL = """
SELECT r.ord::int AS position, r.schema_name AS schema, r.table_name AS table,
       c.oid IS NOT NULL AS exists, c.relkind::text AS relkind,
       CASE WHEN c.oid IS NOT NULL THEN quote_ident(n.nspname) || '.' || quote_ident(c.relname) END AS qualified,
       CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(n.oid, 'USAGE') END AS schema_usage,
       CASE WHEN c.oid IS NOT NULL THEN has_table_privilege(c.oid, 'SELECT') END AS can_select,
       CASE WHEN c.oid IS NOT NULL THEN pg_has_role(c.relowner, 'USAGE') END AS is_owner,
       CASE WHEN c.oid IS NOT NULL THEN pg_get_userbyid(c.relowner) END AS owner,
       c.relreplident::text AS replica_identity,
       pk.names AS primary_key, pk.types AS primary_key_types,
       cols.names AS column_names, cols.types AS column_types, cols.not_null AS column_not_null,
       r.chunk_key,
       CASE WHEN r.chunk_key IS NOT NULL AND c.oid IS NOT NULL THEN EXISTS (
           SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = r.chunk_key
              AND a.attnum > 0 AND NOT a.attisdropped) END AS chunk_key_exists,
       CASE WHEN c.oid IS NULL THEN (
           SELECT array_agg(quote_ident(n2.nspname) || '.' || quote_ident(c2.relname)
                            ORDER BY n2.nspname, c2.relname)
             FROM pg_class c2 JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
            WHERE lower(n2.nspname) = lower(r.schema_name) AND lower(c2.relname) = lower(r.table_name)
              AND c2.relkind IN ('r', 'p')) END AS similar
FROM unnest(%(schemas)s::text[], %(tables)s::text[], %(chunk_keys)s::text[])
     WITH ORDINALITY AS r(schema_name, table_name, chunk_key, ord)
LEFT JOIN pg_namespace n ON n.nspname = r.schema_name
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.table_name
LEFT JOIN LATERAL (
    SELECT array_agg(a.attname::text ORDER BY k.ord) AS names,
           array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord) AS types
      FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = c.oid AND i.indisprimary) pk ON true
LEFT JOIN LATERAL (
    SELECT array_agg(a.attname::text ORDER BY a.attnum) AS names,
           array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS types,
           array_agg(a.attnotnull ORDER BY a.attnum) AS not_null
      FROM pg_attribute a
     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) cols ON true
ORDER BY r.ord
"""


def count_rows_sql(qualified: str) -> str:
    """Exact row count of one table (a full scan).

    ``qualified`` is the server's own quote_ident(schema) || '.' || quote_ident(table) from
    TABLES_SQL, never user input: identifiers cannot be bound parameters.
    """
    return "SELECT count(*) AS row_count FROM %s" % qualified


def countable(table: t.Dict[str, t.Any]) -> bool:
    """Whether an exact count runs on a TABLES_SQL row: an existing table the role can read."""
    return bool(table.get("exists") and table.get("relkind") in CAPTURABLE_RELKINDS and table.get("qualified")
                and table.get("schema_usage") and table.get("can_select"))


PUBLICATION_SQL = """
SELECT p.pubname AS name, quote_ident(p.pubname) AS quoted, p.puballtables AS all_tables,
       p.pubinsert AS insert, p.pubupdate AS update, p.pubdelete AS delete,
       pg_get_userbyid(p.pubowner) AS owner
FROM pg_publication p WHERE p.pubname = %(name)s
"""

# pg_publication_tables expands FOR ALL TABLES / TABLES IN SCHEMA but lists the partitions of a
# partitioned table; pg_publication_rel has the table as it was added.
PUBLICATION_TABLES_SQL = """
SELECT schemaname::text AS schema, tablename::text AS table FROM pg_publication_tables
WHERE pubname = %(name)s
UNION
SELECT n.nspname::text, c.relname::text FROM pg_publication_rel pr
JOIN pg_publication p ON p.oid = pr.prpubid
JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE p.pubname = %(name)s
"""


def slots_sql(version_num: int) -> str:
    """pg_replication_slots with the WAL each slot holds back, pg_wal_lsn_diff(current LSN, restart_lsn), and how far
    its consumer's confirmed position lags, pg_wal_lsn_diff(current LSN, confirmed_flush_lsn) (PostgreSQL docs,
    "System Administration Functions" and "pg_replication_slots")."""
    return _slots_query(version_num, "")


def _slots_query(version_num: int, where: str) -> str:
    if version_num >= 100000:
        current_lsn = ("CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                       "ELSE pg_current_wal_lsn() END")
        diff = "pg_wal_lsn_diff"
        temporary = "s.temporary"
    else:
        current_lsn = ("CASE WHEN pg_is_in_recovery() THEN pg_last_xlog_replay_location() "
                       "ELSE pg_current_xlog_location() END")
        diff = "pg_xlog_location_diff"
        temporary = "false"
    wal_status = "s.wal_status" if version_num >= 130000 else "NULL::text"
    return """
SELECT s.slot_name::text AS slot_name, s.plugin::text AS plugin, s.slot_type AS slot_type,
       s.database::text AS database, {temporary} AS temporary, s.active AS active,
       s.active_pid AS active_pid, {wal_status} AS wal_status,
       s.restart_lsn::text AS restart_lsn, s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
       CASE WHEN s.restart_lsn IS NOT NULL
            THEN {diff}({current_lsn}, s.restart_lsn)::bigint END AS retained_bytes,
       CASE WHEN s.confirmed_flush_lsn IS NOT NULL
            THEN {diff}({current_lsn}, s.confirmed_flush_lsn)::bigint END AS lag_bytes,
       a.usename::text AS active_user, a.application_name AS active_application,
       host(a.client_addr) AS active_client_addr
FROM pg_replication_slots s LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid{where}
ORDER BY s.slot_name
""".format(temporary=temporary, wal_status=wal_status, diff=diff, current_lsn=current_lsn, where=where)


def find_slot(slots: t.List[t.Dict[str, t.Any]], slot_name: t.Optional[str]) -> t.Optional[t.Dict[str, t.Any]]:
    for slot in slots:
        if slot["slot_name"] == slot_name:
            return slot
    return None


# The session's lock_timeout: a statement waits this long for a lock, then fails with SQLSTATE 55P03 (PostgreSQL
# docs, "Client Connection Defaults", lock_timeout; set_config in "System Administration Functions").
LOCK_TIMEOUT_SQL = "SELECT set_config('lock_timeout', %(value)s, false) AS lock_timeout"


def lock_timeout_value(seconds: float) -> str:
    """lock_timeout in milliseconds, at least 1: 0 would mean no limit."""
    return "%dms" % max(1, int(round(seconds * 1000)))


def count_table_rows(client: PgClient, tables: t.List[t.Dict[str, t.Any]], lock_timeout: float) -> None:
    """``rows`` of each ``countable()`` table, or ``count_error`` when a lock kept the count out past
    ``lock_timeout`` seconds (a locked table must not hang the caller; who holds the lock is read next)."""
    client.query(LOCK_TIMEOUT_SQL, {"value": lock_timeout_value(lock_timeout)})
    for table in tables:
        if not countable(table):
            continue
        try:
            table["rows"] = client.query(count_rows_sql(table["qualified"]))[0]["row_count"]
        except PgQueryError as exc:
            if exc.pgcode != LOCK_NOT_AVAILABLE:
                raise
            table["count_error"] = "counting the rows of %s waited %gs for a lock and gave up (lock_timeout)" % (
                display_table(table["schema"], table["table"]), lock_timeout)


def read_table_locks(client: PgClient, tables: t.List[t.Dict[str, t.Any]]) -> None:
    """``locks`` and ``lock_diagnosis`` of each table: who keeps readers out of it (locks.py)."""
    keys = [(table["schema"], table["table"]) for table in tables if table.get("exists")]
    rows = client.query(TABLE_LOCKS_SQL, table_locks_params(keys)) if keys else []
    for table in tables:
        table["locks"], table["lock_diagnosis"] = lock_diagnosis(table["schema"], table["table"], rows)


def collect(client: PgClient, tables: t.Iterable[t.Tuple[str, str]] = (), publication: t.Optional[str] = None,
            chunk_key_columns: t.Optional[t.Dict[t.Tuple[str, str], str]] = None, replication_connection: bool = True,
            count_rows: bool = False, table_locks: bool = False, lock_timeout: float = 10.0) -> t.Dict[str, t.Any]:
    """Read everything the checks need. ``client`` must be connected.

    With ``count_rows``, each table that ``countable()`` admits also gets ``rows``, an exact
    ``count(*)``: one query (a full scan) per table, which waits at most ``lock_timeout`` seconds for a lock.
    With ``table_locks``, or when a count gave up on a lock, each table gets ``locks`` and ``lock_diagnosis``.
    """
    chunk_key_columns = chunk_key_columns or {}
    tables = list(tables)
    facts: t.Dict[str, t.Any] = {"endpoint": client.endpoint, "user": client.user}
    server = client.query(SERVER_SQL)[0]
    facts["server"] = server
    version_num = server["version_num"]
    if version_num < TESTED_MIN_VERSION_NUM:
        return facts

    facts["role"] = client.query(ROLE_SQL)[0]
    rows = client.query(SETTINGS_SQL, {"names": list(RELEVANT_SETTINGS)})
    facts["settings"] = dict((row["name"], row["setting"]) for row in rows if row["name"] in RELEVANT_SETTINGS)
    facts["pending_restart"] = [row["name"] for row in rows if row["pending_restart"]]
    facts["pending_values"] = {}
    if "wal_level" in facts["pending_restart"]:
        facts["pending_values"]["wal_level"] = _file_setting(client, "wal_level")

    facts["slots"] = client.query(slots_sql(version_num))
    facts["wal_senders_active"] = client.query(WAL_SENDERS_SQL)[0]["active"]

    facts["tables"] = []
    if tables:
        facts["tables"] = client.query(TABLES_SQL, {
            "schemas": [schema for schema, _table in tables],
            "tables": [table for _schema, table in tables],
            "chunk_keys": [chunk_key_columns.get(key) for key in tables],
        })
        if count_rows:
            count_table_rows(client, facts["tables"], lock_timeout)
        if table_locks or any(table.get("count_error") for table in facts["tables"]):
            read_table_locks(client, facts["tables"])

    facts["publication"] = None
    if publication is not None and version_num >= PGOUTPUT_MIN_VERSION_NUM:
        found = client.query(PUBLICATION_SQL, {"name": publication})
        if found:
            pub = found[0]
            pub["tables"] = [[row["schema"], row["table"]]
                             for row in client.query(PUBLICATION_TABLES_SQL, {"name": publication})]
            facts["publication"] = pub

    if replication_connection:
        try:
            facts["replication"] = {"ok": True, "system": client.identify_system()}
        except PgConnectError as exc:
            facts["replication"] = {"ok": False, "error": exc.message, "kind": exc.kind}
    return facts


def _file_setting(client: PgClient, name: str) -> t.Optional[str]:
    try:
        rows = client.query(FILE_SETTING_SQL, {"name": name})
    except PgQueryError:
        # Not a superuser: the pending value stays unknown.
        return None
    return rows[0]["setting"] if rows else None


def table_summaries(tables: t.List[t.Dict[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
    """The ``tables`` result of pg_logical_check: one entry per TABLES_SQL row, in request order.

    ``primary_key`` lists the key columns in key order with their ``format_type()`` text; ``columns`` every
    column in table order with its ``format_type()`` text and whether it may be null: what a Flink DDL for the
    table is built from.
    """
    summaries = []
    for table in tables:
        exists = bool(table.get("exists"))
        names = table.get("primary_key") or []
        types = table.get("primary_key_types") or [None] * len(names)
        summary: t.Dict[str, t.Any] = {
            "name": display_table(table["schema"], table["table"]),
            "schema": table["schema"],
            "table": table["table"],
            "exists": exists,
            "kind": RELKIND_KINDS.get(table.get("relkind") or "") if exists else None,
            "primary_key": [{"name": name, "type": type_} for name, type_ in zip(names, types)],
            "columns": [{"name": name, "type": type_, "nullable": not not_null} for name, type_, not_null in zip(
                table.get("column_names") or [], table.get("column_types") or [], table.get("column_not_null") or [])],
        }
        if table.get("rows") is not None:
            summary["rows"] = int(table["rows"])
        for key in ("count_error", "locks", "lock_diagnosis"):
            if key in table:
                summary[key] = table[key]
        summaries.append(summary)
    return summaries
