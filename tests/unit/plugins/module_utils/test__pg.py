"""Verdict logic of pg_logical_check, without a server.

Check functions get plain inputs. ``evaluate()`` is replayed on facts recorded
from the bed's real PostgreSQL 15 clusters (tests/unit/fixtures/pg/, written by
``python tests/bed/pg_seed.py record``). libpq messages below were captured from
the same clusters.
"""

import importlib
import json
import os
import sys

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (
    catalog as pg_catalog,
    connection as pg_connection,
    hints as pg_hints,
    readiness as pg_readiness,
    slot_checks as pg_slot_checks,
    slots as pg_slots,
    table_checks as pg_table_checks,
    text as pg_text,
    verdict as pg_verdict,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "pg")


def recorded(name):
    with open(os.path.join(FIXTURES, "%s.json" % name)) as f:
        return json.load(f)


def evaluate_recorded(name, **overrides):
    data = recorded(name)
    options = dict(data["options"])
    options.pop("tables")
    options.update(overrides)
    return pg_readiness.evaluate(data["facts"], **options)


def by_name(checks, name, table=None):
    found = [c for c in checks if c["name"] == name and (table is None or c.get("table") == table)]
    assert len(found) == 1, "expected one %s check for %s in %s" % (name, table, [pg_verdict.check_label(c) for c in checks])
    return found[0]


def assert_failed(check, severity, *hint_parts):
    assert check["ok"] is False, check
    assert check["severity"] == severity, check
    assert check["message"], check
    for part in hint_parts:
        assert part in check["hint"], (part, check["hint"])


def assert_passed(check):
    assert check["ok"] is True, check
    assert check["hint"] == "", check


# --------------------------------------------------------------------------- options and names


@pytest.mark.parametrize("name, expected", [
    ("orders", ("public", "orders")),
    ("public.orders", ("public", "orders")),
    ("Sales.Orders", ("Sales", "Orders")),
    (" sales . orders ", ("sales", "orders")),
    ('"Sales.EU"."Orders"', ("Sales.EU", "Orders")),
    ('"Sales.EU".orders', ("Sales.EU", "orders")),
    ('"a ""quoted"" name"', ("public", 'a "quoted" name')),
    ('" padded "', ("public", " padded ")),
])
def test_parse_table_name(name, expected):
    assert pg_text.parse_table_name(name) == expected


@pytest.mark.parametrize("name, error", [
    ("shop.public.orders", "3 dot-separated parts"),
    ('"unterminated', "unterminated double quote"),
    ("public.", "empty schema or table part"),
    (".orders", "empty schema or table part"),
    ('"".orders', "empty schema or table part"),
    ("", "empty schema or table part"),
])
def test_parse_table_name_rejects(name, error):
    with pytest.raises(ValueError, match=error):
        pg_text.parse_table_name(name)


@pytest.mark.parametrize("schema, table, display", [
    ("public", "orders", "public.orders"),
    ("Sales.EU", "Orders", '"Sales.EU"."Orders"'),
    ("public", 'we"ird', 'public."we""ird"'),
])
def test_display_table_quotes_only_when_needed(schema, table, display):
    assert pg_text.display_table(schema, table) == display


def base_params(**overrides):
    params = dict(login_host="", login_port=5432, login_user="postgres", login_password="", login_db=None,
                  login_unix_socket="", ssl_mode="prefer", ca_cert=None, ssl_cert=None, ssl_key=None,
                  connect_params={}, connect_timeout=10)
    params.update(overrides)
    return params


def test_connection_kwargs_tcp():
    kw = pg_connection.connection_kwargs(base_params(login_host="db.example.com", login_port=6432, login_user="flink_cdc",
                                                     login_password="s3cret", login_db="shop", ca_cert="/etc/ca.pem",
                                                     ssl_mode="verify-full"))
    assert kw == {"host": "db.example.com", "port": 6432, "user": "flink_cdc", "password": "s3cret",
                  "dbname": "shop", "sslmode": "verify-full", "sslrootcert": "/etc/ca.pem",
                  "connect_timeout": 10, "application_name": "cdcops.flink_cdc"}


