"""The role's connector choice: pinned lists kept, defaults that follow the cluster, the report rows."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.filter.compat import connector_choice, default_connectors
from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _support_matrix
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connectors

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"
FLINK_VERSIONS = ("1.17.2", "1.18.1", "1.19.3", "1.20.3", "2.0.1", "2.1.3", "2.2.0")


def coords(connectors):
    return [_connectors.coordinates(c) for c in connectors]


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
    assert coords(_connectors.default_connectors(flink_version)) == expected
    assert coords(_connectors.default_connectors(flink_version, starrocks=False)) == [c for c in expected if SR not in c]


@pytest.mark.parametrize("flink_version", FLINK_VERSIONS)
def test_every_default_exists_in_the_tables_and_fits(flink_version):
    minor = _support_matrix.flink_minor(flink_version)
    for connector in _connectors.default_connectors(flink_version):
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
    out = _connectors.choice(pinned, "1.20.3")
    assert out["pinned"] is True and out["connectors"] == pinned
    assert out["rows"] == [{"host": "controller", "area": "Connectors", "check": PG, "status": "ok",
                            "detail": "pinned: org.apache.flink:%s:3.3.0 fits Flink 1.20.3" % PG}]
    assert out["summary"] == "pinned (flink_cdc_connectors): org.apache.flink:%s:3.3.0" % PG
    # Even one that does not fit: it fails with the fix, and is still the list.
    wrong = [{"group_id": "com.starrocks", "artifact_id": SR, "version": "1.2.11_flink-1.18"}]
    out = _connectors.choice(wrong, "1.20.3", starrocks=False)
    assert out["connectors"] == wrong
    (row,) = out["rows"]
    assert row["status"] == "fail" and row["detail"].startswith("pinned: com.starrocks:%s:1.2.11_flink-1.18 is built"
                                                                % SR)
    assert "use 1.2.11_flink-1.20 or 1.2.15_flink-1.20 (the newest)" in row["detail"]


def test_pinned_with_unknown_flink_is_skipped():
    pinned = [{"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.5.0"}]
    (row,) = _connectors.choice(pinned, "")["rows"]
    assert row["status"] == "skip" and row["detail"] == "pinned: org.apache.flink:%s:3.5.0: Flink version unknown" % PG


def test_chosen_rows_say_what_and_why():
    out = _connectors.choice([], "1.18.1")
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
    out = _connectors.choice([], "2.2.0")
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.6.0-2.2" % PG]
    rows = {r["check"]: r for r in out["rows"]}
    assert rows[PG]["status"] == "ok"
    sink = rows[SR]
    assert sink["status"] == "fail"
    assert "no StarRocks connector release supports Flink 2.2 (there is no Flink 2.x build" in sink["detail"]
    assert "set flink_cdc_starrocks_connector: false" in sink["detail"] and "pin flink_cdc_connectors" in sink["detail"]
    assert len([r for r in out["rows"] if r["status"] == "fail"]) == 1


def test_starrocks_switched_off():
    out = _connectors.choice([], "2.2.0", starrocks=False)
    assert [r["status"] for r in out["rows"]] == ["ok", "skip"]
    assert out["rows"][1]["detail"] == "not chosen: flink_cdc_starrocks_connector is false"
    out = _connectors.choice([], "1.20.3", starrocks=False)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.6.0-1.20" % PG]


@pytest.mark.parametrize("flink_version", ["2.0.1", "2.1.3"])
def test_no_postgres_cdc_release_fails_with_the_fix(flink_version):
    out = _connectors.choice([], flink_version)
    assert out["connectors"] == []
    pg = next(r for r in out["rows"] if r["check"] == PG)
    assert pg["status"] == "fail"
    assert "no Flink CDC release supports Flink %s (Flink CDC 3.6, the newest line, supports Flink 1.20, 2.2)" % (
        flink_version[:3]) in pg["detail"]
    assert "pin flink_cdc_connectors" in pg["detail"]


def test_unknown_flink_chooses_nothing_and_says_why():
    out = _connectors.choice([], "")
    assert out["connectors"] == []
    (row,) = out["rows"]
    assert row["status"] == "fail" and "without the cluster's Flink version" in row["detail"]


def test_filters():
    assert default_connectors("1.20.3", "false") == _connectors.default_connectors("1.20.3", starrocks=False)
    assert connector_choice(None, "1.19.3")["connectors"] == _connectors.default_connectors("1.19.3")
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="connector_choice expects a list"):
        connector_choice("3.5.0", "1.20.3")


def test_supported_versions_table():
    table = _connectors.supported_versions_table()
    lines = table.splitlines()
    assert lines[0].startswith("| Flink | postgres-cdc (`org.apache.flink:flink-sql-connector-postgres-cdc`) |")
    assert lines[2] == "| 1.17 | `3.2.1` | `1.2.15_flink-1.17` | 8, 11 | 2.16 - 2.21 | not run |"
    assert lines[5] == "| 1.20 | `3.6.0-1.20` | `1.2.15_flink-1.20` | 11, 17 | 2.16 - 2.21 | not run |"
    assert lines[6] == "| 2.0 | none | none | 11, 17, 21 | 2.16 - 2.21 | not run |"
    assert lines[8] == "| 2.2 | `3.6.0-2.2` | none | 11, 17, 21 | 2.16 - 2.21 | not run |"
    assert lines[9] == "| 2.3 | none | none | 11, 17, 21 | 2.16 - 2.21 | not run |"
    assert len(lines) == 2 + len(_connectors.FLINK_MINORS)
    # With the matrix run's entries, the last column says what was proven on a real cluster of that minor.
    tested = {"1.18.1": {"deploys": {"postgres_cdc": "3.2.1", "starrocks": "1.2.10_flink-1.18"}, "smoke": True},
              "2.1.1": {"deploys": {"postgres_cdc": None, "starrocks": None}, "smoke": False}}
    lines = _connectors.supported_versions_table(tested=tested).splitlines()
    assert lines[3].endswith("| 2.16 - 2.21 | 1.18.1: cluster info, role defaults deploy postgres-cdc `3.2.1` + "
                             "StarRocks `1.2.10_flink-1.18`, rolling restart, smoke job, verify |")
    assert lines[7].endswith("| 2.1.1: cluster info, preflight names the gaps; deploy, rolling restart and verify "
                             "with a Flink 2.x jar |")
    assert lines[2].endswith("| not run |")
    # A line published under another groupId says so in its cell.
    assert "`com.ververica:3.0.1`" in _connectors.supported_versions_table(("1.15",))


# What the bed's loopback repository lists (tests/bed/artifacts.py): the real builds this machine's Maven Central
# serves. Neither postgres-cdc 3.6.0-* nor any StarRocks _flink-1.20 build is among them.
BED_LISTED = {
    "org.apache.flink:%s" % PG: ["3.2.1", "3.3.0", "3.5.0"],
    "com.starrocks:%s" % SR: ["1.2.10_flink-1.18", "1.2.10_flink-1.19"],
}
REPO = "http://127.0.0.1:18901"


def metadata_result(group, artifact, status, content=""):
    return {"item": {"group_id": group, "artifact_id": artifact}, "status": status, "content": content}


def test_listed_versions_reads_uri_results():
    xml = ("<?xml version='1.0'?><metadata><groupId>com.starrocks</groupId><version>9.9</version><versioning>"
           "<latest>1.2.10_flink-1.19</latest><versions>\n  <version>1.2.10_flink-1.18</version>\n"
           "  <version> 1.2.10_flink-1.19 </version></versions></versioning></metadata>")
    listed = _connectors.listed_versions([
        metadata_result("com.starrocks", SR, 200, xml),
        metadata_result("org.apache.flink", PG, 404, "not found"),
        metadata_result("org.example", "refused", -1),
        metadata_result("org.example", "login-page", 200, "<!DOCTYPE html><html>sign in</html>"),
        metadata_result("org.example", "forbidden", 403, "<metadata/>"),
    ])
    assert listed == {
        "com.starrocks:%s" % SR: ["1.2.10_flink-1.18", "1.2.10_flink-1.19"],  # not the top-level <version>
        "org.apache.flink:%s" % PG: None,  # no metadata: a plain directory of jars may still have the build
        "org.example:refused": None,
        "org.example:login-page": None,
        "org.example:forbidden": None,
    }


def test_choice_takes_the_newest_build_the_repository_lists():
    out = _connectors.choice([], "1.18.1", listed=BED_LISTED, repository=REPO)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.2.1" % PG, "com.starrocks:%s:1.2.10_flink-1.18" % SR]
    pg, sr = out["rows"]
    assert pg == _connectors._row(PG, "ok", "chosen for Flink 1.18.1: org.apache.flink:%s:3.2.1 (Flink CDC 3.2, the "
                                            "newest line supporting Flink 1.18)" % PG)
    assert sr["status"] == "ok"
    assert sr["detail"] == ("chosen for Flink 1.18.1: com.starrocks:%s:1.2.10_flink-1.18 (StarRocks connector 1.2.10, "
                            "which has a build for Flink 1.18); the repository %s does not list the newest build, "
                            "1.2.15_flink-1.18, so its newest build that fits was taken" % (SR, REPO))


def test_choice_fails_where_the_repository_lists_no_fitting_build():
    out = _connectors.choice([], "1.20.3", listed=BED_LISTED, repository=REPO)
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
    out = _connectors.choice([], "2.2.0", listed=BED_LISTED, repository=REPO)
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
    out = _connectors.choice([], "1.20.3", listed=listed, repository="https://user:s3cret@mirror.example/m2")
    assert coords(out["connectors"]) == coords(_connectors.default_connectors("1.20.3"))
    assert [r["status"] for r in out["rows"]] == ["warn", "warn"]
    assert out["rows"][0]["detail"].endswith(
        "the repository's maven-metadata.xml for org.apache.flink:%s could not be read, so the support matrix alone "
        "decided" % PG)
    # A repository that lists every build chooses exactly what the matrix does, with the same words.
    everything = {"org.apache.flink:%s" % PG: ["3.6.0-1.20"], "com.starrocks:%s" % SR: ["1.2.15_flink-1.20"]}
    assert _connectors.choice([], "1.20.3", listed=everything, repository=REPO) == _connectors.choice([], "1.20.3")


def test_repository_credentials_never_reach_the_rows():
    out = _connectors.choice([], "1.20.3", listed=BED_LISTED, repository="https://user:s3cret@mirror.example/m2")
    text = repr(out)
    assert "s3cret" not in text and "user:" not in text
    assert "the repository https://mirror.example/m2 lists no build" in out["rows"][1]["detail"]


@pytest.mark.parametrize("flink_version", FLINK_VERSIONS)
def test_every_listed_choice_is_listed_fits_and_is_the_newest_listed(flink_version):
    # Walk every subset a repository might list of the builds that fit (bounded: each build in or out).
    minor = _support_matrix.flink_minor(flink_version)
    # The preflight reads org.apache.flink's metadata only: older lines under com.ververica are never candidates.
    pg_builds = [v for g, v, _l in _connectors.postgres_cdc_builds(minor) if g == "org.apache.flink"]
    sr_builds = _connectors.starrocks_builds(minor)
    for mask in range(1 << min(len(pg_builds), 6)):
        pg_listed = [v for i, v in enumerate(pg_builds[:6]) if mask >> i & 1] + ["9.9.9"]
        sr_listed = [v for i, v in enumerate(sr_builds[:6]) if mask >> i & 1] + ["1.2.10_flink-1.13"]
        listed = {"org.apache.flink:%s" % PG: pg_listed, "com.starrocks:%s" % SR: sr_listed}
        out = _connectors.choice([], flink_version, listed=listed, repository=REPO)
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


def test_connector_choice_filter_passes_the_metadata():
    results = [metadata_result("org.apache.flink", PG, 200, "<metadata><versioning><versions><version>3.2.1"
                                                            "</version></versions></versioning></metadata>"),
               metadata_result("com.starrocks", SR, 200, "<metadata><versioning><versions><version>"
                                                         "1.2.10_flink-1.19</version></versions></versioning></metadata>")]
    out = connector_choice([], "1.18.1", True, results, REPO)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.2.1" % PG]
    assert [r["status"] for r in out["rows"]] == ["ok", "fail"]
    results[1] = metadata_result("com.starrocks", SR, 404)
    assert [r["status"] for r in connector_choice([], "1.18.1", True, results, REPO)["rows"]] == ["ok", "warn"]
    assert connector_choice([], "1.18.1", True, [], REPO) == connector_choice([], "1.18.1")
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="metadata to be a list of uri results"):
        connector_choice([], "1.18.1", True, "oops")


def test_a_connector_whose_metadata_was_not_read_is_chosen_from_the_matrix():
    listed = {"org.apache.flink:%s" % PG: ["3.2.1"]}  # StarRocks' metadata not read at all
    out = _connectors.choice([], "1.18.1", listed=listed, repository=REPO)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.2.1" % PG, "com.starrocks:%s:1.2.15_flink-1.18" % SR]
    assert out["rows"][1] == _connectors.choice([], "1.18.1")["rows"][1]


def test_ansible_core_range_is_what_the_test_command_runs():
    """ANSIBLE_CORE (the table), meta/runtime.yml and the pins of the ansible-core matrix agree."""
    import os
    import re
    import yaml
    root = os.path.join(os.path.dirname(_connectors.__file__), os.pardir, os.pardir)
    pins = []
    for name in ("requirements-dev.txt", "requirements-core-matrix.txt"):
        with open(os.path.join(root, name)) as f:
            pins += re.findall(r"^ansible-core==(\d+\.\d+)\.\d+\s*$", f.read(), re.M)
    minors = sorted(set(pins), key=lambda v: tuple(int(p) for p in v.split(".")))
    assert minors == ["2.16", "2.17", "2.18", "2.19", "2.20", "2.21"]
    assert _connectors.ANSIBLE_CORE == "%s - %s" % (minors[0], minors[-1])
    with open(os.path.join(root, "meta", "runtime.yml")) as f:
        assert yaml.safe_load(f)["requires_ansible"] == ">=%s.0" % minors[0]
