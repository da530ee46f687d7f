# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Who keeps readers out of a table: the sessions that hold (or queue for) a lock on it that a plain read
waits behind, read from ``pg_locks`` joined with ``pg_stat_activity``, and the message that names them.

A ``SELECT``, and so a Flink CDC snapshot that reads the table through JDBC, takes ``ACCESS SHARE`` on it,
which conflicts only with ``ACCESS EXCLUSIVE`` (PostgreSQL docs, "Explicit Locking", table "Conflicting
Lock Modes"): ``LOCK TABLE`` without a mode, ``ALTER TABLE``, ``DROP``, ``TRUNCATE``, ``VACUUM FULL``,
``CLUSTER``, ``REINDEX`` of the table. A request that is not granted yet blocks too: PostgreSQL queues a
later ``ACCESS SHARE`` behind a waiting ``ACCESS EXCLUSIVE`` (same chapter; ``pg_blocking_pids()`` reports
both). A prepared transaction holds its locks with no session (``pg_locks.pid`` is null, see
``pg_prepared_xacts``).

Only members of ``pg_read_all_stats`` (or superusers) see the ``query`` and several columns of other users'
sessions; for others PostgreSQL shows ``<insufficient privilege>`` and nulls (PostgreSQL docs,
"pg_stat_activity"). The message says so instead of inventing a cause.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import display_table

# The one mode a plain read waits behind (PostgreSQL docs, "Conflicting Lock Modes").
READ_BLOCKING_MODES = ("AccessExclusiveLock",)

# Locks on the given tables (schema, name as stored) that keep readers out, with the session behind each
# one, and the sessions that wait behind that session (pg_blocking_pids, PostgreSQL 9.6+). The module's own
# session is left out. Bound parameters only.
TABLE_LOCKS_SQL = """
SELECT n.nspname AS schema, c.relname AS table, l.mode, l.granted, l.pid,
       l.pid IS NULL AND l.virtualtransaction LIKE '-1/%%' AS prepared,
       a.application_name, a.usename::text AS user, host(a.client_addr) AS client_addr,
       a.backend_type, a.state, a.wait_event_type, a.wait_event, left(a.query, 300) AS query,
       to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS xact_start,
       to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS state_change,
       floor(extract(epoch FROM now() - a.xact_start))::bigint AS xact_seconds,
       floor(extract(epoch FROM now() - a.state_change))::bigint AS state_seconds,
       CASE WHEN l.pid IS NOT NULL THEN (
           SELECT COALESCE(array_agg(w.pid ORDER BY w.pid), '{}'::int[]) FROM pg_stat_activity w
            WHERE l.pid = ANY(pg_blocking_pids(w.pid))) END AS blocked_pids,
       CASE WHEN l.pid IS NOT NULL AND NOT l.granted THEN pg_blocking_pids(l.pid) END AS waits_for
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.mode = ANY(%(modes)s)
  AND l.pid IS DISTINCT FROM pg_backend_pid()
  AND (n.nspname, c.relname) IN (SELECT * FROM unnest(%(schemas)s::text[], %(tables)s::text[]))
ORDER BY n.nspname, c.relname, l.granted DESC, a.xact_start NULLS LAST, l.pid
"""

# What pg_stat_activity.query shows of another role's session to a role without pg_read_all_stats.
HIDDEN = "<insufficient privilege>"

# SQLSTATE lock_not_available: a statement gave up waiting after lock_timeout (PostgreSQL docs, Appendix A,
# "PostgreSQL Error Codes", class 55).
LOCK_NOT_AVAILABLE = "55P03"


def table_locks_params(tables: t.Sequence[t.Tuple[str, str]]) -> t.Dict[str, t.Any]:
    return {"modes": list(READ_BLOCKING_MODES), "schemas": [s for s, _t in tables], "tables": [n for _s, n in tables]}


def locks_of(rows: t.Iterable[t.Mapping[str, t.Any]], schema: str, table: str) -> t.List[t.Dict[str, t.Any]]:
    """The rows of TABLE_LOCKS_SQL for one table, as plain JSON-safe dicts."""
    out = []
    for row in rows:
        if row.get("schema") == schema and row.get("table") == table:
            out.append({key: (list(value) if isinstance(value, (list, tuple)) else value)
                        for key, value in row.items() if key not in ("schema", "table")})
    return out


def _ago(seconds: t.Any) -> str:
    if not isinstance(seconds, int):
        return ""
    return " (%s ago)" % str(datetime.timedelta(seconds=max(0, seconds)))


def describe_session(lock: t.Mapping[str, t.Any]) -> str:
    """One lock's session: pid, application, user, client, since when, and what it runs."""
    if lock.get("pid") is None:
        if lock.get("prepared"):
            return ("a prepared transaction (no session: find it in pg_prepared_xacts and end it with COMMIT "
                    "PREPARED or ROLLBACK PREPARED)")
        return "a session that is gone"
    details = ["application_name '%s'" % (lock.get("application_name") or "")]
    details.append("user %s" % lock.get("user"))
    if lock.get("query") == HIDDEN:
        # pg_stat_activity shows another role's session only in part to a role without pg_read_all_stats.
        details.append("its client address, transaction start and statement are hidden from this role: GRANT "
                       "pg_read_all_stats TO it to see them")
        return "pid %s (%s)" % (lock["pid"], ", ".join(details))
    details.append("from %s" % lock["client_addr"] if lock.get("client_addr") else "over a unix socket")
    if lock.get("xact_start"):
        details.append("transaction open since %s%s" % (lock["xact_start"], _ago(lock.get("xact_seconds"))))
    if lock.get("state"):
        details.append("%s since %s%s" % (lock["state"], lock.get("state_change"), _ago(lock.get("state_seconds"))))
    if lock.get("query"):
        label = "last statement" if str(lock.get("state", "")).startswith("idle") else "running"
        details.append("%s: %s" % (label, " ".join(str(lock["query"]).split())))
    return "pid %s (%s)" % (lock["pid"], ", ".join(details))


def describe_locks(table: str, locks: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """Why reads of ``table`` wait, with the sessions to blame and the fix; empty when nothing blocks them.

    The fix is only suggested: ending another session is the operator's decision, never this collection's.
    """
    if not locks:
        return ""
    held = [lock for lock in locks if lock.get("granted")]
    queued = [lock for lock in locks if not lock.get("granted")]
    sentences = []
    for lock in held:
        waiting = [pid for pid in lock.get("blocked_pids") or [] if pid is not None]
        sentences.append("%s is locked: %s holds %s on it%s." % (
            table, describe_session(lock), lock.get("mode"),
            "; %d session(s) wait behind it (pid %s)" % (len(waiting), ", ".join(str(p) for p in waiting))
            if waiting else ""))
    for lock in queued:
        waits_for = ", ".join(str(p) for p in lock.get("waits_for") or [])
        sentences.append("%s waits for %s on %s%s, and every later read of the table queues behind it." % (
            describe_session(lock), lock.get("mode"), table, " behind pid %s" % waits_for if waits_for else ""))
    fixes = []
    held_pids = [lock["pid"] for lock in held if lock.get("pid") is not None]
    if held_pids:
        fixes.append("let %s finish its transaction (COMMIT or ROLLBACK there) or end it: %s" % (
            "that session" if len(held_pids) == 1 else "those sessions",
            "; ".join("SELECT pg_terminate_backend(%s)" % pid for pid in held_pids)))
    elif held:
        fixes.append("end the prepared transaction (COMMIT PREPARED or ROLLBACK PREPARED)")
    for lock in queued:
        if lock.get("pid") is not None:
            fixes.append("cancel the waiting statement (SELECT pg_cancel_backend(%s)) or let %s finish first" % (
                lock["pid"], ", ".join("pid %s" % p for p in lock.get("waits_for") or []) or "what it waits for"))
    fix = "Fix: %s. Nothing here ends or cancels another session for you." % "; or ".join(fixes)
    return " ".join(sentences + [fix])


def lock_diagnosis(schema: str, table: str, rows: t.Iterable[t.Mapping[str, t.Any]]) -> t.Tuple[
        t.List[t.Dict[str, t.Any]], str]:
    """(the table's locks, the message naming them) from TABLE_LOCKS_SQL rows."""
    locks = locks_of(rows, schema, table)
    return locks, describe_locks(display_table(schema, table), locks)
