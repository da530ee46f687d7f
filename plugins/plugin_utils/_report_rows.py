# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The flink_cdc role's readiness report rows and summary, judged on the controller (only the role's filters).

Each row is ``{host, area, check, status, detail}`` (status ok, warn, fail, skip or changed), plus ``line``, the
row as one sentence for failure messages. The inputs are the role's registered results: flink_cluster_info
(``jm``), pg_logical_check (``pg``), flink_host_check (per host), flink_connector_jar (per host) and the restart
records. The templates only render these rows.
"""

from __future__ import annotations

import os
import typing as t

# The row's shape and its one-sentence form are module_utils/_report_row.py's; imported here under the names the
# rest of the controller code has always used (``_report_rows.row``, ``_report_rows.line``).
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._report_row import Row, line, row


def _get(mapping: t.Any, name: str, fallback: t.Any = None) -> t.Any:
    try:
        value = mapping.get(name, fallback) if mapping is not None else fallback
    except Exception:  # a host variable that cannot be templated counts as unset
        return fallback
    return fallback if value is None else value


def _read(jm: t.Mapping[str, t.Any]) -> bool:
    """Whether flink_cluster_info read the JobManager (failed_when: false hides ``failed``)."""
    return "flink_version" in (jm or {})


# --- preflight

def jobmanager_rows(jm: t.Mapping[str, t.Any], rest_url_shown: str) -> t.List[Row]:
    if not _read(jm):
        return [row("jobmanager", "JobManager", "reachable", "fail", _get(jm, "msg") or "unknown error")]
    overview = _get(jm, "overview", {})
    running = [j for j in _get(jm, "jobs", []) if j.get("state") == "RUNNING"]
    rows = [row("jobmanager", "JobManager", "reachable", "ok",
                "Flink %s at %s, %d TaskManager(s), %s of %s slots free, %d running job(s)" % (
                    jm["flink_version"], rest_url_shown, len(_get(jm, "taskmanagers", [])),
                    overview.get("slots-available"), overview.get("slots-total"), len(running)))]
    for tm in _get(_get(jm, "host_matches", {}), "unexpected", []):
        rows.append(row("jobmanager", "TaskManager", "not in inventory", "warn",
                        "TaskManager %s (%s) is registered but is not in flink_taskmanagers" % (tm.get("id"), tm.get("host"))))
    return rows


def high_availability_rows(jm: t.Mapping[str, t.Any], pipelines: int = 0) -> t.List[Row]:
    """Each JobManager of the REST URLs with its role and version when the cluster has several or runs with high
    availability, and the HA verdict: several URLs without HA are several clusters (fail); HA off while jobs run
    or pipelines are declared is a warning, since a JobManager without HA cancels its jobs when it stops
    (apache/flink docs/content/docs/deployment/ha/overview.md)."""
    if not _read(jm):
        return []
    jms = _get(jm, "jobmanagers", [])
    mode = _get(jm, "ha_mode", "none")
    running = [j for j in _get(jm, "jobs", []) if j.get("state") == "RUNNING"]
    rows = []
    if len(jms) > 1 or mode != "none":
        for j in jms:
            where = j.get("endpoint") or j.get("url") or "?"
            role = j.get("role")
            if role == "unreachable":
                rows.append(row(where, "JobManager", "role", "warn", "unreachable: %s; the cluster goes on without this "
                                "JobManager, which is no standby until it runs again" % (j.get("error") or "no answer")))
            elif j.get("flink_version") != jm.get("flink_version"):
                rows.append(row(where, "JobManager", "role", "fail", "%s, runs Flink %s where the cluster runs %s: "
                                "every JobManager of a cluster runs the same Flink release" % (
                                    role, j.get("flink_version"), jm.get("flink_version"))))
            elif role == "unknown":
                rows.append(row(where, "JobManager", "role", "warn", "leader or standby, not known: %s"
                                % (_get(jm, "leader_note", "") or "no JobManager named the leader")))
            else:
                rows.append(row(where, "JobManager", "role", "ok", "%s, Flink %s" % (role, j.get("flink_version"))))
    if len(jms) > 1 and mode == "none":
        rows.append(row("jobmanager", "JobManager", "high availability", "fail",
                        "flink_cdc_rest_url names %d JobManagers, but high-availability.type is not set on them: they "
                        "are separate clusters. Give the URL of one cluster's JobManagers only, or set up high "
                        "availability (high-availability.type: zookeeper)" % len(jms)))
    elif mode == "none" and (running or pipelines):
        what = ", ".join(x for x in ("%d running job(s)" % len(running) if running else "",
                                     "%d declared pipeline(s)" % pipelines if pipelines else "") if x)
        rows.append(row("jobmanager", "JobManager", "high availability", "warn",
                        "off, with %s: a JobManager without high availability cancels its jobs when it stops or fails, "
                        "so its restart needs the jobs suspended first; with high availability (high-availability.type: "
                        "zookeeper and two or more JobManagers) the jobs would go on" % what))
    elif mode != "none":
        leader = _get(jm, "leader", "")
        rows.append(row("jobmanager", "JobManager", "high availability", "ok" if leader else "warn",
                        "%s, %d JobManager URL(s), leader %s" % (mode, len(jms), leader or (
                            "not known: " + (_get(jm, "leader_note", "") or "no JobManager named it")))))
    return rows


def postgres_rows(pg: t.Mapping[str, t.Any], where: str) -> t.List[Row]:
    """pg_logical_check's checks, one row each; ``where`` is ``postgresql <host>:<port>``."""
    checks = _get(pg, "checks")
    if checks is None:
        return [row(where, "PostgreSQL", "readiness", "fail", _get(pg, "msg") or "pg_logical_check did not run")]
    rows = []
    for c in checks:
        name = c["name"] + ((" " + c["table"]) if c.get("table") else "")
        status = "ok" if c.get("ok") else ("fail" if c.get("severity") == "error" else "warn")
        detail = c.get("message", "") + ((". Fix: " + c["hint"]) if c.get("hint") and not c.get("ok") else "")
        rows.append(row(where, "PostgreSQL", name, status, detail))
    return rows


