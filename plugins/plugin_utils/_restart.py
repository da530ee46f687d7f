# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""How the flink_cdc role restarts each Flink process, judged on the controller (only the role's filters).

Flink reads ``lib/`` only when a process starts, so a rolling restart needs a method for every host whose
jars may change: the TaskManagers and, when it gets the jars too, the JobManager, whose split enumerators
and planner load connector classes. Each method is a host variable (a shell command or a systemd unit),
set per host or for a group; the role's value is the fallback.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

KINDS = {
    "taskmanager": ("flink_cdc_taskmanager_restart_command", "flink_cdc_taskmanager_service"),
    "jobmanager": ("flink_cdc_jobmanager_restart_command", "flink_cdc_jobmanager_service"),
}


def _value(host_vars: t.Any, name: str, fallback: t.Any) -> str:
    value = (host_vars or {}).get(name)
    return str(value or fallback or "")


def _raw(hostvars: t.Any, host: str) -> t.Mapping[str, t.Any]:
    """A host's own variables, untemplated: a command such as ``{{ flink_cdc_flink_home }}/bin/...`` counts as set
    even where the role default it refers to is not visible (HostVars.raw_get)."""
    if hasattr(hostvars, "raw_get"):
        try:
            return hostvars.raw_get(host) or {}
        except Exception:
            return {}
    return hostvars.get(host) or {}


def method(host_vars: t.Any, kind: str, defaults: t.Mapping[str, t.Any]) -> t.Dict[str, str]:
    """``{command, service}`` for one host: its own variables first, then the role's values."""
    command, service = KINDS[kind]
    return {"command": _value(host_vars, command, defaults.get(command)),
            "service": _value(host_vars, service, defaults.get(service))}


def method_rows(hostvars: t.Any, taskmanagers: t.Sequence[str], jobmanagers: t.Sequence[str],
                defaults: t.Mapping[str, t.Any], deploy_to_jobmanager: bool = True) -> t.List[t.Dict[str, t.Any]]:
    """One row per kind of process: ok with how each is restarted, or fail naming the hosts without a method."""
    rows = []
    groups = [("taskmanager", "TaskManager", list(taskmanagers))]
    if deploy_to_jobmanager:
        groups.append(("jobmanager", "JobManager", list(jobmanagers)))
    for kind, label, hosts in groups:
        if not hosts:
            continue
        command, service = KINDS[kind]
        lacking = []
        how = {}
        for host in hosts:
            found = method(_raw(hostvars, host), kind, defaults)
            if found["command"] or found["service"]:
                how[host] = ("command: %s" % found["command"]) if found["command"] else ("systemd unit %s" % found["service"])
            else:
                lacking.append(host)
        if lacking:
            rows.append({"host": "controller", "area": label, "check": "restart method", "status": "fail",
                         "detail": "flink_cdc_restart=rolling needs %s (a shell command run on the %s host) or %s "
                                   "(a systemd unit), as a host or group variable; not set for %s" % (
                                       command, label, service, ", ".join(lacking))})
        else:
            distinct = sorted(set(how.values()))
            rows.append({"host": "controller", "area": label, "check": "restart method", "status": "ok",
                         "detail": "rolling restart with %s" % (distinct[0] if len(distinct) == 1 else "; ".join(
                             "%s: %s" % (h, how[h]) for h in hosts))})
    return rows


