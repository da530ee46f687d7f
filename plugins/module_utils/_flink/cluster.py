# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""A Flink cluster's state as this collection sees it (private to it).

Plain functions over REST bodies (see ``rest``): parsing TaskManagers,
jobs and configuration, matching inventory hosts to registered TaskManagers,
and waiting for a cluster to reach a wanted size. They take their inputs, so
unit tests replay bodies recorded from a real Flink.
"""

from __future__ import annotations

import re
import socket
import time
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import FlinkRestError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import secs

# A TaskManager's RPC path: akka.tcp://flink@<host>:<port>/user/rpc/taskmanager_N up to 1.17; pekko.tcp:// from
# 1.18, when apache/flink replaced Akka by Pekko (FLINK-32468); pekko.ssl.tcp:// with internal SSL. Seen on the
# bed's Flink 1.20.3: pekko.tcp://flink@127.0.0.2:41321/user/rpc/taskmanager_0.
_TM_PATH = re.compile(r"^(?:akka|pekko)(?:\.ssl)?\.tcp://[^@/]+@(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)/")

ACTIVE_JOB_STATES = ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "FAILING", "CANCELLING",
                     "RECONCILING", "SUSPENDED")


def taskmanager_host(path: t.Optional[str]) -> t.Optional[str]:
    """The host a TaskManager registered with, from its RPC ``path``; None if unknown."""
    match = _TM_PATH.match(path or "")
    if not match:
        return None
    return match.group("host").strip("[]")


def parse_taskmanager(tm: t.Mapping[str, t.Any], now_ms: t.Optional[int] = None) -> t.Dict[str, t.Any]:
    """One entry of ``/taskmanagers`` in this collection's shape."""
    hardware = tm.get("hardware") or {}
    # Despite its name, timeSinceLastHeartbeat is the epoch-ms time of the last heartbeat (0 before the first
    # one): apache/flink flink-runtime/src/main/java/org/apache/flink/runtime/rest/messages/taskmanager/
    # TaskManagerInfo.java writes its lastHeartbeat timestamp under FIELD_NAME_LAST_HEARTBEAT = "timeSinceLastHeartbeat".
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


