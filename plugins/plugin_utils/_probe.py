# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""A read-only probe: a self-contained module_utils file run on a host as one ``python -c`` (controller only).

An action plugin whose module only reads can send the reading code itself, when it is a self-contained file
(standard library only, Python 3.8): ``command`` quotes that file's source, a call of one of its functions and
the call's JSON argument into one shell command for the host's Python, and ``answer`` reads the JSON the call
printed. That costs one command on the host: no AnsiballZ payload, no temp dir, no ``chmod``, no cleanup. It
needs the Python to use (``interpreter``): the one the task would run a module with, when the controller
already knows it; when it does not (interpreter discovery has not run yet), the plugin runs its module.
"""

from __future__ import annotations

import inspect
import json
import shlex
import types
import typing as t

from ansible import constants as C

# How the probe's answer is told apart from anything else on stdout (a login banner, say).
MARK = "cdcops.flink_cdc probe"

_MAIN = """
import json as _json, sys as _sys
_sys.stdout.write(_json.dumps({%(mark)r: %(function)s(_json.loads(_sys.argv[1]))}) + "\\n")
"""


def interpreter(task_vars: t.Mapping[str, t.Any], templar: t.Any) -> t.Optional[t.List[str]]:
    """The host's Python as an argv prefix, as a module of this task would be run with it: the configured
    ``ansible_python_interpreter`` (or ``interpreter_python``), else the interpreter an earlier task discovered.
    None when it is still to be discovered (``auto``) or cannot be known."""
    configured = C.config.get_config_value("INTERPRETER_PYTHON", variables=task_vars)
    value = templar.template(configured) if isinstance(configured, str) and "{{" in configured else configured
    value = str(value or "").strip()
    if not value or value.startswith("auto"):
        facts = task_vars.get("ansible_facts") or {}
        value = str(facts.get("discovered_interpreter_python") or "").strip()
    parts = shlex.split(value) if value else []
    return parts or None


def command(python: t.Sequence[str], source_module: types.ModuleType, function: str, argument: t.Any) -> str:
    """The shell command that runs ``function(argument)`` of ``source_module``'s own source with ``python`` and
    prints its JSON answer."""
    source = inspect.getsource(source_module) + _MAIN % {"mark": MARK, "function": function}
    return " ".join(shlex.quote(part) for part in list(python) + ["-c", source, json.dumps(argument)])


def answer(stdout: str) -> t.Optional[t.Any]:
    """What the probe's function returned, or None when stdout holds no answer (then run the module)."""
    for line in reversed((stdout or "").strip().splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict) and MARK in found:
            return found[MARK]
    return None
