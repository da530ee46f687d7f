"""The verdict over the checks, replayed on recorded sources.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed.
"""

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import verdict as pg_verdict
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.pg_recorded import (
    assert_failed,
    by_name,
    evaluate_recorded,
    recorded,
)


# --------------------------------------------------------------------------- replayed verdicts


def test_recorded_ready_source_is_ready():
    checks = evaluate_recorded("ready")
    assert pg_verdict.is_ready(checks)
    assert pg_verdict.failing(checks, "error") == []
    # PostgreSQL 15 is outside the tested range: a warning, not an error.
    assert [c["name"] for c in pg_verdict.failing(checks)] == ["server_version"]
    names = [pg_verdict.check_label(c) for c in checks]
    assert names[:11] == ["connect", "server_version", "standby", "wal_level", "pending_restart", "role",
                          "free_replication_slots", "free_wal_senders", "slot_name", "slot", "inactive_slots"]
    assert "publication" in names and "publication_actions" in names
    assert 'table_primary_key ("Sales.EU"."Orders")' in names
    assert names[-1] == "replication_connection"


def test_recorded_broken_source_names_every_problem():
    data = recorded("broken")
    checks = evaluate_recorded("broken")
    assert not pg_verdict.is_ready(checks)
    failed = [pg_verdict.check_label(c) for c in pg_verdict.failing(checks, "error")]
    assert failed == [
        "role", "slot", "publication",
        "table_primary_key (public.events_nopk)",
        "table_select (public.secret)",
        "table_select (hidden.t)",
        "table_exists (public.orders_view)",
        'table_exists (public."Customers")',
        "table_exists (public.missing)",
        "replication_connection",
    ]
    warnings = [pg_verdict.check_label(c) for c in pg_verdict.failing(checks, "warning")]
    assert warnings == ["server_version", "table_replica_identity (public.items_default)"]
    assert "uses plugin test_decoding" in by_name(checks, "slot")["message"]
    assert "does not cover public.items_default, public.events_nopk, public.secret, hidden.t" in \
        by_name(checks, "publication")["message"]
    assert "Did you mean public.customers?" in by_name(checks, "table_exists", 'public."Customers"')["hint"]
    message = pg_verdict.not_ready_message(data["facts"]["endpoint"], "plc_fx", checks)
    assert message.startswith("PostgreSQL at 127.0.0.1:15432 (database plc_fx) is not ready for Flink CDC; "
                              "10 checks failed: ")
    for label in failed:
        assert label + ": " in message


def test_recorded_replica_cluster_fails_wal_level():
    checks = evaluate_recorded("replica")
    assert [pg_verdict.check_label(c) for c in pg_verdict.failing(checks, "error")] == ["wal_level"]
    assert_failed(by_name(checks, "wal_level"), "error", "ALTER SYSTEM SET wal_level = logical;")
    # No publication was asked for, so none is checked.
    assert not [c for c in checks if c["name"].startswith("publication")]