def parse_jobs(jobs: t.Iterable[t.Mapping[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
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


def active_jobs(jobs: t.Iterable[t.Mapping[str, t.Any]]) -> t.List[t.Mapping[str, t.Any]]:
    return [j for j in jobs if j.get("state") in ACTIVE_JOB_STATES]


def parse_config(entries: t.Iterable[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Any]:
    """``/jobmanager/config`` is a list of ``{key, value}``; return a dict."""
    return dict((e.get("key"), e.get("value")) for e in entries if "key" in e)


def counts(taskmanagers: t.Iterable[t.Mapping[str, t.Any]], ignore_ids: t.Collection[str] = ()) -> t.Tuple[int, int]:
    """(registered TaskManagers, free slots), leaving out ``ignore_ids``."""
    live = [tm for tm in taskmanagers if tm["id"] not in ignore_ids]
    return len(live), sum(tm.get("slots_free") or 0 for tm in live)


def _addresses(name: str, resolve: t.Callable[..., t.Any]) -> t.Set[str]:
    """Every IP address ``name`` stands for (itself when it is an address or unresolvable)."""
    found = {name}
    try:
        for info in resolve(name, None):
            found.add(info[4][0])
    except (socket.gaierror, socket.herror, UnicodeError, OSError):
        pass
    return found


def match_hosts(expected: t.Mapping[str, t.Any], taskmanagers: t.Sequence[t.Mapping[str, t.Any]],
                resolve: t.Callable[..., t.Any] = socket.getaddrinfo) -> t.Dict[str, t.Any]:
    """Match inventory hosts to registered TaskManagers by address.

    ``expected`` maps an inventory name to the address its TaskManager registers
    with (``ansible_host``, or an override). Names are resolved on both sides, so
    ``tm1.example`` matches a TaskManager registered as ``10.0.0.5``.
    Returns ``{matched: {name: [tm ids]}, missing: [names], unexpected: [tms]}``.
    """
    tm_addrs = [(tm, _addresses(tm["host"], resolve) if tm.get("host") else set())
                for tm in taskmanagers]
    matched: t.Dict[str, t.List[str]] = {}
    missing: t.List[str] = []
    claimed: t.Set[str] = set()
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


def ha_mode(config: t.Mapping[str, t.Any]) -> str:
    """The high-availability mode of a JobManager's ``/jobmanager/config``: ``none``, ``zookeeper``,
    ``kubernetes`` or a factory class. The key is ``high-availability.type`` from Flink 1.17 on, with
    ``high-availability`` and ``recovery.mode`` its deprecated names (apache/flink ``HighAvailabilityOptions
    .HA_MODE``); the endpoint lists only the keys that are set, so none of them means ``none``."""
    for key in ("high-availability.type", "high-availability", "recovery.mode"):
        value = str(config.get(key) or "").strip()
        if value:
            return value.lower() if value.upper() in ("NONE", "ZOOKEEPER", "KUBERNETES") else value
    return "none"


# Every JobManager process runs a BlobServer whose listener thread is named "BLOB Server listener at <port>"
# (apache/flink flink-runtime/.../blob/BlobServer.java), and the cluster entrypoint writes the port it bound into
# its configuration (ClusterEntrypoint#initializeServices sets BlobServerOptions.PORT), which /jobmanager/config
# shows. The thread dump comes from the leader (rest.py): the JobManager whose own blob.server.port is the
# leader's listener port is the leader. Seen on the bed (Flink 1.20.3, two JobManagers): ports 40111 and 34943,
# both thread dumps "BLOB Server listener at 40111", the leader's; the same on the HA bed of Flink 1.17.2 and 2.2.0.
_BLOB_LISTENER = re.compile(r"^BLOB Server listener at (\d+)$")


def leader_blob_port(thread_names: t.Iterable[str]) -> t.Optional[str]:
    for name in thread_names:
        match = _BLOB_LISTENER.match(name or "")
        if match:
            return match.group(1)
    return None


def jobmanagers(client: t.Any) -> t.Dict[str, t.Any]:
    """Each JobManager of ``client.urls``: reachable, its own Flink version and HA mode, and whether it leads.

    Returns ``{jobmanagers: [{url, endpoint, reachable, role, flink_version, ha_mode, error}], leader: url or
    None, ha_mode, leader_note}``. ``role`` is ``leader``, ``standby``, ``unreachable`` or ``unknown`` (two
    JobManagers with the same fixed blob.server.port cannot be told apart this way: ``leader_note`` says so).
    """
    rows = []
    for one in client.each():
        row = {"url": one.display_url, "endpoint": one.endpoint, "reachable": False, "role": "unreachable",
               "flink_version": None, "ha_mode": None, "error": None, "blob_port": None}
        try:
            config = parse_config(one.jobmanager_config())
            row.update(reachable=True, ha_mode=ha_mode(config), blob_port=config.get("blob.server.port"),
                       flink_version=one.dashboard_config().get("flink-version"))
        except FlinkRestError as exc:
            row["error"] = exc.message
        rows.append(row)
    live = [r for r in rows if r["reachable"]]
    modes = sorted({r["ha_mode"] for r in live})
    mode = modes[0] if len(modes) == 1 else ("mixed: " + ", ".join(modes) if modes else "unknown")
    note = ""
    leader = None
    if len(live) == 1 and mode == "none":
        live[0]["role"] = "leader"  # a JobManager without HA leads itself
        leader = live[0]["url"]
    elif live:
        try:
            port = leader_blob_port(client.leader_thread_names())
        except FlinkRestError as exc:
            port, note = None, "no JobManager named its leader: %s" % exc.message
        same = [r for r in live if port is not None and r["blob_port"] == port]
        for row in live:
            row["role"] = "leader" if len(same) == 1 and row in same else ("unknown" if len(same) > 1 or port is None
                                                                           else "standby")
        if len(same) == 1:
            leader = same[0]["url"]
        elif len(same) > 1:
            note = ("the leader is one of %s, which all have blob.server.port %s: they cannot be told apart through "
                    "REST" % (", ".join(r["url"] for r in same), port))
        elif port is not None:
            note = "the leader (BLOB server port %s) is none of these URLs" % port
    for row in rows:
        row.pop("blob_port")
    return {"jobmanagers": rows, "leader": leader, "ha_mode": mode, "leader_note": note}


def snapshot(client: t.Any, now_ms: t.Optional[int] = None, classpath: bool = False) -> t.Dict[str, t.Any]:
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
        # The classpath is the answering JobManager's own: read it from the first URL's, the one waited for.
        snap["jobmanager_classpath"] = client.each()[0].jobmanager_classpath() if len(getattr(client, "urls", ())) > 1 \
            else client.jobmanager_classpath()
    return snap


def missing_jars(classpath: t.Optional[t.Iterable[str]], jars: t.Iterable[str]) -> t.List[str]:
    """File names in ``jars`` that no entry of ``classpath`` ends with."""
    names = {entry.replace("\\", "/").rsplit("/", 1)[-1] for entry in classpath or ()}
    return [jar for jar in jars if jar not in names]


class WaitTimeout(Exception):
    def __init__(self, message: str, last: t.Optional[t.Dict[str, t.Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.last = last


def wait_for_cluster(read: t.Callable[[], t.Dict[str, t.Any]], want_taskmanagers: int = 0, min_free_slots: int = 0,
                     timeout: float = 0.0, ignore_ids: t.Collection[str] = (), where: str = "",
                     clock: t.Callable[[], float] = time.monotonic, sleep: t.Callable[[float], t.Any] = time.sleep,
                     first_delay: float = 0.5, max_delay: float = 5.0,
                     want_jars: t.Sequence[str] = ()) -> t.Dict[str, t.Any]:
    """Poll ``read()`` with backoff until the cluster is big enough (and, with ``want_jars``, until the
    JobManager's classpath holds those jar file names).

    ``read`` returns a snapshot (see ``snapshot``) or raises FlinkRestError.
    With ``timeout`` 0 it reads once and never waits. Errors while waiting are
    retried (a JobManager may be restarting) and reported at the deadline.
    """
    deadline = clock() + max(0.0, timeout)
    delay = first_delay
    while True:
        error: t.Optional[FlinkRestError] = None
        snap: t.Optional[t.Dict[str, t.Any]]
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
                                  % (secs(timeout, tenths=False), where, error.message))
            ignored = " (not counting %d TaskManager(s) being replaced)" % len(ignore_ids) \
                if ignore_ids else ""
            jars = ("; the JobManager's classpath lacks %s: it has not been restarted since they landed "
                    "in its lib/" % ", ".join(lacking)) if lacking else ""
            raise WaitTimeout(
                "gave up after %ss waiting for the Flink cluster at %s: %d TaskManager(s) "
                "registered, %d wanted; %d free slot(s), %d wanted%s%s"
                % (secs(timeout, tenths=False), where, registered, want_taskmanagers, free, min_free_slots,
                   ignored, jars), last=snap)
        sleep(min(delay, remaining))
        delay = min(delay * 2, max_delay)
