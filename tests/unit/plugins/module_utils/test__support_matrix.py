"""The support matrix and its verdicts (plugins/module_utils/_support_matrix.py)."""

import re

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _support_matrix as compat
from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _support_matrix as matrix
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_data import PG, SR, conn


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
    assert problem.endswith("use org.apache.flink:flink-sql-connector-postgres-cdc:3.6.0-1.20 "
                            "(Flink CDC 3.6, the newest line for Flink 1.20)")


def test_postgres_cdc_2x_group():
    assert compat.connector_problem(conn(PG, "2.4.2", "com.ververica"), "1.17.2") is None
    assert "not 1.18" in compat.connector_problem(conn(PG, "2.4.2", "com.ververica"), "1.18.1")


def test_postgres_cdc_36_suffix_must_match_cluster():
    problem = compat.connector_problem(conn(PG, "3.6.0-2.2"), "1.20.3")
    assert "built for Flink 2.2" in problem
    assert problem.endswith("use org.apache.flink:flink-sql-connector-postgres-cdc:3.6.0-1.20")


def test_postgres_cdc_36_on_a_flink_it_has_no_build_for():
    # The case: "use the 3.6.0-1.17 build" named a build that does not exist.
    problem = compat.connector_problem(conn(PG, "3.6.0-1.20"), "1.17.2")
    assert "Flink CDC 3.6 supports Flink 1.20, 2.2, not 1.17" in problem
    assert problem.endswith("use org.apache.flink:flink-sql-connector-postgres-cdc:3.2.1 "
                            "(Flink CDC 3.2, the newest line for Flink 1.17)")
    assert "3.6.0-1.17" not in problem
    problem = compat.connector_problem(conn(PG, "3.6.0-1.19"), "1.20.3")
    assert "3.6.0-1.19 does not exist: Flink CDC 3.6 is built for Flink 1.20, 2.2 only" in problem


def test_postgres_cdc_on_flink_20_and_21_has_no_release():
    for flink in ("2.0.1", "2.1.3"):
        problem = compat.connector_problem(conn(PG, "3.6.0-2.2"), flink)
        assert "no Flink CDC release supports Flink %s" % flink[:3] in problem
        assert " use " not in problem


def test_postgres_cdc_36_needs_its_suffix_and_older_lines_have_none():
    problem = compat.connector_problem(conn(PG, "3.6.0"), "2.2.0")
    assert problem.endswith("use org.apache.flink:flink-sql-connector-postgres-cdc:3.6.0-2.2")
    problem = compat.connector_problem(conn(PG, "3.5.0-1.20"), "1.20.3")
    assert "Flink CDC 3.5 versions carry no Flink suffix" in problem
    assert problem.endswith("use org.apache.flink:flink-sql-connector-postgres-cdc:3.5.0")


def test_postgres_cdc_group_per_line():
    problem = compat.connector_problem(conn(PG, "3.5.0", "com.ververica"), "1.20.3")
    assert "published under the groupId org.apache.flink" in problem
    problem = compat.connector_problem(conn(PG, "3.0.1"), "1.18.1")
    assert problem.endswith("use com.ververica:flink-sql-connector-postgres-cdc:3.0.1")


def test_unknown_postgres_cdc_line():
    assert "unknown Flink CDC version" in compat.connector_problem(conn(PG, "9.9.0"), "1.20.3")


def test_starrocks_suffix_must_equal_cluster_minor():
    assert compat.connector_problem(conn(SR, "1.2.11_flink-1.20", "com.starrocks"), "1.20.3") is None
    problem = compat.connector_problem(conn(SR, "1.2.11_flink-1.19", "com.starrocks"), "1.20.3")
    assert "built for Flink 1.19" in problem
    assert problem.endswith("use 1.2.11_flink-1.20 or 1.2.15_flink-1.20 (the newest)")