def batch_size(batch: t.Any, count: int) -> int:
    """Hosts per batch for ``count`` hosts: ``batch`` is a count (``4``) or a percentage of them (``"25%"``,
    rounded up), as the ``serial`` keyword takes it; at least 1."""
    text = str(batch if batch is not None else "").strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 < percent <= 100:
                raise ValueError(text)
            return max(1, -(-int(count * percent) // 100)) if count else 1
        size = int(text)
        if size < 1:
            raise ValueError(text)
        return size
    except ValueError:
        raise ValueError("flink_cdc_restart_batch is %r; give a number of TaskManagers (4) or a percentage of those "
                         "to restart (25%%), at least 1" % (batch,))


def batches(hosts: t.Sequence[str], batch: t.Any, one_at_a_time: bool = False) -> t.List[t.List[str]]:
    """``hosts`` in the order given, cut into batches of ``batch``. ``one_at_a_time`` (jobs keep running through
    the restart) makes every batch one host, so that a job loses one TaskManager's slots at a time."""
    hosts = list(hosts or ())
    size = 1 if one_at_a_time else batch_size(batch, len(hosts))
    return [hosts[i:i + size] for i in range(0, len(hosts), size)]


def _new_ids(result: t.Mapping[str, t.Any], host: str, old_ids: t.Sequence[str]) -> t.List[str]:
    matched = ((result or {}).get("host_matches") or {}).get("matched") or {}
    return [i for i in matched.get(host) or [] if i not in old_ids]


def missing(result: t.Mapping[str, t.Any], batch: t.Sequence[str], old_ids: t.Sequence[str]) -> t.List[str]:
    """The hosts of ``batch`` that ``flink_cluster_info`` (``result``) does not see registered under a new ID."""
    return [host for host in batch or () if not _new_ids(result, host, old_ids or ())]


def records(batch: t.Sequence[str], before: t.Mapping[str, t.Any], after: t.Mapping[str, t.Any],
            check_mode: bool = False) -> t.List[t.Dict[str, t.Any]]:
    """One record per restarted host: its TaskManager IDs before and after (none after in check mode)."""
    old = ((before or {}).get("host_matches") or {}).get("matched") or {}
    out = []
    for host in batch or ():
        new = [] if check_mode else _new_ids(after, host, old.get(host) or [])
        out.append({"host": host, "old": list(old.get(host) or []), "new": new})
    return out


def to_restart(hosts: t.Sequence[str], facts_of: t.Callable[[str, str], t.Any], taskmanagers: t.Sequence[str],
               jobmanagers: t.Union[str, t.Sequence[str]]) -> t.Dict[str, t.Any]:
    """The processes a rolling restart restarts: on each play host, those whose jars this run changed (the host's
    ``__flink_cdc_deploy``) and those that started before lib/ last changed (its preflight ``__flink_cdc_host_check``
    ``restart_pending``), such as the hosts an interrupted run installed jars on and did not restart.
    ``facts_of(host, name)`` reads a host variable. ``jobmanagers`` is the JobManager host or, with high availability,
    all of them. Returns ``taskmanagers`` and ``jobmanagers`` (hosts, in play order), ``jobmanager`` (whether any
    JobManager is restarted) and ``why`` (host -> reason)."""
    jobmanagers = [jobmanagers] if isinstance(jobmanagers, str) else list(jobmanagers or ())
    out: t.Dict[str, t.Any] = {"taskmanagers": [], "jobmanagers": [], "jobmanager": False, "why": {}}
    for host in hosts or ():
        deploy = facts_of(host, "__flink_cdc_deploy") or {}
        pending = (facts_of(host, "__flink_cdc_host_check") or {}).get("restart_pending") or []
        for kind, wanted in (("taskmanager", host in taskmanagers), ("jobmanager", host in jobmanagers)):
            if not wanted:
                continue
            if isinstance(deploy, dict) and deploy.get("changed"):
                why = "its jars changed"
            elif kind in pending:
                why = "it started before lib/ last changed"
            else:
                continue
            if kind == "taskmanager":
                out["taskmanagers"].append(host)
            else:
                out["jobmanagers"].append(host)
                out["jobmanager"] = True
            out["why"]["%s %s" % (host, kind)] = why
    return out


def jobmanager_order(hosts: t.Sequence[str], address_of: t.Callable[[str], str], rest_urls: t.Sequence[str],
                     cluster: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
    """The JobManager hosts to restart, standbys first and the leader last, so that leadership moves once and
    never to a JobManager that still runs the old jars (apache/flink docs/content/docs/deployment/ha/overview.md:
    a standby takes over when the leader stops). ``cluster`` is flink_cluster_info's result (``jobmanagers``,
    ``leader``); a host is matched to a REST URL by its address (``address_of``: ansible_host or its name).

    Each item: ``host``, ``role`` (leader, standby or unknown), ``urls`` (``rest_urls`` with that host's own URL
    first, so that the wait after its restart reads its own classpath), ``own_url`` (whether one URL names it)."""
    roles = {}
    for jm in cluster.get("jobmanagers") or []:
        roles[(urlsplit(jm.get("url") or "").hostname or "").lower()] = jm.get("role") or "unknown"
    out = []
    for host in hosts:
        names = {str(address_of(host) or host).lower(), str(host).lower()}
        own = [u for u in rest_urls if (urlsplit(u).hostname or "").lower() in names]
        role = next((roles[n] for n in names if n in roles), "unknown")
        out.append({"host": host, "role": role, "own_url": bool(own),
                    "urls": own[:1] + [u for u in rest_urls if u not in own[:1]]})
    return sorted(out, key=lambda jm: jm["role"] == "leader")


def jobs_at_risk(jobs: t.Sequence[t.Mapping[str, t.Any]], ha_mode: str, taskmanagers: t.Sequence[str]) \
        -> t.List[t.Mapping[str, t.Any]]:
    """The running jobs a restart stops: all of them when TaskManagers restart (their tasks fail with their
    TaskManager), or when a JobManager without high availability restarts (it cancels its jobs). With high
    availability, a JobManager's restart carries the jobs: the next leader recovers them from the HA storage
    (apache/flink docs/content/docs/deployment/ha/overview.md), so none is at risk."""
    if taskmanagers or (ha_mode or "none") == "none":
        return list(jobs or [])
    return []
