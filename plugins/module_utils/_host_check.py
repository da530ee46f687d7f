# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What one Flink host must have before connector jars are deployed to it: flink_host_check's options and rules.

Plain functions over their inputs, so the unit tests call each rule directly. The facts they judge are read on
the host by module_utils/_host_facts.py (``gather``), inside the module or as the action plugin's one-command
probe; ``host_result`` turns them into the result, in either place. Each row is ``{host, area, check, status,
detail}``, the row shape of the flink_cdc role's readiness report (module_utils/_report_row.py).
"""

from __future__ import annotations

import os
import re
import time
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._host_facts import JAVA_HOME_KEY, Connect, JavaChoice, java_home_in, reach
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._report_row import Row, row
# One import line for the support matrix, so a rename of that file is a one-line change here.
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import flink_at_least, java_check, java_major

# Flink 1.19 introduced conf/config.yaml (standard YAML, nested or flat keys) and still reads the legacy
# conf/flink-conf.yaml when config.yaml is absent; Flink 2.0 reads only config.yaml. Sources: apache/flink
# docs/content/docs/deployment/config.md ("Flink Configuration File"), release-1.19 and release-2.0, and
# GlobalConfiguration.loadConfiguration at those tags.
CONFIG_YAML = "config.yaml"
LEGACY_CONFIG = "flink-conf.yaml"
CONFIG_YAML_FROM = "1.19"

MIB = 1024 * 1024


# --- Flink configuration

def config_files(flink_version: str) -> t.List[str]:
    """The configuration files Flink reads, in the order it looks for them (names under conf/)."""
    if not flink_version:
        return [CONFIG_YAML, LEGACY_CONFIG]
    if not flink_at_least(flink_version, CONFIG_YAML_FROM):
        return [LEGACY_CONFIG]
    if flink_at_least(flink_version, "2.0"):
        return [CONFIG_YAML]
    return [CONFIG_YAML, LEGACY_CONFIG]


def configured_java_home(flink_home: str, flink_version: str,
                         read: t.Callable[[str], t.Optional[str]]) -> t.Tuple[str, str]:
    """``(env.java.home, file it is set in)`` from the first configuration file Flink would read; ``("", "")``
    when none sets it. ``read(path)`` returns a file's text, or None when it does not exist."""
    return java_home_in([os.path.join(flink_home, "conf", name) for name in config_files(flink_version)], read)


# --- Java

def java_row(host: str, choice: JavaChoice, rc: t.Optional[int], output: str, flink_version: str,
             env_java_home: str) -> Row:
    """The ``java`` row: the chosen java's ``-version`` output (``rc`` None: it could not be run) against the
    Java versions the cluster's Flink supports."""
    java = choice.java or "java"
    if flink_version:
        error, warning = java_check(flink_version, output)
        status = "fail" if error else ("warn" if warning else "ok")
        detail = error or warning or "Java %s for Flink %s" % (java_major(output), flink_version)
    else:
        status = "fail" if rc != 0 else "skip"
        found = re.search(r'version "[^"]+"', output or "")
        detail = (found.group(0) if found else "no java found") + "; Flink version unknown"
    if choice.source == "config":
        where = "%s, %s in %s" % (java, JAVA_HOME_KEY, choice.where)
    else:
        where = "%s, %s" % (java, ("JAVA_HOME=" + env_java_home) if env_java_home else "JAVA_HOME unset")
    return row(host, "Java/config", "java", status, "%s (%s)" % (detail, where))


# --- lib/