def registered_row(host: str, jm: t.Mapping[str, t.Any], address: str, rest_url_shown: str) -> Row:
    """Whether a TaskManager host's TaskManager is registered with the JobManager, under ``address``."""
    if not _read(jm):
        return row(host, "TaskManager", "registered", "fail", "cannot tell: the JobManager could not be read")
    matched = _get(_get(jm, "host_matches", {}), "matched", {})
    if host in matched:
        return row(host, "TaskManager", "registered", "ok", "as %s (%s)" % (address, ", ".join(matched[host])))
    registered = ", ".join(tm.get("host", "") for tm in _get(jm, "taskmanagers", [])) or "none"
    return row(host, "TaskManager", "registered", "fail",
               "no TaskManager registered with address %s at %s (registered: %s); set flink_cdc_taskmanager_address "
               "if it registers under another name" % (address, rest_url_shown, registered))


def host_check_rows(host: str, result: t.Optional[t.Mapping[str, t.Any]]) -> t.List[Row]:
    """flink_host_check's rows, or one failed row when it did not return any."""
    rows = _get(result, "rows")
    if rows is None:
        return [row(host, "Java/config", "host check", "fail", _get(result, "msg") or "flink_host_check did not run")]
    return [dict(r, host=host) for r in rows]


def host_rows(host: str, is_taskmanager: bool, gets_jars: bool, jm: t.Mapping[str, t.Any], address: str,
              rest_url_shown: str, host_check: t.Optional[t.Mapping[str, t.Any]]) -> t.List[Row]:
    """One play host's rows: registered (a TaskManager host), then its flink_host_check rows (a host that gets jars)."""
    rows = []
    if is_taskmanager:
        rows.append(registered_row(host, jm, address, rest_url_shown))
    if gets_jars:
        rows.extend(host_check_rows(host, host_check))
    return rows


