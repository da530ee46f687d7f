# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The room the connector jars take in lib/ (filter ``jar_space_needed``, the flink_cdc role's input to the
flink_host_check module); the logic is in plugins/plugin_utils/_jar_space.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _jar_space


def jar_space_needed(connectors, cache_dir=""):
    if not isinstance(connectors, (list, tuple)) or not all(isinstance(c, dict) for c in connectors):
        raise AnsibleFilterError("jar_space_needed expects the connector list (dicts), got %r" % (connectors,))
    return _jar_space.space_needed(connectors, str(cache_dir or ""))


class FilterModule(object):
    def filters(self):
        return {"jar_space_needed": jar_space_needed}
