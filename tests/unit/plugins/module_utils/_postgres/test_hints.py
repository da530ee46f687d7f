"""The hints that say how to fix a failed connection.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (
    hints as pg_hints,
    readiness as pg_readiness,
)


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


# --- PostgreSQL hints ----------------------------------------------------------------------------------

NO_ENCRYPTION = 'no pg_hba.conf entry for host "10.0.0.1", user "flink_cdc", database "shop", no encryption'
SSL_ENCRYPTION = 'no pg_hba.conf entry for host "10.0.0.1", user "flink_cdc", database "shop", SSL encryption'


def test_pg_hba_hint_follows_how_the_attempt_was_made():
    unencrypted = pg_hints.connect_hint("pg_hba", "db:5432", "flink_cdc", "shop", reason=NO_ENCRYPTION)
    assert unencrypted.index("ssl_mode: require") < unencrypted.index("'host shop flink_cdc")
    assert "verify-full with ca_cert" in unencrypted
    over_ssl = pg_hints.connect_hint("pg_hba", "db:5432", "flink_cdc", "shop", reason=SSL_ENCRYPTION)
    assert "'hostssl shop flink_cdc <client address>/32 scram-sha-256'" in over_ssl and "ssl_mode: require" not in over_ssl
    # ssl_mode=prefer tried both ways and both were refused: a line is missing either way.
    both = pg_hints.connect_hint("pg_hba", "db:5432", "flink_cdc", "shop", reason=SSL_ENCRYPTION + " " + NO_ENCRYPTION)
    assert both.startswith("Add a pg_hba.conf line") and "ssl_mode" not in both
    check = pg_readiness.check_connect("db:5432", "cannot connect: " + NO_ENCRYPTION, "pg_hba", "flink_cdc", "shop")
    assert "ssl_mode: require" in check["hint"]