def connection_shown(connection: str, address: str, port: t.Any) -> str:
    """How Ansible connects to a host, as a message names it: ``ssh to 10.0.0.11:22``, ``local``."""
    if connection in ("local", "ansible.builtin.local"):
        return "local"
    return "%s to %s%s" % (connection.rsplit(".", 1)[-1], address, ":%s" % port if port not in (None, "") else "")


def unreachable_row(host: str, is_taskmanager: bool, connection: str, error: str) -> Row:
    """The failed row of a play host whose connection failed: the host, how Ansible connects to it, Ansible's
    error and the fix. Ansible drops such a host from the play and goes on with the others (ansible-core
    ``StrategyBase._process_pending_results``: an unreachable host joins ``_removed_hosts``), so the preflight
    stops the whole play on this row."""
    error = (error or "no error message").strip()
    if error.startswith("Task failed: "):  # ansible-core 2.19 prefixes every task error
        error = error[len("Task failed: "):]
    return row(host, "TaskManager" if is_taskmanager else "Flink host", "reachable", "fail",
               "Ansible cannot reach %s (%s): %s. Fix: start the host (or its SSH server), or correct "
               "ansible_host, ansible_port and ansible_user for it in the inventory; a host gone for good comes "
               "out of the inventory" % (host, connection, error.rstrip(".")))


def preflight_rows(jm: t.Mapping[str, t.Any], rest_url_shown: str, pg: t.Optional[t.Mapping[str, t.Any]], pg_where: str,
                   restart_rows: t.Sequence[Row], connector_rows: t.Sequence[Row], hosts_all: t.Sequence[str],
                   hosts: t.Sequence[str], rows_of_host: t.Callable[[str], t.Sequence[Row]],
                   row_of_gone_host: t.Callable[[str], t.Optional[Row]] = lambda host: None,
                   pipelines: int = 0) -> t.List[Row]:
    """Every preflight row, each with its ``line``: the JobManager (each of them and the high-availability verdict:
    ``high_availability_rows``; ``pipelines`` is the number of declared pipelines), PostgreSQL (``pg`` None: not
    checked), the restart methods, the connectors, then each play host's rows in inventory order; a host that left
    the play gets one failed row: ``row_of_gone_host``'s (an unreachable host: ``unreachable_row``) or, when it knows
    no more, a row that says the host is unreachable or failed before the preflight."""
    rows = jobmanager_rows(jm, rest_url_shown) + high_availability_rows(jm, pipelines)
    if pg is not None:
        rows += postgres_rows(pg, pg_where)
    rows += [dict(r) for r in restart_rows]
    rows += [dict(r) for r in connector_rows]
    for host in hosts_all:
        if host in hosts:
            rows += [dict(r) for r in rows_of_host(host)]
        else:
            rows.append(dict(row_of_gone_host(host) or row(host, "TaskManager", "host", "fail",
                                                           "unreachable or failed before preflight")))
    return [dict(r, line=line(r)) for r in rows]


# --- deploy and restart

def deploy_row(host: str, deploy: t.Optional[t.Mapping[str, t.Any]], check_mode: bool) -> t.Optional[Row]:
    """The ``Connectors deploy`` row of a host from its flink_connector_jar result; None when it got no jars."""
    if not deploy or deploy.get("skipped"):
        return None
    jars = deploy.get("jars") or []
    if deploy.get("failed"):
        status, detail = "fail", deploy.get("msg") or "failed"
    elif deploy.get("changed"):
        installed = [os.path.basename(j["path"]) for j in jars if j.get("changed")]
        removed = [os.path.basename(p) for p in deploy.get("removed") or []]
        status = "changed"
        detail = ("would install: " if check_mode else "installed: ") + (", ".join(installed) or "attributes only")
        if removed:
            detail += ("; would remove: " if check_mode else "; removed: ") + ", ".join(removed)
    else:
        status, detail = "ok", "up to date: " + ", ".join(os.path.basename(j["path"]) for j in jars)
    return dict(row(host, "Connectors", "deploy", status, detail), line="%s: Connectors deploy: %s" % (host, detail))


