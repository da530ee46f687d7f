# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Maven names: coordinates checked so nothing can be written outside ``dest``, the repository layout
(https://maven.apache.org/repositories/layout.html), jar file names, and the versions a repository's
``maven-metadata.xml`` lists (https://maven.apache.org/repositories/metadata.html), nearest first."""

from __future__ import annotations

import re
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import UnsafeNameError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.urls import check_http_url

DEFAULT_REPOSITORY_URL = "https://repo1.maven.org/maven2"

# Maven's own rule for groupId/artifactId is [A-Za-z0-9_\-.]+. We also require a
# leading letter/digit/underscore, so '.', '..' and hidden names are impossible,
# and we never accept '/', so nothing can be written outside dest.
_ID_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
VERSION_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-+]*$")
_JAR_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-+]*\.jar$")
# artifact-version.jar, where the version starts with a digit (1.2.11_flink-1.20, 3.6.0-1.20).
_VERSIONED_NAME = re.compile(r"^(?P<artifact>.+?)-(?P<version>[0-9][A-Za-z0-9_.\-+]*)\.jar$")

METADATA_LIMIT = 1024 * 1024
_METADATA_VERSIONS = re.compile(r"<versions>(.*?)</versions>", re.S)
_METADATA_VERSION = re.compile(r"<version>\s*([^<\s]+)\s*</version>")


def check_name(value: str, pattern: t.Pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value) or ".." in value:
        raise UnsafeNameError(
            "%s %r is not a valid Maven name: use letters, digits, '_', '-' and '.', starting with a "
            "letter or digit, without '/' or '..'. Nothing was changed." % (what, value))
    return value


def validate_coordinates(group_id: str, artifact_id: str, version: t.Optional[str],
                         classifier: t.Optional[str] = None) -> None:
    """Refuse anything that is not a plain Maven name (path traversal included)."""
    if not isinstance(group_id, str) or not group_id or not all(
            _ID_PART.match(p) for p in group_id.split(".")):
        raise UnsafeNameError(
            "group_id %r is not a valid Maven groupId: dot-separated parts of letters, digits, '_' "
            "and '-', e.g. org.apache.flink. Nothing was changed." % (group_id,))
    check_name(artifact_id, ARTIFACT_NAME, "artifact_id")
    if version is not None:
        check_name(version, VERSION_NAME, "version")
    if classifier:
        check_name(classifier, ARTIFACT_NAME, "classifier")


def jar_filename(artifact_id: str, version: str, classifier: t.Optional[str] = None) -> str:
    """``<artifactId>-<version>[-<classifier>].jar`` (https://maven.apache.org/repositories/layout.html)."""
    return "%s-%s%s.jar" % (artifact_id, version, "-" + classifier if classifier else "")


def maven_path(group_id: str, artifact_id: str, version: str,
               classifier: t.Optional[str] = None) -> str:
    """The repository-relative path (https://maven.apache.org/repositories/layout.html)."""
    validate_coordinates(group_id, artifact_id, version, classifier)
    return "/".join(group_id.split(".") + [artifact_id, version,
                                           jar_filename(artifact_id, version, classifier)])


def maven_url(repository_url: str, group_id: str, artifact_id: str, version: str,
              classifier: t.Optional[str] = None) -> str:
    check_http_url(repository_url, "repository_url")
    return repository_url.rstrip("/") + "/" + maven_path(group_id, artifact_id, version, classifier)


def split_jar_name(name: str) -> t.Optional[t.Tuple[str, str]]:
    """``(artifact, version)`` from ``artifact-version.jar``, or None."""
    m = _VERSIONED_NAME.match(name)
    return (m.group("artifact"), m.group("version")) if m else None


def check_jar_name(name: str, where: str) -> str:
    if not _JAR_NAME.match(name or "") or ".." in name:
        raise UnsafeNameError(
            "%s must name a file like flink-sql-connector-postgres-cdc-3.1.0.jar (letters, digits, "
            "'_', '-', '.', '+', ending in .jar); got %r. Nothing was changed." % (where, name))
    return name


def metadata_url(repository_url: str, group_id: str, artifact_id: str) -> str:
    """``<repo>/<group path>/<artifactId>/maven-metadata.xml``, which lists the versions
    (https://maven.apache.org/repositories/metadata.html)."""
    validate_coordinates(group_id, artifact_id, None)
    return "/".join([repository_url.rstrip("/")] + group_id.split(".") + [artifact_id, "maven-metadata.xml"])


def _version_parts(version: str) -> t.List[t.Union[int, str]]:
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\-_+]", version) if p]


def version_key(version: str) -> t.Tuple[t.Tuple[int, t.Any], ...]:
    """A sort key for published versions, newest last: ``1.2.10_flink-1.19`` after ``1.2.9_flink-1.19``.
    Numbers compare as numbers and words as words, never one with the other."""
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in _version_parts(version))


def nearest_versions(wanted: str, versions: t.Iterable[str]) -> t.List[str]:
    """``versions``, nearest to ``wanted`` first: the most leading parts in common, then the smallest difference in
    the first part that differs, then the newer one. For 3.4.0 among 2.4.2, 3.3.0, 3.5.0 and 3.6.0-1.20 that is
    3.5.0, 3.3.0, 3.6.0-1.20, 2.4.2."""
    want = _version_parts(wanted)

    def distance(version: str) -> t.Tuple[int, int]:
        have = _version_parts(version)
        common = 0
        while common < min(len(want), len(have)) and want[common] == have[common]:
            common += 1
        w = want[common] if common < len(want) else 0
        h = have[common] if common < len(have) else 0
        gap = abs(w - h) if isinstance(w, int) and isinstance(h, int) else 1 << 30
        return (-common, gap)

    return sorted(sorted(set(versions), key=version_key, reverse=True), key=distance)


def metadata_versions(data: bytes) -> t.List[str]:
    """The versions a ``maven-metadata.xml`` lists, as far as they are plain Maven versions."""
    # <metadata><versioning><versions><version>3.5.0</version>...: only that list, not a top-level <version>.
    block = _METADATA_VERSIONS.search(data.decode("utf-8", "replace"))
    found = _METADATA_VERSION.findall(block.group(1)) if block else []
    return [v for v in found if VERSION_NAME.match(v)]
