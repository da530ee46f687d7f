# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The flink_cdc role's pipelines: each CDC job's SQL generated from the PostgreSQL catalog, and its report rows
(controller only; the role's filters use this).

``plans`` turns ``flink_cdc_pipelines`` and what ``pg_logical_check`` read about their tables
(``tables[].columns``, ``tables[].primary_key``) into one ``flink_job`` per pipeline: per table a ``postgres-cdc``
source and a sink table, and one ``EXECUTE STATEMENT SET``. Secrets stay placeholders (``${pg_password}``,
``${sink_password}``) that ``flink_job`` fills from its ``sql_secrets``. ``job_rows`` and ``health_rows`` judge
what ``flink_job`` and ``pg_replication_slot`` returned.

Sources for the rules:

* types: ``_flink_sql`` (the connector's "Data Type Mapping"); a column it cannot map is an error that names the
  table and the column.
* source options (apache/flink-cdc ``docs/content/docs/connectors/flink-sources/postgres-cdc.md``,
  ``PostgresSourceOptions.java``, ``docs/content/docs/faq/faq.md``): ``decoding.plugin.name = pgoutput`` (the
  default ``decoderbufs`` is not in stock PostgreSQL); ``scan.incremental.snapshot.enabled = true`` (the default
  is false, and the legacy source cannot checkpoint during the snapshot); the configured publication with
  ``debezium.publication.autocreate.mode = disabled`` (the default creates one ``FOR ALL TABLES``, which needs
  superuser); ``heartbeat.interval.ms`` (the slot advances while the captured tables are idle); checkpointing,
  without which the LSN is never confirmed and the slot never advances (FAQ, Postgres Q1).
* one slot per source table: each ``postgres-cdc`` table is a source of its own, and a slot serves one consumer
  ("replication slot ... is active for PID", flink-cdc #1058). A slot name is lowercase letters, digits and ``_``
  (PostgreSQL ``ReplicationSlotValidateName``), at most 63 bytes, and never changes across a restore.
* the StarRocks sink (StarRocks/starrocks-connector-for-apache-flink ``docs/content/connector-sink.md``):
  ``jdbc-url``, ``load-url``, ``database-name``, ``table-name``, ``username`` and ``password`` are required, and
  the Flink DDL's primary key must equal the StarRocks table's, which a primary-key table then upserts and deletes
  by. The JDBC sink (apache/flink-connector-jdbc) needs ``url``; with a primary key it upserts.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.connectors import PG_CDC_IDENTIFIER, STARROCKS_IDENTIFIER
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import parse_table_name
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._report_row import row_with_line
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _flink_sql

REQUIRED_SINK_OPTIONS = {
    STARROCKS_IDENTIFIER: ("jdbc-url", "load-url", "database-name", "username", "password"),
    "jdbc": ("url",),
}
SLOT_MAX = 63
# Room for the backfill slots ``<slot>_<subtask>`` that the incremental snapshot creates.
SLOT_ROOM = 4
STATES = ("running", "suspended", "absent")
_SLOT = re.compile(r"^[a-z0-9_]+$")

Row = t.Dict[str, t.Any]


class PlanError(Exception):
    pass


def _table_key(name: str) -> t.Tuple[str, str]:
    """(schema, table) of a name as the role takes it: a bare name means ``public``, quotes group characters."""
    try:
        return parse_table_name(name)
    except ValueError as exc:
        raise PlanError(str(exc))


def slot_names(slot_name: str, tables: t.Sequence[str]) -> t.List[str]:
    """One slot per source table: ``slot_name`` for a single table, ``<slot_name>_<table>`` for several (numbered
    where two tables of different schemas share a name)."""
    limit = SLOT_MAX - SLOT_ROOM
    if not slot_name or not _SLOT.match(str(slot_name)) or len(slot_name) > limit:
        raise PlanError("slot_name %r must be lowercase letters, digits and _, at most %d characters (PostgreSQL "
                        "replication slot names; the incremental snapshot adds _<subtask>)" % (slot_name, limit))
    if len(tables) == 1:
        return [slot_name]
    out: t.List[str] = []
    for table in tables:
        suffix = re.sub(r"[^a-z0-9_]", "_", _table_key(table)[1].lower())
        base = name = ("%s_%s" % (slot_name, suffix))[:limit]
        number = 2
        while name in out:
            tail = "_%d" % number
            name = base[:limit - len(tail)] + tail
            number += 1
        out.append(name)
    return out


# Sinks take TIMESTAMP, not TIMESTAMP_LTZ: the JDBC connector's dialects refuse it ("Unsupported type:
# TIMESTAMP_LTZ(6)", seen with flink-connector-jdbc 3.3.0-1.20 on the bed) and StarRocks maps only TIMESTAMP to
# DATETIME (StarRocks/starrocks-connector-for-apache-flink docs/content/connector-sink.md, "Data type mapping").
# The job casts the instant into table.local-time-zone, which the role sets to UTC unless the pipeline says otherwise.
_LTZ = re.compile(r"^TIMESTAMP_LTZ\((\d)\)$")


class _Column(t.NamedTuple):
    name: str
    source_type: str
    sink_type: str
    not_null: bool


def _columns(facts: t.Mapping[str, t.Any]) -> t.Tuple[t.List[_Column], t.List[str]]:
    """The table's columns with their source and sink types, and its primary key."""
    table = facts["name"]
    columns = facts.get("columns") or []
    if not facts.get("exists") or not columns:
        raise PlanError("%s does not exist in the source database" % table)
    if facts.get("kind") not in (None, "table", "partitioned table"):
        raise PlanError("%s is a %s, not a table: logical decoding streams the changes of tables only"
                        % (table, facts["kind"]))
    keys = [k["name"] for k in facts.get("primary_key") or []]
    if not keys:
        raise PlanError("%s has no primary key: the incremental snapshot splits on it and the sink upserts by it. "
                        "Add one (ALTER TABLE %s ADD PRIMARY KEY (...))" % (table, table))
    out = []
    for column in columns:
        flink = _flink_sql.flink_type(column["type"])
        if flink is None:
            raise PlanError(
                "%s.%s has the type %s, which the postgres-cdc connector does not map to a Flink type (it maps %s: "
                "apache/flink-cdc docs, postgres-cdc, \"Data Type Mapping\"). Leave the table out, or give the "
                "pipeline its own sql" % (table, column["name"], column["type"], _flink_sql.MAPPED))
        ltz = _LTZ.match(flink)
        out.append(_Column(column["name"], flink, "TIMESTAMP(%s)" % ltz.group(1) if ltz else flink,
                           not column.get("nullable", True)))
    return out, keys


def _ddl(columns: t.Sequence[_Column], keys: t.Sequence[str], sink: bool) -> str:
    lines = ["  %s %s%s" % (_flink_sql.ident(c.name), c.sink_type if sink else c.source_type,
                            " NOT NULL" if c.not_null else "") for c in columns]
    lines.append("  PRIMARY KEY (%s) NOT ENFORCED" % ", ".join(_flink_sql.ident(k) for k in keys))
    return ",\n".join(lines)


def _select(columns: t.Sequence[_Column]) -> str:
    return ", ".join(_flink_sql.ident(c.name) if c.sink_type == c.source_type
                     else "CAST(%s AS %s)" % (_flink_sql.ident(c.name), c.sink_type) for c in columns)


def sink_options(sink: t.Mapping[str, t.Any], table_name: str) -> t.Dict[str, str]:
    """The sink table's options: the pipeline's ``sink`` with the table name, and the password as a placeholder."""
    connector = str((sink or {}).get("connector") or "")
    if not connector:
        raise PlanError("sink has no connector: set sink.connector (starrocks or jdbc) with the sink's options, or "
                        "give the pipeline its own sql")
    missing = [k for k in REQUIRED_SINK_OPTIONS.get(connector, ()) if k not in sink]
    if missing:
        raise PlanError("the %s sink needs %s" % (connector, ", ".join("sink.%s" % k for k in missing)))
    if "table-name" in sink:
        raise PlanError("sink sets table-name: the pipeline names each sink table with sink_table_name")
    if connector == STARROCKS_IDENTIFIER:
        starrocks_endpoints(sink)
    options = {str(k): str(v) for k, v in sink.items() if k != "password"}
    options["table-name"] = table_name
    if "password" in sink:
        options["password"] = "${sink_password}"
    return options


_JDBC_MYSQL = re.compile(r"^jdbc:mysql://([^/?]+)")
_HOST_PORT = re.compile(r"^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]+))(?::([0-9]{1,5}))?$")
MYSQL_DEFAULT_PORT = 3306  # what the MySQL JDBC driver connects to when jdbc-url names no port


def _host_port(text: str, default_port: t.Optional[int], option: str, form: str) -> t.Tuple[str, int]:
    match = _HOST_PORT.match(text.strip())
    port = match and (match.group(3) or default_port)
    if not match or not port or not 0 < int(port) < 65536:
        raise PlanError("sink.%s has %r where it needs host:port (%s)" % (option, text.strip(), form))
    return match.group(1) or match.group(2), int(port)


def starrocks_endpoints(sink: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
    """The StarRocks FE addresses a StarRocks sink connects to when its job is planned: the query port of every FE
    in ``jdbc-url`` (``jdbc:mysql://fe1:9030,fe2:9030``) and the HTTP port of every FE in ``load-url``
    (``fe1:8030;fe2:8030``). The connector reads the table's columns through the first and probes the second
    while the SQL client plans the job (StarRocks/starrocks-connector-for-apache-flink
    ``StarRocksDynamicTableSinkFactory``, ``StarRocksSinkTable.validateTableStructure``; ``docs/content/connector-sink.md``)."""
    out: t.List[t.Dict[str, t.Any]] = []
    jdbc = str(sink.get("jdbc-url") or "")
    match = _JDBC_MYSQL.match(jdbc)
    if not match:
        raise PlanError("sink.jdbc-url is %r; a StarRocks sink needs jdbc:mysql://<fe-host>:<query_port> (9030), "
                        "several FEs separated by commas" % jdbc)
    for part in match.group(1).split(","):
        host, port = _host_port(part, MYSQL_DEFAULT_PORT, "jdbc-url", "the FE query_port, 9030")
        out.append({"name": "StarRocks FE query", "host": host, "port": port})
    for part in str(sink.get("load-url") or "").split(";"):
        if not part.strip():
            continue
        part = re.sub(r"^https?://", "", part.strip()).rstrip("/")
        host, port = _host_port(part, None, "load-url", "the FE http_port, 8030; several FEs separated by ;")
        out.append({"name": "StarRocks FE http", "host": host, "port": port})
    return out


def planner_endpoints(pipelines: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
    """What the host that plans the pipelines' jobs (the JobManager host, where flink_job runs the SQL client) must
    reach over TCP: the FEs of every StarRocks sink of a pipeline that is not absent, each once. A sink whose URLs
    cannot be read adds nothing here; the pipeline phase stops on it, naming the option."""
    out: t.List[t.Dict[str, t.Any]] = []
    for item in pipelines or ():
        item = item or {}
        sink = item.get("sink") or {}
        if item.get("sql") or (item.get("state") or "running") == "absent" or sink.get("connector") != STARROCKS_IDENTIFIER:
            continue
        try:
            found = starrocks_endpoints(sink)
        except PlanError:
            continue
        for endpoint in found:
            if endpoint not in out:
                out.append(endpoint)
    return out


def _sql(pipeline: t.Mapping[str, t.Any], facts_tables: t.Sequence[t.Mapping[str, t.Any]], slots: t.Sequence[str],
         pg: t.Mapping[str, t.Any], heartbeat_ms: int) -> str:
    by_key = {(f.get("schema"), f.get("table")): f for f in facts_tables or ()}
    pattern = pipeline.get("sink_table_name") or "{table}"
    statements, inserts = [], []
    for i, (table, slot) in enumerate(zip(pipeline["tables"], slots), 1):
        facts = by_key.get(_table_key(table))
        if facts is None:
            raise PlanError("%s was not read from the source database" % table)
        columns, keys = _columns(facts)
        source = {
            "connector": PG_CDC_IDENTIFIER, "hostname": pg["host"], "port": pg["port"], "username": pg["user"],
            "password": "${pg_password}", "database-name": pg["database"],
            "schema-name": _flink_sql.name_regex(facts["schema"]), "table-name": _flink_sql.name_regex(facts["table"]),
            "slot.name": slot, "decoding.plugin.name": "pgoutput", "debezium.publication.name": pg["publication"],
            "debezium.publication.autocreate.mode": "disabled", "scan.incremental.snapshot.enabled": "true",
            "heartbeat.interval.ms": heartbeat_ms,
        }
        if pg.get("ssl_mode") in ("disable", "require", "verify-ca", "verify-full"):
            source["debezium.database.sslmode"] = pg["ssl_mode"]
        try:
            sink_table = pattern.format(schema=facts["schema"], table=facts["table"])
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise PlanError("sink_table_name %r: only {schema} and {table} may be used (%s)" % (pattern, exc))
        statements.append("CREATE TEMPORARY TABLE %s (\n%s\n) WITH (\n%s\n)" % (
            _flink_sql.ident("src_%d" % i), _ddl(columns, keys, sink=False), _flink_sql.options(source)))
        statements.append("CREATE TEMPORARY TABLE %s (\n%s\n) WITH (\n%s\n)" % (
            _flink_sql.ident("snk_%d" % i), _ddl(columns, keys, sink=True),
            _flink_sql.options(sink_options(pipeline.get("sink") or {}, sink_table))))
        inserts.append("  INSERT INTO %s SELECT %s FROM %s;" % (
            _flink_sql.ident("snk_%d" % i), _select(columns), _flink_sql.ident("src_%d" % i)))
    return ";\n".join(statements) + ";\nEXECUTE STATEMENT SET BEGIN\n" + "\n".join(inserts) + "\nEND;\n"


def plans(pipelines: t.Sequence[t.Mapping[str, t.Any]], facts_tables: t.Sequence[t.Mapping[str, t.Any]],
          pg: t.Mapping[str, t.Any], defaults: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
    """One plan per pipeline, in order: what ``flink_job`` gets (``name``, ``state``, ``sql``, ``settings``,
    ``upgrade_mode``, ``savepoint_dir``), the slots it uses, and ``ok`` with ``reason`` when it cannot be planned.

    ``pg``: ``host``, ``port``, ``database``, ``user``, ``publication`` and ``ssl_mode`` as the TaskManagers reach
    PostgreSQL; ``defaults``: ``tables``, ``slot_name``, ``settings``, ``upgrade_mode``, ``savepoint_dir``,
    ``heartbeat_ms``.
    """
    out = []
    seen_names: t.Set[str] = set()
    seen_slots: t.Dict[str, str] = {}
    for index, given in enumerate(pipelines or ()):
        item = dict(given or {})
        name = str(item.get("name") or "")
        if item.get("tables") is None:
            item["tables"] = list(defaults.get("tables") or [])
        if item.get("slot_name") is None:
            item["slot_name"] = defaults.get("slot_name") or ""
        settings = dict(defaults.get("settings") or {})
        settings.update(item.get("settings") or {})
        plan: t.Dict[str, t.Any] = {
            "index": index, "name": name, "state": item.get("state") or "running", "ok": False, "sql": None,
            "slots": [], "tables": list(item["tables"]), "settings": {str(k): str(v) for k, v in settings.items()},
            "upgrade_mode": item.get("upgrade_mode") or defaults.get("upgrade_mode") or "savepoint",
            "savepoint_dir": item.get("savepoint_dir") or defaults.get("savepoint_dir") or None,
            "sink_connector": str((item.get("sink") or {}).get("connector") or ""),
            "has_sink_password": "password" in (item.get("sink") or {}),
        }
        try:
            if not name:
                raise PlanError("it has no name")
            if name in seen_names:
                raise PlanError("another pipeline has the same name")
            seen_names.add(name)
            if plan["state"] not in STATES:
                raise PlanError("state %r is not one of %s" % (plan["state"], ", ".join(STATES)))
            if item.get("sql"):
                plan["slots"] = [str(s) for s in item.get("slots") or []]
                plan["sql"] = item["sql"]
            else:
                if not plan["tables"]:
                    raise PlanError("no tables: set tables (or flink_cdc_pg_tables), or give the pipeline its own sql")
                plan["slots"] = slot_names(item["slot_name"], plan["tables"])
                if plan["state"] != "absent":
                    plan["sql"] = _sql(item, facts_tables, plan["slots"], pg, int(defaults.get("heartbeat_ms") or 30000))
            for slot in plan["slots"]:
                if slot in seen_slots:
                    raise PlanError("its slot %s is also the slot of pipeline %s: each job needs slots of its own"
                                    % (slot, seen_slots[slot]))
                seen_slots[slot] = name
            plan["ok"] = True
        except PlanError as exc:
            plan["reason"] = "pipeline %s: %s" % (name or "#%d" % (index + 1), exc)
        out.append(plan)
    return out


def tables_to_read(pipelines: t.Sequence[t.Mapping[str, t.Any]], default_tables: t.Sequence[str]) -> t.List[str]:
    """Every table whose columns a generated pipeline needs, once, in order."""
    out: t.List[str] = []
    for item in pipelines or ():
        if item.get("sql") or (item.get("state") or "running") == "absent":
            continue
        for table in item.get("tables") or default_tables or ():
            if table not in out:
                out.append(table)
    return out


def _row(host: str, check: str, status: str, detail: str) -> Row:
    return row_with_line(host, "Pipeline", check, status, detail)


_DONE = {"submitted": "submitted", "upgraded": "upgraded through a savepoint", "resumed": "resumed",
         "suspended": "suspended with a savepoint", "cancelled": "cancelled", "unchanged": "unchanged", "none": "nothing to do"}


def job_rows(pipeline_plans: t.Sequence[t.Mapping[str, t.Any]], results: t.Sequence[t.Mapping[str, t.Any]],
             slot_results: t.Sequence[t.Mapping[str, t.Any]], host: str, check_mode: bool = False) -> t.List[Row]:
    """A row per pipeline from its ``flink_job`` result (and, for ``absent``, its slots' ``pg_replication_slot``)."""
    by_name = {r.get("item", {}).get("name"): r for r in results or () if isinstance(r, dict)}
    dropped: t.Dict[str, t.List[str]] = {}
    for result in slot_results or ():
        name = (result.get("item") or [{}])[0].get("name") if isinstance(result.get("item"), list) else None
        if name:
            dropped.setdefault(name, []).extend(result.get("dropped") or [])
    rows = []
    for plan in pipeline_plans or ():
        name = plan.get("name")
        result = by_name.get(name) or {}
        if not plan.get("ok"):
            rows.append(_row(host, name or "?", "fail", plan.get("reason") or "not planned"))
            continue
        if not result or result.get("skipped"):
            rows.append(_row(host, name, "fail", "flink_job did not run"))
            continue
        if result.get("failed"):
            detail = result.get("msg") or "failed"
            if result.get("savepoint"):
                detail += " (savepoint %s)" % result["savepoint"]
            rows.append(_row(host, name, "fail", detail))
            continue
        action = result.get("action") or "none"
        verb = ("would be " if check_mode and action not in ("unchanged", "none") else "") + _DONE.get(action, action)
        detail = "job %s %s%s" % (result.get("job_id") or "-", verb,
                                  ", now %s" % result["job_state"] if result.get("job_state") and not check_mode else "")
        if result.get("restored_from"):
            detail += ", restored from %s" % result["restored_from"]
        elif result.get("savepoint") and action in ("suspended",):
            detail += ", savepoint %s" % result["savepoint"]
        if plan.get("state") == "absent" and dropped.get(name):
            detail += "; dropped its slots %s" % ", ".join(dropped[name])
        status = "skip" if check_mode else ("changed" if action not in ("unchanged", "none") else "ok")
        rows.append(_row(host, name, status, detail))
    return rows


def health_rows(pipeline_plans: t.Sequence[t.Mapping[str, t.Any]], jobs: t.Sequence[t.Mapping[str, t.Any]],
                slots: t.Sequence[t.Mapping[str, t.Any]], bounds: t.Mapping[str, t.Any], host: str) -> t.List[Row]:
    """Per running pipeline: the job runs its declared spec, its last checkpoint is recent, its restarts, and each
    of its slots is active with its lag within the bound (``pg_wal_lsn_diff(pg_current_wal_lsn(),
    confirmed_flush_lsn)``). ``jobs``: ``flink_job`` results in check mode; ``slots``: ``pg_replication_slot``
    results in check mode, each with its ``item`` [plan, slot name]."""
    by_name = {r.get("item", {}).get("name"): r for r in jobs or () if isinstance(r, dict)}
    slot_facts: t.Dict[str, t.Mapping[str, t.Any]] = {}
    for result in slots or ():
        item = result.get("item")
        if isinstance(item, list) and len(item) == 2:
            found = [s for s in result.get("slots") or [] if s.get("name") == item[1]]
            slot_facts[item[1]] = found[0] if found else {"missing": True, "msg": result.get("msg")}
    max_age = float(bounds.get("max_checkpoint_age") or 0)
    max_lag = int(bounds.get("max_slot_lag") or 0)
    rows = []
    for plan in pipeline_plans or ():
        if not plan.get("ok") or plan.get("state") != "running":
            continue
        name = plan["name"]
        job = by_name.get(name) or {}
        health = job.get("health") or {}
        problems: t.List[str] = []
        notes: t.List[str] = []
        running_s = health.get("running_s")
        young = job.get("job_state") == "RUNNING" and isinstance(running_s, (int, float)) and bool(max_age) \
            and running_s <= max_age
        if job.get("job_state") != "RUNNING":
            why = ": %s" % job["msg"] if job.get("msg") else ""
            problems.append("the job is %s, not RUNNING%s" % (job.get("job_state") or "missing", why))
        elif job.get("action") not in ("unchanged",):
            problems.append("the job does not run its declared spec (flink_job would say %s)" % job.get("action"))
        age = health.get("last_checkpoint_age_s")
        if job.get("job_state") == "RUNNING":
            if age is None and (running_s is None or (max_age and running_s > max_age)):
                problems.append("no checkpoint completed %s: the slot advances only on checkpoints (set "
                                "execution.checkpointing.interval)" % (
                                    "in %.0f s" % running_s if isinstance(running_s, (int, float)) else "yet"))
            elif age is not None and max_age and age > max_age:
                problems.append("the last checkpoint completed %.0f s ago, more than %.0f s "
                                "(flink_cdc_pipeline_max_checkpoint_age): checkpoints fail or stall (%s failed)"
                                % (age, max_age, health.get("checkpoints_failed")))
        for slot in plan.get("slots") or []:
            facts = slot_facts.get(slot) or {"missing": True}
            if facts.get("missing"):
                problems.append("its replication slot %s does not exist" % slot)
            elif not facts.get("active") and young:
                notes.append("its replication slot %s is not active yet: the job started %.0f s ago, and a source "
                             "streams from its slot only once its snapshot is read" % (slot, running_s))
            elif not facts.get("active"):
                problems.append("its replication slot %s is not active: no job reads it, and it holds back WAL" % slot)
            elif max_lag and isinstance(facts.get("lag_bytes"), int) and facts["lag_bytes"] > max_lag:
                problems.append("its replication slot %s lags %d bytes behind, more than %d "
                                "(flink_cdc_pipeline_max_slot_lag)" % (slot, facts["lag_bytes"], max_lag))
        lags = ", ".join("%s %s bytes" % (s, (slot_facts.get(s) or {}).get("lag_bytes")) for s in plan.get("slots") or [])
        summary = "job %s %s, last checkpoint %s, %s restart(s); slot lag %s" % (
            job.get("job_id") or "-", job.get("job_state") or "missing",
            "%.0f s ago" % age if isinstance(age, (int, float)) else "never", health.get("restarts", "?"), lags or "-")
        if problems:
            rows.append(_row(host, "%s health" % name, "fail", "%s. %s" % ("; ".join(problems + notes), summary)))
        elif notes:
            rows.append(_row(host, "%s health" % name, "warn", "%s. %s" % ("; ".join(notes), summary)))
        else:
            rows.append(_row(host, "%s health" % name, "ok", summary))
    return rows


def restart_jobs(jobs: t.Sequence[t.Mapping[str, t.Any]], pipelines: t.Sequence[t.Mapping[str, t.Any]],
                 savepoint_dir: t.Optional[str]) -> t.Dict[str, t.List[t.Any]]:
    """The running jobs a restart would stop, sorted.

    ``suspend``: the jobs named like a pipeline of ``flink_cdc_pipelines`` (``name``, ``job_id``,
    ``savepoint_dir``), which the restart phase stops with a savepoint and the pipeline phase resumes;
    ``flink_job`` still checks each is one it started. ``others``: the names of every other running job, which
    makes the restart refuse (a JobManager without high availability cancels its jobs when it restarts, and a
    TaskManager restart fails their tasks over)."""
    declared = {str(p.get("name")): p for p in pipelines or () if isinstance(p, dict) and p.get("name")}
    suspend: t.List[t.Dict[str, t.Any]] = []
    others: t.List[str] = []
    for job in jobs or ():
        if job.get("state") != "RUNNING":
            continue
        name = str(job.get("name") or "")
        pipeline = declared.get(name)
        if pipeline is None:
            others.append(name)
        elif name not in [s["name"] for s in suspend]:  # two of one name: flink_job refuses, naming both
            suspend.append({"name": name, "job_id": job.get("id"),
                            "savepoint_dir": pipeline.get("savepoint_dir") or savepoint_dir or None})
    return {"suspend": suspend, "others": others}


def restart_refusal(others: t.Sequence[str], checks: t.Sequence[t.Mapping[str, t.Any]],
                    allow_running_jobs: bool) -> t.List[str]:
    """Why the restart must not go on, or nothing: a running job that is not one of the role's pipelines (unless
    ``allow_running_jobs``), and a pipeline that ``flink_job`` cannot suspend (``checks``: its results in check
    mode: a job of that name it did not start, two of them, no savepoint directory)."""
    reasons = []
    if others and not allow_running_jobs:
        reasons.append("%d job(s) that are not pipelines of flink_cdc_pipelines run: %s" % (
            len(others), ", ".join(others)))
    for check in checks or ():
        if isinstance(check, dict) and check.get("failed"):
            name = (check.get("item") or {}).get("name") or "?"
            reasons.append("pipeline %s cannot be suspended: %s" % (name, check.get("msg") or "flink_job failed"))
    return reasons


def suspension_rows(results: t.Sequence[t.Mapping[str, t.Any]], restarted: t.Sequence[str], host: str,
                    check_mode: bool = False) -> t.List[Row]:
    """A row per pipeline that the restart phase suspended for the restart of ``restarted``."""
    rows = []
    for result in results or ():
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        name = (result.get("item") or {}).get("name") or "?"
        check = "%s restart" % name
        if result.get("failed"):
            rows.append(_row(host, check, "fail", "not suspended, so nothing was restarted: %s" % (
                result.get("msg") or "flink_job failed")))
        elif check_mode:
            rows.append(_row(host, check, "skip", "job %s would be suspended with a savepoint before the restart of "
                                                  "%s, and resumed from it by the pipeline phase" % (
                                                      result.get("job_id") or "-", ", ".join(restarted))))
        else:
            rows.append(_row(host, check, "changed", "job %s suspended with the savepoint %s before the restart of %s; "
                                                     "the pipeline phase resumes it from there" % (
                                                         result.get("job_id") or "-", result.get("savepoint") or "-",
                                                         ", ".join(restarted))))
    return rows