def restart_rows(restart_hosts: t.Sequence[str], restarted: t.Sequence[t.Mapping[str, t.Any]],
                 restart_jobmanager: bool, jobmanager_host: str, check_mode: bool) -> t.List[Row]:
    """A warning per process whose jars changed and that was not restarted, then a row per restart done or failed
    (a record with ``failed``: the process did not come back after its restart)."""
    rows = []
    done = [r.get("host") for r in restarted]
    for host in restart_hosts:
        if host not in done:
            rows.append(dict(row(host, "TaskManager", "restart", "warn",
                                 "jars changed; restart this TaskManager to load them (flink_cdc_restart=rolling does it)"),
                             line="%s: TaskManager restart needed" % host))
    if restart_jobmanager and jobmanager_host not in done:
        rows.append(dict(row(jobmanager_host, "JobManager", "restart", "warn",
                             "jars changed; restart the JobManager to load them (flink_cdc_restart=rolling does it)"),
                         line="%s: JobManager restart needed" % jobmanager_host))
    for r in restarted:
        kind = r.get("kind") or "TaskManager"
        if r.get("failed"):
            rows.append(dict(row(r["host"], kind, "restart", "fail", r["failed"]),
                             line="%s: %s restart failed: %s" % (r["host"], kind, r["failed"])))
            continue
        if check_mode:
            detail = "would restart"
        elif kind == "TaskManager":
            detail = "restarted: %s -> %s" % (", ".join(r.get("old") or []), ", ".join(r.get("new") or []))
        else:
            detail = "restarted; its classpath holds the new jars, %s TaskManager(s) registered again" % r.get("taskmanagers")
            if r.get("ha") and r.get("role") in ("leader", "standby"):
                # High availability: which JobManager it was, and which leads after it.
                detail = "restarted (it was the %s)%s; the leader is now %s; %s TaskManager(s) registered again" % (
                    r["role"], "; its classpath holds the new jars" if r.get("own_url") else
                    "; its classpath was not checked: no URL of flink_cdc_rest_url names it",
                    r.get("leader") or "not known", r.get("taskmanagers"))
        rows.append(dict(row(r["host"], kind, "restart", "changed", detail), line="%s: %s restart" % (r["host"], kind)))
    return rows


def deploy_rows(hosts: t.Sequence[str], deploy_of: t.Callable[[str], t.Optional[t.Mapping[str, t.Any]]],
                restart_hosts: t.Sequence[str], restarted: t.Sequence[t.Mapping[str, t.Any]], restart_jobmanager: bool,
                jobmanager_host: str, check_mode: bool) -> t.List[Row]:
    rows = [r for r in (deploy_row(h, deploy_of(h), check_mode) for h in hosts) if r]
    return rows + restart_rows(restart_hosts, restarted, restart_jobmanager, jobmanager_host, check_mode)


# --- summary

def summary(rows: t.Sequence[t.Mapping[str, t.Any]], smoke_rows: t.Sequence[t.Mapping[str, t.Any]],
            connectors: t.Optional[str], report_dir: str, check_mode: bool) -> t.List[str]:
    """The lines the role prints at the end: the counts, the connectors, every row that is not ok, the smoke job
    and where the report is."""
    def count(status: str) -> int:
        return len([r for r in rows if r.get("status") == status])

    lines = ["Flink CDC readiness: %d ok, %d changed, %d warning(s), %d failed%s" % (
        count("ok"), count("changed"), count("warn"), count("fail"),
        " (check mode: nothing was written)" if check_mode else "")]
    if connectors is not None:
        lines.append("Connectors: %s" % connectors)
    for r in rows:
        if r.get("status") in ("changed", "warn", "fail"):
            lines.append("  %s %s | %s | %s | %s" % (r["status"].upper(), r["host"], r["area"], r["check"], r["detail"]))
    for r in smoke_rows:
        if r.get("check") == "job":
            lines.append("Smoke job: %s %s" % (r["status"].upper(), r["detail"]))
    if report_dir:
        lines.append("Report: %s/flink_cdc_report.md" % report_dir)
    return lines
