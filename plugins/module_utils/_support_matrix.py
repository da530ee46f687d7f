# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The support matrix, in one place (private to this collection): which connector release exists for
which Flink minor, and which Java each Flink runs on.

Every table names its upstream source. The functions take versions as strings and return problems as
text, so the role's preflight, its connector choice (plugins/plugin_utils/_connector_choice.py) and the unit
tests use the same code. Modules import this file too (plugins/module_utils/_postgres/), so it stays plain
Python for managed hosts. The connectors' coordinates are in plugins/module_utils/_connector_jar/connectors.py.
"""

from __future__ import annotations

import re

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.connectors import (
    FLINK_CDC_APACHE_GROUP,
    FLINK_CDC_VERVERICA_GROUP,
    PG_CDC_SQL_ARTIFACT,
    PG_CDC_THIN_ARTIFACT,
    STARROCKS_ARTIFACT,
)

# Flink CDC minor -> Flink minors it supports.
# Source: apache/flink-cdc docs/content/docs/connectors/flink-sources/overview.md (the
# conservative table; the pipeline overview disagrees in places).
# No line supports Flink 2.3 (apache/flink release-2.3.0; apache-flink 2.3.0 on PyPI): 3.6, the newest, builds
# for 1.20 and 2.2 only (apache/flink-cdc root pom.xml at release-3.6.0: flink.1.x.version 1.20.3,
# flink.2.x.version 2.2.0), so connector_problem and the choice name that gap for 2.3 as for 2.0 and 2.1.
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

# Flink CDC release versions per line: apache/flink-cdc git tags ``release-<version>`` (release candidates
# left out), https://github.com/apache/flink-cdc/tags, read at release-3.6.0 (2026-03-25).
FLINK_CDC_RELEASES = {
    "3.6": ("3.6.0",),
    "3.5": ("3.5.0",),
    "3.4": ("3.4.0",),
    "3.3": ("3.3.0",),
    "3.2": ("3.2.0", "3.2.1"),
    "3.1": ("3.1.0", "3.1.1"),
    "3.0": ("3.0.0", "3.0.1"),
    "2.4": ("2.4.0", "2.4.1", "2.4.2"),
    "2.3": ("2.3.0",),
}
# From 3.6 each release is published once per Flink minor, as <release>-<Flink minor> (3.6.0-1.20, 3.6.0-2.2):
# apache/flink-cdc tools/releasing/deploy_staging_jars.sh at release-3.6.0 (new_version=RELEASE_VERSION-FLINK_VERSION).
FLINK_CDC_SUFFIXED_FROM = "3.6"
# Maven groupId: com.ververica up to 3.0, org.apache.flink from 3.1 (apache/flink-cdc root pom.xml at
# release-3.0.1 and release-3.1.0).
FLINK_CDC_APACHE_GROUP_FROM = "3.1"

# StarRocks Flink connector release -> Flink minors it has a build for (1.2.15_flink-1.20, ...). There is no
# Flink 2.x build. Sources: the tags v1.2.8 - v1.2.15 (newest, 2026-06-18) of
# StarRocks/starrocks-connector-for-apache-flink, with common.sh SUPPORTED_MINOR_VERSION (build.sh at v1.2.8)
# per tag, and docs/content/connector-sink.md ("Version requirements"). Where they disagree the narrower
# range is kept: docs for 1.2.12 - 1.2.14 (1.16 - 1.20; common.sh also lists 1.15), build.sh for 1.2.8
# (1.15 - 1.17; the docs also list 1.13, 1.14, built with a Scala suffix). 1.2.16 is only the HEAD pom's version.
_SR_116_120 = ("1.16", "1.17", "1.18", "1.19", "1.20")
STARROCKS_FLINK = {
    "1.2.15": _SR_116_120,
    "1.2.14": _SR_116_120,
    "1.2.13": _SR_116_120,
    "1.2.12": _SR_116_120,
    "1.2.11": ("1.15", "1.16", "1.17", "1.18", "1.19", "1.20"),
    "1.2.10": ("1.15", "1.16", "1.17", "1.18", "1.19"),
    "1.2.9": ("1.15", "1.16", "1.17", "1.18"),
    "1.2.8": ("1.15", "1.16", "1.17"),
}

# Flink minor (or major for 2.x) -> Java major versions it runs on.
# Source: Flink docs "Java compatibility" (deployment/java_compatibility.md) per release; for 2.x
# apache/flink docs/content/release-notes/flink-2.0.md ("Java Supports": 11, 17, 21; Java 8 dropped). 2.3 keeps
# them: the released flink-dist-2.3.0.jar (Maven Central, PyPI apache-flink-libraries 2.3.0) holds Java 11 class
# files (version 55), and its conf/config.yaml ships the same Java 17 env.java.opts.all as 2.2.0.
FLINK_JAVA = (
    (("1.15", "1.16", "1.17"), (8, 11)),
    (("1.18", "1.19", "1.20"), (11, 17)),
    (("2.",), (11, 17, 21)),
)

# PostgreSQL versions. Flink CDC's docs list PostgreSQL 9.6 - 14 as tested
# (apache/flink-cdc docs/content/docs/connectors/flink-sources/overview.md).
TESTED_MIN_VERSION_NUM = 90600
TESTED_MAX_MAJOR = 14
# pgoutput ships with PostgreSQL 10 (PostgreSQL docs, "Logical Replication").
PGOUTPUT_MIN_VERSION_NUM = 100000
# Logical decoding on a standby exists from PostgreSQL 16 (PostgreSQL 16 release notes).
STANDBY_DECODING_MIN_VERSION_NUM = 160000

# The artifacts this matrix judges (``knows``); anything else is not in it, and is not judged.
POSTGRES_CDC_ARTIFACTS = (PG_CDC_SQL_ARTIFACT, PG_CDC_THIN_ARTIFACT)


def flink_minor(version):
    """``1.20.3`` -> ``1.20``; None when it is not a Flink version."""
    match = re.match(r"^(\d+)\.(\d+)", str(version or ""))
    return "%s.%s" % match.groups() if match else None


def _key(minor):
    return tuple(int(p) for p in minor.split("."))


def flink_at_least(version, minor):
    """Whether a Flink version (``1.20.3``) is at least ``minor`` (``1.19``); False when it is not a version."""
    found = flink_minor(version)
    return bool(found) and _key(found) >= _key(minor)


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


def postgres_cdc_group(line):
    """The Maven groupId a Flink CDC line is published under."""
    return FLINK_CDC_APACHE_GROUP if _key(line) >= _key(FLINK_CDC_APACHE_GROUP_FROM) else FLINK_CDC_VERVERICA_GROUP


def postgres_cdc_suffixed(line):
    """Whether the line's versions carry the Flink minor they are built for (3.6.0-1.20)."""
    return _key(line) >= _key(FLINK_CDC_SUFFIXED_FROM)


