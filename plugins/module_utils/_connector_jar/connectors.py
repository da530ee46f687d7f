# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The connector lines whose jars we know how to check: the factory classes each registers, and what tells its
SQL jar from the thin one. Data, with its sources.

The artifact names and groups here also appear in the support matrix (``plugins/module_utils/_support_matrix.py``:
``POSTGRES_CDC_ARTIFACTS``, ``STARROCKS_ARTIFACT``, ``STARROCKS_GROUP``, ``FLINK_CDC_*_GROUP``), which judges which
release fits which Flink. That file is being reworked separately; until that lands, each keeps its own copy, and
this file is the one place for what the jars contain.
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
PG_CDC_SQL_ARTIFACT = "flink-sql-connector-postgres-cdc"
PG_CDC_THIN_ARTIFACT = "flink-connector-postgres-cdc"

# StarRocks/starrocks-connector-for-apache-flink: docs/content/connector-sink.md and the connector's
# META-INF/services/org.apache.flink.table.factories.Factory.
_SR_SOURCE = "StarRocks/starrocks-connector-for-apache-flink docs/content/connector-sink.md"
STARROCKS_FACTORIES = (
    "com.starrocks.connector.flink.table.sink.StarRocksDynamicTableSinkFactory",
    "com.starrocks.connector.flink.table.source.StarRocksDynamicTableSourceFactory",
    "com.starrocks.connector.flink.catalog.FlinkCatalogFactory",
)

KNOWN_CONNECTORS = (
    Connector("postgres-cdc", "com.ververica", PG_CDC_SQL_ARTIFACT, (PG_CDC_FACTORY_2X,),
              PG_CDC_FACTORY_2X, PG_CDC_SHADED, _PG_SOURCE),
    Connector("postgres-cdc", "org.apache.flink", PG_CDC_SQL_ARTIFACT, (PG_CDC_FACTORY_3X,),
              PG_CDC_FACTORY_3X, PG_CDC_SHADED, _PG_SOURCE),
    Connector("starrocks", "com.starrocks", "flink-connector-starrocks", STARROCKS_FACTORIES,
              STARROCKS_FACTORIES[0], (), _SR_SOURCE),
)

# Artifacts that must never go into Flink's lib/, and what to use instead.
# The thin flink-connector-postgres-cdc jar lacks Debezium's engine and the JDBC driver (apache/flink-cdc
# docs/content/docs/faq/faq.md, General Q2: the SQL jar is the one for lib/).
WRONG_ARTIFACTS = {
    PG_CDC_THIN_ARTIFACT: (
        "flink-connector-postgres-cdc is the thin connector jar: it bundles neither Debezium's engine nor the "
        "PostgreSQL JDBC driver, so Flink fails at runtime with NoClassDefFoundError. Use the SQL "
        "connector jar instead: artifact_id: flink-sql-connector-postgres-cdc (same group_id and version)."
    ),
}

FACTORY_IDENTIFIERS = {f: c.identifier for c in KNOWN_CONNECTORS for f in c.factories}


def connectors_for(artifact_id: str, group_id: t.Optional[str] = None) -> t.List[Connector]:
    """Known connector lines for an artifact (all groups when ``group_id`` is unknown)."""
    return [c for c in KNOWN_CONNECTORS
            if c.artifact_id == artifact_id and (group_id is None or c.group_id == group_id)]


def identifiers_of(factories: t.Iterable[str]) -> t.Set[str]:
    return {FACTORY_IDENTIFIERS[f] for f in factories if f in FACTORY_IDENTIFIERS}
