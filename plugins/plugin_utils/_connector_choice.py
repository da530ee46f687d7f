# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Which connector jars the flink_cdc role deploys, decided on the controller by the flink_connector_choice action
(plugins/action/flink_connector_choice.py).

A user who pins ``flink_cdc_connectors`` gets exactly that list, judged against the cluster. Otherwise the
role follows the cluster: for the Flink version the preflight read from the JobManager it takes the newest
postgres-cdc build and the newest StarRocks connector build that the support matrix
(plugins/module_utils/_support_matrix.py) lists for that Flink minor, and, when the repository's
``maven-metadata.xml`` could be read (``read_listed``), that the repository lists too: a mirror that lags behind
Maven Central (or one that leaves a build out) gets the newest build it has, not a 404 at deploy time. Where no
release exists (no Flink CDC release for Flink 2.0 and 2.1, no StarRocks build for any Flink 2.x), or the
repository has none of the builds that fit, it says so and how to go on, and never guesses.
"""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _support_matrix as matrix
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.connectors import (
    FLINK_CDC_APACHE_GROUP,
    PG_CDC_SQL_ARTIFACT,
    STARROCKS_ARTIFACT,
    STARROCKS_GROUP,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import version_key
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import redact_url
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._report_row import Row, row

Connector = t.Dict[str, str]
# "group_id:artifact_id" -> the versions the repository's maven-metadata.xml lists, or None when it could not be read.
Listed = t.Mapping[str, t.Optional[t.Sequence[str]]]

# The artifacts whose maven-metadata.xml the choice reads: the SQL connector of the Flink CDC lines published under
# org.apache.flink (3.1 and later; older lines are never chosen on a guess) and the StarRocks connector.
METADATA_ARTIFACTS = (
    (FLINK_CDC_APACHE_GROUP, PG_CDC_SQL_ARTIFACT),
    (STARROCKS_GROUP, STARROCKS_ARTIFACT),
)


def coordinates(connector: t.Mapping[str, t.Any]) -> str:
    return "%s:%s:%s" % (connector.get("group_id"), connector.get("artifact_id"), connector.get("version"))


def postgres_cdc_builds(minor: str) -> t.List[t.Tuple[str, str, str]]:
    """(groupId, version, line) of every known postgres-cdc build for a Flink minor, newest first."""
    out = []
    for line in reversed(matrix.postgres_cdc_lines_for(minor)):
        for release in sorted(matrix.FLINK_CDC_RELEASES.get(line, ()), key=matrix._key, reverse=True):
            out.append((matrix.postgres_cdc_group(line), matrix.postgres_cdc_version(release, minor), line))
    return out


def starrocks_builds(minor: str) -> t.List[str]:
    """Every known StarRocks connector build for a Flink minor, newest first."""
    return [matrix.starrocks_version(r, minor) for r in reversed(matrix.starrocks_releases_for(minor))]


class _Pick(t.NamedTuple):
    connector: t.Optional[Connector]
    newest: t.Optional[Connector]  # the matrix's newest build, when the repository lacks it
    unlisted: bool  # the repository's metadata could not be read: the matrix alone decided


def _pick(builds: t.Sequence[Connector], listed: t.Optional[Listed]) -> _Pick:
    """The newest of ``builds`` that the repository lists; the newest of all when its metadata is unknown.

    Only builds whose ``group_id:artifact_id`` the preflight read are candidates: an older line published under
    another groupId (com.ververica) is never chosen on a guess.
    """
    if not builds:
        return _Pick(None, None, False)
    keys = ["%s:%s" % (build["group_id"], build["artifact_id"]) for build in builds]
    if listed is None or not any(key in listed for key in keys):
        return _Pick(builds[0], None, False)  # nothing read for this connector: the matrix decides
    for build, key in zip(builds, keys):
        if key not in listed:
            continue
        versions = listed[key]
        if versions is None:
            return _Pick(builds[0], None, True)
        if build["version"] in versions:
            return _Pick(build, builds[0] if build is not builds[0] else None, False)
    return _Pick(None, builds[0], False)


def _postgres_pick(flink_version: str, listed: t.Optional[Listed]) -> _Pick:
    minor = matrix.flink_minor(flink_version)
    builds = [{"group_id": group, "artifact_id": PG_CDC_SQL_ARTIFACT, "version": version}
              for group, version, _line in (postgres_cdc_builds(minor) if minor else ())]
    return _pick(builds, listed)


def _starrocks_pick(flink_version: str, listed: t.Optional[Listed]) -> _Pick:
    minor = matrix.flink_minor(flink_version)
    builds = [{"group_id": STARROCKS_GROUP, "artifact_id": STARROCKS_ARTIFACT, "version": version}
              for version in (starrocks_builds(minor) if minor else ())]
    return _pick(builds, listed)


def postgres_cdc_default(flink_version: str, listed: t.Optional[Listed] = None) -> t.Optional[Connector]:
    """The newest postgres-cdc SQL connector build for the cluster's Flink minor (that ``listed`` lists), or None."""
    return _postgres_pick(flink_version, listed).connector


