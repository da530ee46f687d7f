"""Compatibility data and verdicts (FACTS.md matrices)."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _compat as compat
from ansible_collections.cdcops.flink_cdc.plugins.filter.compat import connector_problems, java_verdict

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"


def conn(artifact, version, group="org.apache.flink"):
    return {"group_id": group, "artifact_id": artifact, "version": version}


@pytest.mark.parametrize("version, minor", [("1.20.3", "1.20"), ("2.2.0", "2.2"), ("1.9", "1.9"),
                                            ("", None), (None, None), ("latest", None)])
def test_flink_minor(version, minor):
    assert compat.flink_minor(version) == minor


@pytest.mark.parametrize("version", ["3.5.0", "3.3.0", "3.2.1", "3.6.0-1.20"])
def test_postgres_cdc_fits_flink_120(version):
    assert compat.connector_problem(conn(PG, version), "1.20.3") is None


def test_postgres_cdc_31_does_not_support_120_and_lists_alternatives():
    problem = compat.connector_problem(conn(PG, "3.1.1"), "1.20.3")
    assert "Flink CDC 3.1 supports Flink 1.16, 1.17, 1.18, 1.19, not 1.20" in problem
    assert "Flink CDC lines for Flink 1.20: 3.2, 3.3, 3.4, 3.5, 3.6" in problem


def test_postgres_cdc_2x_group():
    assert compat.connector_problem(conn(PG, "2.4.2", "com.ververica"), "1.17.2") is None
    assert "not 1.18" in compat.connector_problem(conn(PG, "2.4.2", "com.ververica"), "1.18.1")


def test_postgres_cdc_36_suffix_must_match_cluster():
    problem = compat.connector_problem(conn(PG, "3.6.0-2.2"), "1.20.3")
    assert "built for Flink 2.2" in problem and "use the 3.6.0-1.20 build" in problem


def test_unknown_postgres_cdc_line():
    assert "unknown Flink CDC version" in compat.connector_problem(conn(PG, "9.9.0"), "1.20.3")


def test_starrocks_suffix_must_equal_cluster_minor():
    assert compat.connector_problem(conn(SR, "1.2.11_flink-1.20", "com.starrocks"), "1.20.3") is None
    problem = compat.connector_problem(conn(SR, "1.2.11_flink-1.19", "com.starrocks"), "1.20.3")
    assert "built for Flink 1.19" in problem and "use 1.2.11_flink-1.20" in problem


def test_starrocks_release_matrix():
    problem = compat.connector_problem(conn(SR, "1.2.10_flink-1.20", "com.starrocks"), "1.20.3")
    assert "supports Flink 1.15 - 1.19, not 1.20" in problem
    assert "1.2.11, 1.2.12" in problem
    problem = compat.connector_problem(conn(SR, "1.2.11_flink-2.2", "com.starrocks"), "2.2.0")
    assert "no Flink 2.x build" in problem
    assert "looks like" in compat.connector_problem(conn(SR, "1.2.11", "com.starrocks"), "1.20.3")


def test_other_artifacts_are_not_judged():
    assert compat.connector_problem(conn("flink-connector-jdbc", "3.2.0-1.19"), "1.20.3") is None


@pytest.mark.parametrize("output, major", [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('java version "1.8.0_392"', 8),
    ('openjdk version "11.0.22" 2024-01-16', 11),
    ('openjdk version "21" 2023-09-19', 21),
    ("bash: java: command not found", None),
])
def test_java_major(output, major):
    assert compat.java_major(output) == major


def test_java_check_against_flink_120():
    assert compat.java_check("1.20.3", 'openjdk version "17.0.15"') == (None, None)
    error, warning = compat.java_check("1.20.3", 'java version "1.8.0_392"')
    assert "Java 8 is older than Flink 1.20.3's minimum, Java 11" in error and warning is None
    error, warning = compat.java_check("1.20.3", 'openjdk version "21.0.2"')
    assert error is None and "Java 21 is not among" in warning
    error, _warning = compat.java_check("1.20.3", "java: not found")
    assert "cannot tell the Java version" in error
    assert compat.java_check("2.2.0", 'openjdk version "21.0.2"') == (None, None)


def test_filters():
    problems = connector_problems([conn(PG, "3.5.0"), conn(SR, "1.2.11_flink-1.19", "com.starrocks")],
                                  "1.20.3")
    assert len(problems) == 1 and "flink-connector-starrocks" in problems[0]
    verdict = java_verdict('openjdk version "17.0.15"', "1.20.3")
    assert verdict == {"major": 17, "error": None, "warning": None}
