# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Filters of the flink_cdc role's readiness report; the logic is in plugins/plugin_utils/_report_rows.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _inventory, _report_rows


def _list(value, what, filter_name):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise AnsibleFilterError("%s expects %s as a list, got %s" % (filter_name, what, type(value).__name__))
    return list(value)


def host_rows(host_check, host, is_taskmanager, gets_jars, jm, expected_taskmanagers, rest_url_shown):
    """One host's preflight rows, from its flink_host_check result."""
    return _report_rows.host_rows(str(host), boolean(is_taskmanager, strict=False), boolean(gets_jars, strict=False),
                                  jm or {}, str((expected_taskmanagers or {}).get(host, "")), str(rest_url_shown or ""),
                                  host_check if isinstance(host_check, dict) else None)


def preflight_rows(jm, hostvars, rest_url_shown, pg, pg_where, restart_rows, connector_rows, hosts_all, hosts,
                   taskmanagers=None, expected_taskmanagers=None, pipelines=None):
    """Every preflight row, each with its ``line``. Each play host's rows come from its ``__flink_cdc_host_check``
    (the flink_host_check result it registered; skipped on a host that gets no jars) and, on a host of
    ``taskmanagers``, its registration with the JobManager: computed here, once for the play, rather than by a
    task on every host."""
    taskmanagers = set(_list(taskmanagers, "taskmanagers", "preflight_rows"))
    expected = expected_taskmanagers if isinstance(expected_taskmanagers, dict) else {}
    host_var = _inventory.vars_of(hostvars)

    def rows_of_host(host):
        check = host_var(host, "__flink_cdc_host_check")
        gets_jars = isinstance(check, dict) and not check.get("skipped")
        return _report_rows.host_rows(str(host), host in taskmanagers, gets_jars, jm or {}, str(expected.get(host, "")),
                                      str(rest_url_shown or ""), check if gets_jars else None)

    def row_of_gone_host(host):
        # An unreachable host's result is registered like any other (its "unreachable" and Ansible's "msg").
        check = host_var(host, "__flink_cdc_host_check")
        if not (isinstance(check, dict) and check.get("unreachable")):
            return None
        connection = _report_rows.connection_shown(str(host_var(host, "ansible_connection") or "ssh"),
                                                   str(host_var(host, "ansible_host") or host),
                                                   host_var(host, "ansible_port"))
        return _report_rows.unreachable_row(str(host), host in taskmanagers, connection, str(check.get("msg") or ""))

    return _report_rows.preflight_rows(jm or {}, str(rest_url_shown or ""), pg if isinstance(pg, dict) else None,
                                       str(pg_where or ""), _list(restart_rows, "restart_rows", "preflight_rows"),
                                       _list(connector_rows, "connector_rows", "preflight_rows"),
                                       _list(hosts_all, "hosts_all", "preflight_rows"),
                                       _list(hosts, "hosts", "preflight_rows"), rows_of_host, row_of_gone_host,
                                       pipelines=len(_list(pipelines, "pipelines", "preflight_rows")))


def deploy_rows(hostvars, hosts, restart_hosts, restarted, restart_jobmanager, jobmanager_host, check_mode=False):
    """A row per host that got jars (its ``__flink_cdc_deploy``), then the restart rows."""
    host_var = _inventory.vars_of(hostvars)

    def deploy_of(host):
        deploy = host_var(host, "__flink_cdc_deploy")
        return deploy if isinstance(deploy, dict) else None

    return _report_rows.deploy_rows(_list(hosts, "hosts", "deploy_rows"), deploy_of,
                                    _list(restart_hosts, "restart_hosts", "deploy_rows"),
                                    _list(restarted, "restarted", "deploy_rows"),
                                    boolean(restart_jobmanager or False, strict=False), str(jobmanager_host or ""),
                                    boolean(check_mode, strict=False))


def report_summary(rows, smoke_rows=None, connectors=None, report_dir="", check_mode=False):
    """The lines printed at the end of the run."""
    return _report_rows.summary(_list(rows, "rows", "report_summary"), _list(smoke_rows, "smoke_rows", "report_summary"),
                                None if connectors is None else str(connectors), str(report_dir or ""),
                                boolean(check_mode, strict=False))


class FilterModule(object):
    def filters(self):
        return {
            "host_rows": host_rows,
            "preflight_rows": preflight_rows,
            "deploy_rows": deploy_rows,
            "report_summary": report_summary,
        }
