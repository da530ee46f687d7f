"""Maven coordinates, repository layout, metadata and the nearest versions.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import maven
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import UnsafeNameError
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import jars


# --- coordinates and paths ------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (("org.apache.flink", "flink-sql-connector-postgres-cdc", "3.1.0"),
     "org/apache/flink/flink-sql-connector-postgres-cdc/3.1.0/flink-sql-connector-postgres-cdc-3.1.0.jar"),
    (("com.starrocks", "flink-connector-starrocks", "1.2.11_flink-1.20"),
     "com/starrocks/flink-connector-starrocks/1.2.11_flink-1.20/flink-connector-starrocks-1.2.11_flink-1.20.jar"),
    (("org.apache.flink", "flink-sql-connector-postgres-cdc", "3.6.0-1.20"),
     "org/apache/flink/flink-sql-connector-postgres-cdc/3.6.0-1.20/flink-sql-connector-postgres-cdc-3.6.0-1.20.jar"),
    (("com.example", "thing", "1.0", "tests"), "com/example/thing/1.0/thing-1.0-tests.jar"),
])
def test_maven_path_follows_the_layout(args, expected):
    assert maven.maven_path(*args) == expected
    assert maven.maven_path(*args) == jars.maven_path(*args)


def test_maven_url_joins_without_double_slash():
    url = maven.maven_url("https://repo1.maven.org/maven2/", "com.starrocks", "flink-connector-starrocks", "1.2.11_flink-1.20")
    assert url == ("https://repo1.maven.org/maven2/com/starrocks/flink-connector-starrocks/1.2.11_flink-1.20/"
                   "flink-connector-starrocks-1.2.11_flink-1.20.jar")


@pytest.mark.parametrize("group, artifact, version, classifier", [
    ("org.apache.flink", "flink-sql-connector-postgres-cdc", "../../x", None),
    ("org.apache.flink", "flink-sql-connector-postgres-cdc", "..", None),
    ("org.apache.flink", "flink-sql-connector-postgres-cdc", "3.1.0/../../../etc", None),
    ("org.apache.flink", "../flink", "3.1.0", None),
    ("org.apache.flink", "a/b", "3.1.0", None),
    ("org..apache", "x", "1", None),
    ("org/apache", "x", "1", None),
    (".hidden", "x", "1", None),
    ("org.apache.flink", ".x", "1", None),
    ("org.apache.flink", "x", "1", "../y"),
    ("org.apache.flink", "x", "1 2", None),
    ("org.apache.flink", "x", "", None),
    ("", "x", "1", None),
])
def test_coordinates_refuse_traversal_and_odd_characters(group, artifact, version, classifier):
    with pytest.raises(UnsafeNameError) as err:
        maven.maven_path(group, artifact, version, classifier)
    assert "Nothing was changed" in err.value.msg


@pytest.mark.parametrize("name, expected", [
    ("flink-sql-connector-postgres-cdc-3.1.0.jar", ("flink-sql-connector-postgres-cdc", "3.1.0")),
    ("flink-connector-starrocks-1.2.11_flink-1.20.jar", ("flink-connector-starrocks", "1.2.11_flink-1.20")),
    ("flink-sql-connector-postgres-cdc-3.6.0-1.20.jar", ("flink-sql-connector-postgres-cdc", "3.6.0-1.20")),
    ("foo.jar", None),
])
def test_split_jar_name(name, expected):
    assert maven.split_jar_name(name) == expected


# --- versions ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("wanted, versions, nearest", [
    ("9.9.9", ["3.3.0", "3.5.0"], ["3.5.0", "3.3.0"]),
    ("3.4.0", ["2.4.2", "3.3.0", "3.5.0", "3.6.0-1.20"], ["3.5.0", "3.3.0", "3.6.0-1.20", "2.4.2"]),
    ("3.3.1", ["3.3.0", "3.5.0", "3.3.0"], ["3.3.0", "3.5.0"]),
    ("1.2.11_flink-1.20", ["1.2.10_flink-1.19", "1.2.11_flink-1.19", "1.2.12_flink-1.20"],
     ["1.2.11_flink-1.19", "1.2.12_flink-1.20", "1.2.10_flink-1.19"]),
    ("3.0.1", ["3.0.0-SNAPSHOT", "3.0.0"], ["3.0.0-SNAPSHOT", "3.0.0"]),
])
def test_nearest_versions(wanted, versions, nearest):
    assert maven.nearest_versions(wanted, versions) == nearest


def test_metadata_url_is_maven_centrals_layout():
    assert maven.metadata_url("https://repo1.maven.org/maven2/", "org.apache.flink", "flink-sql-connector-postgres-cdc") \
        == "https://repo1.maven.org/maven2/org/apache/flink/flink-sql-connector-postgres-cdc/maven-metadata.xml"
