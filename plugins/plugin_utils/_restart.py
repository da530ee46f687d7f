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

import posixpath
import typing as t
from urllib.parse import urlsplit

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _report_rows

KINDS = {
    "taskmanager": ("flink_cdc_taskmanager_restart_command", "flink_cdc_taskmanager_service"),
    "jobmanager": ("flink_cdc_jobmanager_restart_command", "flink_cdc_jobmanager_service"),
}


def _value(host_vars: t.Any, name: str, fallback: t.Any) -> str:
    value = (host_vars or {}).get(name)
    return str(value or fallback or "")


def _matched(cluster: t.Any) -> t.Mapping[str, t.Any]:
    """flink_cluster_info's ``host_matches.matched`` (inventory host -> its TaskManager IDs), empty when absent."""
    return ((cluster or {}).get("host_matches") or {}).get("matched") or {}


def method(host_vars: t.Any, kind: str, defaults: t.Mapping[str, t.Any]) -> t.Dict[str, str]:
    """``{command, service}`` for one host: its own variables first, then the role's values. The command wins over
    the service, as the restart phase runs it (``shown`` says which is used). ``host_vars`` are the host's four
    restart variables as that host renders them (the role's ``restart_method.yml`` records them per host), so a
    command such as ``{{ flink_cdc_flink_home }}/bin/taskmanager.sh stop`` holds that host's Flink home."""
    command, service = KINDS[kind]
    return {"command": _value(host_vars, command, defaults.get(command)),
            "service": _value(host_vars, service, defaults.get(service))}


def shown(found: t.Mapping[str, str]) -> str:
    """How a host restarts its process, as the report says it; empty when it has no method."""
    if found.get("command"):
        return "command: %s" % found["command"]
    if found.get("service"):
        return "systemd unit %s" % found["service"]
    return ""


def method_rows(methods: t.Mapping[str, t.Any], taskmanagers: t.Sequence[str], jobmanagers: t.Sequence[str],
                defaults: t.Mapping[str, t.Any], deploy_to_jobmanager: bool = True) -> t.List[t.Dict[str, t.Any]]:
    """One row per kind of process: ok with how each is restarted, or fail naming the hosts without a method.
    ``methods`` maps a host to its restart variables as rendered on that host (``method``); one command for all
    hosts is shown once, else each host's."""
    rows = []
    groups = [("taskmanager", "TaskManager", list(taskmanagers))]
    if deploy_to_jobmanager:
        groups.append(("jobmanager", "JobManager", list(jobmanagers)))
    for kind, label, hosts in groups:
        if not hosts:
            continue
        command, service = KINDS[kind]
        how = {host: shown(method((methods or {}).get(host), kind, defaults)) for host in hosts}
        lacking = [host for host in hosts if not how[host]]
        if lacking:
            rows.append(_report_rows.row(
                "controller", label, "restart method", "fail",
                "flink_cdc_restart=rolling needs %s (a shell command run on the %s host) or %s (a systemd unit), as a "
                "host or group variable; not set for %s" % (command, label, service, ", ".join(lacking))))
        else:
            distinct = sorted(set(how.values()))
            rows.append(_report_rows.row(
                "controller", label, "restart method", "ok",
                "rolling restart with %s" % (distinct[0] if len(distinct) == 1 else "; ".join(
                    "%s: %s" % (h, how[h]) for h in hosts))))
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
    matched = _matched(result)
    return [i for i in matched.get(host) or [] if i not in old_ids]


def batch_expected(expected: t.Mapping[str, str], batch: t.Sequence[str]) -> t.Dict[str, str]:
    """The registration addresses (the role's expected TaskManagers: host -> address) of the hosts of ``batch``, which
    the waits of that batch match."""
    return {host: address for host, address in (expected or {}).items() if host in (batch or ())}


def old_ids(before: t.Mapping[str, t.Any], batch: t.Sequence[str]) -> t.List[str]:
    """The TaskManager IDs that the hosts of ``batch`` had before their restart (``flink_cluster_info``'s
    ``host_matches`` in ``before``): a TaskManager back after its restart registers under another ID."""
    matched = _matched(before)
    return [i for host in batch or () for i in matched.get(host) or []]


def missing(result: t.Mapping[str, t.Any], batch: t.Sequence[str], old_ids: t.Sequence[str],
            check_mode: bool = False) -> t.List[str]:
    """The hosts of ``batch`` that ``flink_cluster_info`` (``result``) does not see registered under a new ID; none in
    check mode, which restarts nothing and waits for nothing."""
    if check_mode:
        return []
    return [host for host in batch or () if not _new_ids(result, host, old_ids or ())]