def postgres_cdc_version(release, minor):
    """The published version of a release's build for a Flink minor: ``3.6.0``, ``1.20`` -> ``3.6.0-1.20``."""
    line = postgres_cdc_line(release)[0]
    return "%s-%s" % (release, minor) if line and postgres_cdc_suffixed(line) else release


def postgres_cdc_lines_for(minor):
    """Known Flink CDC lines that support a Flink minor, oldest first."""
    return sorted((line for line, flinks in FLINK_CDC_FLINK.items() if minor in flinks), key=_key)


def newest_postgres_cdc(minor):
    """(groupId, version, line) of the newest known postgres-cdc build for a Flink minor, or None."""
    for line in reversed(postgres_cdc_lines_for(minor)):
        releases = FLINK_CDC_RELEASES.get(line)
        if releases:
            release = max(releases, key=_key)
            return postgres_cdc_group(line), postgres_cdc_version(release, minor), line
    return None


def no_postgres_cdc_reason(minor):
    newest = max(FLINK_CDC_FLINK, key=_key)
    return "no Flink CDC release supports Flink %s (Flink CDC %s, the newest line, supports Flink %s)" % (
        minor, newest, ", ".join(FLINK_CDC_FLINK[newest]))


def starrocks_releases_for(minor):
    """Known StarRocks connector releases with a build for a Flink minor, oldest first."""
    return sorted((r for r, flinks in STARROCKS_FLINK.items() if minor in flinks), key=_key)


def starrocks_version(release, minor):
    return "%s_flink-%s" % (release, minor)


def newest_starrocks(minor):
    """The version of the newest StarRocks connector build for a Flink minor (``1.2.15_flink-1.20``), or None."""
    releases = starrocks_releases_for(minor)
    return starrocks_version(releases[-1], minor) if releases else None


def no_starrocks_reason(minor):
    newest = max(STARROCKS_FLINK, key=_key)
    return "no StarRocks connector release supports Flink %s (%sthe newest release, %s, supports Flink %s)" % (
        minor, "there is no Flink 2.x build; " if minor.startswith("2.") else "", newest,
        _span(STARROCKS_FLINK[newest]))


def starrocks_parts(version):
    """``1.2.11_flink-1.20`` -> (``1.2.11``, ``1.20``)."""
    match = re.match(r"^(\d+\.\d+\.\d+)_flink-(\d+\.\d+)$", str(version))
    return match.groups() if match else (None, None)


def _postgres_cdc_advice(artifact, minor, line=None, release=None):
    """``use <groupId>:<artifact>:<version>`` for a build that exists and supports the minor, or why there is none.

    The same release's build for the minor when it has one (the smallest change), else the newest build.
    """
    if line in FLINK_CDC_FLINK and minor in FLINK_CDC_FLINK[line] and release in FLINK_CDC_RELEASES.get(line, ()):
        return "use %s:%s:%s" % (postgres_cdc_group(line), artifact, postgres_cdc_version(release, minor))
    best = newest_postgres_cdc(minor)
    if best is None:
        return no_postgres_cdc_reason(minor)
    group, version, best_line = best
    return "use %s:%s:%s (Flink CDC %s, the newest line for Flink %s)" % (group, artifact, version, best_line, minor)


