# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Jinja filters over the collection's support matrix (module_utils/_support_matrix.py) and the role's connector
choice (plugin_utils/_connectors.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import (
    connector_problem,
    java_check,
    java_major,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connectors


def _connector_list(value, filter_name):
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
    for connector in _connector_list(connectors, "connector_problems"):
        problem = connector_problem(connector, flink_version)
        if problem:
            problems.append(problem)
    return problems


def default_connectors(flink_version, starrocks=True):
    """The connectors the role deploys for a Flink version when none are pinned."""
    return _connectors.default_connectors(str(flink_version or ""), boolean(starrocks, strict=False))


def connector_choice(pinned, flink_version, starrocks=True, metadata=None, repository=""):
    """The effective connector list (pinned, or chosen for the Flink version and what the repository lists) with
    one report row per connector. ``metadata``: the preflight's ``uri`` results for each artifact's
    maven-metadata.xml (``results`` of a looped task), or None to let the support matrix alone decide."""
    if metadata is not None and not isinstance(metadata, (list, tuple)):
        raise AnsibleFilterError("connector_choice expects metadata to be a list of uri results, got %s"
                                 % type(metadata).__name__)
    listed = _connectors.listed_versions(metadata) if metadata else None
    return _connectors.choice(_connector_list(pinned or [], "connector_choice"), flink_version,
                              boolean(starrocks, strict=False), listed, str(repository or ""))


def java_verdict(version_output, flink_version):
    """``java -version`` output judged against a Flink version: {major, error, warning}."""
    error, warning = java_check(flink_version, version_output)
    return {"major": java_major(version_output), "error": error, "warning": warning}


class FilterModule:
    def filters(self):
        return {
            "connector_choice": connector_choice,
            "connector_problems": connector_problems,
            "default_connectors": default_connectors,
            "java_verdict": java_verdict,
        }
