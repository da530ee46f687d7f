"""The module's jar rules against what the REAL published connector jars contain.

Replays tests/unit/fixtures/jars/real_connectors.json, recorded by tests/bed/record_jars.py from the jars
Maven Central publishes (the real jars are the test of record). No network, no ~/.m2: where a
check needs a jar, one is rebuilt here from the recorded layout (the raw factory service file, one class
per recorded package) and given to the module's own code. The integration test
``test_real_jars_in_the_bed_repository_match_the_record`` checks the real files against the same record.
"""

import json
import os
import sys
import zipfile

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import checksums, connectors, jarfile
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import InvalidJarError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import artifacts  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "unit", "fixtures", "jars", "real_connectors.json")
with open(FIXTURE) as _f:
    RECORD = json.load(_f)
REAL = RECORD["artifacts"]
THIN = RECORD["thin"]
PG_SHADED_ROOT = "org/apache/flink/cdc/connectors/shaded/"
IDENTIFIERS = {"flink-sql-connector-postgres-cdc": "postgres-cdc", "flink-connector-starrocks": "starrocks"}


def coords(a):
    return "%s:%s:%s" % (a["group_id"], a["artifact_id"], a["version"])


def by_kind(artifact_id):
    return [a for a in REAL if a["artifact_id"] == artifact_id]


def rebuild(record, path):
    """A jar with the recorded layout: manifest, the raw factory service file, one class per package."""
    with zipfile.ZipFile(str(path), "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n%s\r\n" % "".join(
            "%s: %s\r\n" % item for item in sorted(record["manifest"].items())))
        for service in record["services"]:
            jar.writestr(service, record["factory_service"] if service == jarfile.FACTORY_SERVICE else "x\n")
        for package in record["packages"]:
            jar.writestr("%s/Recorded.class" % package, b"\xca\xfe\xba\xbe")
    return str(path)


def test_the_record_covers_the_bed_table():
    """The fixture was recorded for exactly the artifacts the bed uses (rerun record_jars.py if not)."""
    assert [coords(a) for a in REAL] == [a.coordinates for a in artifacts.CONNECTORS]
    assert [(a["connector"], a["role"]) for a in REAL] == [(a.connector, a.role) for a in artifacts.CONNECTORS]
    assert coords(THIN) == artifacts.THIN_PG_CDC.coordinates
    assert RECORD["refused"] == {k: list(v) for k, v in artifacts.REFUSED.items()}
    for a in REAL + [THIN]:
        path = "%s/%s/%s/%s-%s.jar" % (a["group_id"].replace(".", "/"), a["artifact_id"], a["version"],
                                       a["artifact_id"], a["version"])
        assert a["url"] == "%s/%s" % (artifacts.MAVEN_CENTRAL, path)
        # Maven's own record of the artifact inside the jar names the same coordinates.
        assert a["pom_properties"] == {"groupId": a["group_id"], "artifactId": a["artifact_id"],
                                       "version": a["version"]}
        assert a["size"] > 0 and a["entries"] > a["classes"] > 0


@pytest.mark.parametrize("record", REAL + [THIN], ids=coords)
def test_published_sidecar_is_accepted(record):
    assert checksums.parse_sidecar(record["sha1"], "sha1").hexdigest == record["sha1"]


@pytest.mark.parametrize("record", REAL + [THIN], ids=coords)
def test_parse_services_reads_the_real_file_with_its_license_header(record):
    raw = record["factory_service"]
    assert raw.splitlines()[0].startswith("# Licensed"), raw  # an Apache license header in '#' comments
    assert jarfile._parse_services(raw.encode("utf-8")) == tuple(record["factories"])
    assert record["factories"] and not any("#" in f or " " in f for f in record["factories"])


@pytest.mark.parametrize("record", REAL, ids=coords)
def test_real_factories_are_the_known_connector(record):
    (connector,) = connectors.connectors_for(record["artifact_id"], record["group_id"])
    assert set(record["factories"]) == set(connector.factories)
    assert connector.required_factory in record["factories"]
    assert connectors.identifiers_of(record["factories"]) == {IDENTIFIERS[record["artifact_id"]]}
    assert jarfile.FACTORY_SERVICE in record["services"]


