# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""cdcops.flink_cdc.flink_cdc_report (documented with the module): the readiness report, written by the
controller itself. No module runs anywhere, whatever the task's host or delegate_to: the report is the
controller's output, as a callback's would be, and costs no connection, temp dir or module payload."""

from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.install import parse_mode
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import redact_url
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _report
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._action_module import ControllerActionBase

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "rows": {"type": "list", "elements": "dict", "required": True},
    "rest_url": {"type": "str", "default": ""},
    "flink_version": {"type": "str", "default": ""},
    "connectors": {"type": "list", "elements": "dict", "default": []},
    "connectors_pinned": {"type": "bool", "default": False},
    "connector_summary": {"type": "str", "default": ""},
    "mode": {"type": "raw", "default": "0644"},
}


class ActionModule(ControllerActionBase):

    # The report is written in check mode too: a dry run's report is the point of a dry run.
    _supports_check_mode = True
    MESSAGE_PREFIX = "flink_cdc_report: "

    def argument_spec(self) -> dict[str, t.Any]:
        return ARGUMENT_SPEC

    def run_action(self, params: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        try:
            mode = parse_mode(params["mode"])  # as flink_connector_jar reads its mode
            rows = _report.check_rows(params["rows"])
            doc = _report.document(rows, redact_url(params["rest_url"]), params["flink_version"],
                                   params["connectors"], params["connectors_pinned"], bool(self._task.check_mode))
            dest = os.path.abspath(os.path.expanduser(params["dest"]))
            paths = _report.write(dest, doc, params["connector_summary"] or None, mode=mode)
        except (JarError, _report.ReportError) as exc:
            raise AnsibleActionFail(str(exc))
        # Output, not managed state: writing the report is never a change of the hosts.
        return dict(changed=False, markdown=paths["markdown"], json=paths["json"], counts=_report.counts(rows),
                    msg="readiness report: %s" % paths["markdown"])
