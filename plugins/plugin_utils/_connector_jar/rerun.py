# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The rerun without a module execution (controller only).

The module's last successful run recorded what a rerun would answer, with the ``dest_state`` it depends on
(``plugins/module_utils/_connector_jar/dest_state.py``). The next run with the same arguments (``rerun_key``)
runs that file's ``probe`` on the host as a short ``python -c`` (``probe_command``, sent by the one transport,
``plugins/plugin_utils/_probe.py``); when dest is exactly as recorded (``replay``), that answer is the result.
"""

from __future__ import annotations

import hashlib
import json
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import dest_state
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _probe


def probe_command(python: t.Sequence[str], dest: str, names: t.Sequence[str]) -> str:
    """The shell command that answers ``dest_state.probe`` for ``dest`` (as the task gave it) and ``names``."""
    return _probe.command(python, dest_state, "probe", {"dest": dest, "names": list(names)})


def probe_state(found: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    """The state the probe answered (``_probe.answer``), or None when it is none (an error: then the module runs)."""
    if isinstance(found, dict) and isinstance(found.get("entries"), dict) and isinstance(found.get("sha256"), dict):
        return found
    return None


def rerun_key(host_args: t.Mapping[str, t.Any], items: t.Sequence[t.Mapping[str, t.Any]], single: bool,
              interpreter: t.Any) -> str:
    """Everything of the task that the recorded answer depends on: another value and the module runs."""
    wanted = [{k: v for k, v in item.items() if k != "src"} for item in items]
    return hashlib.sha256(json.dumps([host_args, wanted, single, interpreter], sort_keys=True,
                                     default=str).encode("utf-8")).hexdigest()


def replay(record: t.Mapping[str, t.Any], probe: t.Optional[t.Mapping[str, t.Any]],
           items: t.Sequence[t.Mapping[str, t.Any]]) -> bool:
    """Whether the probe shows dest exactly as recorded, every jar to install present with its checksum."""
    state = record.get("state") if isinstance(record, dict) else None
    if not probe or not isinstance(state, dict) or not isinstance(record.get("result"), dict):
        return False
    if probe.get("dest") != state.get("dest") or probe.get("entries") != state.get("entries") \
            or probe.get("sha256") != state.get("sha256"):
        return False
    return not probe_mismatches(probe, items)


def probe_mismatches(probe: t.Mapping[str, t.Any], items: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[str]:
    """The jars to install that the probe did not find in dest with the expected SHA-256."""
    found = probe.get("sha256") or {}
    wrong = []
    for item in items:
        if item.get("state") != "present" or not item.get("checksum"):
            continue
        got = found.get(item["name"])
        if not isinstance(got, list) or "sha256:%s" % got[0] != item["checksum"]:
            wrong.append(item["name"])
    return wrong