def lib_row(host: str, lib: str, is_dir: t.Optional[bool], writable: bool, user: str,
            read_only_fs: bool = False) -> Row:
    """The ``lib/`` row. ``is_dir`` None: lib/ does not exist."""
    if is_dir is None:
        return row(host, "Java/config", "lib/", "fail", "%s does not exist; set flink_cdc_flink_home for %s" % (lib, host))
    if not is_dir:
        return row(host, "Java/config", "lib/", "fail", "%s is not a directory" % lib)
    if not writable:
        if read_only_fs:
            return row(host, "Java/config", "lib/", "fail", "%s is not writable by %s: its filesystem is mounted "
                                                            "read-only; remount it read-write" % (lib, user))
        return row(host, "Java/config", "lib/", "fail", "%s is not writable by %s; use become or fix its owner"
                   % (lib, user))
    return row(host, "Java/config", "lib/", "ok", "%s is writable" % lib)


def _mib(size: int) -> str:
    return "%.1f MiB" % (size / float(MIB))


def free_space_row(host: str, lib: str, free_bytes: int, needed_bytes: int) -> Row:
    """The ``free space`` row: the jars to deploy must fit in lib/'s filesystem (each is written there in full
    before it replaces anything)."""
    if free_bytes < needed_bytes:
        return row(host, "Java/config", "free space", "fail",
                   "%s free in the filesystem of %s, the connector jars need about %s; free %s there"
                   % (_mib(free_bytes), lib, _mib(needed_bytes), _mib(needed_bytes - free_bytes)))
    return row(host, "Java/config", "free space", "ok",
               "%s free in the filesystem of %s, the connector jars need about %s"
               % (_mib(free_bytes), lib, _mib(needed_bytes)))


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


LABELS = {"taskmanager": "TaskManager", "jobmanager": "JobManager"}


def restart_pending(processes: t.Sequence[t.Mapping[str, t.Any]], lib_changed: t.Optional[float]) -> t.List[str]:
    """The kinds of Flink process on the host (``taskmanager``, ``jobmanager``) that started before lib/ last
    changed, and so do not run the jars lib/ holds."""
    out: t.List[str] = []
    for proc in _stale(processes, lib_changed):
        if proc["kind"] not in out:
            out.append(proc["kind"])
    return out


def _stale(processes: t.Sequence[t.Mapping[str, t.Any]], lib_changed: t.Optional[float]) -> t.List[t.Mapping[str, t.Any]]:
    """The processes that started before lib/ last changed."""
    if lib_changed is None:
        return []
    return [p for p in processes or () if p.get("started") is not None and p["started"] < lib_changed]


def running_jars_row(host: str, lib: str, processes: t.Sequence[t.Mapping[str, t.Any]],
                     lib_changed: t.Optional[float]) -> t.Optional[Row]:
    """The ``running jars`` row when a Flink process runs from lib/: whether each started after lib/ last changed."""
    if not processes or lib_changed is None:
        return None
    stale = _stale(processes, lib_changed)
    if stale:
        return row(host, "Java/config", "running jars", "warn", "; ".join(
            "the %s (pid %d) started at %s, before %s changed at %s: it does not run the jars %s holds; restart it "
            "to load them" % (LABELS[p["kind"]], p["pid"], _when(p["started"]), lib, _when(lib_changed), lib)
            for p in stale))
    return row(host, "Java/config", "running jars", "ok", "; ".join(
        "the %s (pid %d) started after %s last changed: it runs the jars there" % (LABELS[p["kind"]], p["pid"], lib)
        for p in processes))


# --- network

def endpoint_result_row(host: str, endpoint: t.Mapping[str, t.Any], error: t.Optional[str]) -> Row:
    """A ``Network`` row from ``reach``'s answer for ``endpoint`` ({name, host, port}): None, or why not."""
    check = "%s %s:%s" % (endpoint["name"], endpoint["host"], endpoint["port"])
    if error is not None:
        return row(host, "Network", check, "fail", "not reachable from %s: %s" % (host, error))
    return row(host, "Network", check, "ok", "reachable from %s" % host)


def endpoint_row(host: str, endpoint: t.Mapping[str, t.Any], timeout: float, connect: t.Optional[Connect] = None) -> Row:
    """A ``Network`` row: whether this host opens a TCP connection to ``endpoint`` ({name, host, port})."""
    return endpoint_result_row(host, endpoint, reach(str(endpoint["host"]), int(endpoint["port"]), timeout, connect))