def records(batch: t.Sequence[str], before: t.Mapping[str, t.Any], after: t.Mapping[str, t.Any],
            check_mode: bool = False, lost: t.Sequence[t.Mapping[str, t.Any]] = ()) -> t.List[t.Dict[str, t.Any]]:
    """One record per restarted host: its TaskManager IDs before and after (none after in check mode). The hosts of
    ``lost`` (``failures``: their TaskManager did not come back) keep their failure records instead, after the
    others."""
    old = _matched(before)
    lost_hosts = {record.get("host") for record in lost or ()}
    out: t.List[t.Dict[str, t.Any]] = []
    for host in batch or ():
        if host in lost_hosts:
            continue
        new = [] if check_mode else _new_ids(after, host, old.get(host) or [])
        out.append({"host": host, "old": list(old.get(host) or []), "new": new})
    return out + [dict(record) for record in lost or ()]


def jobmanager_jars(deploy: t.Any, own_url: bool) -> t.List[str]:
    """The jar file names a restarted JobManager's classpath must hold: those its host's deploy (``deploy``, the
    registered ``flink_connector_jar`` result) left in lib/. None when no REST URL names that JobManager
    (``own_url``): another JobManager's classpath would be read, so only the TaskManagers are waited for."""
    if not own_url or not isinstance(deploy, t.Mapping):
        return []
    return [posixpath.basename(str(jar["path"])) for jar in deploy.get("jars") or []
            if isinstance(jar, t.Mapping) and jar.get("path")]


