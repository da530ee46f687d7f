"""pg_replication_slot against the bed's real PostgreSQL 15 (no mocks).

A module-scoped scenario makes its own database and roles, named
``prs_<random>...``; every slot a test creates starts with that prefix, is
created out-of-band as the bed's superuser with the real slot functions, and
is dropped when the test ends (consumers are ended first). What the module
did is always confirmed out-of-band in pg_replication_slots.
"""

import contextlib
import json
import os
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))

import bed as bed_mod  # noqa: E402
import pg_seed  # noqa: E402
from psycopg2 import sql as pgsql  # noqa: E402

MODULE = "pg_replication_slot"
SLOTS_FIXTURE = os.path.join(ROOT, "tests", "unit", "fixtures", "pg", "slots.json")


# --------------------------------------------------------------------------- scenario and helpers


def scenario_names(suffix):
    prefix = "prs_%s" % suffix
    return {"prefix": prefix, "database": prefix, "password": "pw-" + uuid.uuid4().hex[:16],
            "cdc_user": prefix + "_cdc", "norepl_user": prefix + "_norepl", "publication": "prs_pub"}


def drop_scenario(pg, names):
    pg_seed.drop_slots(pg, names["prefix"] + "_")
    conn = pg_seed.admin_connect(pg)
    try:
        with conn.cursor() as cur:
            cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(names["database"])))
            for key in ("cdc_user", "norepl_user"):
                cur.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(names[key])))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def logical(bed):
    return bed["postgres"]["logical"]


@pytest.fixture(scope="module")
def scenario(logical):
    names = scenario_names(uuid.uuid4().hex[:8])
    drop_scenario(logical, names)
    conn = pg_seed.admin_connect(logical)
    try:
        with conn.cursor() as cur:
            cur.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(names["database"])))
            for key, options in (("cdc_user", "LOGIN REPLICATION"), ("norepl_user", "LOGIN NOREPLICATION")):
                cur.execute(pgsql.SQL("CREATE ROLE {} WITH " + options + " PASSWORD %s")
                            .format(pgsql.Identifier(names[key])), (names["password"],))
    finally:
        conn.close()
    # pgoutput needs a publication to stream (pg_recvlogical holds slots with it).
    execute(logical, names["database"], pgsql.SQL("CREATE PUBLICATION {} FOR ALL TABLES")
            .format(pgsql.Identifier(names["publication"])))
    try:
        yield names
    finally:
        drop_scenario(logical, names)


execute = pg_seed.query


def create_logical(pg, db, *names, plugin="pgoutput"):
    for name in names:
        execute(pg, db, "SELECT pg_create_logical_replication_slot(%s, %s)", (name, plugin))


def slot_rows(pg, prefix):
    """{name: (slot_type, database, plugin, active)} of the slots starting with ``prefix``, out-of-band."""
    rows = execute(pg, "postgres", "SELECT slot_name::text, slot_type, database::text, plugin::text, active "
                                   "FROM pg_replication_slots WHERE starts_with(slot_name::text, %s)", (prefix,))
    return {row[0]: tuple(row[1:]) for row in rows}


@contextlib.contextmanager
def slots_cleaned(pg, prefix):
    try:
        yield
    finally:
        pg_seed.drop_slots(pg, prefix)


def login(pg, names, user=None, **extra):
    args = {"login_host": pg["host"], "login_port": pg["port"], "login_user": user or names["cdc_user"],
            "login_password": names["password"], "login_db": names["database"]}
    args.update(extra)
    return args


def consumer(pg, names, slot):
    """A real pg_recvlogical streaming from ``slot``; yields its WAL sender's PID."""
    return pg_seed.logical_consumer(pg, names, slot, bed_mod.pg_bin())


# --------------------------------------------------------------------------- state=absent


