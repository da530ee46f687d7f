"""pg_logical_check against the bed's real PostgreSQL 15 clusters (no mocks).

A module-scoped scenario (tests/bed/pg_seed.py ``create_scenario``) makes a
database, roles and publications named ``plc_<random>...``, next to every
broken variant the checks must catch; it is dropped afterwards. Slots the
tests create carry the same prefix and are dropped with it.
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))

import bed as bed_mod  # noqa: E402
import pg_seed  # noqa: E402

MODULE = "pg_logical_check"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def logical(bed):
    return bed["postgres"]["logical"]


@pytest.fixture(scope="module")
def replica(bed):
    return bed["postgres"]["replica"]


@pytest.fixture(scope="module")
def scenario(logical):
    names = pg_seed.create_scenario(logical, uuid.uuid4().hex[:8])
    try:
        yield names
    finally:
        pg_seed.drop_scenario(logical, names)


def login(pg, user, password, db, **extra):
    args = {"login_host": pg["host"], "login_port": pg["port"], "login_user": user,
            "login_password": password, "login_db": db}
    args.update(extra)
    return args


def as_cdc(pg, names, **extra):
    return login(pg, names["cdc_user"], names["password"], names["database"], **extra)


def ready_args(pg, names, **extra):
    """A source that is ready: the REPLICATION role, covered tables with keys, FULL identity."""
    args = as_cdc(pg, names, tables=names["good_tables"], publication=names["publication"],
                  slot_name=names["prefix"] + "_job", slots_needed=3)
    args.update(extra)
    return args


def check(result, name, table=None):
    found = [c for c in result["checks"] if c["name"] == name and (table is None or c.get("table") == table)]
    assert len(found) == 1, "no single %s check for %s in %s" % (name, table, json.dumps(result["checks"], indent=1))
    return found[0]


def assert_fails(run, name, severity, hint_parts=(), table=None, message_parts=()):
    """The check failed with this severity, says what is wrong and hints at the fix."""
    found = check(run.result, name, table)
    assert found["ok"] is False, found
    assert found["severity"] == severity, found
    for part in message_parts:
        assert part in found["message"], (part, found)
    for part in hint_parts:
        assert part in found["hint"], (part, found)
    if severity == "error":
        label = "%s (%s)" % (name, table) if table else name
        assert label in run.result["failed_checks"]
    return found


def assert_passes(result, name, table=None):
    found = check(result, name, table)
    assert found["ok"] is True, found
    assert found["hint"] == ""
    return found


def assert_not_ready(run, *labels):
    """Default fail_on_not_ready: the task failed and its message names every failing check."""
    assert run.failed and run.rc != 0, run
    result = run.result
    assert result["ready"] is False
    assert result["changed"] is False
    assert "is not ready for Flink CDC" in result["msg"]
    for label in labels:
        assert label in result["failed_checks"], (label, result["failed_checks"])
    for label in result["failed_checks"]:
        assert label + ": " in result["msg"], (label, result["msg"])
    return result


def admin(pg, db="postgres"):
    return pg_seed.admin_connect(pg, db)


sql = pg_seed.query


def slot_row(pg, name):
    rows = sql(pg, "postgres", "SELECT active, active_pid, plugin, database FROM pg_replication_slots "
                               "WHERE slot_name = %s", (name,))
    return rows[0] if rows else None


def drop_slot(pg, name):
    pg_seed.drop_slots(pg, name)


# --------------------------------------------------------------------------- a ready source


def test_ready_source_passes_check_mode_first_then_real(ansible, logical, scenario):
    args = ready_args(logical, scenario)
    publications_before = sql(logical, scenario["database"], "SELECT pubname FROM pg_publication ORDER BY 1")

    checked = ansible.module(MODULE, args, check=True)
    assert not checked.failed, checked
    real = ansible.module(MODULE, args)
    assert not real.failed, real

    for run in (checked, real):
        result = run.result
        assert result["ready"] is True
        assert result["changed"] is False
        assert result["failed_checks"] == []
        for name in ("connect", "standby", "wal_level", "pending_restart", "role", "free_replication_slots",
                     "free_wal_senders", "slot_name", "slot", "publication", "publication_actions",
                     "replication_connection"):
            assert_passes(result, name)
        for table in ("public.orders", "public.customers", '"Sales.EU"."Orders"'):
            for name in ("table_exists", "table_select", "table_primary_key", "table_replica_identity"):
                assert_passes(result, name, table)
        # PostgreSQL 15 is newer than the Flink CDC tested range (FACTS.md): a warning only.
        version = check(result, "server_version")
        assert (version["ok"], version["severity"]) == (False, "warning")
        assert "(9.6 - 14)" in version["message"]
        assert result["server_version"]["major"] == 15
        assert result["database"] == scenario["database"]
        assert result["user"] == scenario["cdc_user"]
        assert result["settings"]["wal_level"] == "logical"
        assert result["settings"]["max_replication_slots"] == "10"
        assert "slot %s does not exist yet" % (scenario["prefix"] + "_job") in check(result, "slot")["message"]
        assert "IDENTIFY_SYSTEM" in result["queries"]
        assert any("FROM pg_publication p WHERE p.pubname = 'plc_pub_good'" in q for q in result["queries"])
        assert "replication=database" in check(result, "replication_connection")["message"]
        assert "[WARNING]: server_version: PostgreSQL 15" in run.output

    # Same verdict in check mode, and nothing changed on the server.
    assert [(c["name"], c.get("table"), c["ok"]) for c in checked.result["checks"]] == \
        [(c["name"], c.get("table"), c["ok"]) for c in real.result["checks"]]
    assert slot_row(logical, scenario["prefix"] + "_job") is None
    assert sql(logical, scenario["database"], "SELECT pubname FROM pg_publication ORDER BY 1") == publications_before


def test_demo_source_is_ready_and_seeding_is_idempotent(ansible, logical):
    first = pg_seed.seed_demo(logical)
    second = pg_seed.seed_demo(logical)
    assert first == second
    assert first["database"] == "shop" and first["user"] == "flink_cdc"
    assert first["publication"] == "flink_cdc_pub" and first["slot_name"] == "flink_cdc_shop"
    assert first["tables"] == list(pg_seed.DEMO_TABLES)
    assert first["tables"][:2] == ["public.customers", "public.orders"]
    run = ansible.module(MODULE, login(logical, first["user"], first["password"], first["database"],
                                       tables=first["tables"], publication=first["publication"],
                                       slot_name=first["slot_name"], slots_needed=2))
    assert not run.failed, run
    assert run.result["ready"] is True
    assert run.result["failed_checks"] == []
    assert first["password"] not in run.output


def test_unix_socket_superuser(ansible, logical, scenario):
    run = ansible.module(MODULE, {"login_unix_socket": logical["socket_dir"], "login_port": logical["port"],
                                  "login_user": "postgres", "login_db": scenario["database"],
                                  "tables": scenario["good_tables"], "publication": scenario["publication"]})
    assert not run.failed, run
    connect = assert_passes(run.result, "connect")
    assert "unix socket %s/.s.PGSQL.%d" % (logical["socket_dir"], logical["port"]) in connect["message"]
    assert "superuser" in assert_passes(run.result, "role")["message"]


# --------------------------------------------------------------------------- connection failures


def test_wrong_password_is_reported_and_never_shown(ansible, logical, scenario):
    wrong = "Wr0ng-" + uuid.uuid4().hex
    run = ansible.module(MODULE, login(logical, scenario["cdc_user"], wrong, scenario["database"]), verbosity=3)
    assert_not_ready(run, "connect")
    found = assert_fails(run, "connect", "error", hint_parts=("login_password",),
                         message_parts=("127.0.0.1:%d" % logical["port"], "password authentication failed"))
    assert [c["name"] for c in run.result["checks"]] == ["connect"]
    assert "Traceback" not in run.output
    # -vvv prints the module invocation; the password must be masked everywhere.
    assert "ESTABLISH LOCAL CONNECTION" in run.output  # really -vvv
    assert wrong not in run.output
    assert scenario["password"] not in run.output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.output  # the invocation was printed, masked
    assert scenario["cdc_user"] in found["message"]


def test_role_without_connect_privilege(ansible, logical, scenario):
    run = ansible.module(MODULE, login(logical, scenario["noconnect_user"], scenario["password"],
                                       scenario["database"]))
    assert_not_ready(run, "connect")
    assert_fails(run, "connect", "error",
                 hint_parts=("GRANT CONNECT ON DATABASE %s TO %s;" % (scenario["database"], scenario["noconnect_user"]),),
                 message_parts=("127.0.0.1:%d" % logical["port"], "permission denied for database"))


def test_unreachable_port(ansible, logical, scenario):
    port = bed_mod.PORTS["pg_logical"] + 5000
    assert not bed_mod.port_open("127.0.0.1", port)
    run = ansible.module(MODULE, as_cdc(logical, scenario, login_port=port, connect_timeout=5))
    assert_not_ready(run, "connect")
    assert_fails(run, "connect", "error", hint_parts=("login_host", "listen_addresses"),
                 message_parts=("127.0.0.1:%d" % port, "Connection refused"))


def test_ssl_refused(ansible, logical, scenario):
    run = ansible.module(MODULE, as_cdc(logical, scenario, ssl_mode="require"))
    assert_not_ready(run, "connect")
    assert_fails(run, "connect", "error", hint_parts=("ssl_mode",),
                 message_parts=("127.0.0.1:%d" % logical["port"], "server does not support SSL"))


def test_missing_psycopg2_gives_missing_required_lib(ansible, logical, scenario):
    python = "/usr/bin/python3"
    probe = subprocess.run([python, "-c", "import psycopg2"], capture_output=True, check=False)
    assert probe.returncode != 0, "%s has psycopg2; this test needs an interpreter without it" % python
    run = ansible.module(MODULE, as_cdc(logical, scenario), env={"ANSIBLE_PYTHON_INTERPRETER": python})
    assert run.failed
    assert "Failed to import the required Python library (psycopg2)" in run.result["msg"]
    assert "Traceback" not in run.output


def test_invalid_options_fail_clearly(ansible, logical, scenario):
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["shop.public.orders"]))
    assert run.failed and "tables: table name 'shop.public.orders' has 3 dot-separated parts" in run.result["msg"]
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["public.orders"],
                                        chunk_key_columns={"public.other": "id"}))
    assert run.failed and "chunk_key_columns names public.other, which is not in tables" in run.result["msg"]
    run = ansible.module(MODULE, as_cdc(logical, scenario, slots_needed=0))
    assert run.failed and "slots_needed must be at least 1" in run.result["msg"]


# --------------------------------------------------------------------------- server settings


def test_wal_level_replica_cluster_fails_with_alter_system_hint(ansible, replica):
    run = ansible.module(MODULE, login(replica, replica["user"], replica["password"], "postgres"))
    result = assert_not_ready(run, "wal_level")
    assert result["failed_checks"] == ["wal_level"]
    assert_fails(run, "wal_level", "error",
                 hint_parts=("ALTER SYSTEM SET wal_level = logical;", "restart PostgreSQL",
                             "rds.logical_replication = 1"),
                 message_parts=("wal_level is replica",))
    assert result["settings"]["wal_level"] == "replica"
    assert "wal_level: wal_level is replica" in result["msg"]
    assert "127.0.0.1:%d" % replica["port"] in result["msg"]


def test_fail_on_not_ready_false_reports_without_failing(ansible, replica):
    run = ansible.module(MODULE, login(replica, replica["user"], replica["password"], "postgres",
                                       fail_on_not_ready=False))
    assert not run.failed, run
    assert run.rc == 0
    assert run.result["ready"] is False
    assert run.result["failed_checks"] == ["wal_level"]
    assert "msg" not in run.result or "not ready" not in run.result.get("msg", "")


def test_slots_needed_larger_than_free_slots(ansible, logical, scenario):
    run = ansible.module(MODULE, ready_args(logical, scenario, slots_needed=50))
    assert_not_ready(run, "free_replication_slots", "free_wal_senders")
    slots = assert_fails(run, "free_replication_slots", "error",
                         hint_parts=("ALTER SYSTEM SET max_replication_slots =", "restart PostgreSQL"),
                         message_parts=("of 10 replication slots free", "the job needs 50"))
    assert "temporary slot per incremental-snapshot subtask" in slots["message"]
    assert_fails(run, "free_wal_senders", "error", hint_parts=("ALTER SYSTEM SET max_wal_senders =",),
                 message_parts=("of 10 WAL senders free",))


def test_pending_restart_is_a_warning(ansible, logical, scenario):
    conn = admin(logical)
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER SYSTEM SET max_wal_senders = 11")
            cur.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while not sql(logical, "postgres", "SELECT pending_restart FROM pg_settings WHERE name = 'max_wal_senders'")[0][0]:
            assert time.monotonic() < deadline, "the reload did not mark max_wal_senders pending"
            time.sleep(0.2)
        run = ansible.module(MODULE, ready_args(logical, scenario))
    finally:
        with conn.cursor() as cur:
            cur.execute("ALTER SYSTEM RESET max_wal_senders")
            cur.execute("SELECT pg_reload_conf()")
        conn.close()
    assert not run.failed, run
    assert run.result["ready"] is True
    assert "max_wal_senders" in run.result["pending_restart"]
    assert_fails(run, "pending_restart", "warning",
                 hint_parts=("Restart PostgreSQL", "ALTER SYSTEM RESET max_wal_senders;"),
                 message_parts=("max_wal_senders",))
    assert "[WARNING]: pending_restart:" in run.output
    deadline = time.monotonic() + 10
    while sql(logical, "postgres", "SELECT pending_restart FROM pg_settings WHERE name = 'max_wal_senders'")[0][0]:
        assert time.monotonic() < deadline, "max_wal_senders still pending after RESET"
        time.sleep(0.2)


# --------------------------------------------------------------------------- role


def test_user_without_replication(ansible, logical, scenario):
    run = ansible.module(MODULE, login(logical, scenario["norepl_user"], scenario["password"], scenario["database"],
                                       tables=scenario["good_tables"], publication=scenario["publication"]))
    result = assert_not_ready(run, "role", "replication_connection")
    assert result["failed_checks"] == ["role", "replication_connection"]
    assert_fails(run, "role", "error", hint_parts=("ALTER ROLE %s WITH REPLICATION;" % scenario["norepl_user"],
                                                   "rds_replication"),
                 message_parts=("neither REPLICATION nor superuser",))
    assert_fails(run, "replication_connection", "error",
                 hint_parts=("ALTER ROLE %s WITH REPLICATION;" % scenario["norepl_user"],),
                 message_parts=("replication=database", "must be superuser or replication role"))


def test_user_with_replication(ansible, logical, scenario):
    run = ansible.module(MODULE, ready_args(logical, scenario, replication_connection=True))
    assert not run.failed, run
    assert "has LOGIN and REPLICATION" in assert_passes(run.result, "role")["message"]
    assert_passes(run.result, "replication_connection")


# --------------------------------------------------------------------------- tables


def test_table_without_primary_key(ansible, logical, scenario):
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["public.events_nopk"],
                                        publication=scenario["all_publication"]))
    result = assert_not_ready(run, "table_primary_key (public.events_nopk)")
    assert result["failed_checks"] == ["table_primary_key (public.events_nopk)"]
    assert "FOR ALL TABLES" in assert_passes(result, "publication")["message"]
    assert_fails(run, "table_primary_key", "error", table="public.events_nopk",
                 hint_parts=("ALTER TABLE public.events_nopk ADD PRIMARY KEY",
                             "scan.incremental.snapshot.chunk.key-column"),
                 message_parts=("has no primary key",))


def test_chunk_key_column_for_a_table_without_primary_key(ansible, logical, scenario):
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["events_nopk"],
                                        publication=scenario["all_publication"],
                                        chunk_key_columns={"events_nopk": "event_id"}))
    assert not run.failed, run
    assert "splits it on column event_id" in \
        assert_passes(run.result, "table_primary_key", "public.events_nopk")["message"]
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["events_nopk"],
                                        publication=scenario["all_publication"],
                                        chunk_key_columns={"events_nopk": "no_such_column"}))
    assert_not_ready(run, "table_primary_key (public.events_nopk)")
    assert_fails(run, "table_primary_key", "error", table="public.events_nopk", hint_parts=("chunk_key_columns",),
                 message_parts=("no_such_column",))


def test_replica_identity_default_warns_and_full_passes(ansible, logical, scenario):
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["public.items_default", "public.orders"],
                                        publication=scenario["all_publication"]))
    assert not run.failed, run  # a warning does not make the source unready
    assert run.result["ready"] is True
    assert_fails(run, "table_replica_identity", "warning", table="public.items_default",
                 hint_parts=("ALTER TABLE public.items_default REPLICA IDENTITY FULL;",),
                 message_parts=("REPLICA IDENTITY DEFAULT", "old primary key (id)"))
    assert "FULL" in assert_passes(run.result, "table_replica_identity", "public.orders")["message"]
    assert "[WARNING]: table_replica_identity (public.items_default)" in run.output


def test_missing_table_and_wrong_case(ansible, logical, scenario):
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["public.missing", "Customers"],
                                        publication=scenario["all_publication"]))
    result = assert_not_ready(run, "table_exists (public.missing)", 'table_exists (public."Customers")')
    assert result["failed_checks"] == ["table_exists (public.missing)", 'table_exists (public."Customers")']
    assert_fails(run, "table_exists", "error", table="public.missing", hint_parts=("schema.table",),
                 message_parts=("does not exist in database %s" % scenario["database"],))
    assert_fails(run, "table_exists", "error", table='public."Customers"',
                 hint_parts=("Did you mean public.customers?", "case-sensitive"))
    # Nothing else is checked for a table that does not exist.
    assert [c["name"] for c in run.result["checks"] if c.get("table") == "public.missing"] == ["table_exists"]


def test_select_privilege_schema_usage_and_view(ansible, logical, scenario):
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["public.secret", "hidden.t", "public.orders_view"],
                                        publication=scenario["all_publication"]))
    result = assert_not_ready(run, "table_select (public.secret)", "table_select (hidden.t)",
                              "table_exists (public.orders_view)")
    assert result["failed_checks"] == ["table_select (public.secret)", "table_select (hidden.t)",
                                       "table_exists (public.orders_view)"]
    user = scenario["cdc_user"]
    assert_fails(run, "table_select", "error", table="public.secret",
                 hint_parts=("GRANT SELECT ON public.secret TO %s;" % user,), message_parts=("cannot SELECT",))
    assert_fails(run, "table_select", "error", table="hidden.t",
                 hint_parts=("GRANT USAGE ON SCHEMA hidden TO %s;" % user,), message_parts=("no USAGE on schema",))
    assert_fails(run, "table_exists", "error", table="public.orders_view", message_parts=("is a view",))


# --------------------------------------------------------------------------- publication


def test_publication_covering_only_some_tables(ansible, logical, scenario):
    run = ansible.module(MODULE, ready_args(logical, scenario, publication=scenario["partial_publication"]))
    result = assert_not_ready(run, "publication")
    assert result["failed_checks"] == ["publication"]
    assert_fails(run, "publication", "error",
                 hint_parts=('ALTER PUBLICATION plc_pub_partial ADD TABLE public.customers, "Sales.EU"."Orders";',),
                 message_parts=('does not cover public.customers, "Sales.EU"."Orders"',))


def test_publication_absent_says_whether_the_user_could_create_it(ansible, logical, scenario):
    run = ansible.module(MODULE, ready_args(logical, scenario, publication="plc_pub_absent"))
    assert_not_ready(run, "publication")
    assert_fails(run, "publication", "error", hint_parts=("CREATE PUBLICATION plc_pub_absent FOR TABLE public.orders",),
                 message_parts=("does not exist", "could not create it"))
    owner = ansible.module(MODULE, login(logical, scenario["owner_user"], scenario["password"], scenario["database"],
                                         tables=["public.owned"], publication="plc_pub_absent",
                                         replication_connection=False))
    assert_not_ready(owner, "publication", "role")
    assert_fails(owner, "publication", "error",
                 hint_parts=("CREATE PUBLICATION plc_pub_absent FOR TABLE public.owned;",
                             "'debezium.publication.autocreate.mode' = 'filtered'"),
                 message_parts=("could create it FOR TABLE",))
    assert "replication_connection" not in [c["name"] for c in owner.result["checks"]]


def test_publication_that_does_not_publish_updates(ansible, logical, scenario):
    run = ansible.module(MODULE, as_cdc(logical, scenario, tables=["public.orders", "public.customers"],
                                        publication=scenario["inserts_publication"]))
    assert_not_ready(run, "publication_actions")
    assert_fails(run, "publication_actions", "error",
                 hint_parts=("ALTER PUBLICATION plc_pub_inserts SET (publish = 'insert, update, delete');",),
                 message_parts=("does not publish update, delete",))
    assert_passes(run.result, "publication")


def test_decoderbufs_not_in_shared_preload_libraries(ansible, logical, scenario):
    run = ansible.module(MODULE, {"login_unix_socket": logical["socket_dir"], "login_port": logical["port"],
                                  "login_user": "postgres", "login_db": scenario["database"],
                                  "plugin": "decoderbufs", "tables": ["public.orders"]})
    result = assert_not_ready(run, "decoderbufs")
    assert_fails(run, "decoderbufs", "error", hint_parts=("shared_preload_libraries = 'decoderbufs'", "pgoutput"))
    assert not [c for c in result["checks"] if c["name"].startswith("publication")]
    # A role that cannot read shared_preload_libraries gets a warning, not a false error.
    cdc = ansible.module(MODULE, as_cdc(logical, scenario, plugin="decoderbufs", tables=["public.orders"]))
    assert not cdc.failed, cdc
    assert_fails(cdc, "decoderbufs", "warning", hint_parts=("pg_read_all_settings",))


# --------------------------------------------------------------------------- slots


def test_invalid_slot_name(ansible, logical, scenario):
    run = ansible.module(MODULE, ready_args(logical, scenario, slot_name="Flink-Slot"))
    assert_not_ready(run, "slot_name")
    assert_fails(run, "slot_name", "error", hint_parts=("'flink_slot'",),
                 message_parts=("lowercase letters, digits and _",))


def test_slot_held_by_a_real_consumer(ansible, logical, scenario):
    name = scenario["prefix"] + "_active"
    sql(logical, scenario["database"], "SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
    # The helper waits until the slot is inactive again when the consumer stops.
    with pg_seed.logical_consumer(logical, scenario, name, bed_mod.pg_bin()) as active_pid:
        assert slot_row(logical, name)[1] == active_pid
        run = ansible.module(MODULE, ready_args(logical, scenario, slot_name=name))
        result = assert_not_ready(run, "slot")
        assert result["failed_checks"] == ["slot"]
        assert_fails(run, "slot", "error",
                     hint_parts=("Stop that consumer", "SELECT pg_terminate_backend(%d);" % active_pid),
                     message_parts=("slot %s is active for PID %d" % (name, active_pid), "another consumer",
                                    "user %s" % scenario["cdc_user"], "of WAL"))
        listed = [s for s in result["slots"] if s["slot_name"] == name]
        assert listed and listed[0]["active"] is True and listed[0]["active_pid"] == active_pid
        assert isinstance(listed[0]["retained_bytes"], int)
        senders = check(result, "free_wal_senders")["message"]
        assert int(re.search(r"\((\d+) active\)", senders).group(1)) >= 1
    run = ansible.module(MODULE, ready_args(logical, scenario, slot_name=name, slots_needed=2))
    assert not run.failed, run
    freed = assert_passes(run.result, "slot")
    assert "exists (pgoutput, inactive)" in freed["message"]
    assert "(slot %s exists and is reused)" % name in check(run.result, "free_replication_slots")["message"]
    drop_slot(logical, name)


def test_slot_with_another_plugin_or_database(ansible, logical, scenario):
    testdec = scenario["prefix"] + "_testdec"
    elsewhere = scenario["prefix"] + "_elsewhere"
    sql(logical, scenario["database"], "SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (testdec,))
    sql(logical, "postgres", "SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (elsewhere,))
    try:
        run = ansible.module(MODULE, ready_args(logical, scenario, slot_name=testdec))
        assert_not_ready(run, "slot")
        assert_fails(run, "slot", "error", hint_parts=("pg_drop_replication_slot('%s')" % testdec,
                                                       "'decoding.plugin.name' = 'test_decoding'"),
                     message_parts=("uses plugin test_decoding, but the job is set for pgoutput",))
        run = ansible.module(MODULE, ready_args(logical, scenario, slot_name=elsewhere))
        assert_not_ready(run, "slot")
        assert_fails(run, "slot", "error", hint_parts=("another slot_name",),
                     message_parts=("belongs to database postgres, not %s" % scenario["database"],))
    finally:
        drop_slot(logical, testdec)
        drop_slot(logical, elsewhere)


def test_inactive_slot_retaining_wal_is_a_warning(ansible, logical, scenario):
    name = scenario["prefix"] + "_idle"
    sql(logical, scenario["database"], "SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
    try:
        sql(logical, scenario["database"], "INSERT INTO public.customers SELECT g, 'c' || g "
                                           "FROM generate_series(1000, 1500) g")
        run = ansible.module(MODULE, ready_args(logical, scenario, max_inactive_slot_retained_bytes="1KB"))
        assert not run.failed, run
        assert run.result["ready"] is True
        warning = assert_fails(run, "inactive_slots", "warning",
                               hint_parts=("SELECT pg_drop_replication_slot('%s');" % name, "max_slot_wal_keep_size"),
                               message_parts=("fills the disk", name))
        assert "1.0 KiB" in warning["message"]
        listed = [s for s in run.result["slots"] if s["slot_name"] == name][0]
        assert listed["active"] is False and listed["retained_bytes"] > 1024
        assert "[WARNING]: inactive_slots:" in run.output
        # With the default threshold (1GB) the small slot is no concern.
        quiet = ansible.module(MODULE, ready_args(logical, scenario))
        assert name not in check(quiet.result, "inactive_slots")["message"]
    finally:
        drop_slot(logical, name)


# --------------------------------------------------------------------------- unit fixtures stay truthful


def _shape(value):
    if isinstance(value, dict):
        # primary_key and primary_key_types are a list for a table with a key and null without one.
        return {key: _shape(item) for key, item in value.items()
                if key not in ("similar", "chunk_key", "chunk_key_exists", "primary_key", "primary_key_types")}
    if isinstance(value, list):
        return [_shape(value[0])] if value and isinstance(value[0], dict) else "list"
    return "value"


def test_recorded_unit_fixtures_match_live_facts(bed, logical, scenario):
    """The facts the unit tests replay have the shape collect() returns from the live bed today."""
    _pg = pg_seed._collection_import()
    name = scenario["prefix"] + "_testdec"
    sql(logical, scenario["database"], "SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (name,))
    try:
        for fixture, params, options in pg_seed.fixture_cases(bed, scenario):
            with open(os.path.join(ROOT, "tests", "unit", "fixtures", "pg", "%s.json" % fixture)) as f:
                recorded = json.load(f)
            _kwargs, live = pg_seed.collect_case(_pg, params, options)
            if not live["slots"] or not recorded["facts"]["slots"]:
                live["slots"], recorded["facts"]["slots"] = [], []
            assert _shape(live) == _shape(recorded["facts"]), fixture
            assert live["server"]["version_num"] == recorded["facts"]["server"]["version_num"]
            live_checks = _pg.readiness.evaluate(live, **{k: v for k, v in options.items() if k != "tables"})
            recorded_checks = _pg.readiness.evaluate(recorded["facts"], **{k: v for k, v in recorded["options"].items()
                                                                           if k != "tables"})
            assert [(c["name"], c.get("table"), c["ok"]) for c in live_checks if c["name"] != "free_wal_senders"] \
                == [(c["name"], c.get("table"), c["ok"]) for c in recorded_checks if c["name"] != "free_wal_senders"]
    finally:
        drop_slot(logical, name)


# --------------------------------------------------------------------------- table facts and row counts


def table_entry(result, name):
    found = [t for t in result["tables"] if t["name"] == name]
    assert len(found) == 1, (name, result["tables"])
    return found[0]


def count_queries(result):
    return [q for q in result["queries"] if q.startswith("SELECT count(*) AS row_count FROM ")]


def verdict(result):
    return [(c["name"], c.get("table"), c["ok"], c["severity"], c["message"]) for c in result["checks"]]


def test_tables_with_row_counts_on_the_demo_source(ansible, logical):
    demo = pg_seed.seed_demo(logical)
    tables = list(demo["tables"]) + ["public.no_such_table"]
    args = login(logical, demo["user"], demo["password"], demo["database"], tables=tables,
                 publication=demo["publication"], fail_on_not_ready=False)
    plain = ansible.module(MODULE, args)
    counted = ansible.module(MODULE, dict(args, count_rows=True))
    for run in (plain, counted):
        assert not run.failed, run
        assert run.result["changed"] is False
        assert [t["name"] for t in run.result["tables"]] == tables
        for name in demo["tables"]:
            entry = table_entry(run.result, name)
            assert entry["exists"] is True and entry["kind"] == "table"
            assert entry["primary_key"] == [{"name": "id", "type": "bigint"}]
            assert (entry["schema"], entry["table"]) == tuple(name.split("."))
        missing = table_entry(run.result, "public.no_such_table")
        assert missing == {"name": "public.no_such_table", "schema": "public", "table": "no_such_table",
                           "exists": False, "kind": None, "primary_key": [], "columns": []}
    # The counts are exact, and only count_rows runs them: one full scan per existing table.
    assert count_queries(plain.result) == []
    assert all("rows" not in t for t in plain.result["tables"])
    assert count_queries(counted.result) == ["SELECT count(*) AS row_count FROM %s" % name for name in demo["tables"]]
    for name in demo["tables"]:
        expected = sql(logical, demo["database"], "SELECT count(*) FROM %s" % name)[0][0]
        assert table_entry(counted.result, name)["rows"] == expected
    assert table_entry(counted.result, "public.customers")["rows"] == 3
    assert table_entry(counted.result, "public.orders")["rows"] == 4
    smoke_table = getattr(pg_seed, "DEMO_SMOKE_TABLE", None)
    if smoke_table:
        assert table_entry(counted.result, smoke_table)["rows"] == pg_seed.DEMO_SMOKE_ROWS
    assert "rows" not in table_entry(counted.result, "public.no_such_table")
    # The checks and the verdict do not change.
    assert verdict(counted.result) == verdict(plain.result)
    assert counted.result["failed_checks"] == plain.result["failed_checks"] == ["table_exists (public.no_such_table)"]
    assert demo["password"] not in counted.output


@contextlib.contextmanager
def typed_tables(pg, names):
    """Tables whose keys have the types a Flink DDL must map, and a name that needs quoting, in the scenario."""
    user = '"%s"' % names["cdc_user"]
    statements = pg_seed.TYPED_KEYS_SQL + (
        # %s and quotes in a name: the count must use the server's quote_ident, never formatting.
        'CREATE TABLE public."odd%s ""name""" (id int PRIMARY KEY)',
        'INSERT INTO public."odd%s ""name""" SELECT generate_series(1, 5)',
        'GRANT SELECT ON public.typed_keys, public."odd%s ""name""" TO ' + user,
    )
    conn = admin(pg, names["database"])
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)  # no parameters: psycopg2 leaves % alone
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute('DROP TABLE IF EXISTS public.typed_keys, public."odd%s ""name"""')
        conn.close()


