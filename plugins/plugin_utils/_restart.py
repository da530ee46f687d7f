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