def starrocks_default(flink_version: str, listed: t.Optional[Listed] = None) -> t.Optional[Connector]:
    """The newest StarRocks connector build for the cluster's Flink minor (that ``listed`` lists), or None
    (every Flink 2.x)."""
    return _starrocks_pick(flink_version, listed).connector


def default_connectors(flink_version: str, starrocks: bool = True,
                       listed: t.Optional[Listed] = None) -> t.List[Connector]:
    """The connectors the role deploys for this Flink when none are pinned; a connector without a build is left out."""
    chosen = [postgres_cdc_default(flink_version, listed)]
    if starrocks:
        chosen.append(starrocks_default(flink_version, listed))
    return [c for c in chosen if c is not None]


def _row(check: str, status: str, detail: str) -> Row:
    return row("controller", "Connectors", check, status, detail)


def _pinned_rows(pinned: t.Sequence[t.Mapping[str, t.Any]], flink_version: str) -> t.List[Row]:
    rows = []
    for connector in pinned:
        name = coordinates(connector)
        check = str(connector.get("artifact_id"))
        if not flink_version:
            rows.append(_row(check, "skip", "pinned: %s: Flink version unknown" % name))
            continue
        if not matrix.knows(connector):
            # A connector the support matrix has no table for (Kafka, JDBC, ...): nothing was judged, so nothing
            # is claimed.
            rows.append(_row(check, "skip", "pinned: %s: not in the support matrix, so not checked against Flink %s"
                             % (name, flink_version)))
            continue
        problem = matrix.connector_problem(connector, flink_version)
        detail = problem or "%s fits Flink %s" % (name, flink_version)
        rows.append(_row(check, "fail" if problem else "ok", "pinned: %s" % detail))
    return rows


def _listed_text(listed: t.Optional[Listed], build: Connector) -> str:
    versions = (listed or {}).get("%s:%s" % (build["group_id"], build["artifact_id"])) or []
    shown = sorted(versions, key=version_key, reverse=True)[:8]
    return ", ".join(shown) + (", ..." if len(versions) > len(shown) else "") if shown else "none"


def _chosen_detail(chosen_for: str, pick: _Pick, why: str, repository: str) -> str:
    detail = "%s: %s (%s)" % (chosen_for, coordinates(pick.connector), why)
    if pick.newest:
        detail += ("; the repository %s does not list the newest build, %s, so its newest build that fits was taken"
                   % (repository, pick.newest["version"]))
    if pick.unlisted:
        detail += ("; the repository's maven-metadata.xml for %s:%s could not be read, so the support matrix alone "
                   "decided" % (pick.connector["group_id"], pick.connector["artifact_id"]))
    return detail


def _not_listed_detail(flink_version: str, minor: str, pick: _Pick, listed: t.Optional[Listed],
                       repository: str) -> str:
    newest = pick.newest
    return ("cannot choose for Flink %s: the repository %s lists no build of %s:%s for Flink %s (it lists: %s; the "
            "newest build for Flink %s is %s)" % (
                flink_version, repository, newest["group_id"], newest["artifact_id"], minor,
                _listed_text(listed, newest), minor, newest["version"]))


def _pick_row(artifact: str, pick: _Pick, why: t.Callable[[Connector, bool, str], str], no_build_reason: str,
              fix_not_listed: str, fix_no_build: str, flink_version: str, listed: t.Optional[Listed],
              repository: str) -> Row:
    """One connector's row: what was chosen and ``why``; else that the repository lacks the build that fits, or
    that no build fits (``no_build_reason``), each with its fix."""
    minor = matrix.flink_minor(flink_version) or ""
    if pick.connector:
        return _row(artifact, "warn" if pick.unlisted else "ok", _chosen_detail(
            "chosen for Flink %s" % flink_version, pick, why(pick.connector, bool(pick.newest), minor), repository))
    if pick.newest:
        reason, fix = _not_listed_detail(flink_version, minor, pick, listed, repository), fix_not_listed
    else:
        reason, fix = "cannot choose for Flink %s: %s" % (flink_version, no_build_reason), fix_no_build
    return _row(artifact, "fail", "%s. Fix: %s" % (reason, fix))