def test_starrocks_release_matrix():
    problem = compat.connector_problem(conn(SR, "1.2.10_flink-1.20", "com.starrocks"), "1.20.3")
    assert "1.2.10_flink-1.20 does not exist" in problem
    assert "supports Flink 1.15 - 1.19, not 1.20" in problem
    assert "releases for Flink 1.20: 1.2.11, 1.2.12, 1.2.13, 1.2.14, 1.2.15" in problem
    assert problem.endswith("use 1.2.15_flink-1.20 (the newest for Flink 1.20)")
    problem = compat.connector_problem(conn(SR, "1.2.11_flink-2.2", "com.starrocks"), "2.2.0")
    assert "no Flink 2.x build" in problem and " use " not in problem
    assert "looks like" in compat.connector_problem(conn(SR, "1.2.11", "com.starrocks"), "1.20.3")


def test_starrocks_advice_never_names_a_missing_build():
    # The cases: "use 1.2.11_flink-2.2" and "use 1.2.9_flink-1.20" named builds that do not exist.
    problem = compat.connector_problem(conn(SR, "1.2.11_flink-1.20", "com.starrocks"), "2.1.3")
    assert "no StarRocks connector release supports Flink 2.1" in problem and "_flink-2.1" not in problem
    problem = compat.connector_problem(conn(SR, "1.2.9_flink-1.18", "com.starrocks"), "1.20.3")
    assert "is built for Flink 1.18" in problem
    assert problem.endswith("use 1.2.15_flink-1.20 (the newest for Flink 1.20)")
    assert "1.2.9_flink-1.20" not in problem


def test_the_matrix_has_no_unreleased_version():
    # 1.2.16 is only the StarRocks connector's HEAD pom version, not a release.
    assert "1.2.16" not in compat.STARROCKS_FLINK
    assert compat.newest_starrocks("1.20") == "1.2.15_flink-1.20"
    assert set(compat.FLINK_CDC_RELEASES) == set(compat.FLINK_CDC_FLINK)


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


# --- The whole matrix: every known build (and a few that do not exist) on every Flink minor from 1.17 to 2.2.
FLINK_VERSIONS = ("1.17.2", "1.18.1", "1.19.3", "1.20.3", "2.0.1", "2.1.3", "2.2.0")
ALL_MINORS = ("1.13", "1.14", "1.15", "1.16", "1.17", "1.18", "1.19", "1.20", "2.0", "2.1", "2.2")
PG_ADVICE = re.compile(r"\buse ([\w.]+):([\w-]+):([\w.-]+?)(?=[\s;,()]|$)")
SR_ADVICE = re.compile(r"\b(?:use|or) (\d+\.\d+\.\d+_flink-\d+\.\d+)\b")


def postgres_cdc_exists_and_fits(group, version, minor):
    """Independent reading of the tables: the build is published and supports the Flink minor."""
    line, suffix = compat.postgres_cdc_line(version)
    release = version.split("-", 1)[0]
    if line not in compat.FLINK_CDC_RELEASES or release not in compat.FLINK_CDC_RELEASES[line]:
        return False
    if group != ("org.apache.flink" if compat._key(line) >= (3, 1) else "com.ververica"):
        return False
    supported = compat.FLINK_CDC_FLINK[line]
    if compat._key(line) >= (3, 6):
        return suffix == minor and minor in supported
    return suffix is None and minor in supported


def starrocks_exists_and_fits(version, minor):
    release, suffix = compat.starrocks_parts(version)
    return release in compat.STARROCKS_FLINK and suffix == minor and minor in compat.STARROCKS_FLINK[release]


def pinned_postgres_cdc():
    for line, releases in compat.FLINK_CDC_RELEASES.items():
        right = "org.apache.flink" if compat._key(line) >= (3, 1) else "com.ververica"
        wrong = "com.ververica" if right == "org.apache.flink" else "org.apache.flink"
        for release in releases:
            versions = ["%s-%s" % (release, m) for m in ALL_MINORS] + [release]
            for version in versions:
                for artifact in compat.POSTGRES_CDC_ARTIFACTS:
                    yield right, artifact, version
            yield wrong, PG, versions[0]
    for version in ("9.9.0", "3.9.0-1.20", "3.5", "latest"):
        yield "org.apache.flink", PG, version


