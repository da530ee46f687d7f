"""pg_replication_slot's manager (PgReplicationSlot) without a server.

The client replays the slot rows recorded from the bed
(tests/unit/fixtures/pg/slots.json) and answers the slot functions the way
PostgreSQL 15 answered them there, so the order of queries, check mode, diff,
races and failures can be driven one by one.
"""

import importlib
import json
import os

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (
    catalog as pg_catalog,
    connection as pg_connection,
    slots as pg_slots,
)
from ansible_collections.cdcops.flink_cdc.plugins.modules import pg_replication_slot

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "pg")


@pytest.fixture(autouse=True)
def current_pg_classes():
    # _postgres/test_connection.py reloads _postgres/connection.py (to import it without psycopg2); bind the module to the current classes.
    importlib.reload(pg_replication_slot)


def recorded_rows():
    with open(os.path.join(FIXTURES, "slots.json")) as f:
        return json.load(f)["rows"]


NAME = "prs_fx_job"
DATABASE = "prs_fx"


class Exited(Exception):
    def __init__(self, result):
        super(Exited, self).__init__(result)
        self.result = result


class Failed(Exited):
    pass


class FakeModule(object):
    def __init__(self, params, check_mode=False, diff=False):
        self.params = dict(name=NAME, state="absent", plugin="pgoutput", include_subtask_slots=True,
                           fail_on_active=True)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)

    def exit_json(self, **result):
        raise Exited(result)

    def fail_json(self, **result):
        raise Failed(result)


class FakeClient(object):
    """Stands in for AnsiblePgClient; ``errors`` maps a slot name to the PgQueryError its call raises."""

    def __init__(self, module, rows, errors=None, role=None, connect_error=None):
        self.module = module
        self.rows = rows
        self.errors = errors or {}
        self.role = role or {"name": "prs_fx_cdc", "superuser": False, "replication": True, "rds_replication": False}
        self.connect_error = connect_error
        self.endpoint = "127.0.0.1:15432"
        self.user = "prs_fx_cdc"
        self.database = DATABASE
        self.executed_queries = []
        self.connected = None
        self.closed = False

    def connect(self, readonly=True):
        if self.connect_error:
            raise self.connect_error
        self.connected = {"readonly": readonly}

    def close(self):
        self.closed = True

    def fail(self, msg, **result):
        self.close()
        self.module.fail_json(msg=msg, **result)

    def query(self, sql, params=None, record=True):
        self.executed_queries.append((sql, params))
        if sql == pg_catalog.SERVER_SQL:
            return [{"version_num": 150018, "version": "15.18", "in_recovery": False, "database": DATABASE}]
        if sql == pg_catalog.ROLE_SQL:
            return [self.role]
        if sql == pg_slots.managed_slots_sql(150018):
            name = params["name"]
            return [r for r in self.rows if r["slot_name"] == name
                    or (params["subtasks"] and pg_slots.is_subtask_slot(r["slot_name"], name))]
        if sql in (pg_slots.DROP_SLOT_SQL, pg_slots.CREATE_SLOT_SQL):
            error = self.errors.get(params["name"])
            if error:
                raise error
            return [{"pg_drop_replication_slot": ""}] if sql == pg_slots.DROP_SLOT_SQL else \
                [{"slot_name": params["name"], "lsn": "0/1"}]
        raise AssertionError("unexpected query %s" % sql)

    def calls(self, sql):
        return [params["name"] for query, params in self.executed_queries if query == sql]


def run(params=None, rows=None, check_mode=False, diff=False, **client_kw):
    module = FakeModule(params or {}, check_mode=check_mode, diff=diff)
    client = FakeClient(module, recorded_rows() if rows is None else rows, **client_kw)
    with pytest.raises(Exited) as caught:
        pg_replication_slot.PgReplicationSlot(client).run()
    return caught.value, client, module


def inactive_rows():
    return [dict(r, active=False, active_pid=None, active_user=None, active_application=None,
                 active_client_addr=None) for r in recorded_rows()]


def query_error(code, reason):
    return pg_connection.PgQueryError("a query failed on PostgreSQL at 127.0.0.1:15432: " + reason, code, reason)