def jobmanager_record(jm: t.Mapping[str, t.Any], after: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The record of one JobManager's restart (``jm``, an item of ``jobmanager_order``) for the report's restart rows:
    the leader and the number of TaskManagers the wait after it saw (``after``; none in check mode)."""
    after = after if isinstance(after, t.Mapping) else {}
    return {"host": jm["host"], "kind": "JobManager", "role": jm.get("role"), "ha": jm.get("ha"),
            "own_url": jm.get("own_url"), "old": [], "new": [], "leader": after.get("leader"),
            "taskmanagers": len(after.get("taskmanagers") or [])}


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
    first, so that the wait after its restart reads its own classpath), ``own_url`` (whether one URL names it) and
    ``ha`` (whether the cluster runs with high availability; without it a lone JobManager is its own leader)."""
    ha = (cluster.get("ha_mode") or "none") != "none"
    roles = {}
    for jm in cluster.get("jobmanagers") or []:
        roles[(urlsplit(jm.get("url") or "").hostname or "").lower()] = jm.get("role") or "unknown"
    out = []
    for host in hosts:
        names = {str(address_of(host) or host).lower(), str(host).lower()}
        own = [u for u in rest_urls if (urlsplit(u).hostname or "").lower() in names]
        role = next((roles[n] for n in names if n in roles), "unknown")
        out.append({"host": host, "role": role, "own_url": bool(own), "ha": ha,
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


# --- a batch whose TaskManager does not come back

# How many lines of a failed restart command's output, or of a TaskManager's log, a failure shows.
TAIL_LINES = 20
# Where a TaskManager writes its log: FLINK_HOME/log unless env.log.dir moves it, as
# flink-<user>-taskexecutor-<n>-<hostname>.log (apache/flink flink-dist/src/main/flink-bin/bin/flink-daemon.sh,
# FLINK_LOG_PREFIX; the rolled files end in .log.1, .log.2, ...).
TASKMANAGER_LOG_PATTERN = "flink-*-taskexecutor-*.log"


def _last_lines(*texts: t.Optional[str]) -> t.List[str]:
    lines = [line.rstrip() for text in texts for line in (text or "").splitlines() if line.strip()]
    return lines[-TAIL_LINES:]


def launch(batch: t.Sequence[str], results_of: t.Callable[[str], t.Sequence[t.Mapping[str, t.Any]]],
           before: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """How the restart commands (or service restarts) of a batch went. ``results_of(host)`` gives that host's
    registered results of both tasks (one ran, the other was skipped). Returns ``started`` (hosts whose restart
    command succeeded), ``failed`` (host -> ``{rc, output}``, the last lines of the command's output, or the
    module's message) and ``wait_for``: the TaskManagers the cluster had before, less those of the hosts whose
    command failed, which will not come back."""
    matched = _matched(before)
    started: t.List[str] = []
    failed: t.Dict[str, t.Dict[str, t.Any]] = {}
    for host in batch or ():
        ran = [r for r in results_of(host) or () if isinstance(r, t.Mapping) and not r.get("skipped")]
        bad = [r for r in ran if r.get("failed")]
        if not bad:
            started.append(host)
            continue
        result = bad[0]
        failed[host] = {"rc": result.get("rc"),
                        "output": _last_lines(result.get("stdout"), result.get("stderr")) or _last_lines(
                            result.get("msg") or "failed, without output")}
    lost_ids = sum(len(matched.get(host) or []) for host in failed)
    return {"started": started, "failed": failed,
            "wait_for": max(0, len((before or {}).get("taskmanagers") or []) - lost_ids)}


def failures(batch: t.Sequence[str], launched: t.Mapping[str, t.Any], unregistered: t.Sequence[str],
             after: t.Mapping[str, t.Any], logs_of: t.Callable[[str], t.Mapping[str, t.Any]],
             before: t.Mapping[str, t.Any], timeout: t.Any) -> t.List[t.Dict[str, t.Any]]:
    """One record per host of the batch whose TaskManager did not come back: its restart command failed
    (``launched``, see ``launch``), or it did not register again under a new ID (``unregistered``; ``after`` is the
    wait's result). ``logs_of(host)`` gives ``{path, dir, lines}``: the last lines of its newest TaskManager log
    (``path`` empty when there is none in ``dir``). A record has ``host``, ``kind``, ``old``, ``new`` (empty),
    ``failed`` (the report row's detail) and ``lines`` with their ``source``, for the failure message."""
    old = _matched(before)
    failed = (launched or {}).get("failed") or {}
    out = []
    for host in batch or ():
        record: t.Dict[str, t.Any] = {"host": host, "kind": "TaskManager", "old": list(old.get(host) or []), "new": []}
        if host in failed:
            record["failed"] = "the restart command of its TaskManager failed (rc %s)" % failed[host].get("rc")
            record["lines"] = list(failed[host].get("output") or [])
            record["source"] = "its output"
        elif host in (unregistered or ()):
            log = logs_of(host) or {}
            waited = (after or {}).get("msg")
            record["failed"] = ("its TaskManager did not register with the JobManager again within "
                                "flink_cdc_restart_timeout (%s s) after its restart%s" % (
                                    timeout, " (%s)" % waited if waited else ""))
            record["lines"] = list(log.get("lines") or [])
            record["source"] = log.get("path") or ""
            record["log_dir"] = log.get("dir") or ""
        else:
            continue
        out.append(record)
    return out


def _shown(hosts: t.Sequence[str]) -> str:
    return ", ".join(hosts) if hosts else "none"


def failure_message(failed: t.Sequence[t.Mapping[str, t.Any]], restarted: t.Sequence[t.Mapping[str, t.Any]],
                    restart_hosts: t.Sequence[str], restart_jobmanager: bool, jobmanager_host: str,
                    suspended: t.Sequence[str] = ()) -> str:
    """The message the restart phase stops with: each host that did not come back, why, and the last lines of
    its output or log; what was restarted and what was not; what to do next."""
    parts = []
    for record in failed:
        text = "%s: %s." % (record["host"], record["failed"])
        if record.get("source") == "its output":
            text += " Last %d lines of its output:" % len(record.get("lines") or [])
        elif record.get("source"):
            text += " Last %d lines of %s:" % (len(record.get("lines") or []), record["source"])
        else:
            text += " No TaskManager log (%s) in %s." % (TASKMANAGER_LOG_PATTERN, record.get("log_dir") or "its log/")
        parts.append("\n".join([text] + ["  " + line for line in record.get("lines") or []]))
    bad = [r["host"] for r in failed]
    done = [r["host"] for r in restarted or () if r.get("host") not in bad and r.get("kind", "TaskManager") == "TaskManager"]
    left = [h for h in restart_hosts or () if h not in done and h not in bad]
    not_restarted = ([", ".join(left)] if left else []) + (
        ["the JobManager %s" % jobmanager_host] if restart_jobmanager else [])
    summary = "The rolling restart stopped there. Restarted with the new jars: %s. %s" % (
        _shown(done), "Not restarted: %s." % ", and ".join(not_restarted) if not_restarted
        else "Nothing else was to be restarted.")
    if suspended:
        summary += " The pipelines suspended for the restart (%s) stay suspended with their savepoints." % (
            ", ".join(suspended))
    summary += (" Fix the cause on %s (above), start its TaskManager so that it registers with the JobManager, "
                "then run the play again: it restarts only the processes that do not run the jars of their lib/%s."
                % (_shown(bad), ", and resumes the suspended pipelines" if suspended else ""))
    return "\n".join(parts + [summary])


def newest_log(files: t.Optional[t.Sequence[t.Mapping[str, t.Any]]]) -> str:
    """The path of the newest file (by mtime) of an ``ansible.builtin.find`` result's ``files``; empty without any."""
    found = sorted((f for f in files or () if f.get("path")), key=lambda f: (f.get("mtime") or 0, f["path"]))
    return str(found[-1]["path"]) if found else ""


# --- why the restart phase stopped

def jars_in_place(hosts: t.Sequence[str], deploy_of: t.Callable[[str], t.Any]) -> t.List[str]:
    """The hosts whose deploy this run left the wanted jars in lib/ (installed now, or already there)."""
    out = []
    for host in hosts or ():
        deploy = deploy_of(host)
        if isinstance(deploy, t.Mapping) and deploy.get("jars") and not deploy.get("failed") \
                and not deploy.get("skipped"):
            out.append(host)
    return out


def stop(jobmanager_read: t.Mapping[str, t.Any], failed_task: str, failed_msg: str,
         failed: t.Sequence[t.Mapping[str, t.Any]], restarted: t.Sequence[t.Mapping[str, t.Any]],
         restart_hosts: t.Sequence[str], restart_jobmanager: bool, jobmanager_host: str, rest_url: str,
         jars_on: t.Sequence[str], suspended: t.Sequence[str] = ()) -> t.Dict[str, t.Any]:
    """Why the restart phase stopped, read after its failure: ``msg`` and the report ``rows`` it adds.

    ``jobmanager_read`` is a flink_cluster_info read of the cluster made after the failure (failed_when false):
    without ``flink_version`` the JobManager no longer answers, and that is the cause, whatever task noticed it
    first (a TaskManager cannot register again without it). Else a TaskManager that did not come back
    (``failed``, see ``failures``) is; else the failed task's own message is returned as it is."""
    if "flink_version" not in (jobmanager_read or {}):
        reason = (jobmanager_read or {}).get("msg") or "no answer"
        bad = [r["host"] for r in failed or () if r.get("source") == "its output"]
        done = [r["host"] for r in restarted or () if r.get("host") not in bad
                and r.get("kind", "TaskManager") == "TaskManager"]
        unregistered = [r["host"] for r in failed or () if r.get("source") != "its output"]
        jobmanager_done = any(r.get("kind") == "JobManager" and not r.get("failed") for r in restarted or ())
        left = [h for h in restart_hosts or () if h not in done]
        not_restarted = ([", ".join(left)] if left else []) + (
            ["the JobManager %s" % jobmanager_host] if restart_jobmanager and not jobmanager_done else [])
        msg = ("The JobManager %s (%s) stopped answering during the restart phase, at '%s': %s. Done so far: "
               "the new jars are in lib/ on %s; restarted with them: %s%s. Not restarted: %s." % (
                   jobmanager_host, rest_url, failed_task, reason, _shown(jars_on), _shown(done),
                   " (%s not registered again: no JobManager to register with)" % ", ".join(unregistered)
                   if unregistered else "", ", and ".join(not_restarted) or "none"))
        if suspended:
            msg += " The pipelines suspended for the restart (%s) stay suspended with their savepoints." % (
                ", ".join(suspended))
        msg += (" Start the JobManager on %s (flink_cdc_jobmanager_restart_command or its service) and wait until "
                "the TaskManagers have registered with it again, then run the play again: it installs no jar that "
                "is already in place and restarts only the processes that do not run the jars of their lib/%s." % (
                    jobmanager_host, ", and resumes the suspended pipelines" if suspended else ""))
        row = _report_rows.row(jobmanager_host, "JobManager", "reachable", "fail",
                               "stopped answering during the restart phase, at '%s': %s" % (failed_task, reason))
        return {"msg": msg, "rows": [dict(row, line=_report_rows.line(row))]}
    if failed:
        return {"msg": failure_message(failed, restarted, restart_hosts, restart_jobmanager, jobmanager_host,
                                       suspended), "rows": []}
    return {"msg": failed_msg or "the restart phase failed at '%s'" % failed_task, "rows": []}
