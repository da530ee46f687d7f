# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The connector_choice filter, deprecated (meta/runtime.yml plugin_routing; removed in 0.4.0).

It is the old path of the role's connector choice: the preflight read each connector's ``maven-metadata.xml`` with
an ``ansible.builtin.uri`` loop and passed the loop's results here. The role now uses the flink_connector_choice
module (an action on the controller that reads the metadata itself). This file only turns the uri results into
what the choice (plugin_utils/_connector_choice.py) takes, and goes away with the filter.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.cdcops.flink_cdc.plugins.filter.support_matrix import connector_list
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import metadata_versions
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connector_choice


def listed_versions(results: t.Optional[t.Sequence[t.Mapping[str, t.Any]]]) -> t.Dict[str, t.Optional[t.List[str]]]:
    """``group_id:artifact_id`` -> the versions listed, from ``uri`` results (one per artifact, each with ``item``
    {group_id, artifact_id}, ``status`` and ``content``).

    None for an artifact whose metadata could not be read (no answer, an HTTP error, not Maven metadata): the
    choice then falls back to the support matrix alone. That includes a 404: a repository that is a plain
    directory of files has jars but no maven-metadata.xml, and must not lose its defaults for it.
    """
    out: t.Dict[str, t.Optional[t.List[str]]] = {}
    for result in results or ():
        item = result.get("item") or {}
        key = "%s:%s" % (item.get("group_id"), item.get("artifact_id"))
        if result.get("status") == 200 and "<metadata" in str(result.get("content") or ""):
            out[key] = metadata_versions(str(result["content"]).encode("utf-8"))
        else:
            out[key] = None
    return out


def connector_choice(pinned, flink_version, starrocks=True, metadata=None, repository=""):
    """The effective connector list (pinned, or chosen for the Flink version and what the repository lists) with
    one report row per connector. ``metadata``: the ``uri`` results for each artifact's maven-metadata.xml
    (``results`` of a looped task), or None to let the support matrix alone decide."""
    if metadata is not None and not isinstance(metadata, (list, tuple)):
        raise AnsibleFilterError("connector_choice expects metadata to be a list of uri results, got %s"
                                 % type(metadata).__name__)
    listed = listed_versions(metadata) if metadata else None
    return _connector_choice.choice(connector_list(pinned or [], "connector_choice"), flink_version,
                                    boolean(starrocks, strict=False), listed, str(repository or ""))


class FilterModule:
    def filters(self):
        return {
            "connector_choice": connector_choice,
        }
