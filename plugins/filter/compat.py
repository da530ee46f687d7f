# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Jinja filters over the collection's compatibility data (module_utils/_compat.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._compat import (
    connector_problem,
    java_check,
    java_major,
)


def connector_problems(connectors, flink_version):
    """Problems of a connector list against the cluster's Flink version (empty when all fit)."""
    if not isinstance(connectors, (list, tuple)):
        raise AnsibleFilterError(
            "connector_problems expects a list of connectors, got %s" % type(connectors).__name__)
    problems = []
    for connector in connectors:
        if not isinstance(connector, dict):
            raise AnsibleFilterError(
                "each connector must be a dict with group_id, artifact_id, version; got %r" % (connector,))
        problem = connector_problem(connector, flink_version)
        if problem:
            problems.append(problem)
    return problems


def java_verdict(version_output, flink_version):
    """``java -version`` output judged against a Flink version: {major, error, warning}."""
    error, warning = java_check(flink_version, version_output)
    return {"major": java_major(version_output), "error": error, "warning": warning}


class FilterModule(object):
    def filters(self):
        return {
            "connector_problems": connector_problems,
            "java_verdict": java_verdict,
        }
