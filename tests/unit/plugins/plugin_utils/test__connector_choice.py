"""The role's connector choice (plugin_utils/_connector_choice.py): pinned lists kept, defaults that follow the
cluster, the report rows."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _support_matrix
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connector_choice

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"
FLINK_VERSIONS = ("1.17.2", "1.18.1", "1.19.3", "1.20.3", "2.0.1", "2.1.3", "2.2.0")


def coords(connectors):
    return [_connector_choice.coordinates(c) for c in connectors]


@pytest.mark.parametrize("flink_version, expected", [
    ("1.17.2", ["org.apache.flink:%s:3.2.1" % PG, "com.starrocks:%s:1.2.15_flink-1.17" % SR]),
    ("1.18.1", ["org.apache.flink:%s:3.2.1" % PG, "com.starrocks:%s:1.2.15_flink-1.18" % SR]),
    ("1.19.3", ["org.apache.flink:%s:3.5.0" % PG, "com.starrocks:%s:1.2.15_flink-1.19" % SR]),
    ("1.20.3", ["org.apache.flink:%s:3.6.0-1.20" % PG, "com.starrocks:%s:1.2.15_flink-1.20" % SR]),
    ("2.0.1", []),
    ("2.1.3", []),
    ("2.2.0", ["org.apache.flink:%s:3.6.0-2.2" % PG]),
])
def test_defaults_per_flink(flink_version, expected):
    assert coords(_connector_choice.default_connectors(flink_version)) == expected
    assert coords(_connector_choice.default_connectors(flink_version, starrocks=False)) == [c for c in expected if SR not in c]


@pytest.mark.parametrize("flink_version", FLINK_VERSIONS)
def test_every_default_exists_in_the_tables_and_fits(flink_version):
    minor = _support_matrix.flink_minor(flink_version)
    for connector in _connector_choice.default_connectors(flink_version):
        assert _support_matrix.connector_problem(connector, flink_version) is None, connector
        version = connector["version"]
        if connector["artifact_id"] == PG:
            line, suffix = _support_matrix.postgres_cdc_line(version)
            assert version.split("-")[0] in _support_matrix.FLINK_CDC_RELEASES[line]
            assert minor in _support_matrix.FLINK_CDC_FLINK[line]
            assert connector["group_id"] == _support_matrix.postgres_cdc_group(line) == "org.apache.flink"
            assert suffix == (minor if _support_matrix.postgres_cdc_suffixed(line) else None)
            # The newest line that supports this Flink, and its newest release.
            newer = [cdc for cdc, flinks in _support_matrix.FLINK_CDC_FLINK.items()
                     if minor in flinks and _support_matrix._key(cdc) > _support_matrix._key(line)]
            assert not newer
            assert version.split("-")[0] == max(_support_matrix.FLINK_CDC_RELEASES[line], key=_support_matrix._key)
        else:
            release, suffix = _support_matrix.starrocks_parts(version)
            assert suffix == minor and minor in _support_matrix.STARROCKS_FLINK[release]
            assert release == max((r for r, flinks in _support_matrix.STARROCKS_FLINK.items() if minor in flinks),
                                  key=_support_matrix._key)


def test_pinned_list_is_never_replaced():
    pinned = [{"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.3.0"}]
    out = _connector_choice.choice(pinned, "1.20.3")
    assert out["pinned"] is True and out["connectors"] == pinned
    assert out["rows"] == [{"host": "controller", "area": "Connectors", "check": PG, "status": "ok",
                            "detail": "pinned: org.apache.flink:%s:3.3.0 fits Flink 1.20.3" % PG}]
    assert out["summary"] == "pinned (flink_cdc_connectors): org.apache.flink:%s:3.3.0" % PG
    # Even one that does not fit: it fails with the fix, and is still the list.
    wrong = [{"group_id": "com.starrocks", "artifact_id": SR, "version": "1.2.11_flink-1.18"}]
    out = _connector_choice.choice(wrong, "1.20.3", starrocks=False)
    assert out["connectors"] == wrong
    (row,) = out["rows"]
    assert row["status"] == "fail" and row["detail"].startswith("pinned: com.starrocks:%s:1.2.11_flink-1.18 is built"
                                                                % SR)
    assert "use 1.2.11_flink-1.20 or 1.2.15_flink-1.20 (the newest)" in row["detail"]


def test_pinned_connector_the_matrix_does_not_know_is_not_claimed_to_fit():
    # A Kafka connector built for Flink 2.0, pinned beside a postgres-cdc build on a Flink 1.20 cluster: the support
    # matrix has no table for Kafka, so its row says it was not checked (skip), never that it fits.
    kafka = {"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-kafka", "version": "4.0.1-2.0"}
    pinned = [{"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.3.0"}, kafka]
    out = _connector_choice.choice(pinned, "1.20.3")
    assert out["connectors"] == pinned
    pg, other = out["rows"]
    assert pg["status"] == "ok" and pg["detail"] == "pinned: org.apache.flink:%s:3.3.0 fits Flink 1.20.3" % PG
    assert other == {"host": "controller", "area": "Connectors", "check": "flink-sql-connector-kafka", "status": "skip",
                     "detail": "pinned: org.apache.flink:flink-sql-connector-kafka:4.0.1-2.0: not in the support matrix, "
                               "so not checked against Flink 1.20.3"}
    assert not [r for r in out["rows"] if "kafka" in r["detail"] and "fits" in r["detail"]]
    # The thin postgres-cdc jar and the StarRocks connector are in the matrix: judged, never skipped.
    thin = {"group_id": "org.apache.flink", "artifact_id": "flink-connector-postgres-cdc", "version": "3.3.0"}
    starrocks = {"group_id": "com.starrocks", "artifact_id": SR, "version": "1.2.15_flink-1.20"}
    assert [r["status"] for r in _connector_choice.choice([thin, starrocks], "1.20.3")["rows"]] == ["ok", "ok"]
    # With the Flink version unknown, nothing is checked either way.
    (row,) = _connector_choice.choice([kafka], "")["rows"]
    assert row["status"] == "skip" and row["detail"].endswith(": Flink version unknown")


def test_pinned_with_unknown_flink_is_skipped():
    pinned = [{"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.5.0"}]
    (row,) = _connector_choice.choice(pinned, "")["rows"]
    assert row["status"] == "skip" and row["detail"] == "pinned: org.apache.flink:%s:3.5.0: Flink version unknown" % PG


def test_chosen_rows_say_what_and_why():
    out = _connector_choice.choice([], "1.18.1")
    assert out["pinned"] is False
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.2.1" % PG, "com.starrocks:%s:1.2.15_flink-1.18" % SR]
    assert [(r["check"], r["status"], r["detail"]) for r in out["rows"]] == [
        (PG, "ok", "chosen for Flink 1.18.1: org.apache.flink:%s:3.2.1 (Flink CDC 3.2, the newest line supporting "
                   "Flink 1.18)" % PG),
        (SR, "ok", "chosen for Flink 1.18.1: com.starrocks:%s:1.2.15_flink-1.18 (StarRocks connector 1.2.15, the "
                   "newest release for Flink 1.18)" % SR),
    ]
    assert out["summary"] == ("chosen for Flink 1.18.1: org.apache.flink:%s:3.2.1, "
                              "com.starrocks:%s:1.2.15_flink-1.18" % (PG, SR))


def test_no_starrocks_build_for_flink_2_fails_once_with_the_fix():
    out = _connector_choice.choice([], "2.2.0")
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.6.0-2.2" % PG]
    rows = {r["check"]: r for r in out["rows"]}
    assert rows[PG]["status"] == "ok"
    sink = rows[SR]
    assert sink["status"] == "fail"
    assert "no StarRocks connector release supports Flink 2.2 (there is no Flink 2.x build" in sink["detail"]
    assert "set flink_cdc_starrocks_connector: false" in sink["detail"] and "pin flink_cdc_connectors" in sink["detail"]
    assert len([r for r in out["rows"] if r["status"] == "fail"]) == 1


def test_starrocks_switched_off():
    out = _connector_choice.choice([], "2.2.0", starrocks=False)
    assert [r["status"] for r in out["rows"]] == ["ok", "skip"]
    assert out["rows"][1]["detail"] == "not chosen: flink_cdc_starrocks_connector is false"
    out = _connector_choice.choice([], "1.20.3", starrocks=False)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.6.0-1.20" % PG]


@pytest.mark.parametrize("flink_version", ["2.0.1", "2.1.3"])
def test_no_postgres_cdc_release_fails_with_the_fix(flink_version):
    out = _connector_choice.choice([], flink_version)
    assert out["connectors"] == []
    pg = next(r for r in out["rows"] if r["check"] == PG)
    assert pg["status"] == "fail"
    assert "no Flink CDC release supports Flink %s (Flink CDC 3.6, the newest line, supports Flink 1.20, 2.2)" % (
        flink_version[:3]) in pg["detail"]
    assert "pin flink_cdc_connectors" in pg["detail"]


def test_unknown_flink_chooses_nothing_and_says_why():
    out = _connector_choice.choice([], "")
    assert out["connectors"] == []
    (row,) = out["rows"]
    assert row["status"] == "fail" and "without the cluster's Flink version" in row["detail"]


# What the bed's loopback repository lists (tests/bed/artifacts.py): the real builds this machine's Maven Central
# serves. Neither postgres-cdc 3.6.0-* nor any StarRocks _flink-1.20 build is among them.
BED_LISTED = {
    "org.apache.flink:%s" % PG: ["3.2.1", "3.3.0", "3.5.0"],
    "com.starrocks:%s" % SR: ["1.2.10_flink-1.18", "1.2.10_flink-1.19"],
}
REPO = "http://127.0.0.1:18901"


def test_choice_takes_the_newest_build_the_repository_lists():
    out = _connector_choice.choice([], "1.18.1", listed=BED_LISTED, repository=REPO)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.2.1" % PG, "com.starrocks:%s:1.2.10_flink-1.18" % SR]
    pg, sr = out["rows"]
    assert pg == _connector_choice._row(PG, "ok", "chosen for Flink 1.18.1: org.apache.flink:%s:3.2.1 (Flink CDC 3.2, the "
                                            "newest line supporting Flink 1.18)" % PG)
    assert sr["status"] == "ok"
    assert sr["detail"] == ("chosen for Flink 1.18.1: com.starrocks:%s:1.2.10_flink-1.18 (StarRocks connector 1.2.10, "
                            "which has a build for Flink 1.18); the repository %s does not list the newest build, "
                            "1.2.15_flink-1.18, so its newest build that fits was taken" % (SR, REPO))


def test_choice_fails_where_the_repository_lists_no_fitting_build():
    out = _connector_choice.choice([], "1.20.3", listed=BED_LISTED, repository=REPO)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.5.0" % PG]
    pg, sr = out["rows"]
    assert pg["status"] == "ok" and pg["detail"] == (
        "chosen for Flink 1.20.3: org.apache.flink:%s:3.5.0 (Flink CDC 3.5, which supports Flink 1.20); the "
        "repository %s does not list the newest build, 3.6.0-1.20, so its newest build that fits was taken" % (PG, REPO))
    assert sr["status"] == "fail"
    assert sr["detail"] == (
        "cannot choose for Flink 1.20.3: the repository %s lists no build of com.starrocks:%s for Flink 1.20 (it "
        "lists: 1.2.10_flink-1.19, 1.2.10_flink-1.18; the newest build for Flink 1.20 is 1.2.15_flink-1.20). Fix: "
        "set flink_cdc_starrocks_connector: false to deploy without it, point flink_cdc_maven_repository at a "
        "repository that has it, or pin flink_cdc_connectors" % (REPO, SR))


def test_choice_on_flink_2_2_names_both_gaps():
    out = _connector_choice.choice([], "2.2.0", listed=BED_LISTED, repository=REPO)
    assert out["connectors"] == []
    pg, sr = out["rows"]
    assert pg["status"] == "fail" and pg["detail"] == (
        "cannot choose for Flink 2.2.0: the repository %s lists no build of org.apache.flink:%s for Flink 2.2 (it "
        "lists: 3.5.0, 3.3.0, 3.2.1; the newest build for Flink 2.2 is 3.6.0-2.2). Fix: point "
        "flink_cdc_maven_repository at a repository that has it, or pin flink_cdc_connectors" % (REPO, PG))
    assert sr["status"] == "fail"
    assert sr["detail"].startswith("cannot choose for Flink 2.2.0: no StarRocks connector release supports Flink 2.2 "
                                   "(there is no Flink 2.x build")


def test_unreadable_metadata_leaves_the_choice_to_the_matrix_and_warns():
    listed = {"org.apache.flink:%s" % PG: None, "com.starrocks:%s" % SR: None}
    out = _connector_choice.choice([], "1.20.3", listed=listed, repository="https://user:s3cret@mirror.example/m2")
    assert coords(out["connectors"]) == coords(_connector_choice.default_connectors("1.20.3"))
    assert [r["status"] for r in out["rows"]] == ["warn", "warn"]
    assert out["rows"][0]["detail"].endswith(
        "the repository's maven-metadata.xml for org.apache.flink:%s could not be read, so the support matrix alone "
        "decided" % PG)
    # A repository that lists every build chooses exactly what the matrix does, with the same words.
    everything = {"org.apache.flink:%s" % PG: ["3.6.0-1.20"], "com.starrocks:%s" % SR: ["1.2.15_flink-1.20"]}
    assert _connector_choice.choice([], "1.20.3", listed=everything, repository=REPO) == _connector_choice.choice([], "1.20.3")


def test_repository_credentials_never_reach_the_rows():
    out = _connector_choice.choice([], "1.20.3", listed=BED_LISTED, repository="https://user:s3cret@mirror.example/m2")
    text = repr(out)
    assert "s3cret" not in text and "user:" not in text
    assert "the repository https://mirror.example/m2 lists no build" in out["rows"][1]["detail"]


@pytest.mark.parametrize("flink_version", FLINK_VERSIONS)
def test_every_listed_choice_is_listed_fits_and_is_the_newest_listed(flink_version):
    # Walk every subset a repository might list of the builds that fit (bounded: each build in or out).
    minor = _support_matrix.flink_minor(flink_version)
    # The preflight reads org.apache.flink's metadata only: older lines under com.ververica are never candidates.
    pg_builds = [v for g, v, _l in _connector_choice.postgres_cdc_builds(minor) if g == "org.apache.flink"]
    sr_builds = _connector_choice.starrocks_builds(minor)
    for mask in range(1 << min(len(pg_builds), 6)):
        pg_listed = [v for i, v in enumerate(pg_builds[:6]) if mask >> i & 1] + ["9.9.9"]
        sr_listed = [v for i, v in enumerate(sr_builds[:6]) if mask >> i & 1] + ["1.2.10_flink-1.13"]
        listed = {"org.apache.flink:%s" % PG: pg_listed, "com.starrocks:%s" % SR: sr_listed}
        out = _connector_choice.choice([], flink_version, listed=listed, repository=REPO)
        chosen = {c["artifact_id"]: c["version"] for c in out["connectors"]}
        for artifact, builds, have in ((PG, pg_builds, pg_listed), (SR, sr_builds, sr_listed)):
            fitting_listed = [b for b in builds if b in have]
            if fitting_listed:
                assert chosen[artifact] == fitting_listed[0]
                assert _support_matrix.connector_problem(
                    next(c for c in out["connectors"] if c["artifact_id"] == artifact), flink_version) is None
            else:
                assert artifact not in chosen
                row = next(r for r in out["rows"] if r["check"] == artifact)
                assert row["status"] == "fail"


def test_a_connector_whose_metadata_was_not_read_is_chosen_from_the_matrix():
    listed = {"org.apache.flink:%s" % PG: ["3.2.1"]}  # StarRocks' metadata not read at all
    out = _connector_choice.choice([], "1.18.1", listed=listed, repository=REPO)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.2.1" % PG, "com.starrocks:%s:1.2.15_flink-1.18" % SR]
    assert out["rows"][1] == _connector_choice.choice([], "1.18.1")["rows"][1]


NO_CDC = "no Flink CDC release supports Flink 2.3 (Flink CDC 3.6, the newest line, supports Flink 1.20, 2.2)"
NO_SR = ("no StarRocks connector release supports Flink 2.3 (there is no Flink 2.x build; the newest release, "
         "1.2.15, supports Flink 1.16 - 1.20)")


def test_the_choice_for_flink_23_fails_each_connector_with_its_fix():
    out = _connector_choice.choice([], "2.3.0")
    assert out["connectors"] == [] and out["pinned"] is False
    details = {r["check"]: (r["status"], r["detail"]) for r in out["rows"]}
    assert details == {
        PG: ("fail", "cannot choose for Flink 2.3.0: %s. Fix: run a Flink version that Flink CDC supports, or pin "
                     "flink_cdc_connectors" % NO_CDC),
        SR: ("fail", "cannot choose for Flink 2.3.0: %s. Fix: set flink_cdc_starrocks_connector: false to deploy "
                     "without it, or pin flink_cdc_connectors" % NO_SR),
    }