def test_absent_drops_this_databases_slots_in_a_read_write_session():
    outcome, client, module = run(rows=inactive_rows(), diff=True)
    assert not isinstance(outcome, Failed)
    result = outcome.result
    assert client.connected == {"readonly": False} and client.closed
    assert client.calls(pg_slots.DROP_SLOT_SQL) == [NAME, NAME + "_0", NAME + "_10"]
    assert result["changed"] is True
    assert result["dropped"] == [NAME, NAME + "_0", NAME + "_10"]
    assert result["created"] is False
    assert result["database"] == DATABASE
    assert [s["name"] for s in result["slots"]] == [NAME, NAME + "_0", NAME + "_1", NAME + "_10", NAME + "_2"]
    assert result["diff"] == {"before": {"slots": [NAME, NAME + "_0", NAME + "_10"]}, "after": {"slots": []}}
    assert [w.split(" is named")[0] for w in module.warnings] == ["replication slot %s_1" % NAME,
                                                                  "replication slot %s_2" % NAME]
    # The subtask filter is bound, never formatted into the SQL.
    slot_query = [p for q, p in client.executed_queries if q == pg_slots.managed_slots_sql(150018)][0]
    assert slot_query == {"name": NAME, "subtasks": True, "subtask_pattern": "^%s_[0-9]+$" % NAME}


def test_check_mode_reports_and_runs_no_slot_function():
    outcome, client, _module = run(rows=inactive_rows(), check_mode=True, diff=True)
    assert not isinstance(outcome, Failed)
    assert client.calls(pg_slots.DROP_SLOT_SQL) == [] and client.calls(pg_slots.CREATE_SLOT_SQL) == []
    assert outcome.result["changed"] is True
    assert outcome.result["dropped"] == [NAME, NAME + "_0", NAME + "_10"]
    assert outcome.result["diff"]["after"] == {"slots": []}


def test_check_mode_warns_when_the_role_could_not_do_it():
    role = {"name": "cdc", "superuser": False, "replication": False, "rds_replication": False}
    outcome, _client, module = run(rows=inactive_rows(), check_mode=True, role=role)
    assert not isinstance(outcome, Failed)
    assert any("role cdc has neither REPLICATION nor superuser" in w and "ALTER ROLE cdc WITH REPLICATION;" in w
               for w in module.warnings)


def test_nothing_to_do_is_not_changed_and_reads_no_role():
    outcome, client, _module = run(rows=[], diff=True)
    assert (outcome.result["changed"], outcome.result["dropped"]) == (False, [])
    assert outcome.result["diff"] == {"before": {"slots": []}, "after": {"slots": []}}
    assert [q for q, _p in client.executed_queries] == [pg_catalog.SERVER_SQL, pg_slots.managed_slots_sql(150018)]


def test_include_subtask_slots_only_applies_to_absent():
    outcome, client, _module = run({"state": "present"}, rows=[])
    assert outcome.result["created"] is True
    assert [p for q, p in client.executed_queries if q == pg_slots.managed_slots_sql(150018)][0]["subtasks"] is False
    assert client.calls(pg_slots.CREATE_SLOT_SQL) == [NAME]
    create = [p for q, p in client.executed_queries if q == pg_slots.CREATE_SLOT_SQL][0]
    assert create == {"name": NAME, "plugin": "pgoutput"}


def test_active_slot_fails_before_any_drop():
    outcome, client, _module = run()
    assert isinstance(outcome, Failed)
    msg = outcome.result["msg"]
    assert msg.startswith("replication slot prs_fx_job is active for PID 4242 (client 127.0.0.1, application "
                          "pg_recvlogical, user prs_fx_cdc)")
    assert "(PostgreSQL at 127.0.0.1:15432). Stop the consumer" in msg
    assert client.calls(pg_slots.DROP_SLOT_SQL) == []
    assert (outcome.result["changed"], outcome.result["dropped"]) == (False, [])
    assert client.closed


def test_active_slot_left_with_fail_on_active_false():
    outcome, client, module = run({"fail_on_active": False}, diff=True)
    assert not isinstance(outcome, Failed)
    assert client.calls(pg_slots.DROP_SLOT_SQL) == [NAME + "_0", NAME + "_10"]
    assert outcome.result["active"] == [{"name": NAME, "active_pid": 4242, "user": "prs_fx_cdc",
                                         "application_name": "pg_recvlogical", "client_addr": "127.0.0.1"}]
    assert outcome.result["diff"]["after"] == {"slots": [NAME]}
    assert any("replication slot prs_fx_job is active for PID 4242" in w for w in module.warnings)