def test_connection_kwargs_socket_when_no_host_and_params_win():
    kw = pg_connection.connection_kwargs(base_params(login_unix_socket="/run/postgresql", login_host="localhost",
                                                     connect_params={"application_name": "x", "target_session_attrs": "read-write"}))
    assert kw["host"] == "/run/postgresql"
    assert "password" not in kw and "dbname" not in kw
    assert kw["application_name"] == "x"
    assert kw["target_session_attrs"] == "read-write"
    # An explicit remote host beats the socket, as in community.postgresql.
    assert pg_connection.connection_kwargs(base_params(login_unix_socket="/run/postgresql",
                                                       login_host="10.0.0.5"))["host"] == "10.0.0.5"


@pytest.mark.parametrize("kwargs, text", [
    ({"host": "127.0.0.1", "port": 15432}, "127.0.0.1:15432"),
    ({"host": "fd00::5", "port": 5432}, "[fd00::5]:5432"),
    ({"host": "/run/postgresql", "port": 5433}, "unix socket /run/postgresql/.s.PGSQL.5433"),
    ({"port": 5432}, "the default unix socket (port 5432)"),
])
def test_describe_endpoint(kwargs, text):
    assert pg_connection.describe_endpoint(kwargs) == text


def test_argument_spec_hides_the_password():
    spec = pg_connection.postgres_common_argument_spec()
    assert spec["login_password"]["no_log"] is True
    assert spec["login_port"]["default"] == 5432
    assert spec["ssl_mode"]["default"] == "prefer"


# --------------------------------------------------------------------------- connection errors

# Messages as libpq 17 / PostgreSQL 15 produced them on the bed.
WRONG_PASSWORD = ('connection to server at "127.0.0.1", port 15432 failed: FATAL:  password authentication '
                  'failed for user "plc_probe2"\n')
SSL_REFUSED = ('connection to server at "127.0.0.1", port 15432 failed: server does not support SSL, but SSL '
               'was required\n')
REFUSED = ('connection to server at "127.0.0.1", port 1 failed: Connection refused\n\tIs the server running on '
           'that host and accepting TCP/IP connections?\n')
NO_REPLICATION = ('connection to server at "127.0.0.1", port 15432 failed: FATAL:  must be superuser or '
                  'replication role to start walsender\n')
NO_DATABASE = 'connection to server at "127.0.0.1", port 15432 failed: FATAL:  database "nosuchdb" does not exist\n'
NO_HBA = ('connection to server at "10.0.0.9", port 5432 failed: FATAL:  no pg_hba.conf entry for host '
          '"10.0.0.1", user "flink_cdc", database "shop", no encryption\n')


@pytest.mark.parametrize("raw, reason, kind", [
    (WRONG_PASSWORD, 'password authentication failed for user "plc_probe2"', "auth"),
    (SSL_REFUSED, "server does not support SSL, but SSL was required", "ssl"),
    (REFUSED, "Connection refused Is the server running on that host and accepting TCP/IP connections?",
     "unreachable"),
    (NO_REPLICATION, "must be superuser or replication role to start walsender", "replication_privilege"),
    (NO_DATABASE, 'database "nosuchdb" does not exist', "no_database"),
    (NO_HBA, 'no pg_hba.conf entry for host "10.0.0.1", user "flink_cdc", database "shop", no encryption',
     "pg_hba"),
    ("timeout expired\n", "timeout expired", "unreachable"),
    ('FATAL:  permission denied for database "shop"\nDETAIL:  User does not have CONNECT privilege.\n',
     'permission denied for database "shop" DETAIL:  User does not have CONNECT privilege.',
     "no_connect_privilege"),
    ("FATAL:  sorry, too many clients already\n", "sorry, too many clients already", "too_many_connections"),
])
def test_connect_errors_are_classified(raw, reason, kind):
    assert pg_connection.connect_error_reason(raw) == reason
    assert pg_connection.classify_connect_error(reason) == kind


@pytest.mark.parametrize("kind, parts", [
    ("auth", ["login_user", "login_password", "db:5432"]),
    ("replication_privilege", ["ALTER ROLE flink_cdc WITH REPLICATION;", "GRANT rds_replication TO flink_cdc;"]),
    ("pg_hba", ["host shop flink_cdc <client address>/32 scram-sha-256", "pg_reload_conf()"]),
    ("ssl", ["ssl_mode", "ca_cert"]),
    ("unreachable", ["login_host", "listen_addresses", "firewall"]),
    ("no_database", ["login_db"]),
    ("wal_senders", ["max_wal_senders"]),
    ("no_connect_privilege", ["GRANT CONNECT ON DATABASE shop TO flink_cdc;"]),
])
def test_connect_hints(kind, parts):
    hint = pg_hints.connect_hint(kind, "db:5432", "flink_cdc", "shop")
    for part in parts:
        assert part in hint


