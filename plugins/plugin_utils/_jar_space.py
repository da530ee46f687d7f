# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""How much room the flink_cdc role's jars take in lib/, estimated on the controller before anything is fetched.

A jar the controller cache already holds (``cached_copies`` of plugin_utils/_connector_jar/cache.py, which owns
the cache's layout) counts with its size; any other with a conservative guess. The jar's file name is the one
flink_connector_jar gives it (module_utils/_connector_jar/maven.py ``jar_filename``, sources.py ``url_jar_name``).
Each jar is written in full next to its final name before it replaces anything, so the sum is what the filesystem
must have free.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import jar_filename
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import url_jar_name
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar.cache import cached_copies

# The published flink-sql-connector-postgres-cdc jars (3.x) are about 20 MB and the StarRocks connector about
# 13 MB (Maven Central); a jar of unknown size is assumed to be three times the larger.
UNKNOWN_JAR_BYTES = 64 * 1024 * 1024


def jar_file_name(connector: t.Mapping[str, t.Any]) -> str:
    """The jar's name in lib/ and in the cache, as flink_connector_jar names it; "" when the entry names none."""
    if connector.get("src"):
        return os.path.basename(str(connector["src"]))
    if connector.get("url"):
        try:
            return url_jar_name(str(connector["url"]))
        except JarError:  # not a jar's URL: the module refuses it; its size is unknown here
            return ""
    if not (connector.get("artifact_id") and connector.get("version")):
        return ""
    return jar_filename(str(connector["artifact_id"]), str(connector["version"]), connector.get("classifier"))


def known_size(connector: t.Mapping[str, t.Any], cache_dir: str) -> t.Optional[int]:
    """The size of the jar in the controller cache (or of a local ``src``), or None."""
    if connector.get("src"):
        try:
            return os.path.getsize(os.path.expanduser(str(connector["src"])))
        except OSError:
            return None
    name = jar_file_name(connector)
    if not name or not cache_dir:
        return None
    sizes = []
    for path in cached_copies(os.path.expanduser(cache_dir), name):
        try:
            sizes.append(os.path.getsize(path))
        except OSError:
            continue
    return max(sizes) if sizes else None


def space_needed(connectors: t.Sequence[t.Mapping[str, t.Any]], cache_dir: str,
                 unknown: int = UNKNOWN_JAR_BYTES) -> int:
    """Bytes the jars to install take: cached sizes where known, ``unknown`` for each other jar."""
    total = 0
    for connector in connectors:
        if connector.get("state") == "absent":
            continue
        size = known_size(connector, cache_dir)
        total += unknown if size is None else size
    return total
