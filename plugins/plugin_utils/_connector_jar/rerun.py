# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The rerun without a module execution (controller only).

The module's last successful run recorded what a rerun would answer, with the ``dest_state`` it depends on
(``plugins/module_utils/_connector_jar/dest_state.py``). The next run with the same arguments (``rerun_key``)
sends ``dest_state``'s own source to the host as a short ``python -c`` (``probe_command``); when dest is exactly
as recorded (``replay``), that answer is the result.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shlex
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.dest_state import dest_state

_PROBE_MAIN = """
import json, os, sys
args = json.loads(sys.argv[1])
# dest as the module's type=path option resolves it.
dest = os.path.expanduser(os.path.expandvars(args["dest"]))
try:
    state = dest_state(dest, args["names"])
except (OSError, ValueError) as exc:
    state = {"error": str(exc)}
print(json.dumps(state))
"""


def probe_command(interpreter: t.Sequence[str], dest: str, names: t.Sequence[str]) -> str:
    """The shell command that prints ``dest_state`` for ``dest`` (as the task gave it) as JSON."""
    source = inspect.getsource(dest_state) + _PROBE_MAIN
    return " ".join(shlex.quote(part) for part in list(interpreter) + ["-c", source, json.dumps(
        {"dest": dest, "names": list(names)})])


def parse_probe(stdout: str) -> t.Optional[t.Dict[str, t.Any]]:
    """The probe's answer, or None when it is not one (then the module runs)."""
    for line in reversed((stdout or "").strip().splitlines()):
        try:
            state = json.loads(line)
        except ValueError:
            continue
        if isinstance(state, dict) and isinstance(state.get("entries"), dict) and isinstance(state.get("sha256"), dict):
            return state
        return None
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