def test_tables_primary_key_types_no_key_and_unreadable(ansible, logical, scenario):
    odd = 'odd%s "name"'
    tables = ["public.typed_keys", '"Sales.EU"."Orders"', "public.events_nopk", '"%s"' % odd.replace('"', '""'),
              "public.orders_view", "public.secret", "hidden.t"]
    with typed_tables(logical, scenario):
        run = ansible.module(MODULE, as_cdc(logical, scenario, tables=tables, publication=scenario["all_publication"],
                                            count_rows=True, fail_on_not_ready=False))
        assert not run.failed, run
        result = run.result
        # Key order, not column order, with format_type() text; every column in table order.
        assert table_entry(result, "public.typed_keys") == pg_seed.TYPED_KEYS_SUMMARY
        sales = table_entry(result, '"Sales.EU"."Orders"')
        assert (sales["schema"], sales["table"], sales["rows"]) == ("Sales.EU", "Orders", 0)
        assert sales["primary_key"] == [{"name": "Id", "type": "bigint"}]
        nopk = table_entry(result, "public.events_nopk")
        assert nopk["exists"] is True and nopk["primary_key"] == [] and nopk["rows"] == 0
        quoted = table_entry(result, 'public."odd%s ""name"""')
        assert (quoted["table"], quoted["rows"], quoted["primary_key"]) == (odd, 5, [{"name": "id", "type": "integer"}])
        assert 'SELECT count(*) AS row_count FROM public."odd%s ""name"""' in result["queries"]
        # A view exists but is not a table; tables the role cannot read are not counted.
        view = table_entry(result, "public.orders_view")
        assert (view["exists"], view["kind"], view["primary_key"]) == (True, "view", [])
        for name in ("public.orders_view", "public.secret", "hidden.t"):
            assert "rows" not in table_entry(result, name), name
        assert table_entry(result, "public.secret")["primary_key"] == [{"name": "id", "type": "bigint"}]
        assert len(count_queries(result)) == 4
        # Same checks as without count_rows.
        plain = ansible.module(MODULE, as_cdc(logical, scenario, tables=tables, publication=scenario["all_publication"],
                                              fail_on_not_ready=False))
        assert verdict(plain.result) == verdict(result)
        assert [dict(t, rows=None) for t in plain.result["tables"]] == \
            [dict(t, rows=None) for t in result["tables"]]


