"""The known connectors' data against the bed's jars.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import connectors
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import PG2, PG3, jars


# --- data ---------------------------------------------------------------------------------------

def test_known_connector_data_matches_facts_and_bed():
    # The class names of the connectors' META-INF/services files; tests/bed/jars.py builds jars from the same
    # sources independently.
    assert connectors.PG_CDC_FACTORY_2X == jars.PG_CDC_FACTORY_2X
    assert connectors.PG_CDC_FACTORY_3X == jars.PG_CDC_FACTORY_3X
    assert connectors.STARROCKS_FACTORIES == jars.STARROCKS_FACTORIES
    assert connectors.FACTORY_IDENTIFIERS[PG2] == connectors.FACTORY_IDENTIFIERS[PG3] == "postgres-cdc"
    assert {connectors.FACTORY_IDENTIFIERS[f] for f in jars.STARROCKS_FACTORIES} == {"starrocks"}
    assert [c.group_id for c in connectors.connectors_for("flink-sql-connector-postgres-cdc")] == \
        ["com.ververica", "org.apache.flink"]
    assert connectors.connectors_for("flink-sql-connector-postgres-cdc", "com.ververica")[0].required_factory == PG2
    assert all(c.source.startswith(("apache/flink-cdc ", "StarRocks/starrocks-connector-for-apache-flink "))
               for c in connectors.KNOWN_CONNECTORS)