@pytest.mark.parametrize("record", by_kind("flink-sql-connector-postgres-cdc"), ids=coords)
def test_postgres_cdc_sql_jar_bundles_debezium_and_pgjdbc_unrelocated(record):
    packages, relocated = record["packages"], record["relocated"]
    # The module's thin-jar rule: every PG_CDC_SHADED fragment occurs in some entry name.
    names = [p + "/" for p in packages]
    assert [m for m in connectors.PG_CDC_SHADED if not any(m in n for n in names)] == []
    # Debezium, pgjdbc and HikariCP keep their package names (apache/flink-cdc
    # flink-sql-connector-postgres-cdc/pom.xml, shade includes and relocations) ...
    assert packages["io/debezium/connector"] > 100 and packages["io/debezium/embedded"] > 0
    assert packages["org/postgresql/jdbc"] > 50 and packages["org/postgresql/replication"] > 0
    assert packages["com/zaxxer/hikari"] > 0
    assert not [p for p in relocated if p.split("/shaded/", 1)[1].startswith(("io/debezium", "org/postgresql"))]
    # ... and Kafka, Guava (and protobuf, also com.google) and Jackson are relocated under the connector's root.
    for lib in ("org/apache/kafka", "com/google/common", "com/google/protobuf", "com/fasterxml/jackson"):
        assert relocated[PG_SHADED_ROOT + lib] > 100, lib
    assert not [p for p in packages if p.startswith(("org/apache/kafka", "com/google", "com/fasterxml"))]
    assert record["manifest"] == {"Implementation-Title": record["artifact_id"],
                                  "Implementation-Version": record["version"]}


@pytest.mark.parametrize("record", by_kind("flink-connector-starrocks"), ids=coords)
def test_starrocks_jar_bundles_the_mysql_driver_unrelocated(record):
    # mysql-connector-java 5.1.49, package com.mysql.jdbc, kept as is; the rest under com/starrocks
    # (StarRocks/starrocks-connector-for-apache-flink pom.xml, shade plugin).
    assert record["packages"]["com/mysql/jdbc"] > 100
    assert "META-INF/services/java.sql.Driver" in record["services"]
    assert {p.split("/")[0] for p in record["packages"]} == {"com", "org"}
    assert all(p.startswith(("com/starrocks/", "com/mysql/", "org/gjt/")) for p in record["packages"])
    assert record["manifest"] == {}  # no Implementation-Title/-Version: only pom.properties names it


@pytest.mark.parametrize("record", REAL, ids=coords)
def test_the_module_accepts_the_real_layout(record, tmp_path):
    path = rebuild(record, tmp_path / ("%s-%s.jar" % (record["artifact_id"], record["version"])))
    (connector,) = connectors.connectors_for(record["artifact_id"], record["group_id"])
    info = jarfile.validate_jar(path, "the jar", expected_factories=connector.factories)
    assert info.factories == tuple(record["factories"])
    assert jarfile.read_factories(path) == tuple(record["factories"])


def test_the_real_thin_jar_is_refused_as_thin(tmp_path):
    # The real thin jar carries flink-cdc's patched Debezium classes (io/debezium/connector/postgresql/...), but
    # neither Debezium's engine nor pgjdbc: both PG_CDC_SHADED fragments are absent from it.
    assert THIN["packages"]["io/debezium/connector"] > 0
    assert not [p for p in THIN["packages"] if p.startswith("org/postgresql")]
    assert THIN["factories"] == [connectors.PG_CDC_FACTORY_3X]
    path = rebuild(THIN, tmp_path / "flink-connector-postgres-cdc-3.5.0.jar")
    with pytest.raises(InvalidJarError, match="thin connector jar") as err:
        jarfile.validate_jar(path, "the jar")
    assert "org/postgresql/" in str(err.value)
    assert "carries no io/debezium/embedded/ or org/postgresql/jdbc/ classes" in str(err.value)
    with pytest.raises(InvalidJarError, match="Refusing flink-connector-postgres-cdc"):
        jarfile.refuse_wrong_artifact(THIN["artifact_id"])
