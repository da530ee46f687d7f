# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The base of the action plugins that do their work on the controller (only for action plugins):
flink_cdc_report, flink_connector_choice and flink_host_check.

Each plugin says what it does in ``run_action`` with its validated options; the base does what they all did
alike: no temp dir (``TRANSFERS_FILES``), check mode (they only read, or write the controller's report), no async,
the options validated on the controller, a failure raised as ``AnsibleActionFail`` returned as a failed result
rather than raised (Ansible's display of a raised error quotes the task's arguments), and passwords of URLs masked
in everything returned. The shape follows community.crypto ``plugins/plugin_utils/_action_module.py``
(``ActionModuleBase``: a ``run`` that calls the plugin's own method).
"""

from __future__ import annotations

import abc
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase


class ControllerActionBase(ActionBase, metaclass=abc.ABCMeta):
    """``run`` for a plugin whose options are validated on the controller; the plugin implements
    ``argument_spec`` and ``run_action``, and may set ``FAILED_RESULT`` and ``MESSAGE_PREFIX`` and override
    ``secrets``."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False
    # What every failed result also holds (flink_host_check: rows=[], so the role can always read them).
    FAILED_RESULT: t.Mapping[str, t.Any] = {}
    # Before the message of a failure (flink_cdc_report names itself: its task has many rows to read past).
    MESSAGE_PREFIX = ""

    @abc.abstractmethod
    def argument_spec(self) -> t.Dict[str, t.Any]:
        """The options, as ``validate_argument_spec`` takes them."""

    @abc.abstractmethod
    def run_action(self, params: t.Dict[str, t.Any], task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        """The result for the validated ``params``; raise ``AnsibleActionFail`` to fail with its message."""

    def secrets(self) -> t.Set[str]:
        """Values to mask in everything returned (the passwords written into the task's URLs)."""
        return set()

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        secrets = self.secrets()
        try:
            dummy, params = self.validate_argument_spec(argument_spec=self.argument_spec())
            result.update(self.run_action(params, task_vars or {}))
        except AnsibleActionFail as exc:
            result.update(dict(self.FAILED_RESULT), failed=True, changed=False, msg=self.MESSAGE_PREFIX + exc.message)
        return remove_values(result, secrets) if secrets else result
