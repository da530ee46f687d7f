# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Filters of the flink_cdc role's restart phase; the logic is in plugins/plugin_utils/_restart.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import split_urls
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _inventory, _restart


# A host's registered results and facts, read through the hostvars passed in.
_facts = _inventory.vars_of


# Each host's restart variables as that host renders them, set by the role's restart_method.yml on every host that
# gets jars: read through hostvars, so each host's own flink_cdc_flink_home is in its command.
_METHOD_FACT = "__flink_cdc_restart_method"


def _methods(hostvars, hosts):
    facts_of = _facts(hostvars)
    return {host: facts_of(host, _METHOD_FACT) or {} for host in hosts}


def restart_method_rows(hostvars, taskmanagers, jobmanagers, defaults, deploy_to_jobmanager=True):
    taskmanagers, jobmanagers = list(taskmanagers or []), list(jobmanagers or [])
    return _restart.method_rows(_methods(hostvars, taskmanagers + jobmanagers), taskmanagers, jobmanagers,
                                defaults or {}, bool(deploy_to_jobmanager))


def restart_method(hostvars, host, kind, defaults):
    if kind not in _restart.KINDS:
        raise AnsibleFilterError("restart_method: kind is %r; one of %s" % (kind, ", ".join(_restart.KINDS)))
    return _restart.method(_methods(hostvars, [host])[host], kind, defaults or {})


def restart_batches(hosts, batch, one_at_a_time=False):
    try:
        return _restart.batches(hosts or [], batch, bool(one_at_a_time))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def restart_batch_expected(expected, batch):
    return _restart.batch_expected(expected or {}, batch or [])


def restart_old_ids(before, batch):
    return _restart.old_ids(before or {}, batch or [])


def restart_missing(result, batch, old_ids, check_mode=False):
    return _restart.missing(result or {}, batch or [], old_ids or [], bool(check_mode))


def restart_records(batch, before, after, check_mode=False, lost=None):
    return _restart.records(batch or [], before or {}, after or {}, bool(check_mode), lost or [])


def restart_targets(hostvars, hosts, taskmanagers, jobmanagers):
    return _restart.to_restart(hosts or [], _facts(hostvars), taskmanagers or [], jobmanagers or [])


def restart_jobmanager_order(hostvars, hosts, rest_urls, cluster):
    facts_of = _facts(hostvars)
    return _restart.jobmanager_order(hosts or [], lambda host: facts_of(host, "ansible_host") or host,
                                     split_urls(rest_urls), cluster or {})


def restart_jobmanager_jars(hostvars, jm):
    return _restart.jobmanager_jars(_facts(hostvars)(jm["host"], "__flink_cdc_deploy"), bool(jm.get("own_url")))


def restart_jobmanager_record(jm, after):
    return _restart.jobmanager_record(jm, after or {})


def restart_jobs_at_risk(jobs, ha_mode, taskmanagers):
    return _restart.jobs_at_risk(jobs or [], str(ha_mode or "none"), taskmanagers or [])


# The registered results of restart_batch.yml that the filters below read from each host.
_COMMAND_RESULTS = ("__flink_cdc_restart_command_run", "__flink_cdc_restart_service_run")
_LOG_FACT = "__flink_cdc_restart_log"


def restart_launch(hostvars, batch, before):
    facts_of = _facts(hostvars)
    return _restart.launch(batch or [], lambda host: [facts_of(host, name) or {} for name in _COMMAND_RESULTS],
                           before or {})


def restart_failures(hostvars, batch, launched, unregistered, after, before, timeout):
    facts_of = _facts(hostvars)
    return _restart.failures(batch or [], launched or {}, unregistered or [], after or {},
                             lambda host: facts_of(host, _LOG_FACT) or {}, before or {}, timeout)


def restart_stop(hostvars, hosts, jobmanager_read, failed_task, failed_msg, failed, restarted, restart_hosts,
                 restart_jobmanager, jobmanager_host, rest_url, suspended=None):
    facts_of = _facts(hostvars)
    jars_on = _restart.jars_in_place(hosts or [], lambda host: facts_of(host, "__flink_cdc_deploy"))
    return _restart.stop(jobmanager_read or {}, failed_task or "", failed_msg or "", failed or [], restarted or [],
                         restart_hosts or [], bool(restart_jobmanager), jobmanager_host or "", rest_url or "",
                         jars_on, suspended or [])


def restart_newest_log(files):
    return _restart.newest_log(files or [])


class FilterModule:
    def filters(self):
        return {
            "restart_method_rows": restart_method_rows,
            "restart_method": restart_method,
            "restart_batches": restart_batches,
            "restart_batch_expected": restart_batch_expected,
            "restart_old_ids": restart_old_ids,
            "restart_missing": restart_missing,
            "restart_records": restart_records,
            "restart_targets": restart_targets,
            "restart_jobmanager_order": restart_jobmanager_order,
            "restart_jobmanager_jars": restart_jobmanager_jars,
            "restart_jobmanager_record": restart_jobmanager_record,
            "restart_jobs_at_risk": restart_jobs_at_risk,
            "restart_launch": restart_launch,
            "restart_failures": restart_failures,
            "restart_newest_log": restart_newest_log,
            "restart_stop": restart_stop,
        }
