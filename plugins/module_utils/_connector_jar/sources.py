# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Where each jar of a call comes from and what it should be (``JarSource``), and the requests
(``JarRequest``) the module's options make of them."""

from __future__ import annotations

import os
import typing as t
from urllib.parse import unquote, urlsplit

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import Checksum, parse_checksum
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.connectors import (
    Connector,
    connectors_for,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import (
    check_jar_name,
    jar_filename,
    maven_url,
    split_jar_name,
    validate_coordinates,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.urls import check_http_url, describe_url


class JarSource(t.NamedTuple):
    """Where one jar comes from and what it should be."""

    kind: str  # maven | url | src
    filename: str  # the name it gets in dest
    artifact_id: t.Optional[str]  # for "other versions"; None when the name has no version
    group_id: t.Optional[str] = None
    url: t.Optional[str] = None
    src: t.Optional[str] = None
    checksum: t.Optional[Checksum] = None  # pinned by the user (for pushed jars: by the controller)
    # What the jar registers, when the controller has already read it (pushed jars).
    factories: t.Optional[t.Tuple[str, ...]] = None
    # Resolved on the controller (fetch_mode=controller): src, once given, is the copy the
    # action plugin transferred, and the checksum is what the controller verified and validated.
    pushed: bool = False
    # src is the action plugin's own copy, in the temp dir it made for this task: it may be moved into dest.
    movable: bool = False
    # Maven coordinates (group:artifact:version[:classifier]) and repository_url, for the error when the
    # repository lacks the jar (missing_jar_error).
    coordinates: t.Optional[str] = None
    repository: t.Optional[str] = None

    @property
    def connectors(self) -> t.List[Connector]:
        return connectors_for(self.artifact_id, self.group_id) if self.artifact_id else []

    @property
    def expected_factories(self) -> t.Tuple[str, ...]:
        return tuple(c.required_factory for c in self.connectors)

    @property
    def known_factories(self) -> t.Tuple[str, ...]:
        """Every factory the jar should register, as far as our data knows."""
        return tuple(f for c in self.connectors for f in c.factories)

    @property
    def planned_factories(self) -> t.Tuple[str, ...]:
        """What the jar registers, for planning before it is here: read on the controller, else our data."""
        return self.factories if self.factories is not None else self.known_factories

    @property
    def what(self) -> str:
        """The jar and where it comes from, for messages."""
        if self.pushed:
            return "%s (pushed from the controller)" % self.filename
        if self.kind == "src":
            return "%s (src %s)" % (self.filename, self.src)
        return "%s from %s" % (self.filename, describe_url(self.url or ""))


class JarRequest(t.NamedTuple):
    """One jar of a call, and whether it should be in dest."""

    source: JarSource
    state: str = "present"


def maven_source(repository_url: str, group_id: str, artifact_id: str, version: str,
                 classifier: t.Optional[str] = None, checksum: t.Optional[str] = None) -> JarSource:
    url = maven_url(repository_url, group_id, artifact_id, version, classifier)
    coordinates = ":".join([group_id, artifact_id, version] + ([classifier] if classifier else []))
    return JarSource("maven", jar_filename(artifact_id, version, classifier), artifact_id, group_id, url=url,
                     checksum=parse_checksum(checksum) if checksum else None, coordinates=coordinates,
                     repository=repository_url.rstrip("/"))


def maven_artifact(group_id: str, artifact_id: str) -> JarSource:
    """The artifact without a version: for removing every version of it."""
    validate_coordinates(group_id, artifact_id, None)
    return JarSource("maven", "", artifact_id, group_id)


def url_jar_name(url: str) -> str:
    """The jar's file name: the last path segment of the URL."""
    check_http_url(url)
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return check_jar_name(name, "The last path segment of url %s" % describe_url(url))


def url_source(url: str, checksum: t.Optional[str] = None) -> JarSource:
    name = url_jar_name(url)
    split = split_jar_name(name)
    return JarSource("url", name, split[0] if split else None, url=url,
                     checksum=parse_checksum(checksum) if checksum else None)


def src_source(src: str, checksum: t.Optional[str] = None) -> JarSource:
    name = check_jar_name(os.path.basename(src), "The file name of src")
    split = split_jar_name(name)
    return JarSource("src", name, split[0] if split else None, src=src,
                     checksum=parse_checksum(checksum) if checksum else None)


def jar_request(spec: t.Mapping[str, t.Any], repository_url: str, default_state: str = "present",
                where: str = "") -> JarRequest:
    """A request from one jar's options; ``where`` prefixes messages (``jars[1]: ``)."""
    state = spec.get("state") or default_state
    group_id, artifact_id, version = spec.get("group_id"), spec.get("artifact_id"), spec.get("version")
    classifier, checksum = spec.get("classifier"), spec.get("checksum")
    try:
        if artifact_id:
            if state == "absent":
                source = maven_artifact(group_id, artifact_id)
                if version:
                    validate_coordinates(group_id, artifact_id, version, classifier)
                    source = source._replace(filename=jar_filename(artifact_id, version, classifier))
                return JarRequest(source, state)
            if not version:
                raise JarError("version is required to install %s:%s (state=present)." % (group_id, artifact_id))
            return JarRequest(maven_source(repository_url, group_id, artifact_id, version, classifier, checksum), state)
        if spec.get("url"):
            return JarRequest(url_source(spec["url"], checksum), state)
        return JarRequest(src_source(spec.get("src") or "", checksum), state)
    except JarError as exc:
        if where:
            exc.msg = where + exc.msg
            exc.args = (exc.msg,)
        raise