def test_tables_in_check_mode_and_count_rows_failure_message(ansible, logical, scenario):
    run = ansible.module(MODULE, ready_args(logical, scenario, count_rows=True), check=True)
    assert not run.failed, run
    assert run.result["changed"] is False
    assert [t["name"] for t in run.result["tables"]] == ["public.orders", "public.customers", '"Sales.EU"."Orders"']
    assert table_entry(run.result, "public.orders")["rows"] == 100
    # Not connected: no table facts.
    wrong = ansible.module(MODULE, as_cdc(logical, scenario, login_password="not-it", tables=["public.orders"],
                                          count_rows=True))
    assert wrong.failed and "tables" not in wrong.result


# --------------------------------------------------------------------------- tables.json stays truthful

TABLES_FIXTURE = os.path.join(ROOT, "tests", "unit", "fixtures", "pg", "tables.json")
FIXTURE_TABLES = ["public.typed_keys", "public.events_nopk", "public.orders_view", "public.secret", "hidden.t",
                  '"Sales.EU"."Orders"', "public.missing"]


def _stable(text, names):
    return text.replace(names["prefix"], "plc_fx").replace(names["password"], "********")


def test_recorded_tables_fixture_matches_live_facts(logical, scenario):
    """tests/unit/fixtures/pg/tables.json is what collect(count_rows=True) returns on the bed.

    Set CDCOPS_RECORD_FIXTURES=1 to write it again.
    """
    _pg = pg_seed._collection_import()
    params = {"login_host": logical["host"], "login_port": logical["port"], "login_user": scenario["cdc_user"],
              "login_password": scenario["password"], "login_db": scenario["database"]}
    with typed_tables(logical, scenario):
        client = _pg.connection.PgClient(_pg.connection.connection_kwargs(dict(params, connect_timeout=10)))
        client.connect()
        try:
            facts = _pg.catalog.collect(client, tables=[_pg.text.parse_table_name(t) for t in FIXTURE_TABLES], publication=None,
                                        replication_connection=False, count_rows=True)
        finally:
            client.close()
    live = json.loads(_stable(json.dumps({"tables": FIXTURE_TABLES, "facts_tables": facts["tables"],
                                          "queries": client.executed_queries}, default=str), scenario))
    if os.environ.get("CDCOPS_RECORD_FIXTURES") == "1":
        live["recorded_from"] = ("PostgreSQL %s, tests/integration/test_pg_logical_check.py "
                                 "(CDCOPS_RECORD_FIXTURES=1)" % facts["server"]["version"])
        with open(TABLES_FIXTURE, "w") as f:
            f.write(json.dumps(live, indent=2, sort_keys=True) + "\n")
    with open(TABLES_FIXTURE) as f:
        recorded = json.load(f)
    assert recorded["tables"] == FIXTURE_TABLES
    assert recorded["facts_tables"] == live["facts_tables"]
    assert [q for q in recorded["queries"] if "row_count" in q] == [q for q in live["queries"] if "row_count" in q]


