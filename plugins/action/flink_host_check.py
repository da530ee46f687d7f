# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Controller side of cdcops.flink_host_check (documented with the module).

The check only reads, and what it reads on the host is one self-contained file
(module_utils/_host_facts.py, ``gather``). When the controller knows the host's Python, this plugin sends that
file as one ``python -c`` (plugin_utils/_probe.py) and judges the facts here with the module's own rules
(module_utils/_host_check.py, ``host_result``): one command per host instead of a temp dir, the module payload,
its run and the cleanup. When it does not know the Python (interpreter discovery has not run on the host yet),
when the task is delegated, or when the command gives no answer it can read, the module runs as usual.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _host_facts
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._host_check import (
    argument_spec,
    gather_args,
    host_result,
    option_problems,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _probe
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._action_module import ControllerActionBase

MODULE = "cdcops.flink_cdc.flink_host_check"


class ActionModule(ControllerActionBase):

    FAILED_RESULT = {"rows": []}

    def argument_spec(self) -> dict[str, t.Any]:
        return argument_spec(on_host=False)

    def run_action(self, params: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        problems = option_problems(params)
        if problems:
            raise AnsibleActionFail("; ".join(problems))
        facts = self._probe(params, task_vars)
        if facts is None:
            return self._execute_module(module_name=MODULE, task_vars=task_vars)
        return host_result(params, facts)

    def _probe(self, params: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """``gather``'s facts, read with one command on the host; None when the module has to run instead."""
        argument = gather_args(params)
        done = _probe.run(self, task_vars, lambda python: _probe.command(python, _host_facts, "gather", argument),
                          "check")
        return done[0] if done else None
