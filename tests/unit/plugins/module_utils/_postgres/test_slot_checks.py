"""Replication slot and WAL sender checks.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import slot_checks as pg_slot_checks
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.pg_recorded import (
    assert_failed,
    assert_passed,
    slot,
)


def test_free_slots_counts_every_slot_and_suggests_idle_ones():
    slots = [slot("s%d" % i, active=i < 5) for i in range(9)]
    check = pg_slot_checks.check_free_replication_slots(10, slots, 3)
    assert_failed(check, "error", "ALTER SYSTEM SET max_replication_slots = 12;",
                  "SELECT pg_drop_replication_slot('s5');")
    assert "only 1 of 10 replication slots free (9 in use); the job needs 3" in check["message"]
    assert "s0" not in check["hint"]  # active slots are not proposed for dropping
    assert_passed(pg_slot_checks.check_free_replication_slots(10, slots, 1))


def test_free_slots_reuses_the_existing_job_slot():
    slots = [slot("s%d" % i) for i in range(9)]
    check = pg_slot_checks.check_free_replication_slots(10, slots, 2, slot_name="s3")
    assert_passed(check)
    assert "the job needs 1 (slot s3 exists and is reused)" in check["message"]


def test_free_wal_senders():
    assert_passed(pg_slot_checks.check_free_wal_senders(10, 2, 5))
    check = pg_slot_checks.check_free_wal_senders(10, 8, 5)
    assert_failed(check, "error", "ALTER SYSTEM SET max_wal_senders = 13;")
    assert "only 2 of 10 WAL senders free" in check["message"]


@pytest.mark.parametrize("name, ok, suggestion", [
    ("flink_cdc_shop", True, None),
    ("slot_1", True, None),
    ("Flink-Slot", False, "flink_slot"),
    ("orders.slot", False, "orders_slot"),
    ("x" * 64, False, "x" * 63),
])
def test_slot_name(name, ok, suggestion):
    check = pg_slot_checks.check_slot_name(name)
    assert check["ok"] is ok
    if suggestion:
        assert repr(suggestion) in check["hint"]
        assert check["severity"] == "error"


def test_slot_absent_is_fine():
    assert_passed(pg_slot_checks.check_slot("s", None, "pgoutput", "shop"))


def test_slot_active_under_another_pid():
    check = pg_slot_checks.check_slot("s", slot("s", active=True, retained=2048, active_user="cdc",
                                                active_application="pg_recvlogical"), "pgoutput", "shop")
    assert_failed(check, "error", "pg_terminate_backend(4242)", "own slot_name")
    assert "slot s is active for PID 4242 (user cdc, application pg_recvlogical)" in check["message"]
    assert "2.0 KiB of WAL" in check["message"]
    assert check["retained_bytes"] == 2048


@pytest.mark.parametrize("facts, text, hint", [
    ({"plugin": "test_decoding"}, "uses plugin test_decoding, but the job is set for pgoutput",
     "pg_drop_replication_slot('s')"),
    ({"database": "other"}, "belongs to database other, not shop", "another slot_name"),
    ({"slot_type": "physical", "plugin": None, "database": None}, "is a physical slot", "pg_drop_replication_slot"),
    ({"wal_status": "lost"}, "lost WAL it needs", "pg_drop_replication_slot('s')"),
])
def test_slot_problems(facts, text, hint):
    check = pg_slot_checks.check_slot("s", slot("s", **facts), "pgoutput", "shop")
    assert_failed(check, "error", hint)
    assert text in check["message"]


def test_inactive_slots_retaining_wal():
    slots = [slot("busy", active=True, retained=5 * 1024 ** 3), slot("idle", retained=3 * 1024 ** 3),
             slot("small", retained=10)]
    check = pg_slot_checks.check_inactive_slots(slots, 1024 ** 3, "-1")
    assert_failed(check, "warning", "SELECT pg_drop_replication_slot('idle');", "max_slot_wal_keep_size")
    assert "idle (3.0 GiB)" in check["message"]
    assert "busy" not in check["message"] and "small" not in check["message"]
    assert "max_slot_wal_keep_size" not in pg_slot_checks.check_inactive_slots(slots, 1024 ** 3, "10240")["hint"]
    assert_passed(pg_slot_checks.check_inactive_slots(slots, 4 * 1024 ** 3))