# --------------------------------------------------------------------------- a table another session has locked


def test_a_locked_table_gives_up_counting_in_time_and_names_who_holds_the_lock(ansible, logical):
    demo = pg_seed.seed_demo(logical)
    args = login(logical, demo["user"], demo["password"], demo["database"], tables=["public.products"],
                 publication=demo["publication"], replication_connection=False, fail_on_not_ready=False)
    # Nothing locked: the lock read finds nothing and says nothing.
    free = ansible.module(MODULE, dict(args, table_locks=True))
    assert not free.failed, free
    assert table_entry(free.result, "public.products")["locks"] == []
    assert table_entry(free.result, "public.products")["lock_diagnosis"] == ""
    holder = pg_seed.admin_connect(logical, demo["database"])
    try:
        with holder.cursor() as cur:
            cur.execute("SET application_name = 'cdcops-test-locker'")
            cur.execute("BEGIN")
            cur.execute("LOCK TABLE public.products IN ACCESS EXCLUSIVE MODE")
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        started = time.monotonic()
        run = ansible.module(MODULE, dict(args, count_rows=True, lock_timeout=2))
        took = time.monotonic() - started
        assert not run.failed, run
        entry = table_entry(run.result, "public.products")
        # No hang: the count waited its 2 s for the lock and gave up (the rest is Ansible's own start).
        assert "rows" not in entry
        assert entry["count_error"] == ("counting the rows of public.products waited 2s for a lock and gave up "
                                        "(lock_timeout)")
        assert took < 2 + 30, took
        assert [(lock["pid"], lock["mode"], lock["granted"]) for lock in entry["locks"]] == \
            [(pid, "AccessExclusiveLock", True)]
        # The demo role has no pg_read_all_stats: PostgreSQL shows it the holder's pid, application and user only.
        assert entry["lock_diagnosis"].startswith(
            "public.products is locked: pid %d (application_name 'cdcops-test-locker', user %s, its client address, "
            "transaction start and statement are hidden from this role" % (pid, logical["user"]))
        assert "SELECT pg_terminate_backend(%d)" % pid in entry["lock_diagnosis"]
        # It only reports: the holder still holds its lock.
        with holder.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND mode = 'AccessExclusiveLock' AND granted",
                        (pid,))
            assert cur.fetchone()[0] == 1
    finally:
        holder.close()  # ends its transaction and the lock