def test_absent_with_subtask_slots_check_mode_first_then_real_then_idempotent(ansible, logical, scenario):
    base = scenario["prefix"] + "_job"
    db = scenario["database"]
    with slots_cleaned(logical, scenario["prefix"] + "_"):
        create_logical(logical, db, base, base + "_0", base + "_1", base + "_10", base + "_x", base + "_0a",
                       scenario["prefix"] + "_other")
        # Named like a subtask slot, but of another database: never dropped from here.
        create_logical(logical, "postgres", base + "_2")
        before = slot_rows(logical, scenario["prefix"])
        args = login(logical, scenario, name=base, state="absent", include_subtask_slots=True)

        checked = ansible.module(MODULE, args, check=True, diff=True)
        assert not checked.failed, checked
        assert checked.result["changed"] is True
        assert checked.result["dropped"] == [base, base + "_0", base + "_1", base + "_10"]
        assert checked.result["created"] is False
        assert not any("pg_drop_replication_slot" in q for q in checked.result["queries"])
        assert slot_rows(logical, scenario["prefix"]) == before  # out-of-band: check mode changed nothing

        real = ansible.module(MODULE, args, diff=True)
        assert not real.failed, real
        result = real.result
        assert result["changed"] is True
        assert result["dropped"] == [base, base + "_0", base + "_1", base + "_10"]
        assert result["database"] == db
        assert result["active"] == []
        for run in (checked, real):
            assert run.result["diff"] == {"before": {"slots": [base, base + "_0", base + "_1", base + "_10"]},
                                          "after": {"slots": []}}
            listed = {s["name"]: s for s in run.result["slots"]}
            assert sorted(listed) == sorted([base, base + "_0", base + "_1", base + "_10", base + "_2"])
            assert listed[base] == {"name": base, "slot_type": "logical", "database": db, "plugin": "pgoutput",
                                    "temporary": False, "active": False, "active_pid": None,
                                    "retained_bytes": listed[base]["retained_bytes"],
                                    "lag_bytes": listed[base]["lag_bytes"]}
            assert isinstance(listed[base]["retained_bytes"], int) and isinstance(listed[base]["lag_bytes"], int)
            assert listed[base + "_2"]["database"] == "postgres"
            assert "[WARNING]: replication slot %s is named like a subtask slot of %s" % (base + "_2", base) \
                in run.output
        assert "SELECT pg_drop_replication_slot('%s')" % base in result["queries"]
        assert any("s.slot_name = '%s'" % base in q and "'^%s_[0-9]+$'" % base in q for q in result["queries"])
        assert sorted(slot_rows(logical, scenario["prefix"])) == sorted(
            [base + "_x", base + "_0a", base + "_2", scenario["prefix"] + "_other"])

        again = ansible.module(MODULE, args)
        assert not again.failed, again
        assert (again.result["changed"], again.result["dropped"]) == (False, [])
        again_checked = ansible.module(MODULE, args, check=True)
        assert (again_checked.result["changed"], again_checked.result["dropped"]) == (False, [])


def test_absent_without_subtask_slots_drops_only_the_slot(ansible, logical, scenario):
    base = scenario["prefix"] + "_solo"
    with slots_cleaned(logical, base):
        create_logical(logical, scenario["database"], base, base + "_0")
        run = ansible.module(MODULE, login(logical, scenario, name=base, state="absent"))
        assert not run.failed, run
        assert run.result["dropped"] == [base]
        assert [s["name"] for s in run.result["slots"]] == [base]
        assert sorted(slot_rows(logical, base)) == [base + "_0"]


def test_active_slot_is_refused_with_its_pid_and_kept(ansible, logical, scenario):
    base = scenario["prefix"] + "_busy"
    with slots_cleaned(logical, base):
        create_logical(logical, scenario["database"], base, base + "_0")
        args = login(logical, scenario, name=base, state="absent", include_subtask_slots=True)
        with consumer(logical, scenario, base) as pid:
            refused = ansible.module(MODULE, args)
            assert refused.failed, refused
            msg = refused.result["msg"]
            assert "replication slot %s is active for PID %d" % (base, pid) in msg
            assert "client 127.0.0.1" in msg and "application pg_recvlogical" in msg
            assert "user %s" % scenario["cdc_user"] in msg
            assert "Stop the consumer" in msg and "SELECT pg_terminate_backend(%d);" % pid in msg
            assert "127.0.0.1:%d" % logical["port"] in msg
            assert refused.result["changed"] is False and refused.result["dropped"] == []
            # Nothing was dropped, not even the inactive subtask slot.
            assert sorted(slot_rows(logical, base)) == [base, base + "_0"]

            checked = ansible.module(MODULE, args, check=True)
            assert checked.failed and "is active for PID %d" % pid in checked.result["msg"]

            left = ansible.module(MODULE, dict(args, fail_on_active=False), diff=True)
            assert not left.failed, left
            assert left.result["changed"] is True
            assert left.result["dropped"] == [base + "_0"]
            assert left.result["active"] == [{"name": base, "active_pid": pid, "user": scenario["cdc_user"],
                                              "application_name": "pg_recvlogical", "client_addr": "127.0.0.1"}]
            assert left.result["diff"] == {"before": {"slots": [base, base + "_0"]}, "after": {"slots": [base]}}
            assert "[WARNING]: replication slot %s is active for PID %d" % (base, pid) in left.output
            assert slot_rows(logical, base) == {base: ("logical", scenario["database"], "pgoutput", True)}
        # The consumer stopped: now it goes.
        run = ansible.module(MODULE, args)
        assert not run.failed, run
        assert run.result["dropped"] == [base]
        assert slot_rows(logical, base) == {}


