# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Which connector jars the flink_cdc role deploys, decided on the controller (the role's filters and
scripts/supported_versions.py use this).

A user who pins ``flink_cdc_connectors`` gets exactly that list, judged against the cluster. Otherwise the
role follows the cluster: for the Flink version the preflight read from the JobManager it takes the newest
postgres-cdc build and the newest StarRocks connector build that the support matrix
(plugins/module_utils/_compat.py) lists for that Flink minor. Where no release exists (no Flink CDC release
for Flink 2.0 and 2.1, no StarRocks build for any Flink 2.x) it says so and how to go on, and never guesses.
"""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _compat

POSTGRES_CDC_SQL_ARTIFACT = "flink-sql-connector-postgres-cdc"

# The Flink minors the collection documents (the README's "Supported versions" table).
FLINK_MINORS = ("1.17", "1.18", "1.19", "1.20", "2.0", "2.1", "2.2")
# meta/runtime.yml requires_ansible, and the ansible-core the test suite runs.
ANSIBLE_CORE = ">= 2.16 (tested: 2.19)"

Connector = t.Dict[str, str]
Row = t.Dict[str, t.Any]


def coordinates(connector: t.Mapping[str, t.Any]) -> str:
    return "%s:%s:%s" % (connector.get("group_id"), connector.get("artifact_id"), connector.get("version"))


def postgres_cdc_default(flink_version: str) -> t.Optional[Connector]:
    """The newest postgres-cdc SQL connector build for the cluster's Flink minor, or None."""
    minor = _compat.flink_minor(flink_version)
    best = _compat.newest_postgres_cdc(minor) if minor else None
    if best is None:
        return None
    group, version, _line = best
    return {"group_id": group, "artifact_id": POSTGRES_CDC_SQL_ARTIFACT, "version": version}


def starrocks_default(flink_version: str) -> t.Optional[Connector]:
    """The newest StarRocks connector build for the cluster's Flink minor, or None (every Flink 2.x)."""
    minor = _compat.flink_minor(flink_version)
    version = _compat.newest_starrocks(minor) if minor else None
    if version is None:
        return None
    return {"group_id": _compat.STARROCKS_GROUP, "artifact_id": _compat.STARROCKS_ARTIFACT, "version": version}


def default_connectors(flink_version: str, starrocks: bool = True) -> t.List[Connector]:
    """The connectors the role deploys for this Flink when none are pinned; a connector without a build is left out."""
    chosen = [postgres_cdc_default(flink_version)] + ([starrocks_default(flink_version)] if starrocks else [])
    return [c for c in chosen if c is not None]


def _row(check: str, status: str, detail: str) -> Row:
    return {"host": "controller", "area": "Connectors", "check": check, "status": status, "detail": detail}


def _pinned_rows(pinned: t.Sequence[t.Mapping[str, t.Any]], flink_version: str) -> t.List[Row]:
    rows = []
    for connector in pinned:
        name = coordinates(connector)
        check = str(connector.get("artifact_id"))
        if not flink_version:
            rows.append(_row(check, "skip", "pinned: %s: Flink version unknown" % name))
            continue
        problem = _compat.connector_problem(connector, flink_version)
        detail = problem or "%s fits Flink %s" % (name, flink_version)
        rows.append(_row(check, "fail" if problem else "ok", "pinned: %s" % detail))
    return rows


