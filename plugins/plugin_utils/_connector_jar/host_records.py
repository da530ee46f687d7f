# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What the controller remembers of each host's ``dest`` (controller only): the jars the last successful run
left there, and what a rerun would answer (``rerun.replay``). The memory only decides when jars are pushed and
whether the module runs at all; the host still verifies every checksum."""

from __future__ import annotations

import hashlib
import json
import os
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar.cache import CACHE_META_SUFFIX, write_json

HOSTS_DIR = "hosts"


def host_memory_path(cache_dir: str, host: str, dest: str) -> str:
    """``<cache_dir>/hosts/<sha256 of host and dest>.json``: any host name or path makes a safe file name."""
    key = json.dumps([host, dest]).encode("utf-8")
    return os.path.join(cache_dir, HOSTS_DIR, hashlib.sha256(key).hexdigest() + CACHE_META_SUFFIX)


def load_host_memory(cache_dir: str, host: str, dest: str) -> t.Dict[str, t.Any]:
    """What the controller remembers of ``dest`` on ``host``: ``jars`` (file name: checksum) that the last
    successful run left there, and ``rerun`` (see ``rerun_record``) or None. Unknown: ``{"jars": {}, "rerun": None}``.

    ``jars`` only decides whether the controller pushes jars before the first module execution or after it:
    the host still verifies every checksum, and answers ``_needed`` when a jar it was said to have is missing.
    """
    try:
        with open(host_memory_path(cache_dir, host, dest)) as f:
            memory = json.load(f)
    except (OSError, ValueError):
        return {"jars": {}, "rerun": None}
    jars = memory.get("jars") if isinstance(memory, dict) else None
    if not isinstance(jars, dict) or memory.get("host") != host or memory.get("dest") != dest:
        return {"jars": {}, "rerun": None}
    rerun = memory.get("rerun")
    return {"jars": {str(name): str(checksum) for name, checksum in jars.items()},
            "rerun": rerun if isinstance(rerun, dict) else None}


def write_host_memory(cache_dir: str, host: str, dest: str, jars: t.Mapping[str, str],
                      rerun: t.Optional[t.Mapping[str, t.Any]] = None) -> None:
    """Replace the memory of ``dest`` on ``host`` atomically. A failure is ignored: it only costs a later run a
    second execution or a needless transfer."""
    path = host_memory_path(cache_dir, host, dest)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_json(path, {"host": host, "dest": dest, "jars": dict(jars), "rerun": rerun})
    except OSError:
        pass  # write_json leaves no temp file behind


def jars_to_push(items: t.Sequence[t.Mapping[str, t.Any]], memory: t.Mapping[str, str]) -> t.List[str]:
    """The jars to push before the first execution: those to install that ``memory`` does not vouch for."""
    return [item["name"] for item in items if item.get("state") == "present" and item.get("checksum")
            and memory.get(item["name"]) != item["checksum"]]


def remembered(memory: t.Mapping[str, str], items: t.Sequence[t.Mapping[str, t.Any]], result: t.Mapping[str, t.Any],
               single: bool) -> t.Dict[str, str]:
    """``memory`` after a successful run that returned ``result``: less what it removed, plus every jar it
    installed or found current, with the SHA-256 the host computed."""
    jars = dict(memory)
    for path in result.get("removed") or []:
        jars.pop(os.path.basename(path), None)
    for item, entry in zip(items, [result] if single else result.get("jars") or []):
        if item.get("state") == "present" and item.get("name") and entry.get("checksum"):
            jars[item["name"]] = "sha256:%s" % entry["checksum"]
    return jars