def test_physical_slot_or_slot_of_another_database_is_never_touched(ansible, logical, scenario):
    physical = scenario["prefix"] + "_phys"
    elsewhere = scenario["prefix"] + "_elsewhere"
    with slots_cleaned(logical, scenario["prefix"] + "_phys"), slots_cleaned(logical, elsewhere):
        execute(logical, "postgres", "SELECT pg_create_physical_replication_slot(%s, true)", (physical,))
        create_logical(logical, "postgres", elsewhere)
        for state in ("absent", "present"):
            run = ansible.module(MODULE, login(logical, scenario, name=physical, state=state,
                                               include_subtask_slots=True))
            assert run.failed, run
            assert "replication slot %s is a physical slot, not a logical slot of database %s" \
                % (physical, scenario["database"]) in run.result["msg"]
            assert "another slot.name" in run.result["msg"]
            assert run.result["changed"] is False
            run = ansible.module(MODULE, login(logical, scenario, name=elsewhere, state=state))
            assert run.failed, run
            assert "replication slot %s is a logical slot of database postgres, not of %s" \
                % (elsewhere, scenario["database"]) in run.result["msg"]
            assert "login_db=postgres" in run.result["msg"]
        assert slot_rows(logical, physical) == {physical: ("physical", None, None, False)}
        assert slot_rows(logical, elsewhere) == {elsewhere: ("logical", "postgres", "pgoutput", False)}


# --------------------------------------------------------------------------- state=present


def test_present_check_mode_then_create_then_idempotent(ansible, logical, scenario):
    name = scenario["prefix"] + "_new"
    with slots_cleaned(logical, name):
        args = login(logical, scenario, name=name)
        checked = ansible.module(MODULE, args, check=True, diff=True)
        assert not checked.failed, checked
        assert (checked.result["changed"], checked.result["created"], checked.result["slots"]) == (True, True, [])
        assert not any("pg_create_logical_replication_slot" in q for q in checked.result["queries"])
        assert slot_rows(logical, name) == {}

        created = ansible.module(MODULE, args, diff=True)
        assert not created.failed, created
        assert (created.result["changed"], created.result["created"], created.result["dropped"]) == (True, True, [])
        assert "SELECT slot_name::text AS slot_name, lsn::text AS lsn FROM pg_create_logical_replication_slot(" \
               "'%s', 'pgoutput')" % name in created.result["queries"]
        for run in (checked, created):
            assert run.result["diff"] == {"before": {"slots": []}, "after": {"slots": [name]}}
        assert slot_rows(logical, name) == {name: ("logical", scenario["database"], "pgoutput", False)}

        again = ansible.module(MODULE, args, diff=True)
        assert not again.failed, again
        assert (again.result["changed"], again.result["created"]) == (False, False)
        assert [s["name"] for s in again.result["slots"]] == [name]
        assert again.result["diff"] == {"before": {"slots": [name]}, "after": {"slots": [name]}}

        other_plugin = ansible.module(MODULE, dict(args, plugin="test_decoding"))
        assert other_plugin.failed
        assert "exists in database %s with plugin pgoutput, not test_decoding" % scenario["database"] \
            in other_plugin.result["msg"]
        assert slot_rows(logical, name) == {name: ("logical", scenario["database"], "pgoutput", False)}


def test_present_with_another_plugin_and_a_missing_plugin(ansible, logical, scenario):
    name = scenario["prefix"] + "_testdec"
    with slots_cleaned(logical, name):
        run = ansible.module(MODULE, login(logical, scenario, name=name, plugin="test_decoding"))
        assert not run.failed, run
        assert slot_rows(logical, name) == {name: ("logical", scenario["database"], "test_decoding", False)}
        missing = ansible.module(MODULE, login(logical, scenario, name=name + "_nope", plugin="no_such_plugin"))
        assert missing.failed
        assert "cannot create replication slot %s_nope" % name in missing.result["msg"]
        assert "not installed on the server" in missing.result["msg"]
        assert slot_rows(logical, name + "_nope") == {}


def test_role_without_replication_gets_the_exact_fix(ansible, logical, scenario):
    name = scenario["prefix"] + "_norepl"
    user = scenario["norepl_user"]
    with slots_cleaned(logical, name):
        present = ansible.module(MODULE, login(logical, scenario, user=user, name=name))
        assert present.failed
        assert "cannot create replication slot %s" % name in present.result["msg"]
        assert "must be superuser or replication role" in present.result["msg"]
        assert "ALTER ROLE %s WITH REPLICATION;" % user in present.result["msg"]
        assert "GRANT rds_replication TO %s;" % user in present.result["msg"]
        assert slot_rows(logical, name) == {}

        create_logical(logical, scenario["database"], name)
        checked = ansible.module(MODULE, login(logical, scenario, user=user, name=name, state="absent"), check=True)
        assert not checked.failed, checked
        assert checked.result["dropped"] == [name]
        assert "[WARNING]: role %s has neither REPLICATION nor superuser, so the real run would fail" % user \
            in checked.output
        absent = ansible.module(MODULE, login(logical, scenario, user=user, name=name, state="absent"))
        assert absent.failed
        assert "cannot drop replication slot %s" % name in absent.result["msg"]
        assert "ALTER ROLE %s WITH REPLICATION;" % user in absent.result["msg"]
        assert absent.result["changed"] is False and absent.result["dropped"] == []
        assert sorted(slot_rows(logical, name)) == [name]


