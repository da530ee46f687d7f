# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The flink_cdc role's smoke job, planned and judged on the controller (only the role's filters use this).

``plan`` turns the connector list and what ``pg_logical_check`` read about the smoke table into the
bounded Flink SQL job, or into the reason it cannot run. ``rows`` turns the results of the job and of the
slot clean-up into readiness-report rows. Both are plain functions over plain data.

What makes a postgres-cdc source bounded (apache/flink-cdc ``PostgreSQLTableFactory.java``,
``PostgresSourceOptions.java``, ``IncrementalSource.getBoundedness()``; PR #2901):

* ``scan.startup.mode = 'snapshot'``, which exists from Flink CDC 3.1.0, and
* ``scan.incremental.snapshot.enabled = 'true'``: the option defaults to false for postgres, and the
  legacy source ignores the startup mode and never ends.

The source names the configured publication and never creates one (``debezium.publication.autocreate.mode
= 'disabled'``): Debezium's default, ``all_tables``, runs ``CREATE PUBLICATION dbz_publication FOR ALL
TABLES``, which needs superuser (flink-cdc ``PostgresReplicationConnection.java``).
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.connectors import PG_CDC_IDENTIFIER, PG_CDC_SQL_ARTIFACT
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._report_row import row_with_line
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import postgres_cdc_line
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _flink_sql

# scan.startup.mode = 'snapshot' for postgres-cdc: Flink CDC 3.1.0 (apache/flink-cdc PR #2901).
BOUNDED_FROM = (3, 1)
# From 3.5.0 the source drops its main slot when the snapshot ends (FLINK-38277); before, it stays behind.
DROPS_MAIN_SLOT_FROM = (3, 5)

SOURCE_TABLE = "cdcops_smoke_source"
SINK_TABLE = "cdcops_smoke_sink"


def flink_type(pg_type: str) -> str:
    """The Flink SQL type of a key column (_flink_sql); text-like and unknown types read as STRING, which is
    enough for a job that only counts rows."""
    return _flink_sql.flink_type(pg_type) or "STRING"


def _version_tuple(version: str) -> t.Tuple[int, ...]:
    line, _suffix = postgres_cdc_line(version)
    return tuple(int(p) for p in line.split(".")) if line else ()


def postgres_cdc(connectors: t.Sequence[t.Mapping[str, t.Any]]) -> t.Optional[t.Mapping[str, t.Any]]:
    for connector in connectors or ():
        if connector.get("artifact_id") == PG_CDC_SQL_ARTIFACT:
            return connector
    return None


def _table_facts(source: t.Mapping[str, t.Any], table: str) -> t.Optional[t.Mapping[str, t.Any]]:
    for entry in source.get("tables") or ():
        if entry.get("name") == table:
            return entry
    return None


def plan(connectors: t.Sequence[t.Mapping[str, t.Any]], source: t.Mapping[str, t.Any], table: str,
         slot_name: str, publication: str, pg: t.Mapping[str, t.Any], job_name: str = "cdcops-smoke",
         jobmanager_host: str = "jobmanager", cdc_slot_name: str = "") -> t.Dict[str, t.Any]:
    """The smoke job for ``table``, or why it cannot run (``ok`` false and ``reason``).

    ``source`` is the result of ``pg_logical_check`` with ``tables: [table]`` and ``count_rows: true``;
    ``pg`` holds ``host``, ``port``, ``database``, ``user`` and ``ssl_mode`` as the TaskManagers reach them.
    """
    out = {"ok": False, "table": table, "slot_name": slot_name, "job_name": job_name, "publication": publication,
           "jobmanager_host": jobmanager_host}
    if not jobmanager_host:
        out["reason"] = ("no host in the inventory group flink_jobmanager: the smoke job runs Flink's SQL client "
                         "on the JobManager host")
        return out
    connector = postgres_cdc(connectors)
    if connector is None:
        out["reason"] = ("flink_cdc_connectors has no %s: the smoke job reads through the postgres-cdc SQL "
                         "connector" % PG_CDC_SQL_ARTIFACT)
        return out
    version = str(connector.get("version", ""))
    out["connector"] = "%s:%s:%s" % (connector.get("group_id"), connector.get("artifact_id"), version)
    out["connector_version"] = version
    line = _version_tuple(version)
    if not line:
        out["reason"] = "cannot tell the postgres-cdc connector line of version %r" % version
        return out
    if line < BOUNDED_FROM:
        out["reason"] = (
            "postgres-cdc %s has no bounded mode (scan.startup.mode = 'snapshot' exists from Flink CDC 3.1.0), "
            "so a smoke job would never end; it was not started. Use postgres-cdc 3.1 or later, or turn "
            "flink_cdc_smoke off" % version)
        return out
    out["drops_main_slot"] = line >= DROPS_MAIN_SLOT_FROM
    if not table:
        out["reason"] = "flink_cdc_smoke_table is empty and flink_cdc_pg_tables names no table"
        return out
    if cdc_slot_name and re.fullmatch(r"%s(?:_\d+)?" % re.escape(slot_name), cdc_slot_name):
        out["reason"] = ("flink_cdc_smoke_slot_name %s would clash with the CDC job's slot %s: the smoke phase drops "
                         "%s and %s_<n> afterwards. Give the smoke job a slot name of its own" % (
                             slot_name, cdc_slot_name, slot_name, slot_name))
        return out
    if not publication:
        out["reason"] = ("flink_cdc_pg_publication is empty: the smoke job names the publication instead of "
                         "letting Debezium create dbz_publication, which needs superuser")
        return out
    facts = _table_facts(source, table)
    if facts is None:
        out["reason"] = "cannot read %s: %s" % (table, source.get("msg") or "pg_logical_check returned no table facts")
        return out
    if not facts.get("exists"):
        out["reason"] = "%s does not exist in database %s" % (table, pg.get("database"))
        return out
    keys = facts.get("primary_key") or []
    if not keys:
        out["reason"] = ("%s has no primary key: the incremental snapshot splits the table on it. Pick a "
                         "table with one as flink_cdc_smoke_table" % table)
        return out
    if facts.get("count_error"):
        # Another session's lock keeps readers out: the job would only wait for it until its deadline.
        out["blocked"] = True
        out["reason"] = "%s: the job was not started. %s" % (
            facts["count_error"], facts.get("lock_diagnosis") or "No session holds a lock on it any more: run again.")
        return out
    if not isinstance(facts.get("rows"), int):
        out["reason"] = "cannot count the rows of %s (no SELECT privilege?)" % table
        return out
    schema, _dot, name = table.partition(".")
    columns = [(k["name"], flink_type(k["type"])) for k in keys]
    out.update(ok=True, reason="", expected_rows=facts["rows"], columns=[c for c, _ty in columns],
               sql=_sql(columns, schema, name, slot_name, publication, pg))
    return out


def _sql(columns: t.Sequence[t.Tuple[str, str]], schema: str, table: str, slot_name: str, publication: str,
         pg: t.Mapping[str, t.Any]) -> str:
    declared = ", ".join("%s %s" % (_flink_sql.ident(c), ty) for c, ty in columns)
    key = ", ".join(_flink_sql.ident(c) for c, _ty in columns)
    options = [
        ("connector", PG_CDC_IDENTIFIER),
        ("hostname", pg.get("host")),
        ("port", pg.get("port")),
        ("username", pg.get("user")),
        # flink_sql_job fills this placeholder from its no_log sql_secrets, in a 0600 file it removes.
        ("password", "${pg_password}"),
        ("database-name", pg.get("database")),
        ("schema-name", _flink_sql.name_regex(schema)),
        ("table-name", _flink_sql.name_regex(table)),
        ("slot.name", slot_name),
        ("decoding.plugin.name", "pgoutput"),
        ("debezium.publication.name", publication),
        ("debezium.publication.autocreate.mode", "disabled"),
        ("scan.incremental.snapshot.enabled", "true"),
        ("scan.startup.mode", "snapshot"),
    ]
    # Debezium 1.9 knows disable, require, verify-ca and verify-full (PostgresConnectorConfig.SecureConnectionMode);
    # libpq's allow and prefer have no equivalent there, so they keep Debezium's default.
    if pg.get("ssl_mode") in ("disable", "require", "verify-ca", "verify-full"):
        options.append(("debezium.database.sslmode", pg["ssl_mode"]))
    with_ = _flink_sql.options(dict(options))
    return (
        "CREATE TEMPORARY TABLE {src} ({cols}, PRIMARY KEY ({key}) NOT ENFORCED) WITH (\n{with_}\n);\n"
        "CREATE TEMPORARY TABLE {snk} ({cols}) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO {snk} SELECT {key} FROM {src};\n"
    ).format(src=SOURCE_TABLE, snk=SINK_TABLE, cols=declared, key=key, with_=with_)


def _seconds(ms: t.Any) -> str:
    return "%.1f s" % (ms / 1000.0) if isinstance(ms, (int, float)) else "unknown time"


def lock_diagnosis(locks: t.Mapping[str, t.Any], table: str) -> str:
    """What ``pg_logical_check`` with ``table_locks`` found keeping readers out of ``table`` (empty: nothing)."""
    facts = _table_facts(locks or {}, table)
    return str((facts or {}).get("lock_diagnosis") or "")


def job_failure(smoke_plan: t.Mapping[str, t.Any], job: t.Mapping[str, t.Any], lock: str) -> str:
    """The smoke row's detail for a job that did not finish well, with the lock on its table first when one
    kept its source waiting (a snapshot read waits for ACCESS EXCLUSIVE to end, without an error)."""
    if lock and job.get("timed_out"):
        return "job %s waited for a lock on %s until its deadline (%gs) and %s. %s" % (
            job.get("job_id"), smoke_plan.get("table"), float(job.get("wait_timeout") or 0),
            "was cancelled" if job.get("cancelled") else "could not be cancelled (%s)" % job.get("msg"), lock)
    detail = job.get("msg") or "job %s ended %s and read %s of %s rows" % (
        job.get("job_id"), job.get("state"), job.get("source_records"), smoke_plan.get("expected_rows"))
    if job.get("diagnosis"):
        detail += ". Fix: %s" % job["diagnosis"]
    if lock:
        detail += ". Its table is locked as well: %s" % lock
    return detail


def rows(smoke_plan: t.Mapping[str, t.Any], job: t.Mapping[str, t.Any], cleanup: t.Sequence[t.Mapping[str, t.Any]],
         host: str, check_mode: bool = False, locks: t.Optional[t.Mapping[str, t.Any]] = None) -> t.List[t.Dict[str, t.Any]]:
    """Readiness-report rows of the smoke phase: the job, and the replication slots it left (or not).

    ``job`` is the registered result of ``flink_sql_job`` (empty when it did not run); ``cleanup`` the
    results of each ``pg_replication_slot`` run (before and after the job); ``locks`` the result of
    ``pg_logical_check`` with ``table_locks`` read after a job that did not finish (empty otherwise).
    """
    out = []

    def row(check: str, status: str, detail: str) -> None:
        out.append(row_with_line(host, "Smoke", check, status, detail))

    table = smoke_plan.get("table")
    if not smoke_plan.get("ok"):
        row("job", "fail" if smoke_plan.get("blocked") else "warn", "not run: %s" % smoke_plan.get("reason"))
        return out
    if check_mode:
        row("job", "skip", "would run a bounded job (%s) with the SQL client on %s against %s (%s rows) with %s, "
            "slot %s" % (smoke_plan.get("job_name"), host, table, smoke_plan.get("expected_rows"),
                         smoke_plan.get("connector"), smoke_plan.get("slot_name")))
    elif not job or job.get("skipped"):
        row("job", "fail", "the smoke job did not run")
    elif job.get("failed") or job.get("msg") or job.get("state") != "FINISHED" \
            or job.get("source_records") != smoke_plan.get("expected_rows"):
        # The role registers flink_sql_job with failed_when: false, which resets "failed": judge the content.
        row("job", "fail", job_failure(smoke_plan, job, lock_diagnosis(locks or {}, str(table))))
    else:
        tms = ", ".join(tm.get("host") or tm.get("id") for tm in job.get("taskmanagers") or []) or "no TaskManager"
        row("job", "ok", "job %s %s in %s: read %s rows of %s (count(*) %s) with %s on %s" % (
            job.get("job_id"), job.get("state"), _seconds(job.get("duration_ms")), job.get("source_records"),
            table, smoke_plan.get("expected_rows"), smoke_plan.get("connector"), tms))
    dropped = []
    failures = []
    for result in cleanup or ():
        if not result or result.get("skipped"):
            continue
        if result.get("failed"):
            failures.append(result.get("msg") or "failed")
        if not check_mode:
            dropped.extend(result.get("dropped") or [])
    if failures:
        row("slots", "fail", "replication slots of the smoke job may be left: %s" % "; ".join(failures))
    elif check_mode:
        row("slots", "skip", "would drop the smoke job's slots (%s, %s_<n>) afterwards" % (
            smoke_plan.get("slot_name"), smoke_plan.get("slot_name")))
    else:
        row("slots", "ok", ("dropped %s: nothing of the smoke job is left" % ", ".join(dropped)) if dropped
            else "the smoke job left no replication slot")
    return out