def _starrocks_advice(minor, release=None):
    """``use <version>`` for StarRocks builds that exist and support the minor, or why there is none."""
    newest = newest_starrocks(minor)
    if newest is None:
        return no_starrocks_reason(minor)
    if release in STARROCKS_FLINK and minor in STARROCKS_FLINK[release]:
        same = starrocks_version(release, minor)
        if same != newest:
            return "use %s or %s (the newest)" % (same, newest)
    return "use %s (the newest for Flink %s)" % (newest, minor)


def _postgres_cdc_problem(name, group, artifact, version, minor, flink_version):
    line, suffix = postgres_cdc_line(version)
    release = version.split("-", 1)[0]
    if line in FLINK_CDC_FLINK and not re.match(r"^\d+\.\d+\.\d+$", release):
        return "%s: a Flink CDC version names its patch release, such as 3.5.0 or 3.6.0-1.20; %s" % (
            name, _postgres_cdc_advice(artifact, minor))
    if line not in FLINK_CDC_FLINK:
        return "%s: unknown Flink CDC version; known lines: %s; %s" % (
            name, ", ".join(sorted(FLINK_CDC_FLINK, key=_key)), _postgres_cdc_advice(artifact, minor))
    supported = FLINK_CDC_FLINK[line]
    if minor not in supported:
        return "%s: Flink CDC %s supports Flink %s, not %s; Flink CDC lines for Flink %s: %s; %s" % (
            name, line, ", ".join(supported), minor, minor, ", ".join(postgres_cdc_lines_for(minor)) or "none",
            _postgres_cdc_advice(artifact, minor))
    if postgres_cdc_suffixed(line) and not suffix:
        return "%s: Flink CDC %s is published once per Flink minor, as <release>-<Flink minor>; %s" % (
            name, line, _postgres_cdc_advice(artifact, minor, line, release))
    if postgres_cdc_suffixed(line) and suffix not in supported:
        return "%s does not exist: Flink CDC %s is built for Flink %s only; %s" % (
            name, line, ", ".join(supported), _postgres_cdc_advice(artifact, minor, line, release))
    if postgres_cdc_suffixed(line) and suffix != minor:
        return "%s is built for Flink %s, but the cluster runs Flink %s; %s" % (
            name, suffix, flink_version, _postgres_cdc_advice(artifact, minor, line, release))
    if suffix and not postgres_cdc_suffixed(line):
        return "%s: Flink CDC %s versions carry no Flink suffix (suffixes start with %s); %s" % (
            name, line, FLINK_CDC_SUFFIXED_FROM, _postgres_cdc_advice(artifact, minor, line, release))
    if group != postgres_cdc_group(line):
        return "%s: Flink CDC %s is published under the groupId %s; %s" % (
            name, line, postgres_cdc_group(line), _postgres_cdc_advice(artifact, minor, line, release))
    return None


def _starrocks_problem(name, version, minor, flink_version):
    release, suffix = starrocks_parts(version)
    if not release:
        return "%s: a StarRocks connector version looks like <release>_flink-<Flink minor>; %s" % (
            name, _starrocks_advice(minor))
    if release not in STARROCKS_FLINK:
        return "%s: unknown StarRocks connector release; known: %s; %s" % (
            name, ", ".join(sorted(STARROCKS_FLINK, key=_key)), _starrocks_advice(minor))
    supported = STARROCKS_FLINK[release]
    if suffix != minor and suffix in supported:
        return "%s is built for Flink %s, but the cluster runs Flink %s; %s" % (
            name, suffix, flink_version, _starrocks_advice(minor, release))
    if minor not in supported or suffix not in supported:
        fits = starrocks_releases_for(minor)
        return "%s%s: StarRocks connector %s supports Flink %s, not %s; releases for Flink %s: %s; %s" % (
            name, " does not exist" if suffix not in supported else "", release, _span(supported),
            suffix if suffix not in supported else minor, minor,
            ", ".join(fits) or "none", _starrocks_advice(minor, release))
    return None


def knows(connector):
    """Whether the tables above judge this connector: a postgres-cdc or StarRocks artifact. Anything else (a
    Kafka or JDBC connector, say) is not in them: ``connector_problem`` finds no problem with it, which is no
    judgement that it fits."""
    return connector.get("artifact_id") in POSTGRES_CDC_ARTIFACTS + (STARROCKS_ARTIFACT,)


def connector_problem(connector, flink_version):
    """None when a connector fits the cluster's Flink version or is not one the matrix ``knows``, else the reason
    and the fix.

    Every fix names a build that the tables above list and that supports the cluster's Flink minor (the
    same release's build when it has one, else the newest), or says that no release supports it.
    """
    artifact = connector.get("artifact_id")
    group = connector.get("group_id")
    version = str(connector.get("version", ""))
    minor = flink_minor(flink_version)
    name = "%s:%s:%s" % (group, artifact, version)
    if not minor:
        return "cannot tell the Flink version from %r" % flink_version
    if artifact in POSTGRES_CDC_ARTIFACTS:
        return _postgres_cdc_problem(name, group, artifact, version, minor, flink_version)
    if artifact == STARROCKS_ARTIFACT:
        return _starrocks_problem(name, version, minor, flink_version)
    return None