def _postgres_why(connector: Connector, newest_unlisted: bool, minor: str) -> str:
    line = matrix.postgres_cdc_line(connector["version"])[0]
    return ("Flink CDC %s, the newest line supporting Flink %s" % (line, minor) if not newest_unlisted
            else "Flink CDC %s, which supports Flink %s" % (line, minor))


def _starrocks_why(connector: Connector, newest_unlisted: bool, minor: str) -> str:
    release = matrix.starrocks_parts(connector["version"])[0]
    return ("StarRocks connector %s, the newest release for Flink %s" % (release, minor) if not newest_unlisted
            else "StarRocks connector %s, which has a build for Flink %s" % (release, minor))


def _chosen_rows(flink_version: str, starrocks: bool, listed: t.Optional[Listed], repository: str) -> t.List[Row]:
    minor = matrix.flink_minor(flink_version) or ""
    rows = [_pick_row(
        PG_CDC_SQL_ARTIFACT, _postgres_pick(flink_version, listed), _postgres_why, matrix.no_postgres_cdc_reason(minor),
        "point flink_cdc_maven_repository at a repository that has it, or pin flink_cdc_connectors",
        "run a Flink version that Flink CDC supports, or pin flink_cdc_connectors", flink_version, listed, repository)]
    if not starrocks:
        rows.append(_row(STARROCKS_ARTIFACT, "skip", "not chosen: flink_cdc_starrocks_connector is false"))
        return rows
    # Without a build the StarRocks row fails, not warns: the role prepares a PostgreSQL -> StarRocks pipeline,
    # and a cluster without the sink's jar would pass every check and then fail its first job ("Could not find any
    # factory for identifier 'starrocks'"). Leaving the sink out is one variable away.
    rows.append(_pick_row(
        STARROCKS_ARTIFACT, _starrocks_pick(flink_version, listed), _starrocks_why, matrix.no_starrocks_reason(minor),
        "set flink_cdc_starrocks_connector: false to deploy without it, point flink_cdc_maven_repository at a "
        "repository that has it, or pin flink_cdc_connectors",
        "set flink_cdc_starrocks_connector: false to deploy without it, or pin flink_cdc_connectors",
        flink_version, listed, repository))
    return rows


def choice(pinned: t.Optional[t.Sequence[t.Mapping[str, t.Any]]], flink_version: str,
           starrocks: bool = True, listed: t.Optional[Listed] = None, repository: str = "") -> t.Dict[str, t.Any]:
    """The connector list the role deploys and one readiness-report row per connector.

    ``pinned`` is the user's ``flink_cdc_connectors``: when it is not empty it is the list, never replaced,
    and each row says whether it fits. When it is empty the list is chosen for ``flink_version`` (the
    JobManager's), and each row says what was chosen and why, or why nothing could be. ``listed`` (from
    ``read_listed``) narrows the choice to the builds the repository lists; None means the support matrix
    alone decides. ``repository`` is the repository's URL for the rows (without credentials). ``summary`` is
    one line for the report's head and the printed summary.
    """
    flink_version = str(flink_version or "")
    if pinned:
        connectors = [dict(c) for c in pinned]
        return {"pinned": True, "connectors": connectors, "rows": _pinned_rows(connectors, flink_version),
                "summary": "pinned (flink_cdc_connectors): %s" % ", ".join(coordinates(c) for c in connectors)}
    if not matrix.flink_minor(flink_version):
        detail = ("flink_cdc_connectors is not pinned, and without the cluster's Flink version (the JobManager "
                  "could not be read) no connector can be chosen. Fix: make the JobManager reachable, or pin "
                  "flink_cdc_connectors")
        return {"pinned": False, "connectors": [], "rows": [_row("choice", "fail", detail)],
                "summary": "not chosen: the Flink version is unknown"}
    repository = redact_url(repository) if repository else "(unknown)"
    connectors = default_connectors(flink_version, starrocks, listed)
    summary = "chosen for Flink %s: %s" % (flink_version, ", ".join(coordinates(c) for c in connectors) or "none")
    return {"pinned": False, "connectors": connectors, "rows": _chosen_rows(flink_version, starrocks, listed, repository),
            "summary": summary}


def read_listed(repository_url: str, http_options: t.Any,
                artifacts: t.Sequence[t.Tuple[str, str]] = METADATA_ARTIFACTS) -> Listed:
    """``group_id:artifact_id`` -> the versions the repository's ``maven-metadata.xml`` lists, read from the
    controller; None for one that could not be read (no answer, an HTTP error such as the 404 of a plain
    directory of jars, not Maven metadata), which leaves the choice to the support matrix."""
    # Imported here: the filters that import this module (default_connectors, connector_choice) read no repository.
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.download import repository_versions

    return {"%s:%s" % (group, artifact): repository_versions(repository_url, group, artifact, http_options)
            for group, artifact in artifacts}