def pinned_starrocks():
    for release in compat.STARROCKS_FLINK:
        for minor in ALL_MINORS:
            yield "%s_flink-%s" % (release, minor)
        yield release
    yield "1.2.16_flink-1.20"
    yield "1.2.15_flink-2.2"


@pytest.mark.parametrize("flink_version", FLINK_VERSIONS)
def test_every_postgres_cdc_fix_names_a_build_that_exists_and_fits(flink_version):
    minor = compat.flink_minor(flink_version)
    newest = compat.newest_postgres_cdc(minor)
    judged = 0
    for group, artifact, version in pinned_postgres_cdc():
        problem = compat.connector_problem(conn(artifact, version, group), flink_version)
        if problem is None:
            assert postgres_cdc_exists_and_fits(group, version, minor), (group, version, flink_version)
            continue
        judged += 1
        advice = PG_ADVICE.findall(problem)
        if newest is None:
            assert not advice and ("no Flink CDC release supports Flink %s" % minor) in problem, problem
            continue
        assert len(advice) == 1, problem
        (g, a, v), = advice
        assert a == artifact, problem
        assert postgres_cdc_exists_and_fits(g, v, minor), problem
        assert compat.connector_problem(conn(a, v, g), flink_version) is None, problem
    assert judged > 50


@pytest.mark.parametrize("flink_version", FLINK_VERSIONS)
def test_every_starrocks_fix_names_a_build_that_exists_and_fits(flink_version):
    minor = compat.flink_minor(flink_version)
    newest = compat.newest_starrocks(minor)
    for version in pinned_starrocks():
        problem = compat.connector_problem(conn(SR, version, "com.starrocks"), flink_version)
        if problem is None:
            assert starrocks_exists_and_fits(version, minor), (version, flink_version)
            continue
        advice = SR_ADVICE.findall(problem)
        if newest is None:
            assert not advice and ("no StarRocks connector release supports Flink %s" % minor) in problem, problem
            assert "no Flink 2.x build" in problem
            continue
        assert advice, problem
        assert newest in advice, problem
        for suggested in advice:
            assert starrocks_exists_and_fits(suggested, minor), problem
            assert compat.connector_problem(conn(SR, suggested, "com.starrocks"), flink_version) is None


@pytest.mark.parametrize("minor, postgres, starrocks", [
    ("1.17", ("org.apache.flink", "3.2.1", "3.2"), "1.2.15_flink-1.17"),
    ("1.18", ("org.apache.flink", "3.2.1", "3.2"), "1.2.15_flink-1.18"),
    ("1.19", ("org.apache.flink", "3.5.0", "3.5"), "1.2.15_flink-1.19"),
    ("1.20", ("org.apache.flink", "3.6.0-1.20", "3.6"), "1.2.15_flink-1.20"),
    ("2.0", None, None),
    ("2.1", None, None),
    ("2.2", ("org.apache.flink", "3.6.0-2.2", "3.6"), None),
    ("1.16", ("org.apache.flink", "3.1.1", "3.1"), "1.2.15_flink-1.16"),
    ("1.15", ("com.ververica", "3.0.1", "3.0"), "1.2.11_flink-1.15"),
])
def test_newest_builds(minor, postgres, starrocks):
    assert compat.newest_postgres_cdc(minor) == postgres
    assert compat.newest_starrocks(minor) == starrocks


@pytest.mark.parametrize("version, minor, expected", [
    ("1.20.3", "1.19", True), ("1.19.0", "1.19", True), ("1.18.1", "1.19", False), ("2.2.0", "1.19", True),
    ("1.16.3", "1.16", True), ("", "1.16", False), (None, "1.16", False), ("unknown", "1.16", False),
])
def test_flink_at_least(version, minor, expected):
    assert compat.flink_at_least(version, minor) is expected


# Flink 2.3: it runs on Java 11, 17 and 21, and no Flink CDC or StarRocks release supports it yet, so every
# verdict names that gap and its fix, as for Flink 2.0 and 2.1.
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