def test_replication_pg_hba_hint_explains_the_database_column():
    hint = pg_hints.connect_hint("pg_hba", "db:5432", "flink_cdc", "shop", replication=True)
    assert "matches the database column, not the 'replication' keyword" in hint


def test_scrub_removes_secrets():
    assert pg_connection.scrub("bad password hunter2 for x", ["hunter2", None, ""]) == "bad password ******** for x"


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


def slot(name, active=False, retained=0, plugin="pgoutput", database="shop", slot_type="logical", **extra):
    data = {"slot_name": name, "active": active, "active_pid": 4242 if active else None, "plugin": plugin,
            "database": database, "slot_type": slot_type, "retained_bytes": retained, "wal_status": "reserved"}
    data.update(extra)
    return data


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


def table(schema="public", name="orders", **facts):
    data = {"schema": schema, "table": name, "exists": True, "relkind": "r", "schema_usage": True,
            "can_select": True, "primary_key": ["id"], "replica_identity": "f",
            "qualified": pg_text.display_table(schema, name), "is_owner": False}
    data.update(facts)
    return data


def test_table_checks_for_a_good_table():
    checks = pg_table_checks.check_tables([table()], "cdc", "cdc", "shop")
    assert [c["name"] for c in checks] == ["table_exists", "table_select", "table_primary_key",
                                           "table_replica_identity"]
    for check in checks:
        assert_passed(check)
        assert check["table"] == "public.orders"


def test_missing_table_stops_there_and_suggests_the_right_case():
    checks = pg_table_checks.check_tables([table(name="Orders", exists=False, similar=["public.orders"])], "cdc", "cdc", "shop")
    assert len(checks) == 1
    assert_failed(checks[0], "error", "Did you mean public.orders?", "case-sensitive")
    assert checks[0]["message"] == 'table public."Orders" does not exist in database shop'


def test_view_is_not_a_table():
    check = pg_table_checks.check_table_exists(table(name="orders_view", relkind="v"), "shop")
    assert_failed(check, "error")
    assert "is a view, not a table" in check["message"]


def test_select_privilege_and_schema_usage():
    no_select = pg_table_checks.check_table_select(table(can_select=False), "cdc", "cdc")
    assert_failed(no_select, "error", "GRANT SELECT ON public.orders TO cdc;")
    no_usage = pg_table_checks.check_table_select(table(schema="hidden", name="t", schema_usage=False), "cdc", "cdc")
    assert_failed(no_usage, "error", "GRANT USAGE ON SCHEMA hidden TO cdc;", "GRANT SELECT ON hidden.t TO cdc;")


def test_primary_key_missing_and_chunk_key_column():
    missing = pg_table_checks.check_table_primary_key(table(primary_key=None))
    assert_failed(missing, "error", "ALTER TABLE public.orders ADD PRIMARY KEY",
                  "scan.incremental.snapshot.chunk.key-column")
    assert "no primary key" in missing["message"]
    assert_passed(pg_table_checks.check_table_primary_key(table(primary_key=None, chunk_key="event_id", chunk_key_exists=True)))
    wrong = pg_table_checks.check_table_primary_key(table(primary_key=None, chunk_key="nope", chunk_key_exists=False))
    assert_failed(wrong, "error", "chunk_key_columns")


@pytest.mark.parametrize("identity, primary_key, text", [
    ("d", ["id"], "REPLICA IDENTITY DEFAULT: UPDATE and DELETE carry only the old primary key (id)"),
    ("d", None, "REPLICA IDENTITY DEFAULT and no primary key"),
    ("n", ["id"], "REPLICA IDENTITY NOTHING"),
    ("i", ["id"], "REPLICA IDENTITY USING INDEX"),
])
def test_replica_identity_warnings(identity, primary_key, text):
    check = pg_table_checks.check_table_replica_identity(table(replica_identity=identity, primary_key=primary_key))
    assert_failed(check, "warning", "ALTER TABLE public.orders REPLICA IDENTITY FULL;")
    assert text in check["message"]


