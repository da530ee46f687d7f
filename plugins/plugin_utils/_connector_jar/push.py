# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The controller's side of the wire (controller only): what the action plugin sends the module in ``_pushed``.
Every name and what each side promises: ``plugins/module_utils/_connector_jar/wire.py``."""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.urls import mask_url
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar.cache import CachedJar


def pushed_item(request: JarRequest, cached: t.Optional[CachedJar]) -> t.Dict[str, t.Any]:
    """What the host needs of one jar resolved on the controller (no repository, no credentials)."""
    source = request.source
    item: t.Dict[str, t.Any] = {"state": request.state, "name": source.filename, "artifact_id": source.artifact_id,
                                "group_id": source.group_id}
    if source.url:
        item["url"] = mask_url(source.url)
    if cached is not None:
        item["checksum"] = str(cached.checksum)
        if cached.factories is not None:
            item["factories"] = list(cached.factories)
    return item


def pushed_option(items: t.Sequence[t.Mapping[str, t.Any]], single: bool, remember: bool,
                  tmpdir: t.Optional[str]) -> t.Dict[str, t.Any]:
    """The value of ``_pushed``: the items (each copied, so a later push does not change what was sent), and the
    remote temp dir when any item names a copy there."""
    pushed: t.Dict[str, t.Any] = {"single": single, "jars": [dict(item) for item in items], "remember": remember}
    if any("src" in item for item in items):
        # The module moves the copies it finds directly in this dir into dest rather than copying them.
        pushed["tmpdir"] = tmpdir
    return pushed
