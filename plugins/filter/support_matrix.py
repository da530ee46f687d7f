# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Jinja filters over the connectors' support matrix (module_utils/_support_matrix.py): connector_problems, and
default_connectors (the choice of plugin_utils/_connector_choice.py from the matrix alone). The Java rules' filter
is in java.py, the deprecated connector_choice filter in connectors_deprecated.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import connector_problem
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connector_choice


def connector_list(value, filter_name):
    """``value`` when it is a list of dicts, else the filter's error."""
    if not isinstance(value, (list, tuple)):
        raise AnsibleFilterError("%s expects a list of connectors, got %s" % (filter_name, type(value).__name__))
    for connector in value:
        if not isinstance(connector, dict):
            raise AnsibleFilterError(
                "each connector must be a dict with group_id, artifact_id, version; got %r" % (connector,))
    return value


def connector_problems(connectors, flink_version):
    """Problems of a connector list against the cluster's Flink version (empty when all fit)."""
    problems = []
    for connector in connector_list(connectors, "connector_problems"):
        problem = connector_problem(connector, flink_version)
        if problem:
            problems.append(problem)
    return problems


def default_connectors(flink_version, starrocks=True):
    """The connectors the role deploys for a Flink version when none are pinned."""
    return _connector_choice.default_connectors(str(flink_version or ""), boolean(starrocks, strict=False))


class FilterModule:
    def filters(self):
        return {
            "connector_problems": connector_problems,
            "default_connectors": default_connectors,
        }
