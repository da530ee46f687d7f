# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Filters of the services a Flink host must reach; the logic is in plugins/plugin_utils/_endpoints.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _endpoints


def taskmanager_endpoints(pg_host, pg_port, fe_host, fe_http_port, fe_query_port, be_host, be_http_port):
    try:
        return _endpoints.taskmanager_endpoints(str(pg_host or ""), pg_port, str(fe_host or ""), fe_http_port,
                                                fe_query_port, str(be_host or ""), be_http_port)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("taskmanager_endpoints: a port is not a number (%s); set flink_cdc_pg_port and the "
                                 "flink_cdc_starrocks_*_port variables to port numbers" % exc)


class FilterModule:
    def filters(self):
        return {"taskmanager_endpoints": taskmanager_endpoints}