def test_slot_gone_meanwhile_is_not_reported_dropped():
    errors = {NAME + "_0": query_error("42704", 'replication slot "prs_fx_job_0" does not exist')}
    outcome, _client, _module = run(rows=inactive_rows(), errors=errors)
    assert not isinstance(outcome, Failed)
    assert outcome.result["dropped"] == [NAME, NAME + "_10"]


def test_slot_that_became_active_meanwhile():
    reason = 'replication slot "prs_fx_job_0" is active for PID 999'
    errors = {NAME + "_0": query_error("55006", reason)}
    left, _client, module = run({"fail_on_active": False}, rows=inactive_rows(), errors=errors, diff=True)
    assert not isinstance(left, Failed)
    assert left.result["dropped"] == [NAME, NAME + "_10"]
    assert left.result["active"] == [{"name": NAME + "_0", "active_pid": 999, "user": None,
                                      "application_name": None, "client_addr": None}]
    assert left.result["diff"]["after"] == {"slots": [NAME + "_0"]}
    assert any("became active before it was dropped" in w for w in module.warnings)

    failed, client, _module = run(rows=inactive_rows(), errors=errors)
    assert isinstance(failed, Failed)
    assert failed.result["msg"].startswith("cannot drop replication slot prs_fx_job_0 on 127.0.0.1:15432: " + reason)
    # What was dropped before the failure is reported, and the task changed something.
    assert (failed.result["changed"], failed.result["dropped"]) == (True, [NAME])
    assert client.calls(pg_slots.DROP_SLOT_SQL) == [NAME, NAME + "_0"]


def test_permission_error_gives_the_exact_fix():
    errors = {NAME: query_error("42501", "must be superuser or replication role to use replication slots")}
    outcome, _client, _module = run({"state": "present"}, rows=[], errors=errors)
    assert isinstance(outcome, Failed)
    msg = outcome.result["msg"]
    assert "cannot create replication slot prs_fx_job on 127.0.0.1:15432" in msg
    assert "(role prs_fx_cdc needs REPLICATION or superuser)" in msg
    assert "ALTER ROLE prs_fx_cdc WITH REPLICATION;" in msg
    assert outcome.result["created"] is False and outcome.result["changed"] is False


def test_foreign_slot_of_that_name_fails_with_where_and_what():
    rows = recorded_rows()
    outcome, client, _module = run({"name": NAME + "_2", "include_subtask_slots": False}, rows=rows)
    assert isinstance(outcome, Failed)
    assert outcome.result["msg"].startswith("replication slot prs_fx_job_2 is a physical slot, not a logical slot "
                                            "of database prs_fx: this module never drops it")
    assert "(PostgreSQL at 127.0.0.1:15432). Give the Flink CDC job another slot.name." in outcome.result["msg"]
    assert client.calls(pg_slots.DROP_SLOT_SQL) == []


def test_invalid_name_fails_before_connecting():
    outcome, client, _module = run({"name": "Flink-Slot"})
    assert isinstance(outcome, Failed)
    assert outcome.result["msg"] == ("name: slot name 'Flink-Slot' is invalid: Flink CDC's slot.name allows only "
                                     "lowercase letters, digits and _. Use a name like 'flink_slot', also as the "
                                     "job's 'slot.name'.")
    assert client.connected is None and client.executed_queries == []


def test_connect_failure_has_the_hint():
    error = pg_connection.PgConnectError("cannot connect to PostgreSQL at 127.0.0.1:15432 (database prs_fx, user u): "
                                         "password authentication failed for user \"u\"", "auth",
                                         "password authentication failed for user \"u\"")
    outcome, _client, _module = run(connect_error=error)
    assert isinstance(outcome, Failed)
    assert "password authentication failed" in outcome.result["msg"]
    assert "login_password" in outcome.result["msg"]
    assert outcome.result["queries"] == []


def test_query_failure_is_reported_with_the_queries_so_far():
    class Broken(FakeClient):
        def query(self, sql, params=None, record=True):
            if sql == pg_slots.managed_slots_sql(150018):
                raise query_error("57P01", "terminating connection due to administrator command")
            return FakeClient.query(self, sql, params, record)

    module = FakeModule({})
    client = Broken(module, [])
    with pytest.raises(Failed) as caught:
        pg_replication_slot.PgReplicationSlot(client).run()
    assert "terminating connection" in caught.value.result["msg"]
    assert client.closed