def endpoint_problems(endpoints: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[str]:
    """What is wrong with the endpoint list itself."""
    problems = []
    for index, endpoint in enumerate(endpoints):
        missing = [key for key in ("name", "host", "port") if not endpoint.get(key) and endpoint.get(key) != 0]
        if missing:
            problems.append("endpoints[%d] lacks %s" % (index, ", ".join(missing)))
            continue
        try:
            port = int(endpoint["port"])
        except (TypeError, ValueError):
            problems.append("endpoints[%d] port %r is not a number" % (index, endpoint["port"]))
            continue
        if not 0 < port < 65536:
            problems.append("endpoints[%d] port %d is not between 1 and 65535" % (index, port))
    return problems


# --- the module's options and result

def argument_spec(on_host: bool = True) -> t.Dict[str, t.Any]:
    """The module's options. The action plugin validates them on the controller with ``on_host`` False: paths
    stay as given (``str``), for the host to resolve ``~`` and variables as ``type=path`` does there."""
    path = "path" if on_host else "str"
    return dict(
        flink_home=dict(type=path, required=True),
        flink_version=dict(type="str", default=""),
        java_home=dict(type=path),
        needed_bytes=dict(type="int", default=0),
        endpoints=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            host=dict(type="str", required=True),
            port=dict(type="int", required=True),
        )),
        timeout=dict(type="float", default=5.0),
        report_host=dict(type="str", default=""),
    )


def option_problems(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """What is wrong with valid-typed options, checked before anything is read on the host."""
    problems = endpoint_problems(params["endpoints"])
    if params["needed_bytes"] < 0:
        problems.append("needed_bytes must not be negative, got %d" % params["needed_bytes"])
    return problems


def gather_args(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """What ``_host_facts.gather`` needs of the options."""
    return {"flink_home": params["flink_home"], "java_home": params["java_home"] or "",
            "config_files": config_files(params["flink_version"]), "endpoints": list(params["endpoints"]),
            "timeout": params["timeout"]}


def host_result(params: t.Mapping[str, t.Any], facts: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The module's result (``changed``, ``rows``, ``java``, ``free_bytes``, ``processes``, ``restart_pending``)
    from ``gather``'s facts: a row per endpoint, then the java row, the lib/ row, the free-space row and, when a
    Flink process runs from lib/, the running-jars row."""
    host = params["report_host"] or facts["hostname"]
    java = facts["java"]
    choice = JavaChoice(java["path"], java["source"], java["config_file"])
    rows = [endpoint_result_row(host, e, error) for e, error in zip(params["endpoints"], facts["endpoints"])]
    rows.append(java_row(host, choice, java["rc"], java["output"], params["flink_version"], facts["env_java_home"]))
    result: t.Dict[str, t.Any] = {"changed": False, "rows": rows,
                                  "java": {"path": choice.java, "source": choice.source, "config_file": choice.where,
                                           "version_from": java["version_from"]}}
    lib = os.path.join(facts["flink_home"], "lib")
    found = facts["lib"]
    if not found["exists"]:
        rows.append(lib_row(host, lib, None, False, facts["user"]))
        return result
    rows.append(lib_row(host, lib, found["is_dir"], found["writable"], facts["user"], found["read_only"]))
    result["free_bytes"] = found["free_bytes"]
    if found["is_dir"] and params["needed_bytes"]:
        rows.append(free_space_row(host, lib, found["free_bytes"], params["needed_bytes"]))
    processes = facts.get("processes") or []
    result["processes"] = processes
    result["restart_pending"] = restart_pending(processes, found.get("changed"))
    running = running_jars_row(host, lib, processes, found.get("changed"))
    if running:
        rows.append(running)
    return result