def test_publication_absent_says_who_could_create_it():
    tables = [table(), table(name="customers")]
    cannot = pg_table_checks.check_publication("dbz_publication", None, tables,
                                               {"name": "cdc", "can_create_in_database": False}, "shop")
    assert_failed(cannot, "error", "CREATE PUBLICATION dbz_publication FOR TABLE public.orders, public.customers;")
    assert "role cdc could not create it: it has no CREATE privilege on the database and it does not own " \
           "public.orders, public.customers" in cannot["message"]
    assert "autocreate" not in cannot["hint"]

    owner_tables = [table(is_owner=True), table(name="customers", is_owner=True)]
    can = pg_table_checks.check_publication("p", None, owner_tables, {"name": "cdc", "can_create_in_database": True}, "shop")
    assert_failed(can, "error", "'debezium.publication.autocreate.mode' = 'filtered'")
    assert "role cdc could create it FOR TABLE" in can["message"]

    # Debezium's default autocreate mode works for a superuser: a warning, not an error.
    superuser = pg_table_checks.check_publication("p", None, tables, {"name": "postgres", "superuser": True}, "shop")
    assert_failed(superuser, "warning", "CREATE PUBLICATION p FOR TABLE public.orders, public.customers;")
    assert "creates it FOR ALL TABLES on first start" in superuser["message"]
    could, why = pg_table_checks.could_create_publication({"name": "postgres", "superuser": True}, tables)
    assert could and "superuser, also FOR ALL TABLES" in why


def test_publication_coverage():
    tables = [table(), table(name="customers"), table(name="gone", exists=False)]
    partial = {"name": "p", "quoted": "p", "owner": "postgres", "all_tables": False,
               "tables": [["public", "orders"]]}
    check = pg_table_checks.check_publication("p", partial, tables, {"name": "cdc"}, "shop")
    assert_failed(check, "error", "ALTER PUBLICATION p ADD TABLE public.customers;")
    assert "does not cover public.customers" in check["message"]
    assert "gone" not in check["message"]  # a missing table is table_exists' problem
    everything = dict(partial, all_tables=True, tables=[])
    assert_passed(pg_table_checks.check_publication("p", everything, tables, {"name": "cdc"}, "shop"))
    full = dict(partial, tables=[["public", "orders"], ["public", "customers"]])
    assert_passed(pg_table_checks.check_publication("p", full, tables, {"name": "cdc"}, "shop"))


def test_publication_actions():
    check = pg_table_checks.check_publication_actions("p", {"insert": True, "update": False, "delete": False})
    assert_failed(check, "error", "ALTER PUBLICATION p SET (publish = 'insert, update, delete');")
    assert "does not publish update, delete" in check["message"]
    assert_passed(pg_table_checks.check_publication_actions("p", {"insert": True, "update": True, "delete": True}))


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


def test_replication_connection():
    ok = pg_readiness.check_replication_connection("h:5432", "cdc", "shop", {"ok": True, "system": {"systemid": "1",
                                                                                                    "timeline": 1}})
    assert_passed(ok)
    failed = pg_readiness.check_replication_connection("h:5432", "cdc", "shop", {
        "ok": False, "kind": "replication_privilege",
        "error": "cannot open a logical replication connection ...: must be superuser or replication role"})
    assert_failed(failed, "error", "ALTER ROLE cdc WITH REPLICATION;")


@pytest.mark.parametrize("version_num, present, absent", [
    (150000, ["pg_wal_lsn_diff", "s.wal_status", "s.temporary"], ["xlog"]),
    (120000, ["pg_wal_lsn_diff", "NULL::text AS wal_status"], ["s.wal_status"]),
    (90600, ["pg_xlog_location_diff", "pg_current_xlog_location()"], ["pg_wal_lsn_diff", "s.temporary"]),
])
def test_slots_sql_follows_the_server_version(version_num, present, absent):
    text = pg_catalog.slots_sql(version_num)
    for part in present:
        assert part in text
    for part in absent:
        assert part not in text


