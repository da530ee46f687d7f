# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""cdcops.flink_cdc.flink_connector_choice (documented with the module): the connector builds for a Flink
version, chosen on the controller. It reads the repository's ``maven-metadata.xml`` itself (when nothing is
pinned) and decides with plugin_utils/_connector_choice.py (``choice``); no module runs anywhere."""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _support_matrix as matrix
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import options
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.connectors import STARROCKS_ARTIFACT
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connector_choice
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._action_module import ControllerActionBase

# The repository options of the action group cdcops.flink_cdc.connector, as flink_connector_jar has them.
REPOSITORY_OPTIONS = ("repository_url", "url_username", "url_password", "headers", "validate_certs", "timeout",
                      "use_proxy")
ARGUMENT_SPEC = dict(
    flink_version=dict(type="str", default=""),
    connectors=dict(type="list", elements="dict", default=[]),
    starrocks=dict(type="bool", default=True),
    **{name: spec for name, spec in options.argument_spec(internal=False).items() if name in REPOSITORY_OPTIONS},
)


class ActionModule(ControllerActionBase):

    def argument_spec(self) -> dict[str, t.Any]:
        return ARGUMENT_SPEC

    def secrets(self) -> set[str]:
        # A password in the repository URL's userinfo is masked in everything returned (the rows name the
        # repository without it already).
        return options.option_url_secrets(self._task.args)

    def run_action(self, params: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        listed = None
        if not params["connectors"] and matrix.flink_minor(params["flink_version"]):
            artifacts = [a for a in _connector_choice.METADATA_ARTIFACTS
                         if params["starrocks"] or a[1] != STARROCKS_ARTIFACT]
            listed = _connector_choice.read_listed(params["repository_url"], options.http_options(params), artifacts)
        chosen = _connector_choice.choice(params["connectors"], params["flink_version"], params["starrocks"], listed,
                                          params["repository_url"])
        return dict(changed=False, listed=listed, **chosen)
