# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The connectors this collection knows, in one place: their Maven coordinates (groupIds, artifactIds), the Flink
table factory identifiers they register, the factory classes each jar lists, and what tells a SQL jar from the thin
one. Data, with its sources.

Everything that names a connector imports it from here: the support matrix (``plugins/module_utils/_support_matrix.py``,
which release fits which Flink), the connector choice (``plugins/plugin_utils/_connector_choice.py``), the smoke job
(``plugins/plugin_utils/_smoke.py``) and the jar checks of this package. The file stays standard library only and
imports nothing outside this package: flink_connector_jar sends the package to hosts as it is.
"""

from __future__ import annotations

import typing as t


class Connector(t.NamedTuple):
    """A connector line whose jar we know how to check."""

    identifier: str  # the Flink table factory identifier it registers
    group_id: str
    artifact_id: str
    factories: t.Tuple[str, ...]  # every factory class the jar registers
    required_factory: str  # must be listed in the jar's META-INF/services/org.apache.flink.table.factories.Factory
    # Entry-name fragments of dependencies the SQL jar bundles and the thin jar lacks; a jar that registers
    # the factory without them is the thin jar.
    shaded: t.Tuple[str, ...] = ()
    source: str = ""


# Maven groupIds of Flink CDC: com.ververica up to 3.0, org.apache.flink from 3.1 (apache/flink-cdc root pom.xml at
# release-3.0.1 and release-3.1.0); which line is published under which is the support matrix's business.
FLINK_CDC_APACHE_GROUP = "org.apache.flink"
FLINK_CDC_VERVERICA_GROUP = "com.ververica"
# The SQL connector jar (the one for Flink's lib/) and the thin connector jar: apache/flink-cdc
# flink-sql-connector-postgres-cdc/pom.xml and flink-connector-postgres-cdc/pom.xml.
PG_CDC_SQL_ARTIFACT = "flink-sql-connector-postgres-cdc"
PG_CDC_THIN_ARTIFACT = "flink-connector-postgres-cdc"
# The table factory identifier every line registers (PostgreSQLTableFactory.IDENTIFIER in apache/flink-cdc
# flink-connector-postgres-cdc, at release-2.4.2 and release-3.6.0): the 'connector' option of a source table.
PG_CDC_IDENTIFIER = "postgres-cdc"

# The postgres-cdc connector's META-INF/services/org.apache.flink.table.factories.Factory in apache/flink-cdc at
# the tags release-2.4.2, release-3.0.1, release-3.1.0, release-3.5.0 and release-3.6.0 (the package moved from
# com.ververica to org.apache.flink in 3.1), and the published jars (tests/unit/fixtures/jars/real_connectors.json).
_PG_SOURCE = ("apache/flink-cdc flink-connector-postgres-cdc "
              "META-INF/services/org.apache.flink.table.factories.Factory at release-2.4.2, release-3.0.1, "
              "release-3.1.0, release-3.5.0, release-3.6.0")
PG_CDC_FACTORY_2X = "com.ververica.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PG_CDC_FACTORY_3X = "org.apache.flink.cdc.connectors.postgres.table.PostgreSQLTableFactory"
# The SQL jar bundles Debezium (its embedded engine included) and the PostgreSQL JDBC driver without relocating
# them (apache/flink-cdc flink-sql-connector-postgres-cdc/pom.xml, shade includes; confirmed on the published
# 3.3.0 and 3.5.0 jars, tests/unit/fixtures/jars/real_connectors.json). The thin flink-connector-postgres-cdc
# jar carries a few patched io/debezium/connector classes of its own, so only these tell the two apart.
PG_CDC_SHADED = ("io/debezium/embedded/", "org/postgresql/jdbc/")

# StarRocks/starrocks-connector-for-apache-flink: docs/content/connector-sink.md (coordinates
# com.starrocks:flink-connector-starrocks:<release>_flink-<Flink minor>, identifier 'starrocks') and the
# connector's META-INF/services/org.apache.flink.table.factories.Factory.
_SR_SOURCE = "StarRocks/starrocks-connector-for-apache-flink docs/content/connector-sink.md"
STARROCKS_GROUP = "com.starrocks"
STARROCKS_ARTIFACT = "flink-connector-starrocks"
STARROCKS_IDENTIFIER = "starrocks"
STARROCKS_FACTORIES = (
    "com.starrocks.connector.flink.table.sink.StarRocksDynamicTableSinkFactory",
    "com.starrocks.connector.flink.table.source.StarRocksDynamicTableSourceFactory",
    "com.starrocks.connector.flink.catalog.FlinkCatalogFactory",
)

KNOWN_CONNECTORS = (
    Connector(PG_CDC_IDENTIFIER, FLINK_CDC_VERVERICA_GROUP, PG_CDC_SQL_ARTIFACT, (PG_CDC_FACTORY_2X,),
              PG_CDC_FACTORY_2X, PG_CDC_SHADED, _PG_SOURCE),
    Connector(PG_CDC_IDENTIFIER, FLINK_CDC_APACHE_GROUP, PG_CDC_SQL_ARTIFACT, (PG_CDC_FACTORY_3X,),
              PG_CDC_FACTORY_3X, PG_CDC_SHADED, _PG_SOURCE),
    Connector(STARROCKS_IDENTIFIER, STARROCKS_GROUP, STARROCKS_ARTIFACT, STARROCKS_FACTORIES,
              STARROCKS_FACTORIES[0], (), _SR_SOURCE),
)

# Artifacts that must never go into Flink's lib/, and what to use instead.
# The thin flink-connector-postgres-cdc jar lacks Debezium's engine and the JDBC driver (apache/flink-cdc
# docs/content/docs/faq/faq.md, General Q2: the SQL jar is the one for lib/).
WRONG_ARTIFACTS = {
    PG_CDC_THIN_ARTIFACT: (
        "%s is the thin connector jar: it bundles neither Debezium's engine nor the PostgreSQL JDBC driver, so "
        "Flink fails at runtime with NoClassDefFoundError. Use the SQL connector jar instead: artifact_id: %s "
        "(same group_id and version)." % (PG_CDC_THIN_ARTIFACT, PG_CDC_SQL_ARTIFACT)
    ),
}

FACTORY_IDENTIFIERS = {f: c.identifier for c in KNOWN_CONNECTORS for f in c.factories}


def connectors_for(artifact_id: str, group_id: t.Optional[str] = None) -> t.List[Connector]:
    """Known connector lines for an artifact (all groups when ``group_id`` is unknown)."""
    return [c for c in KNOWN_CONNECTORS
            if c.artifact_id == artifact_id and (group_id is None or c.group_id == group_id)]


def identifiers_of(factories: t.Iterable[str]) -> t.Set[str]:
    return {FACTORY_IDENTIFIERS[f] for f in factories if f in FACTORY_IDENTIFIERS}