# --------------------------------------------------------------------------- options and secrets


def test_invalid_name_fails_before_connecting(ansible, logical, scenario):
    run = ansible.module(MODULE, login(logical, scenario, name="Flink-Slot", state="absent"))
    assert run.failed
    assert "name: slot name 'Flink-Slot' is invalid" in run.result["msg"]
    assert "'flink_slot'" in run.result["msg"]
    assert run.result["queries"] == []


def test_wrong_password_is_never_shown_at_vvv(ansible, logical, scenario):
    wrong = "Wr0ng-" + uuid.uuid4().hex
    run = ansible.module(MODULE, login(logical, scenario, login_password=wrong, name=scenario["prefix"] + "_x",
                                       state="absent"), verbosity=3)
    assert run.failed
    assert "password authentication failed" in run.result["msg"]
    assert "127.0.0.1:%d" % logical["port"] in run.result["msg"]
    assert "login_password" in run.result["msg"]
    assert "Traceback" not in run.output
    assert "ESTABLISH LOCAL CONNECTION" in run.output  # really -vvv
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.output  # the invocation was printed, masked
    assert wrong not in run.output
    assert scenario["password"] not in run.output


# --------------------------------------------------------------------------- slots.json stays truthful


def test_recorded_slots_fixture_matches_live_rows(logical, scenario):
    """tests/unit/fixtures/pg/slots.json holds managed_slots_sql() rows as the bed returns them.

    Set CDCOPS_RECORD_FIXTURES=1 to write it again.
    """
    _pg = pg_seed._collection_import()
    base = scenario["prefix"] + "_job"
    with slots_cleaned(logical, scenario["prefix"] + "_job"):
        create_logical(logical, scenario["database"], base, base + "_0", base + "_10", base + "_x")
        create_logical(logical, "postgres", base + "_1")
        execute(logical, "postgres", "SELECT pg_create_physical_replication_slot(%s)", (base + "_2",))
        execute(logical, scenario["database"], "CREATE TABLE IF NOT EXISTS wal_filler (id int)")
        execute(logical, scenario["database"], "INSERT INTO wal_filler SELECT generate_series(1, 1000)")
        with consumer(logical, scenario, base) as pid:
            client = _pg.connection.PgClient(_pg.connection.connection_kwargs({
                "login_host": logical["host"], "login_port": logical["port"], "login_user": scenario["cdc_user"],
                "login_password": scenario["password"], "login_db": scenario["database"], "connect_timeout": 10}))
            client.connect(readonly=False)
            try:
                server = client.query(_pg.catalog.SERVER_SQL)[0]
                rows = client.query(_pg.slots.managed_slots_sql(server["version_num"]), {
                    "name": base, "subtasks": True, "subtask_pattern": _pg.slots.subtask_slot_pattern(base)})
            finally:
                client.close()
    assert [r["slot_name"] for r in rows] == [base, base + "_0", base + "_1", base + "_10", base + "_2"]
    for row in rows:
        if row["active_pid"] == pid:
            row["active_pid"] = 4242
    live = json.loads(json.dumps({"name": base, "database": scenario["database"], "rows": rows}, default=str)
                      .replace(scenario["prefix"], "prs_fx"))
    if os.environ.get("CDCOPS_RECORD_FIXTURES") == "1":
        live["recorded_from"] = ("PostgreSQL %s, tests/integration/test_pg_replication_slot.py "
                                 "(CDCOPS_RECORD_FIXTURES=1)" % server["version"])
        with open(SLOTS_FIXTURE, "w") as f:
            f.write(json.dumps(live, indent=2, sort_keys=True) + "\n")
    with open(SLOTS_FIXTURE) as f:
        recorded = json.load(f)
    assert recorded["name"] == live["name"] and recorded["database"] == live["database"]

    def shape(row):
        # Values that differ from run to run (LSNs, WAL held back) keep only their type.
        return {key: (value if key in ("slot_name", "slot_type", "database", "plugin", "active", "temporary",
                                       "active_user", "active_application", "active_client_addr", "active_pid")
                      else type(value).__name__) for key, value in row.items()}

    assert [shape(r) for r in recorded["rows"]] == [shape(r) for r in live["rows"]]
