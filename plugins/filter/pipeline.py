# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Filters of the flink_cdc role's pipeline phase and its health check; the logic is in plugins/plugin_utils/_pipeline.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _pipeline


def pipeline_tables(pipelines, default_tables):
    return _pipeline.tables_to_read(pipelines or [], default_tables or [])


def pipeline_plans(pipelines, source, pg, defaults):
    if not isinstance(pipelines, (list, tuple)):
        raise AnsibleFilterError("pipeline_plans expects flink_cdc_pipelines as a list, got %s" % type(pipelines).__name__)
    return _pipeline.plans(pipelines, (source or {}).get("tables") or [], pg or {}, defaults or {})


def pipeline_rows(plans, results, slot_results, host, check_mode=False):
    return _pipeline.job_rows(plans or [], results or [], slot_results or [], host, bool(check_mode))


def pipeline_health_rows(plans, jobs, slots, bounds, host):
    return _pipeline.health_rows(plans or [], jobs or [], slots or [], bounds or {}, host)


def pipeline_endpoints(pipelines):
    if not isinstance(pipelines, (list, tuple)):
        raise AnsibleFilterError("pipeline_endpoints expects flink_cdc_pipelines as a list, got %s" % type(pipelines).__name__)
    return _pipeline.planner_endpoints(pipelines)


def pipeline_restart_jobs(jobs, pipelines, savepoint_dir=None):
    return _pipeline.restart_jobs(jobs or [], pipelines or [], savepoint_dir)


def pipeline_restart_refusal(others, checks, allow_running_jobs=False):
    return _pipeline.restart_refusal(others or [], checks or [], bool(allow_running_jobs))


def pipeline_suspension_rows(results, restarted, host, check_mode=False):
    return _pipeline.suspension_rows(results or [], restarted or [], host, bool(check_mode))


class FilterModule:
    def filters(self):
        return {
            "pipeline_tables": pipeline_tables,
            "pipeline_plans": pipeline_plans,
            "pipeline_rows": pipeline_rows,
            "pipeline_health_rows": pipeline_health_rows,
            "pipeline_endpoints": pipeline_endpoints,
            "pipeline_restart_jobs": pipeline_restart_jobs,
            "pipeline_restart_refusal": pipeline_restart_refusal,
            "pipeline_suspension_rows": pipeline_suspension_rows,
        }
