# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""How much room the flink_cdc role's jars take in lib/, estimated on the controller before anything is fetched.

A jar the controller cache already holds (``<cache>/<algorithm>/<hex>/<file name>``, plugin_utils/_connector_jar/
cache.py) counts with its size; any other with a conservative guess. Each jar is written in full next to its
final name before it replaces anything, so the sum is what the filesystem must have free.
"""

from __future__ import annotations

import glob
import os
import typing as t

# The published flink-sql-connector-postgres-cdc jars (3.x) are about 20 MB and the StarRocks connector about
# 13 MB (Maven Central); a jar of unknown size is assumed to be three times the larger.
UNKNOWN_JAR_BYTES = 64 * 1024 * 1024


def jar_file_name(connector: t.Mapping[str, t.Any]) -> str:
    """``<artifactId>-<version>[-<classifier>].jar``, the name in lib/ and in the cache; "" for a url or src jar."""
    if connector.get("src"):
        return os.path.basename(str(connector["src"]))
    if connector.get("url"):
        return str(connector["url"]).rstrip("/").rsplit("/", 1)[-1]
    if not (connector.get("artifact_id") and connector.get("version")):
        return ""
    classifier = connector.get("classifier")
    return "%s-%s%s.jar" % (connector["artifact_id"], connector["version"], "-" + classifier if classifier else "")


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
    for path in glob.glob(os.path.join(glob.escape(os.path.expanduser(cache_dir)), "*", "*", glob.escape(name))):
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
