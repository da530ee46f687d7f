"""What makes a file a connector jar: manifest, factory services, CRCs, thin jars.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.

The last part checks the module's jar rules against what the REAL published connector jars contain.

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
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import (
    PG2,
    PG3,
    jars,
    starrocks,
)


# --- jar validation -------------------------------------------------------------------------------

def test_valid_sql_connector_jars(tmp_path):
    path = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    info = jarfile.validate_jar(path, "pg", [PG3])
    assert info.factories == (PG3,)
    assert jarfile.read_factories(path) == (PG3,)
    old = jars.published_path(str(tmp_path / "repo"), "2.4.2")
    assert jarfile.validate_jar(old, "pg", [PG2, PG3]).factories == (PG2,)
    sr = str(tmp_path / "repo" / jars.publish_starrocks(str(tmp_path / "repo"), "1.2.11_flink-1.20"))
    assert set(jarfile.validate_jar(sr, "sr", [connectors.STARROCKS_FACTORIES[0]]).factories) == set(connectors.STARROCKS_FACTORIES)


def test_thin_jar_is_refused_with_a_hint(tmp_path):
    thin = jars.published_path(str(tmp_path / "repo"), "3.1.0", thin=True)
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(thin, "thin", [PG3])
    assert "thin connector jar" in err.value.msg and "flink-sql-connector-postgres-cdc" in err.value.msg
    with pytest.raises(InvalidJarError) as err:
        jarfile.refuse_wrong_artifact("flink-connector-postgres-cdc")
    assert "artifact_id: flink-sql-connector-postgres-cdc" in err.value.msg
    jarfile.refuse_wrong_artifact("flink-sql-connector-postgres-cdc")


def test_wrong_factory_is_refused(tmp_path):
    sr = str(tmp_path / "repo" / jars.publish_starrocks(str(tmp_path / "repo"), "1.2.11_flink-1.20"))
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(sr, "sr as pg", [PG3])
    assert "does not register " + PG3 in err.value.msg


def test_missing_manifest_is_refused(tmp_path):
    path = jars.build_jar(str(tmp_path / "x-1.jar"), factories=(PG3,), manifest=False)
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(path, "x")
    assert "MANIFEST.MF" in err.value.msg


@pytest.mark.parametrize("size", [0, 300_000])
def test_test_jars_are_reproducible(tmp_path, size):
    # The tests compare hosts' lib/ byte for byte: a jar must not carry the time it was built.
    kw = dict(factories=(PG3,), classes=("a.B",), title="t", version="1", size=size)
    one, two = (jars.build_jar(str(tmp_path / n), **kw) for n in ("one.jar", "two.jar"))
    assert open(one, "rb").read() == open(two, "rb").read()
    with zipfile.ZipFile(one) as z:
        assert {i.date_time for i in z.infolist()} == {jars.ZIP_DATE}


@pytest.mark.parametrize("size", [0, 300_000])
def test_bad_crc_is_refused(tmp_path, size):
    path = jars.build_jar(str(tmp_path / "x-1.jar"), factories=("x.Factory",), classes=("a.B", "c.D"), size=size)
    jarfile.validate_jar(path, "x")
    entry = jars.corrupt_entry(path)
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(path, "x")
    assert "corrupt" in err.value.msg
    # The central directory is intact, so only reading every entry finds it.
    assert jarfile.validate_jar(path, "x", check_entries=False).entries > 0
    assert entry


def test_truncated_and_html_files_are_not_jars(tmp_path):
    good = jars.published_path(str(tmp_path / "repo"))
    data = open(good, "rb").read()
    cut = tmp_path / "cut.jar"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(str(cut), "cut")
    assert "truncated or corrupt" in err.value.msg
    page = tmp_path / "page.jar"
    page.write_bytes(b"<!DOCTYPE html><html><body>Please sign in</body></html>")
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(str(page), "page")
    assert "HTML page" in err.value.msg
    junk = tmp_path / "junk.jar"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InvalidJarError):
        jarfile.read_factories(str(junk))


def test_services_file_comments_and_blank_lines(tmp_path):
    path = str(tmp_path / "x-1.jar")
    import zipfile
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(jarfile.MANIFEST, "Manifest-Version: 1.0\r\n\r\n")
        z.writestr(jarfile.FACTORY_SERVICE, "# licence header\n\n  %s  # trailing\n%s\n" % (PG3, PG3))
    assert jarfile.read_factories(path) == (PG3,)


# --- reading what a jar registers without parsing all its entries ---------------------------------

def _by_zipfile(path):
    import zipfile
    with zipfile.ZipFile(path) as jar:
        return jarfile._services_of(jar)


def _fast(path):
    with open(path, "rb") as f:
        return jarfile._factories_in_central_directory(f, os.path.getsize(path))


def _jar_with(path, entries, comment=b"", compression=None):
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.comment = comment
        for name, data in entries:
            z.writestr(name, data, compress_type=compression)
    return path


SERVICES = "# comment\n%s\n\n%s  \n%s\n" % (PG3, connectors.STARROCKS_FACTORIES[0], PG3)


@pytest.mark.parametrize("entries, comment, compression", [
    ([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"), (jarfile.FACTORY_SERVICE, SERVICES)], b"", None),
    ([(jarfile.FACTORY_SERVICE, SERVICES), ("a/B.class", "x" * 5000)], b"", 0),  # stored
    ([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"), ("a/B.class", "x")], b"", None),  # registers nothing
    ([("x/" + jarfile.FACTORY_SERVICE, "not this one"), (jarfile.FACTORY_SERVICE, SERVICES)], b"", None),
    ([(jarfile.FACTORY_SERVICE, SERVICES)], b"an archive comment", None),
    ([("M" * 40 + jarfile.FACTORY_SERVICE, "a longer name ending in the service name")], b"", None),
])
def test_factories_from_the_central_directory_are_zipfiles(tmp_path, entries, comment, compression):
    path = _jar_with(str(tmp_path / "a-1.jar"), entries, comment, compression)
    assert _fast(path) == _by_zipfile(path) == jarfile.read_factories(path)


def test_factories_of_real_connector_jars_come_from_the_central_directory(tmp_path):
    for path in (jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path),
                 jars.published_path(str(tmp_path / "repo"), "2.4.2")):
        assert _fast(path) == _by_zipfile(path) == jarfile.read_factories(path) != ()


def test_unusual_jars_are_left_to_zipfile(tmp_path):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        twice = _jar_with(str(tmp_path / "twice.jar"), [(jarfile.FACTORY_SERVICE, PG2), (jarfile.FACTORY_SERVICE, PG3)])
    assert _fast(twice) is None
    assert jarfile.read_factories(twice) == _by_zipfile(twice) == (PG3,)  # zipfile's answer: the last one
    normal = _jar_with(str(tmp_path / "normal.jar"), [(jarfile.FACTORY_SERVICE, SERVICES)])
    prefixed = tmp_path / "prefixed.jar"  # data before the zip: not what a jar in lib/ looks like
    with open(normal, "rb") as f:
        prefixed.write_bytes(b"#!/bin/sh\nexec java -jar \"$0\"\n" + f.read())
    assert _fast(str(prefixed)) is None
    with pytest.raises(InvalidJarError):
        jarfile.read_factories(str(prefixed))
    damaged = _jar_with(str(tmp_path / "damaged.jar"), [(jarfile.FACTORY_SERVICE, SERVICES * 20)], compression=0)
    jars.corrupt_entry(damaged, jarfile.FACTORY_SERVICE)
    assert _fast(damaged) is None
    with pytest.raises(InvalidJarError) as err:
        jarfile.read_factories(damaged)
    assert "CRC" in err.value.msg
    assert jarfile.safe_factories(damaged) == ()


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))
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
