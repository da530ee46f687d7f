"""Connection options, errors and their classification, and the module_utils without psycopg2.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed.
"""

import importlib
import sys

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import connection as pg_connection


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


def test_scrub_removes_secrets():
    assert pg_connection.scrub("bad password hunter2 for x", ["hunter2", None, ""]) == "bad password ******** for x"


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


def test_query_error_keeps_the_reason_apart():
    exc = pg_connection.PgQueryError("a read-only query failed on PostgreSQL at h:5432: boom", "XX000")
    assert exc.reason == exc.message
    assert pg_connection.PgQueryError("m", "XX000", "boom").reason == "boom"
