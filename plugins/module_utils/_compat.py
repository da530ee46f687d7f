# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Version compatibility data, in one place (private to this collection).

Every table names its source (see also FACTS.md in the project docs). The
functions take versions as strings and return problems as text, so the role's
preflight and the unit tests use the same code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Flink CDC minor -> Flink minors it supports.
# Source: apache/flink-cdc docs/content/docs/connectors/flink-sources/overview.md (the
# conservative table; the pipeline overview disagrees in places).
FLINK_CDC_FLINK = {
    "3.6": ("1.20", "2.2"),
    "3.5": ("1.19", "1.20"),
    "3.4": ("1.19", "1.20"),
    "3.3": ("1.19", "1.20"),
    "3.2": ("1.17", "1.18", "1.19", "1.20"),
    "3.1": ("1.16", "1.17", "1.18", "1.19"),
    "3.0": ("1.14", "1.15", "1.16", "1.17", "1.18"),
    "2.4": ("1.13", "1.14", "1.15", "1.16", "1.17"),
    "2.3": ("1.13", "1.14", "1.15", "1.16"),
}

# StarRocks Flink connector version -> Flink minors. There is no Flink 2.x build.
# Source: StarRocks/starrocks-connector-for-apache-flink docs/content/connector-sink.md and
# the StarRocks Flink connector release notes.
_SR_116_120 = ("1.16", "1.17", "1.18", "1.19", "1.20")
STARROCKS_FLINK = {
    "1.2.16": _SR_116_120,
    "1.2.15": _SR_116_120,
    "1.2.14": _SR_116_120,
    "1.2.13": _SR_116_120,
    "1.2.12": _SR_116_120,
    "1.2.11": ("1.15", "1.16", "1.17", "1.18", "1.19", "1.20"),
    "1.2.10": ("1.15", "1.16", "1.17", "1.18", "1.19"),
    "1.2.9": ("1.15", "1.16", "1.17", "1.18"),
    "1.2.8": ("1.13", "1.14", "1.15", "1.16", "1.17"),
}

# Flink minor (or major for 2.x) -> Java major versions it runs on.
# Source: Flink docs "Java compatibility" (deployment/java_compatibility.md) per release.
FLINK_JAVA = (
    (("1.15", "1.16", "1.17"), (8, 11)),
    (("1.18", "1.19", "1.20"), (11, 17)),
    (("2.",), (11, 17, 21)),
)

# PostgreSQL versions. Flink CDC's docs list PostgreSQL 9.6 - 14 as tested (FACTS.md,
# "PostgreSQL prerequisites"; flink-cdc docs/content/docs/connectors/flink-sources/overview.md).
TESTED_MIN_VERSION_NUM = 90600
TESTED_MAX_MAJOR = 14
# pgoutput ships with PostgreSQL 10 (PostgreSQL docs, "Logical Replication").
PGOUTPUT_MIN_VERSION_NUM = 100000
# Logical decoding on a standby exists from PostgreSQL 16 (PostgreSQL 16 release notes).
STANDBY_DECODING_MIN_VERSION_NUM = 160000

# Artifacts this module knows; anything else is not judged.
# Source: FACTS.md "Flink CDC postgres connector" (groups per line) and "StarRocks Flink connector".
POSTGRES_CDC_ARTIFACTS = ("flink-sql-connector-postgres-cdc", "flink-connector-postgres-cdc")
STARROCKS_ARTIFACT = "flink-connector-starrocks"


def flink_minor(version):
    """``1.20.3`` -> ``1.20``; None when it is not a Flink version."""
    match = re.match(r"^(\d+)\.(\d+)", str(version or ""))
    return "%s.%s" % match.groups() if match else None


def _key(minor):
    return tuple(int(p) for p in minor.split("."))


def _span(minors):
    ordered = sorted(minors, key=_key)
    return ordered[0] if len(ordered) == 1 else "%s - %s" % (ordered[0], ordered[-1])


def java_versions(flink_version):
    """Java majors the given Flink runs on, or () when unknown."""
    minor = flink_minor(flink_version)
    if not minor:
        return ()
    for minors, javas in FLINK_JAVA:
        if any(minor == m or (m.endswith(".") and minor.startswith(m)) for m in minors):
            return javas
    return ()


