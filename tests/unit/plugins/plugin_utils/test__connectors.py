"""The role's connector choice: pinned lists kept, defaults that follow the cluster, the report rows."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.filter.compat import connector_choice, default_connectors
from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _compat
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
    minor = _compat.flink_minor(flink_version)
    for connector in _connectors.default_connectors(flink_version):
        assert _compat.connector_problem(connector, flink_version) is None, connector
        version = connector["version"]
        if connector["artifact_id"] == PG:
            line, suffix = _compat.postgres_cdc_line(version)
            assert version.split("-")[0] in _compat.FLINK_CDC_RELEASES[line]
            assert minor in _compat.FLINK_CDC_FLINK[line]
            assert connector["group_id"] == _compat.postgres_cdc_group(line) == "org.apache.flink"
            assert suffix == (minor if _compat.postgres_cdc_suffixed(line) else None)
            # The newest line that supports this Flink, and its newest release.
            newer = [cdc for cdc, flinks in _compat.FLINK_CDC_FLINK.items()
                     if minor in flinks and _compat._key(cdc) > _compat._key(line)]
            assert not newer
            assert version.split("-")[0] == max(_compat.FLINK_CDC_RELEASES[line], key=_compat._key)
        else:
            release, suffix = _compat.starrocks_parts(version)
            assert suffix == minor and minor in _compat.STARROCKS_FLINK[release]
            assert release == max((r for r, flinks in _compat.STARROCKS_FLINK.items() if minor in flinks),
                                  key=_compat._key)


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
    assert lines[2] == "| 1.17 | `3.2.1` | `1.2.15_flink-1.17` | 8, 11 | >= 2.16 (tested: 2.19) |"
    assert lines[5] == "| 1.20 | `3.6.0-1.20` | `1.2.15_flink-1.20` | 11, 17 | >= 2.16 (tested: 2.19) |"
    assert lines[6] == "| 2.0 | none | none | 11, 17, 21 | >= 2.16 (tested: 2.19) |"
    assert lines[8] == "| 2.2 | `3.6.0-2.2` | none | 11, 17, 21 | >= 2.16 (tested: 2.19) |"
    assert len(lines) == 2 + len(_connectors.FLINK_MINORS)
    # A line published under another groupId says so in its cell.
    assert "`com.ververica:3.0.1`" in _connectors.supported_versions_table(("1.15",))
