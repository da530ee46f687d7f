# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What to do about a failed connection (``connect_hint``, from the kind ``classify_connect_error()`` gave it) and
about a ``wal_level`` that is not logical: the texts the readiness checks and pg_replication_slot share.
"""

from __future__ import annotations

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import quote_ident


def connect_hint(kind: str, endpoint: str, user: str, database: str, replication: bool = False,
                 reason: str = "") -> str:
    """What to do about a failed connection of ``kind``; ``reason`` (the server's words) refines it."""
    if kind == "auth":
        return ("Check login_user and login_password for %s. pg_hba.conf uses a password method "
                "(scram-sha-256 or md5) for this client; the role's password must match." % endpoint)
    if kind == "replication_privilege":
        return ("ALTER ROLE %s WITH REPLICATION;  (on Amazon RDS or Aurora: GRANT rds_replication TO %s;)"
                % (quote_ident(user), quote_ident(user)))
    if kind == "pg_hba":
        # A logical replication connection matches an ordinary database entry, not the
        # "replication" keyword, which is for physical replication (PostgreSQL doc/src/sgml/client-auth.sgml,
        # the database field of pg_hba.conf).
        def line(verb, kind):
            return ("%s a pg_hba.conf line for this client, e.g. '%s %s %s <client address>/32 scram-sha-256', then "
                    "SELECT pg_reload_conf();.%s" % (
                        verb, kind, database or "<database>", user or "<user>",
                        " A logical replication connection (replication=database) matches the database "
                        "column, not the 'replication' keyword." if replication else ""))

        text = (reason or "").lower()
        # The server says how the rejected attempt was made ("no encryption", "SSL encryption"; PostgreSQL
        # src/backend/libpq/auth.c, ClientAuthentication). With ssl_mode=prefer libpq tries both ways and both
        # are named: then no line admits this client either way.
        if "no encryption" in text and "ssl encryption" not in text:
            return ("No pg_hba.conf line admits this client unencrypted. If the server admits it over SSL (hostssl "
                    "lines), set ssl_mode: require, or verify-full with ca_cert to also verify the server's "
                    "certificate. To admit it unencrypted instead, " + line("add", "host"))
        if "ssl encryption" in text and "no encryption" not in text:
            return ("No pg_hba.conf line admits this client over SSL, which its ssl_mode asks for. "
                    + line("Add", "hostssl"))
        return line("Add", "host")
    if kind == "ssl":
        return ("Match ssl_mode to the server: 'disable' or 'prefer' when it has no SSL, "
                "'verify-full' with ca_cert to verify its certificate; check ca_cert, ssl_cert and "
                "ssl_key paths.")
    if kind == "no_connect_privilege":
        return "GRANT CONNECT ON DATABASE %s TO %s;" % (quote_ident(database or "<database>"),
                                                        quote_ident(user or "<role>"))
    if kind == "no_database":
        return "Set login_db to the database that holds the captured tables, or create it."
    if kind == "no_role":
        return "Set login_user to an existing role, or create it: CREATE ROLE <name> LOGIN REPLICATION PASSWORD '...';"
    if kind == "wal_senders":
        return "Raise max_wal_senders (ALTER SYSTEM SET max_wal_senders = <n>; then restart PostgreSQL)."
    if kind == "too_many_connections":
        return "The server is at max_connections: close idle sessions or raise max_connections."
    if kind == "not_accepting":
        return "The server is starting, stopping or recovering; retry when it accepts connections."
    if kind == "unreachable":
        return ("Check login_host and login_port, that PostgreSQL listens there (listen_addresses, port) "
                "and that no firewall blocks it from the host that runs this module.")
    return "Check the connection options (login_host, login_port, login_user, login_db, ssl_mode, connect_params)."


def wal_level_hint(is_rds: bool = False) -> str:
    # wal_level is set at server start only (PostgreSQL doc/src/sgml/config.sgml, wal_level); RDS uses
    # rds.logical_replication instead (debezium/debezium documentation/modules/ROOT/pages/connectors/postgresql.adoc
    # at v1.9.8.Final, "PostgreSQL in the Cloud").
    self_managed = ("ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (wal_level only "
                    "changes at server start, e.g. systemctl restart postgresql).")
    rds = ("On Amazon RDS or Aurora: set rds.logical_replication = 1 in the DB parameter group and "
           "reboot the instance.")
    return rds + " " + self_managed if is_rds else self_managed + " " + rds