@pytest.mark.parametrize("value, text", [
    (None, "unknown"), (0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KiB"), (3 * 1024 ** 3, "3.0 GiB"),
])
def test_format_bytes(value, text):
    assert pg_text.format_bytes(value) == text


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


def test_recorded_replica_cluster_fails_wal_level():
    checks = evaluate_recorded("replica")
    assert [pg_verdict.check_label(c) for c in pg_verdict.failing(checks, "error")] == ["wal_level"]
    assert_failed(by_name(checks, "wal_level"), "error", "ALTER SYSTEM SET wal_level = logical;")
    # No publication was asked for, so none is checked.
    assert not [c for c in checks if c["name"].startswith("publication")]


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


# --------------------------------------------------------------------------- without psycopg2


def test_module_utils_import_without_psycopg2(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    monkeypatch.setitem(sys.modules, "psycopg2.extras", None)
    try:
        reloaded = importlib.reload(pg_connection)
        assert reloaded.HAS_PSYCOPG2 is False
        assert "psycopg2" in reloaded.PSYCOPG2_IMPORT_ERROR
    finally:
        monkeypatch.undo()
        importlib.reload(pg_connection)
    assert pg_connection.HAS_PSYCOPG2 is True


# --------------------------------------------------------------------------- table facts (pg_logical_check tables)

# tests/unit/fixtures/pg/tables.json: collect(count_rows=True) on the bed, written by
# tests/integration/test_pg_logical_check.py with CDCOPS_RECORD_FIXTURES=1.


def recorded_tables():
    data = recorded("tables")
    return data, {(pg_text.display_table(t["schema"], t["table"])): t for t in data["facts_tables"]}


def test_table_summaries_from_recorded_facts():
    data, _by_name = recorded_tables()
    summaries = pg_catalog.table_summaries(data["facts_tables"])
    assert [s["name"] for s in summaries] == ["public.typed_keys", "public.events_nopk", "public.orders_view",
                                              "public.secret", "hidden.t", '"Sales.EU"."Orders"', "public.missing"]
    by_name = {s["name"]: s for s in summaries}
    # Key order, not column order, with format_type() text.
    assert by_name["public.typed_keys"] == {
        "name": "public.typed_keys", "schema": "public", "table": "typed_keys", "exists": True, "kind": "table",
        "primary_key": [{"name": "uid", "type": "uuid"}, {"name": "region", "type": "character varying(20)"},
                        {"name": "at", "type": "timestamp with time zone"},
                        {"name": "amount", "type": "numeric(10,2)"}],
        # Every column in table order (what a pipeline's Flink DDL is built from).
        "columns": [{"name": "region", "type": "character varying(20)", "nullable": False},
                    {"name": "amount", "type": "numeric(10,2)", "nullable": False},
                    {"name": "at", "type": "timestamp with time zone", "nullable": False},
                    {"name": "uid", "type": "uuid", "nullable": False},
                    {"name": "note", "type": "text", "nullable": True}],
        "rows": 2}
    assert by_name["public.events_nopk"]["primary_key"] == [] and by_name["public.events_nopk"]["rows"] == 0
    assert (by_name["public.orders_view"]["kind"], by_name["public.orders_view"]["exists"]) == ("view", True)
    sales = by_name['"Sales.EU"."Orders"']
    expected = ("Sales.EU", "Orders", [{"name": "Id", "type": "bigint"}])
    assert (sales["schema"], sales["table"], sales["primary_key"]) == expected
    assert by_name["public.missing"] == {"name": "public.missing", "schema": "public", "table": "missing",
                                         "exists": False, "kind": None, "primary_key": [], "columns": []}
    # Not counted: a view, a table without SELECT, a schema without USAGE, a missing table.
    assert [s["name"] for s in summaries if "rows" not in s] == ["public.orders_view", "public.secret", "hidden.t",
                                                                 "public.missing"]


def test_table_summaries_carry_the_recorded_key_types():
    summaries = pg_catalog.table_summaries(recorded("ready")["facts"]["tables"])
    assert summaries[0]["primary_key"] == [{"name": "id", "type": "bigint"}]
    assert all("rows" not in s for s in summaries)


def test_table_summaries_without_key_types_keep_the_names():
    # Facts without primary_key_types (a catalog row from before the column was read): names, no types.
    rows = [dict(t, primary_key_types=None) for t in recorded("ready")["facts"]["tables"]]
    assert pg_catalog.table_summaries(rows)[0]["primary_key"] == [{"name": "id", "type": None}]


@pytest.mark.parametrize("overrides, counted", [
    ({}, True),
    ({"relkind": "p"}, True),
    ({"relkind": "v"}, False),
    ({"relkind": "m"}, False),
    ({"exists": False, "qualified": None, "relkind": None}, False),
    ({"can_select": False}, False),
    ({"schema_usage": False}, False),
])
def test_countable(overrides, counted):
    assert pg_catalog.countable(table(**overrides)) is counted


def test_count_rows_sql_takes_the_servers_quoting():
    assert pg_catalog.count_rows_sql('public."odd%s ""name"""') == 'SELECT count(*) AS row_count FROM public."odd%s ""name"""'


def test_tables_sql_reads_key_names_and_types_in_key_order():
    text = " ".join(pg_catalog.TABLES_SQL.split())
    assert "pk.names AS primary_key, pk.types AS primary_key_types" in text
    assert "format_type(a.atttypid, a.atttypmod) ORDER BY k.ord" in text
    assert "unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)" in text


class ReplayClient(object):
    """Answers collect()'s queries from recorded facts, and records them as PgClient does."""

    def __init__(self, facts_tables, counts):
        self.endpoint = "127.0.0.1:15432"
        self.user = "plc_fx_cdc"
        self.executed_queries = []
        self.facts_tables = facts_tables
        self.counts = counts

    def query(self, sql, params=None, record=True):
        self.executed_queries.append(" ".join(sql.split()))
        if sql == pg_catalog.SERVER_SQL:
            return [{"version_num": 150018, "version": "15.18", "in_recovery": False, "database": "plc_fx"}]
        if sql == pg_catalog.ROLE_SQL:
            return [{"name": "plc_fx_cdc", "replication": True, "can_login": True}]
        if sql == pg_catalog.SETTINGS_SQL:
            return []
        if sql == pg_catalog.WAL_SENDERS_SQL:
            return [{"active": 0}]
        if sql == pg_catalog.TABLES_SQL:
            assert params["tables"] == [t["table"] for t in self.facts_tables]
            return [{k: v for k, v in t.items() if k != "rows"} for t in self.facts_tables]
        if sql.startswith("SELECT count(*) AS row_count FROM "):
            return [{"row_count": self.counts[sql[len("SELECT count(*) AS row_count FROM "):]]}]
        if sql == pg_catalog.slots_sql(150018):
            return []
        if sql == pg_catalog.LOCK_TIMEOUT_SQL:
            return [{"lock_timeout": params["value"]}]
        raise AssertionError("unexpected query %s" % sql)


@pytest.mark.parametrize("count_rows", [False, True])
def test_collect_counts_only_when_asked_one_query_per_countable_table(count_rows):
    data, by_name = recorded_tables()
    counts = {t["qualified"]: t["rows"] for t in data["facts_tables"] if "rows" in t}
    client = ReplayClient(data["facts_tables"], counts)
    keys = [pg_text.parse_table_name(t) for t in data["tables"]]
    facts = pg_catalog.collect(client, tables=keys, replication_connection=False, count_rows=count_rows)
    table_queries = [q for q in client.executed_queries if "FROM unnest(" in q]
    assert len(table_queries) == 1  # one catalog query for every table
    count_queries = [q for q in client.executed_queries if "row_count" in q]
    if not count_rows:
        assert count_queries == []
        assert all("rows" not in t for t in facts["tables"])
        return
    assert count_queries == [q for q in data["queries"] if "row_count" in q]
    assert count_queries == ["SELECT count(*) AS row_count FROM public.typed_keys",
                             "SELECT count(*) AS row_count FROM public.events_nopk",
                             'SELECT count(*) AS row_count FROM "Sales.EU"."Orders"']
    assert [t.get("rows") for t in facts["tables"]] == [t.get("rows") for t in data["facts_tables"]]


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


def test_slot_name_problems_match_the_check():
    assert pg_text.slot_name_problems("flink_cdc_shop") == []
    assert pg_text.slot_name_problems("Flink-Slot") == ["Flink CDC's slot.name allows only lowercase letters, digits and _"]
    assert pg_text.slot_name_problems("x" * 64) == ["PostgreSQL names are at most 63 bytes"]
    check = pg_slot_checks.check_slot_name("Flink-Slot")
    assert check["message"] == "slot name 'Flink-Slot' is invalid: Flink CDC's slot.name allows only lowercase " \
                               "letters, digits and _"


def test_query_error_keeps_the_reason_apart():
    exc = pg_connection.PgQueryError("a read-only query failed on PostgreSQL at h:5432: boom", "XX000")
    assert exc.reason == exc.message
    assert pg_connection.PgQueryError("m", "XX000", "boom").reason == "boom"
