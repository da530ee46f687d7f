# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""A Flink cluster's state as this collection sees it (private to it).

Plain functions over REST bodies (see ``_flink_rest``): parsing TaskManagers,
jobs and configuration, matching inventory hosts to registered TaskManagers,
and waiting for a cluster to reach a wanted size. They take their inputs, so
unit tests replay bodies recorded from a real Flink.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import time

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink_rest import FlinkRestError

# FACTS.md "Flink runtime / TaskManager path": akka.tcp://flink@<host>:<port>/user/rpc/taskmanager_N
# up to 1.17; pekko.tcp:// from 1.18; pekko.ssl.tcp:// with internal SSL.
_TM_PATH = re.compile(r"^(?:akka|pekko)(?:\.ssl)?\.tcp://[^@/]+@(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)/")

ACTIVE_JOB_STATES = ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "FAILING", "CANCELLING",
                     "RECONCILING", "SUSPENDED")


def taskmanager_host(path):
    """The host a TaskManager registered with, from its RPC ``path``; None if unknown."""
    match = _TM_PATH.match(path or "")
    if not match:
        return None
    return match.group("host").strip("[]")


def parse_taskmanager(tm, now_ms=None):
    """One entry of ``/taskmanagers`` in this collection's shape."""
    hardware = tm.get("hardware") or {}
    # FACTS.md: despite its name, timeSinceLastHeartbeat is the epoch-ms time of the
    # last heartbeat (0 before the first one).
    last = tm.get("timeSinceLastHeartbeat") or 0
    age = None
    if last and now_ms is not None:
        age = round(max(0, now_ms - last) / 1000.0, 3)
    return {
        "id": tm.get("id"),
        "host": taskmanager_host(tm.get("path")),
        "path": tm.get("path"),
        "data_port": tm.get("dataPort"),
        "slots_total": tm.get("slotsNumber"),
        "slots_free": tm.get("freeSlots"),
        "cpu_cores": hardware.get("cpuCores"),
        "physical_memory": hardware.get("physicalMemory"),
        "last_heartbeat": last or None,
        "heartbeat_age_seconds": age,
    }


def parse_jobs(jobs):
    """``/jobs/overview`` entries: the REST form of ``flink list``."""
    out = []
    for job in jobs:
        out.append({
            "id": job.get("jid"),
            "name": job.get("name"),
            "state": job.get("state"),
            "start_time": job.get("start-time"),
            "duration": job.get("duration"),
        })
    return out


def active_jobs(jobs):
    return [j for j in jobs if j.get("state") in ACTIVE_JOB_STATES]


def parse_config(entries):
    """``/jobmanager/config`` is a list of ``{key, value}``; return a dict."""
    return dict((e.get("key"), e.get("value")) for e in entries if "key" in e)


def counts(taskmanagers, ignore_ids=()):
    """(registered TaskManagers, free slots), leaving out ``ignore_ids``."""
    live = [tm for tm in taskmanagers if tm["id"] not in ignore_ids]
    return len(live), sum(tm.get("slots_free") or 0 for tm in live)


def _addresses(name, resolve):
    """Every IP address ``name`` stands for (itself when it is an address or unresolvable)."""
    found = set([name])
    try:
        for info in resolve(name, None):
            found.add(info[4][0])
    except (socket.gaierror, socket.herror, UnicodeError, OSError):
        pass
    return found


def match_hosts(expected, taskmanagers, resolve=socket.getaddrinfo):
    """Match inventory hosts to registered TaskManagers by address.

    ``expected`` maps an inventory name to the address its TaskManager registers
    with (``ansible_host``, or an override). Names are resolved on both sides, so
    ``tm1.example`` matches a TaskManager registered as ``10.0.0.5``.
    Returns ``{matched: {name: [tm ids]}, missing: [names], unexpected: [tms]}``.
    """
    tm_addrs = [(tm, _addresses(tm["host"], resolve) if tm.get("host") else set())
                for tm in taskmanagers]
    matched = {}
    missing = []
    claimed = set()
    for name in sorted(expected):
        want = _addresses(str(expected[name]), resolve)
        ids = [tm["id"] for tm, addrs in tm_addrs if addrs & want]
        if ids:
            matched[name] = ids
            claimed.update(ids)
        else:
            missing.append(name)
    unexpected = [{"id": tm["id"], "host": tm.get("host")}
                  for tm in taskmanagers if tm["id"] not in claimed]
    return {"matched": matched, "missing": missing, "unexpected": unexpected}


