"""Flink 2.3 in the support matrix (plugins/module_utils/_support_matrix.py) and in the role's choice
(plugins/plugin_utils/_connectors.py): it runs on Java 11, 17 and 21, and no Flink CDC or StarRocks release
supports it yet, so every verdict names that gap and its fix, as for Flink 2.0 and 2.1."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _support_matrix as matrix
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connectors

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"
NO_CDC = "no Flink CDC release supports Flink 2.3 (Flink CDC 3.6, the newest line, supports Flink 1.20, 2.2)"
NO_SR = ("no StarRocks connector release supports Flink 2.3 (there is no Flink 2.x build; the newest release, "
         "1.2.15, supports Flink 1.16 - 1.20)")


def test_flink_23_runs_on_java_11_17_21():
    assert matrix.java_versions("2.3.0") == (11, 17, 21)
    assert matrix.java_check("2.3.0", 'openjdk version "11.0.22" 2024-01-16') == (None, None)
    assert matrix.java_check("2.3.0", 'openjdk version "21.0.2" 2024-01-16') == (None, None)
    assert matrix.java_check("2.3.0", 'openjdk version "1.8.0_392"') == (
        "Java 8 is older than Flink 2.3.0's minimum, Java 11 (supported: 11, 17, 21)", None)


def test_no_connector_release_supports_flink_23():
    assert matrix.postgres_cdc_lines_for("2.3") == []
    assert matrix.newest_postgres_cdc("2.3") is None
    assert matrix.starrocks_releases_for("2.3") == []
    assert matrix.newest_starrocks("2.3") is None
    assert matrix.no_postgres_cdc_reason("2.3") == NO_CDC
    assert matrix.no_starrocks_reason("2.3") == NO_SR


@pytest.mark.parametrize("connector, expected", [
    ({"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.6.0-2.2"},
     "org.apache.flink:%s:3.6.0-2.2: Flink CDC 3.6 supports Flink 1.20, 2.2, not 2.3; Flink CDC lines for Flink 2.3: "
     "none; %s" % (PG, NO_CDC)),
    ({"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.5.0"},
     "org.apache.flink:%s:3.5.0: Flink CDC 3.5 supports Flink 1.19, 1.20, not 2.3; Flink CDC lines for Flink 2.3: "
     "none; %s" % (PG, NO_CDC)),
    ({"group_id": "com.starrocks", "artifact_id": SR, "version": "1.2.15_flink-1.20"},
     "com.starrocks:%s:1.2.15_flink-1.20 is built for Flink 1.20, but the cluster runs Flink 2.3.0; %s" % (SR, NO_SR)),
])
def test_a_pinned_connector_on_flink_23_names_the_gap(connector, expected):
    assert matrix.connector_problem(connector, "2.3.0") == expected


def test_the_choice_for_flink_23_fails_each_connector_with_its_fix():
    out = _connectors.choice([], "2.3.0")
    assert out["connectors"] == [] and out["pinned"] is False
    details = {r["check"]: (r["status"], r["detail"]) for r in out["rows"]}
    assert details == {
        PG: ("fail", "cannot choose for Flink 2.3.0: %s. Fix: run a Flink version that Flink CDC supports, or pin "
                     "flink_cdc_connectors" % NO_CDC),
        SR: ("fail", "cannot choose for Flink 2.3.0: %s. Fix: set flink_cdc_starrocks_connector: false to deploy "
                     "without it, or pin flink_cdc_connectors" % NO_SR),
    }


def test_the_supported_versions_table_has_a_flink_23_row():
    assert "2.3" in _connectors.FLINK_MINORS
    rows = [line for line in _connectors.supported_versions_table().splitlines() if line.startswith("| 2.3 |")]
    assert rows == ["| 2.3 | none | none | 11, 17, 21 | %s | not run |" % _connectors.ANSIBLE_CORE]
