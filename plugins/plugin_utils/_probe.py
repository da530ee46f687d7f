# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The one transport of host code as ``python -c`` (controller only): a self-contained module_utils file, or a
package. Every probe and install of the collection goes through ``run``: flink_host_check's facts
(``module_utils/_host_facts.py``), flink_connector_jar's rerun probe (``module_utils/_connector_jar/dest_state.py``,
see ``plugin_utils/_connector_jar/rerun.py``) and its one-command install (the ``_connector_jar`` package).

An action plugin whose module only reads can send the reading code itself, when it is a self-contained file
(standard library only, Python 3.8): ``command`` quotes that file's source, a call of one of its functions and
the call's JSON argument into one shell command for the host's Python, and ``answer`` reads the JSON the call
printed. That costs one command on the host: no AnsiballZ payload, no temp dir, no ``chmod``, no cleanup. It
needs the Python to use (``interpreter``): the one the task would run a module with, when the controller
already knows it; when it does not (interpreter discovery has not run yet), the plugin runs its module.

``package_command`` does the same for a whole module_utils package that imports only the standard library and
itself (flink_connector_jar's install, ``_connector_jar``): its sources travel compressed in the command (a few
tens of KB, under Linux's 128 KB limit for one argument, MAX_ARG_STRLEN) and a small importer on the host
loads them from there, so the host needs nothing of the collection or of Ansible installed.

A command that gives no answer (the host's Python cannot run it) is not silent: ``run`` warns, naming the host,
the Python and the error, and the module runs instead.
"""

from __future__ import annotations

import base64
import functools
import importlib
import inspect
import json
import os
import shlex
import types
import typing as t
import zlib

from ansible import constants as C
from ansible.utils.display import Display

display = Display()

# How the probe's answer is told apart from anything else on stdout (a login banner, say).
MARK = "cdcops.flink_cdc probe"

_MAIN = """
import json as _json, sys as _sys
_sys.stdout.write(_json.dumps({%(mark)r: %(function)s(_json.loads(_sys.argv[1]))}) + "\\n")
"""


# The importer for package_command: argv[1] holds {module name: [origin, is package, source]}, zlib + base64.
_PACKAGE_MAIN = """
import base64 as _b, importlib as _i, importlib.abc as _a, importlib.util as _u, json as _j, sys as _s, zlib as _z
_S = _j.loads(_z.decompress(_b.b64decode(_s.argv[1])))
class _Finder(_a.MetaPathFinder, _a.Loader):
    def find_spec(self, name, path=None, target=None):
        if name in _S:
            return _u.spec_from_loader(name, self, origin=_S[name][0], is_package=_S[name][1])
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        exec(compile(_S[module.__name__][2], module.__spec__.origin, "exec"), module.__dict__)
_s.meta_path.insert(0, _Finder())
_s.stdout.write(_j.dumps({%(mark)r: getattr(_i.import_module(%(module)r), %(function)r)(_j.loads(_s.argv[2]))}) + "\\n")
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


def run(action: t.Any, task_vars: t.Mapping[str, t.Any], build: t.Callable[[t.List[str]], str],
        what: str, python: t.Optional[t.Sequence[str]] = None) -> t.Optional[t.Tuple[t.Dict[str, t.Any], t.List[str]]]:
    """Run ``build(python)`` (a ``command`` or ``package_command``) on the host of ``action``'s task, as its module
    would run there (the task's become and environment), and return its answer with the Python it used.

    ``python`` is the host's Python when the caller knows it better than the task does (the one a recorded run
    used); by default the one ``interpreter`` finds. None when the module has to run instead: the task is delegated
    (the interpreter variables are the delegated host's business, which ActionBase handles for modules), the shell
    is not sh, or the host's Python is not known yet (each said at -vvv: the module is the plan there, not a
    fallback); or the command gave no answer: then a warning says why (``what`` names the run), because the module
    that runs instead costs the host one more command on every run."""
    name = action._task.action.rsplit(".", 1)[-1]
    host = task_vars.get("inventory_hostname")
    if action._task.delegate_to:
        display.vvv("%s: the task is delegated; the module runs" % name, host=host)
        return None
    if getattr(action._connection._shell, "SHELL_FAMILY", "") != "sh":
        display.vvv("%s: the shell is not sh; the module runs" % name, host=host)
        return None
    python = list(python) if python else interpreter(task_vars, action._templar)
    if python is None:
        display.vvv("%s: the host's Python is not known yet; the module runs" % name, host=host)
        return None
    environment = action._compute_environment_string()
    res = action._low_level_execute_command(("%s %s" % (environment, build(python))).strip(), sudoable=True)
    found = answer(res.get("stdout", "")) if res.get("rc") == 0 else None
    if not isinstance(found, dict):
        display.warning(no_answer_warning(name, host, what, python, res))
        return None
    return found, python


def no_answer_warning(name: str, host: t.Optional[str], what: str, python: t.Sequence[str],
                      res: t.Mapping[str, t.Any]) -> str:
    """Why the module ran on ``host`` after the one-command ``what`` gave no answer (``res``: its rc, stderr), what
    that costs and what to check."""
    stderr = " ".join((res.get("stderr") or "").split())[-300:]
    return ("%s on %s: the one-command %s gave no answer (rc=%s, %s), so the module ran instead: one more command "
            "on this host each run. Check that its Python (%s) runs on the host (Python 3.8 or newer, its standard "
            "library complete; set ansible_python_interpreter to one that does), or fix what the error names."
            % (name, host or "the host", what, res.get("rc"),
               "stderr: %s" % stderr if stderr else "nothing on stderr", " ".join(python)))


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


@functools.lru_cache(maxsize=None)
def _package_payload(package: str, *modules: str) -> str:
    """``package`` (every ``.py`` file directly in it), ``modules`` and their parent packages, as the importer of
    ``_PACKAGE_MAIN`` reads them; built once per process."""
    found: dict[str, list[t.Any]] = {}

    def add(dotted: str, is_pkg: bool, source: str) -> None:
        found[dotted] = ["<cdcops>/%s" % dotted.replace(".", "/"), is_pkg, source]

    directory = os.path.dirname(os.path.abspath(t.cast(str, importlib.import_module(package).__file__)))
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                add(package if name == "__init__.py" else "%s.%s" % (package, name[:-3]), name == "__init__.py",
                    f.read())
    for dotted in modules:
        add(dotted, False, inspect.getsource(importlib.import_module(dotted)))
    for dotted in list(found):
        parts = dotted.split(".")
        for end in range(1, len(parts)):
            if ".".join(parts[:end]) not in found:
                add(".".join(parts[:end]), True, "")
    return base64.b64encode(zlib.compress(json.dumps(found, sort_keys=True).encode("utf-8"), 9)).decode("ascii")


def package_command(python: t.Sequence[str], package: str, modules: t.Sequence[str], entry: str,
                    argument: t.Any) -> str:
    """The shell command that runs ``entry`` (``module.function``, a module of ``package`` or ``modules``) with
    ``argument`` by ``python``, from sources sent in the command, and prints its JSON answer for ``answer``."""
    module, function = entry.rsplit(".", 1)
    main = _PACKAGE_MAIN % {"mark": MARK, "module": module, "function": function}
    payload = _package_payload(package, *modules)
    return " ".join(shlex.quote(part) for part in list(python) + ["-c", main, payload, json.dumps(argument)])