def snapshot(client, now_ms=None, classpath=False):
    """Read everything flink_cluster_info returns, in one pass.

    With ``classpath``, also the JobManager's JVM classpath (``/jobmanager/environment``): the jars it
    loaded when it started, which is what tells whether it has been restarted since a jar landed in lib/.
    """
    overview = client.overview()
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    taskmanagers = [parse_taskmanager(tm, now_ms) for tm in client.taskmanagers()]
    snap = {
        "flink_version": overview.get("flink-version"),
        "flink_commit": overview.get("flink-commit"),
        "overview": overview,
        "taskmanagers": taskmanagers,
        "jobs": parse_jobs(client.jobs()),
        "jobmanager_config": parse_config(client.jobmanager_config()),
    }
    if classpath:
        snap["jobmanager_classpath"] = client.jobmanager_classpath()
    return snap


def missing_jars(classpath, jars):
    """File names in ``jars`` that no entry of ``classpath`` ends with."""
    names = {entry.replace("\\", "/").rsplit("/", 1)[-1] for entry in classpath or ()}
    return [jar for jar in jars if jar not in names]


class WaitTimeout(Exception):
    def __init__(self, message, last=None):
        super(WaitTimeout, self).__init__(message)
        self.message = message
        self.last = last


def wait_for_cluster(read, want_taskmanagers=0, min_free_slots=0, timeout=0.0, ignore_ids=(),
                     where="", clock=time.monotonic, sleep=time.sleep, first_delay=0.5,
                     max_delay=5.0, want_jars=()):
    """Poll ``read()`` with backoff until the cluster is big enough (and, with ``want_jars``, until the
    JobManager's classpath holds those jar file names).

    ``read`` returns a snapshot (see ``snapshot``) or raises FlinkRestError.
    With ``timeout`` 0 it reads once and never waits. Errors while waiting are
    retried (a JobManager may be restarting) and reported at the deadline.
    """
    deadline = clock() + max(0.0, timeout)
    delay = first_delay
    while True:
        error = None
        try:
            snap = read()
        except FlinkRestError as exc:
            if timeout <= 0:
                raise
            snap, error = None, exc
        if snap is not None:
            registered, free = counts(snap["taskmanagers"], ignore_ids)
            lacking = missing_jars(snap.get("jobmanager_classpath"), want_jars)
            if timeout <= 0 or (registered >= want_taskmanagers and free >= min_free_slots and not lacking):
                return snap
        remaining = deadline - clock()
        if remaining <= 0:
            if snap is None:
                raise WaitTimeout("gave up after %ss waiting for the Flink cluster at %s: %s"
                                  % (_secs(timeout), where, error.message))
            ignored = " (not counting %d TaskManager(s) being replaced)" % len(ignore_ids) \
                if ignore_ids else ""
            jars = ("; the JobManager's classpath lacks %s: it has not been restarted since they landed "
                    "in its lib/" % ", ".join(lacking)) if lacking else ""
            raise WaitTimeout(
                "gave up after %ss waiting for the Flink cluster at %s: %d TaskManager(s) "
                "registered, %d wanted; %d free slot(s), %d wanted%s%s"
                % (_secs(timeout), where, registered, want_taskmanagers, free, min_free_slots,
                   ignored, jars), last=snap)
        sleep(min(delay, remaining))
        delay = min(delay * 2, max_delay)


def _secs(value):
    return int(value) if float(value).is_integer() else value
