"""pg_replication_slot's plans, slot names of the subtasks and the errors of slot calls.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (
    catalog as pg_catalog,
    connection as pg_connection,
    slots as pg_slots,
)
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.pg_recorded import recorded


# --------------------------------------------------------------------------- replication slots (pg_replication_slot)

# tests/unit/fixtures/pg/slots.json: managed_slots_sql() rows for name prs_fx_job from the bed: the slot
# (active, held by pg_recvlogical), prs_fx_job_0 and _10 (inactive), _1 (a logical slot of database
# postgres) and _2 (physical). prs_fx_job_x existed too; the query did not return it.


def recorded_slots():
    data = recorded("slots")
    return data["rows"], data["name"], data["database"]


def inactive(rows):
    return [dict(r, active=False, active_pid=None, active_user=None, active_application=None,
                 active_client_addr=None) for r in rows]


@pytest.mark.parametrize("slot_name, subtask", [
    ("job_0", True), ("job_1", True), ("job_10", True), ("job_007", True),
    ("job", False), ("job_", False), ("job_x", False), ("job_0a", False), ("job__0", False),
    ("job_0_1", False), ("jobs_0", False), ("other_0", False), ("job_0\n", False), ("job_\u0661", False),
])
def test_is_subtask_slot(slot_name, subtask):
    assert pg_slots.is_subtask_slot(slot_name, "job") is subtask


def test_subtask_pattern_and_query_bind_the_name():
    assert pg_slots.subtask_slot_pattern("flink_job") == "^flink_job_[0-9]+$"
    text = pg_slots.managed_slots_sql(150018)
    assert "WHERE s.slot_name = %(name)s OR (%(subtasks)s AND s.slot_name ~ %(subtask_pattern)s)" in text
    assert "FROM pg_replication_slots s LEFT JOIN pg_stat_activity a" in text
    # The checks' query is unchanged: every slot, no filter.
    assert "WHERE" not in pg_catalog.slots_sql(150018)


def test_recorded_slots_are_what_the_query_selects():
    rows, name, _database = recorded_slots()
    assert [r["slot_name"] for r in rows] == [name, name + "_0", name + "_1", name + "_10", name + "_2"]
    assert all(r["slot_name"] == name or pg_slots.is_subtask_slot(r["slot_name"], name) for r in rows)


def test_plan_absent_with_subtasks_drops_this_databases_logical_slots_in_order():
    rows, name, database = recorded_slots()
    plan = pg_slots.plan_slots(inactive(rows), name, database, state="absent", include_subtask_slots=True)
    assert plan["drop"] == [name, name + "_0", name + "_10"]
    assert plan["create"] is False and plan["active"] == []
    # _1 (database postgres) and _2 (physical) are named like subtask slots but are not ours.
    assert [s["slot_name"] for s in plan["foreign"]] == [name + "_1", name + "_2"]
    assert plan["before"] == [name, name + "_0", name + "_10"] and plan["after"] == []


def test_plan_absent_without_subtasks_ignores_them():
    rows, name, database = recorded_slots()
    plan = pg_slots.plan_slots(inactive(rows), name, database, state="absent")
    assert plan["drop"] == [name] and plan["foreign"] == []


def test_plan_absent_refuses_an_active_slot_before_dropping_anything():
    rows, name, database = recorded_slots()
    with pytest.raises(pg_slots.SlotError) as caught:
        pg_slots.plan_slots(rows, name, database, state="absent", include_subtask_slots=True)
    error = caught.value
    assert ("replication slot prs_fx_job is active for PID 4242 (client 127.0.0.1, application pg_recvlogical, "
            "user prs_fx_cdc)") in error.message
    assert "nothing was dropped" in error.message
    assert "Stop the consumer" in error.hint and "SELECT pg_terminate_backend(4242);" in error.hint
    assert "fail_on_active=false" in error.hint
    assert str(error) == "%s. %s" % (error.message, error.hint)


def test_plan_absent_leaves_active_slots_when_told():
    rows, name, database = recorded_slots()
    plan = pg_slots.plan_slots(rows, name, database, state="absent", include_subtask_slots=True, fail_on_active=False)
    assert plan["drop"] == [name + "_0", name + "_10"]
    assert [s["slot_name"] for s in plan["active"]] == [name]
    assert pg_slots.slot_consumer(plan["active"][0]) == {"name": name, "active_pid": 4242, "user": "prs_fx_cdc",
                                                         "application_name": "pg_recvlogical", "client_addr": "127.0.0.1"}
    assert plan["before"] == [name, name + "_0", name + "_10"] and plan["after"] == [name]


@pytest.mark.parametrize("state", ["absent", "present"])
def test_plan_refuses_a_physical_slot_or_one_of_another_database(state):
    rows, name, database = recorded_slots()
    with pytest.raises(pg_slots.SlotError) as physical:
        pg_slots.plan_slots(rows, name + "_2", database, state=state)
    assert "replication slot prs_fx_job_2 is a physical slot, not a logical slot of database prs_fx" \
        in physical.value.message
    assert "another slot.name" in physical.value.hint
    with pytest.raises(pg_slots.SlotError) as elsewhere:
        pg_slots.plan_slots(rows, name + "_1", database, state=state)
    assert "replication slot prs_fx_job_1 is a logical slot of database postgres, not of prs_fx" \
        in elsewhere.value.message
    assert "login_db=postgres" in elsewhere.value.hint
    assert ("never drops it" if state == "absent" else "does not reuse it") in elsewhere.value.message


def test_plan_present():
    rows, name, database = recorded_slots()
    assert pg_slots.plan_slots([], name, database)["create"] is True
    existing = pg_slots.plan_slots(rows, name, database)  # active or not, it is there
    assert (existing["create"], existing["drop"], existing["before"], existing["after"]) == (False, [], [name], [name])
    with pytest.raises(pg_slots.SlotError) as caught:
        pg_slots.plan_slots(rows, name, database, plugin="test_decoding")
    assert "exists in database prs_fx with plugin pgoutput, not test_decoding" in caught.value.message
    assert "state=absent" in caught.value.hint
    # Subtask slots do not matter for present.
    assert pg_slots.plan_slots(inactive(rows[1:]), name, database, include_subtask_slots=True)["drop"] == []


def test_slot_summary_keeps_what_the_module_returns():
    rows, name, _database = recorded_slots()
    assert pg_slots.slot_summary(rows[0]) == {"name": name, "slot_type": "logical", "database": "prs_fx",
                                              "plugin": "pgoutput", "temporary": False, "active": True,
                                              "active_pid": 4242, "retained_bytes": rows[0]["retained_bytes"],
                                              "lag_bytes": rows[0]["lag_bytes"]}
    assert pg_slots.slot_summary(rows[4])["slot_type"] == "physical"


# Errors as PostgreSQL 15 raised them on the bed.
@pytest.mark.parametrize("code, reason, hint_parts", [
    ("42501", "must be superuser or replication role to use replication slots",
     ["ALTER ROLE flink_cdc WITH REPLICATION;", "GRANT rds_replication TO flink_cdc;"]),
    ("55006", 'replication slot "s" is active for PID 4242', ["Stop the consumer", "fail_on_active=false"]),
    ("58P01", 'could not access file "no_such_plugin": No such file or directory', ["not installed", "pgoutput"]),
    ("55000", "logical decoding requires wal_level >= logical", ["ALTER SYSTEM SET wal_level = logical;"]),
    ("55000", "logical decoding cannot be used while in recovery", ["primary"]),
    ("53400", "all replication slots are in use", ["max_replication_slots"]),
    ("42710", 'replication slot "s" already exists', ["run the task again"]),
])
def test_slot_call_errors_say_what_to_do(code, reason, hint_parts):
    exc = pg_connection.PgQueryError("a query failed on PostgreSQL at db:5432: " + reason, code, reason)
    error = pg_slots.slot_call_error(exc, "create", "s", "db:5432", "flink_cdc", "no_such_plugin")
    assert error.message.startswith("cannot create replication slot s on db:5432: " + reason)
    for part in hint_parts:
        assert part in error.hint, (part, error.hint)


def test_unknown_slot_call_error_names_the_sqlstate():
    exc = pg_connection.PgQueryError("x", "XX000", "something odd")
    error = pg_slots.slot_call_error(exc, "drop", "s", "db:5432", "u")
    assert error.message == "cannot drop replication slot s on db:5432: something odd (SQLSTATE XX000)"
    assert str(error) == error.message


@pytest.mark.parametrize("role, allowed", [
    ({"superuser": True}, True), ({"replication": True}, True), ({"rds_replication": True}, True),
    ({"superuser": False, "replication": False, "rds_replication": False}, False),
])
def test_can_use_slots(role, allowed):
    assert pg_slots.can_use_slots(role) is allowed