def java_major(version_output):
    """The Java major from ``java -version`` output: ``1.8.0_392`` -> 8, ``17.0.15`` -> 17."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output or "")
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def java_check(flink_version, version_output):
    """(error, warning) for a ``java -version`` output on a host that runs this Flink.

    Below the Flink release's minimum Java is an error; a newer Java than the
    release lists is a warning (it may run, but it is not what Flink tested).
    """
    major = java_major(version_output)
    if major is None:
        return ("cannot tell the Java version from: %s"
                % ((version_output or "").strip()[:200] or "(no output)"), None)
    allowed = java_versions(flink_version)
    if not allowed:
        return None, None
    if major < min(allowed):
        return ("Java %d is older than Flink %s's minimum, Java %d (supported: %s)"
                % (major, flink_version, min(allowed), ", ".join(str(j) for j in allowed)), None)
    if major not in allowed:
        return None, ("Java %d is not among the Java versions Flink %s supports (%s)"
                      % (major, flink_version, ", ".join(str(j) for j in allowed)))
    return None, None


def postgres_cdc_line(version):
    """``3.5.0`` -> (``3.5``, None); ``3.6.0-1.20`` -> (``3.6``, ``1.20``)."""
    match = re.match(r"^(\d+\.\d+)(?:\.\d+)?(?:-(\d+\.\d+))?$", str(version))
    if not match:
        return None, None
    return match.group(1), match.group(2)


def starrocks_parts(version):
    """``1.2.11_flink-1.20`` -> (``1.2.11``, ``1.20``)."""
    match = re.match(r"^(\d+\.\d+\.\d+)_flink-(\d+\.\d+)$", str(version))
    return match.groups() if match else (None, None)


def connector_problem(connector, flink_version):
    """None when a connector fits the cluster's Flink version, else the reason with the supported versions."""
    artifact = connector.get("artifact_id")
    version = str(connector.get("version", ""))
    minor = flink_minor(flink_version)
    name = "%s:%s:%s" % (connector.get("group_id"), artifact, version)
    if not minor:
        return "cannot tell the Flink version from %r" % flink_version
    if artifact in POSTGRES_CDC_ARTIFACTS:
        line, suffix = postgres_cdc_line(version)
        if line not in FLINK_CDC_FLINK:
            return "%s: unknown Flink CDC version; known lines: %s" % (
                name, ", ".join(sorted(FLINK_CDC_FLINK, key=_key)))
        supported = FLINK_CDC_FLINK[line]
        if suffix and suffix != minor:
            return "%s is built for Flink %s, but the cluster runs Flink %s; use the %s-%s build" % (
                name, suffix, flink_version, version.split("-", 1)[0], minor)
        if minor not in supported:
            fits = sorted((cdc for cdc, flinks in FLINK_CDC_FLINK.items() if minor in flinks), key=_key)
            return "%s: Flink CDC %s supports Flink %s, not %s; Flink CDC lines for Flink %s: %s" % (
                name, line, ", ".join(supported), minor, minor, ", ".join(fits) or "none")
        return None
    if artifact == STARROCKS_ARTIFACT:
        release, suffix = starrocks_parts(version)
        if not release:
            return "%s: a StarRocks connector version looks like 1.2.11_flink-%s" % (name, minor)
        if suffix != minor:
            return "%s is built for Flink %s, but the cluster runs Flink %s; use %s_flink-%s" % (
                name, suffix, flink_version, release, minor)
        if release not in STARROCKS_FLINK:
            return "%s: unknown StarRocks connector release; known: %s" % (
                name, ", ".join(sorted(STARROCKS_FLINK, key=_key)))
        supported = STARROCKS_FLINK[release]
        if minor not in supported:
            fits = sorted((r for r, flinks in STARROCKS_FLINK.items() if minor in flinks), key=_key)
            return "%s: StarRocks connector %s supports Flink %s, not %s; releases for Flink %s: %s" % (
                name, release, _span(supported), minor, minor, ", ".join(fits) or "none (no Flink 2.x build)")
        return None
    return None
