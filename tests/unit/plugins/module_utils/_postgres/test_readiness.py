"""pg_logical_check's verdict, check by check, and evaluate() on recorded facts.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (
    readiness as pg_readiness,
    verdict as pg_verdict,
)
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.pg_recorded import (
    assert_failed,
    assert_passed,
    by_name,
    evaluate_recorded,
    recorded,
    recorded_tables,
)


def test_failed_connect_check_has_endpoint_and_hint():
    check = pg_readiness.check_connect("127.0.0.1:15432", "cannot connect to PostgreSQL at 127.0.0.1:15432 (...): "
                                       "password authentication failed", "auth", "flink_cdc", "shop")
    assert_failed(check, "error", "login_password")
    assert "127.0.0.1:15432" in check["message"]


# --------------------------------------------------------------------------- single checks


@pytest.mark.parametrize("version_num, plugin, ok, severity, text", [
    (140011, "pgoutput", True, "error", "14.11 is within"),
    (100023, "pgoutput", True, "error", "10.23 is within"),
    (90624, "decoderbufs", True, "error", "9.6.24 is within"),
    (90624, "pgoutput", False, "error", "has no pgoutput plugin"),
    (90500, "decoderbufs", False, "error", "older than 9.6"),
    (150018, "pgoutput", False, "warning", "newer than the versions the Flink CDC docs list as tested (9.6 - 14)"),
    (170002, "pgoutput", False, "warning", "17.2 is newer"),
])
def test_server_version(version_num, plugin, ok, severity, text):
    check = pg_readiness.check_server_version(version_num, plugin)
    assert (check["ok"], check["severity"]) == (ok, severity)
    assert text in check["message"]


def test_standby_before_16_fails_and_16_passes():
    assert_failed(pg_readiness.check_standby(True, 150004), "error", "primary")
    assert_passed(pg_readiness.check_standby(True, 160001))
    assert_passed(pg_readiness.check_standby(False, 120000))


def test_wal_level_replica_fails_with_alter_system_and_rds_hint():
    check = pg_readiness.check_wal_level("replica")
    assert_failed(check, "error", "ALTER SYSTEM SET wal_level = logical;", "restart PostgreSQL",
                  "rds.logical_replication = 1")
    assert "wal_level is replica" in check["message"]
    # On RDS the parameter group advice comes first.
    assert pg_readiness.check_wal_level("replica", is_rds=True)["hint"].startswith("On Amazon RDS")


def test_wal_level_pending_restart_variants():
    restart = pg_readiness.check_wal_level("replica", pending=True, pending_value="logical")
    assert_failed(restart, "error", "Restart PostgreSQL to apply wal_level = logical")
    going_away = pg_readiness.check_wal_level("logical", pending=True, pending_value="replica")
    assert_failed(going_away, "error", "ALTER SYSTEM SET wal_level = logical;")
    assert "becomes replica at the next restart" in going_away["message"]
    unknown = pg_readiness.check_wal_level("logical", pending=True, pending_value=None)
    assert_failed(unknown, "warning", "pg_file_settings")
    assert_passed(pg_readiness.check_wal_level("logical"))


def test_pending_restart():
    assert_passed(pg_readiness.check_pending_restart([]))
    check = pg_readiness.check_pending_restart(["max_wal_senders"])
    assert_failed(check, "warning", "Restart PostgreSQL", "ALTER SYSTEM RESET max_wal_senders;")
    assert "max_wal_senders" in check["message"]


@pytest.mark.parametrize("role, ok", [
    ({"name": "cdc", "can_login": True, "replication": True}, True),
    ({"name": "cdc", "can_login": True, "superuser": True}, True),
    ({"name": "cdc", "can_login": True, "rds_replication": True}, True),
    ({"name": "cdc", "can_login": True}, False),
    ({"name": "cdc", "can_login": False, "replication": True}, False),
])
def test_role(role, ok):
    assert pg_readiness.check_role(role)["ok"] is ok


def test_role_without_replication_hints_both_ways():
    check = pg_readiness.check_role({"name": "Flink", "quoted": '"Flink"', "can_login": True})
    assert_failed(check, "error", 'ALTER ROLE "Flink" WITH REPLICATION;', 'GRANT rds_replication TO "Flink";')
    rds = pg_readiness.check_role({"name": "cdc", "can_login": True}, is_rds=True)
    assert rds["hint"].startswith("GRANT rds_replication TO cdc;")
    assert "rds_replication" in rds["message"]


@pytest.mark.parametrize("value, ok, severity", [
    ("decoderbufs", True, "error"),
    ("pg_stat_statements, decoderbufs", True, "error"),
    ('"decoderbufs"', True, "error"),
    ("pg_stat_statements", False, "error"),
    ("", False, "error"),
    (None, False, "warning"),
])
def test_decoderbufs(value, ok, severity):
    check = pg_readiness.check_decoderbufs(value, "cdc")
    assert (check["ok"], check["severity"]) == (ok, severity)
    if value == "pg_stat_statements":
        assert "shared_preload_libraries = 'pg_stat_statements, decoderbufs'" in check["hint"]


def test_replication_connection():
    ok = pg_readiness.check_replication_connection("h:5432", "cdc", "shop", {"ok": True, "system": {"systemid": "1",
                                                                                                    "timeline": 1}})
    assert_passed(ok)
    failed = pg_readiness.check_replication_connection("h:5432", "cdc", "shop", {
        "ok": False, "kind": "replication_privilege",
        "error": "cannot open a logical replication connection ...: must be superuser or replication role"})
    assert_failed(failed, "error", "ALTER ROLE cdc WITH REPLICATION;")


def test_recorded_broken_source_with_chunk_key_and_more_slots():
    data = recorded("broken")
    facts = data["facts"]
    for row in facts["tables"]:
        if row["table"] == "events_nopk":
            row["chunk_key"], row["chunk_key_exists"] = "event_id", True
    options = dict(data["options"], slots_needed=20)
    options.pop("tables")
    checks = pg_readiness.evaluate(facts, **options)
    assert by_name(checks, "table_primary_key", "public.events_nopk")["ok"] is True
    assert_failed(by_name(checks, "free_replication_slots"), "error", "max_replication_slots")
    assert_failed(by_name(checks, "free_wal_senders"), "error", "max_wal_senders")


def test_decoderbufs_replaces_publication_checks():
    checks = evaluate_recorded("replica", plugin="decoderbufs", publication="ignored")
    assert not [c for c in checks if c["name"].startswith("publication")]
    assert_failed(by_name(checks, "decoderbufs"), "error", "shared_preload_libraries")


def test_connect_failure_is_the_only_check():
    facts = {"endpoint": "127.0.0.1:1", "user": "cdc", "database": "shop",
             "connect_error": {"message": "cannot connect to PostgreSQL at 127.0.0.1:1 ...: Connection refused",
                               "kind": "unreachable"}}
    checks = pg_readiness.evaluate(facts, slot_name="s", publication="p")
    assert [c["name"] for c in checks] == ["connect"]
    assert not pg_verdict.is_ready(checks)


def test_old_server_stops_after_the_version_check():
    facts = {"endpoint": "h:5432", "server": {"version_num": 90400, "version": "9.4.26", "database": "shop",
                                              "in_recovery": False}, "role": {"name": "cdc"}}
    checks = pg_readiness.evaluate(facts)
    assert [c["name"] for c in checks] == ["connect", "server_version"]
    assert not pg_verdict.is_ready(checks)


def test_counts_do_not_change_the_verdict():
    data, _by_name = recorded_tables()
    without = [dict((k, v) for k, v in t.items() if k != "rows") for t in data["facts_tables"]]
    ready = recorded("ready")
    facts = dict(ready["facts"])
    options = dict(ready["options"])
    options.pop("tables")
    with_counts = pg_readiness.evaluate(dict(facts, tables=data["facts_tables"]), **options)
    without_counts = pg_readiness.evaluate(dict(facts, tables=without), **options)
    assert with_counts == without_counts