def _chosen_rows(flink_version: str, starrocks: bool) -> t.List[Row]:
    minor = _compat.flink_minor(flink_version) or ""
    chosen_for = "chosen for Flink %s" % flink_version
    rows = []
    postgres = postgres_cdc_default(flink_version)
    if postgres:
        line = _compat.postgres_cdc_line(postgres["version"])[0]
        detail = "%s: %s (Flink CDC %s, the newest line supporting Flink %s)" % (
            chosen_for, coordinates(postgres), line, minor)
        rows.append(_row(POSTGRES_CDC_SQL_ARTIFACT, "ok", detail))
    else:
        detail = ("cannot choose for Flink %s: %s. Fix: run a Flink version that Flink CDC supports, or pin "
                  "flink_cdc_connectors" % (flink_version, _compat.no_postgres_cdc_reason(minor)))
        rows.append(_row(POSTGRES_CDC_SQL_ARTIFACT, "fail", detail))
    if not starrocks:
        rows.append(_row(_compat.STARROCKS_ARTIFACT, "skip", "not chosen: flink_cdc_starrocks_connector is false"))
        return rows
    sink = starrocks_default(flink_version)
    if sink:
        release = _compat.starrocks_parts(sink["version"])[0]
        detail = "%s: %s (StarRocks connector %s, the newest release for Flink %s)" % (
            chosen_for, coordinates(sink), release, minor)
        rows.append(_row(_compat.STARROCKS_ARTIFACT, "ok", detail))
    else:
        # A fail, not a warning: the role prepares a PostgreSQL -> StarRocks pipeline, and a cluster without the
        # sink's jar would pass every check and then fail its first job ("Could not find any factory for
        # identifier 'starrocks'"). Leaving the sink out is one variable away.
        detail = ("cannot choose for Flink %s: %s. Fix: set flink_cdc_starrocks_connector: false to deploy without "
                  "it, or pin flink_cdc_connectors" % (flink_version, _compat.no_starrocks_reason(minor)))
        rows.append(_row(_compat.STARROCKS_ARTIFACT, "fail", detail))
    return rows


def choice(pinned: t.Optional[t.Sequence[t.Mapping[str, t.Any]]], flink_version: str,
           starrocks: bool = True) -> t.Dict[str, t.Any]:
    """The connector list the role deploys and one readiness-report row per connector.

    ``pinned`` is the user's ``flink_cdc_connectors``: when it is not empty it is the list, never replaced,
    and each row says whether it fits. When it is empty the list is chosen for ``flink_version`` (the
    JobManager's), and each row says what was chosen and why, or why nothing could be. ``summary`` is one
    line for the report's head and the printed summary.
    """
    flink_version = str(flink_version or "")
    if pinned:
        connectors = [dict(c) for c in pinned]
        return {"pinned": True, "connectors": connectors, "rows": _pinned_rows(connectors, flink_version),
                "summary": "pinned (flink_cdc_connectors): %s" % ", ".join(coordinates(c) for c in connectors)}
    if not _compat.flink_minor(flink_version):
        detail = ("flink_cdc_connectors is not pinned, and without the cluster's Flink version (the JobManager "
                  "could not be read) no connector can be chosen. Fix: make the JobManager reachable, or pin "
                  "flink_cdc_connectors")
        return {"pinned": False, "connectors": [], "rows": [_row("choice", "fail", detail)],
                "summary": "not chosen: the Flink version is unknown"}
    connectors = default_connectors(flink_version, starrocks)
    summary = "chosen for Flink %s: %s" % (flink_version, ", ".join(coordinates(c) for c in connectors) or "none")
    return {"pinned": False, "connectors": connectors, "rows": _chosen_rows(flink_version, starrocks),
            "summary": summary}


def supported_versions_table(minors: t.Sequence[str] = FLINK_MINORS) -> str:
    """The README's "Supported versions" table: per Flink minor, the connectors the role chooses and the Java."""
    postgres_header = "%s:%s" % (_compat.FLINK_CDC_APACHE_GROUP, POSTGRES_CDC_SQL_ARTIFACT)
    starrocks_header = "%s:%s" % (_compat.STARROCKS_GROUP, _compat.STARROCKS_ARTIFACT)
    lines = ["| Flink | postgres-cdc (`%s`) | StarRocks (`%s`) | Java | ansible-core |" % (
        postgres_header, starrocks_header), "|---|---|---|---|---|"]
    for minor in minors:
        postgres = postgres_cdc_default(minor)
        sink = starrocks_default(minor)
        if postgres is None:
            postgres_cell = "none"
        elif postgres["group_id"] == _compat.FLINK_CDC_APACHE_GROUP:
            postgres_cell = "`%s`" % postgres["version"]
        else:
            postgres_cell = "`%s:%s`" % (postgres["group_id"], postgres["version"])
        javas = _compat.java_versions(minor)
        lines.append("| %s | %s | %s | %s | %s |" % (
            minor, postgres_cell, "`%s`" % sink["version"] if sink else "none",
            ", ".join(str(j) for j in javas) or "unknown", ANSIBLE_CORE))
    return "\n".join(lines) + "\n"
