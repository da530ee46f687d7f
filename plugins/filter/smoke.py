# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Filters of the flink_cdc role's smoke phase; the logic is in plugins/plugin_utils/_smoke.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _smoke


def smoke_job(connectors, source, table, slot_name, publication, pg, job_name="cdcops-smoke",
              jobmanager_host="jobmanager", cdc_slot_name=""):
    if not isinstance(connectors, (list, tuple)):
        raise AnsibleFilterError("smoke_job expects the connector list, got %s" % type(connectors).__name__)
    if not isinstance(pg, dict):
        raise AnsibleFilterError("smoke_job expects pg as a dict with host, port, database, user, ssl_mode")
    return _smoke.plan(connectors, source or {}, table or "", slot_name, publication or "", pg, job_name,
                       jobmanager_host or "", cdc_slot_name or "")


def smoke_rows(smoke_plan, job, cleanup, host, check_mode=False, locks=None):
    return _smoke.rows(smoke_plan or {}, job or {}, cleanup or [], host, check_mode, locks or {})


class FilterModule:
    def filters(self):
        return {
            "smoke_job": smoke_job,
            "smoke_rows": smoke_rows,
        }
