"""The demo's Flink: the newest bed version for which every connector and the JDBC sink are served."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import artifacts  # noqa: E402

BED_VERSIONS = ("1.17.2", "1.18.1", "1.19.3", "1.20.3", "2.0.1", "2.1.1", "2.2.0")


def test_the_demo_runs_the_newest_flink_with_both_connectors():
    # Flink 1.20 has no served StarRocks build (REFUSED), 2.x no postgres-cdc one: 1.19.3 has both, and JDBC 3.2.0-1.19.
    assert artifacts.demo_flink_version(BED_VERSIONS) == "1.19.3"
    assert [c["artifact_id"] for c in artifacts.demo_connectors("1.19.3")] == [
        "flink-sql-connector-postgres-cdc", "flink-connector-starrocks"]
    assert artifacts.jdbc_sink("1.19.3").version == "3.2.0-1.19"
    assert [c["artifact_id"] for c in artifacts.demo_connectors("1.20.3")] == ["flink-sql-connector-postgres-cdc"]


def test_versions_compare_as_numbers_and_none_with_both_is_an_error():
    assert artifacts.demo_flink_version(("1.18.1", "1.19.3", "1.9.0")) == "1.19.3"
    with pytest.raises(ValueError, match="no Flink version of 1.20.3, 2.2.0 has a served build of every connector"):
        artifacts.demo_flink_version(("1.20.3", "2.2.0"))
