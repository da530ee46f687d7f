# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options to connect to PostgreSQL, named as in community.postgresql."""

    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or IP address of the PostgreSQL server.
      - When empty (or V(localhost)) and O(login_unix_socket) is set, the module connects through that
        unix socket instead. When both are empty, libpq uses its default socket.
      - The module runs on the target host, so this address is resolved and reached from there.
    type: str
    default: ''
    aliases: [host]
  login_port:
    description:
      - TCP port of the server, also used to name the unix socket file.
    type: int
    default: 5432
    aliases: [port]
  login_user:
    description:
      - Role to connect as. For a readiness check, use the role the Flink CDC job will use, so that
        its privileges are the ones checked.
    type: str
    default: postgres
    aliases: [login]
  login_password:
    description:
      - Password of O(login_user). It is never logged or returned, not even at C(-vvv).
    type: str
    default: ''
  login_db:
    description:
      - Database to connect to. For a readiness check, use the database that holds the captured tables,
        because publications and logical replication slots belong to one database.
      - When not set, libpq uses a database named like O(login_user).
    type: str
    aliases: [db]
  login_unix_socket:
    description:
      - Directory of the server's unix socket, for example V(/var/run/postgresql).
    type: str
    default: ''
    aliases: [unix_socket]
  ssl_mode:
    description:
      - Whether and how to negotiate SSL with the server, as libpq's C(sslmode).
      - V(prefer) matches libpq's default. See U(https://www.postgresql.org/docs/current/libpq-ssl.html).
    type: str
    default: prefer
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - File with the certificate authorities that signed the server's certificate (libpq C(sslrootcert)).
        Used with O(ssl_mode=verify-ca) or O(ssl_mode=verify-full).
    type: path
    aliases: [ssl_rootcert]
  ssl_cert:
    description:
      - Client certificate file, for certificate authentication (libpq C(sslcert)).
    type: path
  ssl_key:
    description:
      - Private key of O(ssl_cert) (libpq C(sslkey)).
    type: path
  connect_params:
    description:
      - Further libpq connection parameters, for example V(target_session_attrs=read-write) as a dict entry.
        They take precedence over the options above.
      - Pass passwords in O(login_password), not here. Only that option is hidden from output.
    type: dict
    default: {}
  connect_timeout:
    description:
      - Seconds to wait for a connection (libpq C(connect_timeout)). V(0) waits forever.
    type: int
    default: 10
requirements:
  - psycopg2 (C(psycopg2) or C(psycopg2-binary)) on the host that runs the module
notes:
  - The module connects from the host it runs on. To check from the machines that run Flink, run
    it there, or on the Flink hosts with C(delegate_to).
"""
