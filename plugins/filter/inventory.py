# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Filters of what the flink_cdc role derives from its inventory; the logic is in plugins/plugin_utils/_inventory.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _inventory


def expected_taskmanagers(hostvars, hosts):
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("expected_taskmanagers expects the list of TaskManager hosts "
                                 "(groups['flink_taskmanagers']), got %s" % type(hosts).__name__)
    return _inventory.expected_taskmanagers(hosts, _inventory.vars_of(hostvars))


def jobmanager_rest_urls(hostvars, hosts):
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("jobmanager_rest_urls expects the list of JobManager hosts "
                                 "(groups['flink_jobmanager']), got %s" % type(hosts).__name__)
    return _inventory.jobmanager_rest_urls(hosts, _inventory.vars_of(hostvars))


class FilterModule:
    def filters(self):
        return {"expected_taskmanagers": expected_taskmanagers, "jobmanager_rest_urls": jobmanager_rest_urls}
