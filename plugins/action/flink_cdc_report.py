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

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.install import parse_mode
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import redact_url
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _report

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


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    # The report is written in check mode too: a dry run's report is the point of a dry run.
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        try:
            dummy, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
            mode = parse_mode(params["mode"])  # as flink_connector_jar reads its mode
            rows = _report.check_rows(params["rows"])
            doc = _report.document(rows, redact_url(params["rest_url"]), params["flink_version"],
                                   params["connectors"], params["connectors_pinned"], bool(self._task.check_mode))
            dest = os.path.abspath(os.path.expanduser(params["dest"]))
            paths = _report.write(dest, doc, params["connector_summary"] or None, mode=mode)
        except (AnsibleActionFail, JarError, _report.ReportError) as exc:
            # Returned rather than raised: Ansible's display of a raised error quotes the task's arguments, here
            # every row of the report.
            message = exc.message if isinstance(exc, AnsibleActionFail) else str(exc)
            result.update(failed=True, changed=False, msg="flink_cdc_report: %s" % message)
            return result
        # Output, not managed state: writing the report is never a change of the hosts.
        result.update(changed=False, markdown=paths["markdown"], json=paths["json"], counts=_report.counts(rows),
                      msg="readiness report: %s" % paths["markdown"])
        return result
