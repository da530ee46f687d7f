# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Connecting to PostgreSQL: the connection options (``postgres_common_argument_spec()``, documented once in the
``cdcops.flink_cdc.postgres`` doc fragment), their libpq keywords (``connection_kwargs()``), and ``PgClient``,
which turns every driver failure into a ``PgConnectError`` or ``PgQueryError`` whose message names the endpoint
and never contains the password. ``AnsiblePgClient`` is the client of a module: it owns the ``AnsibleModule``.
"""

from __future__ import annotations

import re
import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native, to_text

PSYCOPG2_IMPORT_ERROR: t.Optional[str] = None

try:
    import psycopg2
    import psycopg2.extras
except ImportError:
    psycopg2 = None
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()

HAS_PSYCOPG2 = psycopg2 is not None
SSL_MODES = ("allow", "disable", "prefer", "require", "verify-ca", "verify-full")


def postgres_common_argument_spec() -> t.Dict[str, t.Any]:
    """Connection options (community.postgresql names), documented in doc_fragments/postgres.py."""
    return dict(
        login_host=dict(type="str", default="", aliases=["host"]),
        login_port=dict(type="int", default=5432, aliases=["port"]),
        login_user=dict(type="str", default="postgres", aliases=["login"]),
        login_password=dict(type="str", default="", no_log=True),
        login_db=dict(type="str", aliases=["db"]),
        login_unix_socket=dict(type="str", default="", aliases=["unix_socket"]),
        ssl_mode=dict(type="str", default="prefer", choices=list(SSL_MODES)),
        ca_cert=dict(type="path", aliases=["ssl_rootcert"]),
        ssl_cert=dict(type="path"),
        ssl_key=dict(type="path", no_log=False),
        connect_params=dict(type="dict", default={}),
        connect_timeout=dict(type="int", default=10),
    )


def connection_kwargs(params: t.Dict[str, t.Any], application_name: str = "cdcops.flink_cdc") -> t.Dict[str, t.Any]:
    """libpq keyword arguments for the connection options.

    As in community.postgresql, O(login_unix_socket) is used when no host (or
    ``localhost``) is given. ``connect_params`` wins over everything else.
    """
    kw: t.Dict[str, t.Any] = {}
    host = params.get("login_host") or ""
    unix_socket = params.get("login_unix_socket") or ""
    if unix_socket and host in ("", "localhost"):
        kw["host"] = unix_socket
    elif host:
        kw["host"] = host
    if params.get("login_port") is not None:
        kw["port"] = int(params["login_port"])
    mapping = (
        ("login_user", "user"),
        ("login_password", "password"),
        ("login_db", "dbname"),
        ("ssl_mode", "sslmode"),
        ("ca_cert", "sslrootcert"),
        ("ssl_cert", "sslcert"),
        ("ssl_key", "sslkey"),
        ("connect_timeout", "connect_timeout"),
    )
    for option, keyword in mapping:
        value = params.get(option)
        if value not in (None, ""):
            kw[keyword] = value
    kw["application_name"] = application_name
    kw.update(params.get("connect_params") or {})
    return kw


def describe_endpoint(kwargs: t.Dict[str, t.Any]) -> str:
    """``host:port`` (or the unix socket path) of the connection, for messages."""
    host = to_text(kwargs.get("host") or "")
    port = kwargs.get("port") or 5432
    if not host:
        return "the default unix socket (port %s)" % port
    if host.startswith("/") or host.startswith("@"):
        return "unix socket %s/.s.PGSQL.%s" % (host.rstrip("/"), port)
    if "," in host:
        return "%s (port %s)" % (host, port)
    if ":" in host:
        host = "[%s]" % host
    return "%s:%s" % (host, port)


class PgConnectError(Exception):
    """A connection that could not be opened, with a message fit for the user."""

    def __init__(self, message: str, kind: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.reason = reason


def scrub(text: str, secrets: t.Iterable[t.Optional[str]]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def connect_error_reason(raw: str) -> str:
    """libpq's message without its 'connection to server at ... failed:' prefix and FATAL noise."""
    lines = [line.strip() for line in to_text(raw).splitlines() if line.strip()]
    cleaned = []
    for line in lines:
        line = re.sub(r'^connection to server (at|on) .*? failed:\s*', "", line)
        line = re.sub(r"^(FATAL|ERROR):\s+", "", line)
        if line and line not in cleaned:
            cleaned.append(line)
    return " ".join(cleaned) or to_text(raw).strip() or "unknown error"


# What went wrong, from libpq's or the server's message (lowercased): the first kind with a phrase in it wins. A
# phrase is a tuple of words that must all be in the message, in any order. Order matters where messages overlap:
# "permission denied for database" is a missing privilege, not a missing database. The messages are the server's
# (PostgreSQL src/backend/libpq/auth.c, src/backend/utils/init/postinit.c) and libpq's
# (src/interfaces/libpq/fe-connect.c).
_CONNECT_ERROR_KINDS: t.Tuple[t.Tuple[str, t.Tuple[t.Tuple[str, ...], ...]], ...] = (
    ("auth", (("password authentication failed",), ("no password supplied",), ("authentication failed",))),
    ("replication_privilege", (("must be superuser or replication role",),
                               ("permission denied to start wal sender",))),
    ("pg_hba", (("no pg_hba.conf entry",), ("pg_hba.conf rejects",))),
    ("ssl", (("ssl",), ("certificate",))),
    ("no_connect_privilege", (("permission denied for database",),)),
    ("no_database", (("database", "does not exist"),)),
    ("no_role", (("role", "does not exist"),)),
    ("wal_senders", (("exceeds max_wal_senders",), ("number of requested standby connections",))),
    ("too_many_connections", (("too many connections",), ("too many clients",),
                              ("remaining connection slots are reserved",))),
    ("not_accepting", (("starting up",), ("shutting down",), ("in recovery mode",))),
    ("unreachable", (("refused",), ("timeout",), ("timed out",), ("could not translate",), ("no route to host",),
                     ("is the server running",), ("network is unreachable",), ("no such file or directory",))),
)


def classify_connect_error(reason: str) -> str:
    """One word for what went wrong, to choose the hint (``other`` when no phrase of ``_CONNECT_ERROR_KINDS`` fits)."""
    text = reason.lower()
    for kind, phrases in _CONNECT_ERROR_KINDS:
        if any(all(word in text for word in phrase) for phrase in phrases):
            return kind
    return "other"


class PgQueryError(Exception):
    """A catalog query that failed, e.g. because the connection dropped."""

    def __init__(self, message: str, pgcode: t.Optional[str] = None, reason: t.Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.pgcode = pgcode
        # The server's error text alone (no endpoint), for messages that add their own context.
        self.reason = reason if reason is not None else message


class PgClient:
    """One psycopg2 session (read-only unless asked otherwise); records the queries it runs."""

    def __init__(self, conn_kwargs: t.Dict[str, t.Any]) -> None:
        self.conn_kwargs = dict(conn_kwargs)
        self.endpoint = describe_endpoint(self.conn_kwargs)
        self.user = to_text(self.conn_kwargs.get("user") or "")
        self.database = to_text(self.conn_kwargs.get("dbname") or self.user)
        self.conn: t.Any = None
        self.readonly = True
        self.executed_queries: t.List[str] = []

    def _secrets(self) -> t.List[t.Optional[str]]:
        return [self.conn_kwargs.get("password"), self.conn_kwargs.get("sslpassword")]

    def _open(self, replication: bool = False) -> t.Any:
        kwargs = dict(self.conn_kwargs)
        if replication:
            kwargs["connection_factory"] = psycopg2.extras.LogicalReplicationConnection
        try:
            return psycopg2.connect(**kwargs)
        except Exception as exc:  # psycopg2.Error, or TypeError/ValueError for a bad connect_params
            reason = scrub(connect_error_reason(to_native(exc)), self._secrets())
            kind = classify_connect_error(reason)
            what = "logical replication connection (replication=database)" if replication else "connect"
            message = "cannot %s to PostgreSQL at %s (database %s, user %s): %s" % (
                "open a " + what if replication else what, self.endpoint, self.database or "?",
                self.user or "?", reason)
            raise PgConnectError(message, kind, reason)

    def connect(self, readonly: bool = True) -> None:
        """Open the session. Checks never write, and a read-only session makes that a server-side
        guarantee; only a module that changes the server (pg_replication_slot) passes False."""
        self.conn = self._open()
        self.readonly = readonly
        self.conn.set_session(readonly=readonly, autocommit=True)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def query(self, sql: str, params: t.Optional[t.Any] = None, record: bool = True) -> t.List[t.Dict[str, t.Any]]:
        cursor = self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        try:
            if record:
                self.executed_queries.append(
                    " ".join(to_text(cursor.mogrify(sql, params)).split()))
            cursor.execute(sql, params)
            return [dict(row) for row in cursor.fetchall()]
        except psycopg2.Error as exc:
            reason = scrub(to_text(exc).strip(), self._secrets())
            raise PgQueryError("a %squery failed on PostgreSQL at %s: %s"
                               % ("read-only " if self.readonly else "", self.endpoint, reason),
                               getattr(exc, "pgcode", None), reason)
        finally:
            cursor.close()

    def identify_system(self) -> t.Dict[str, t.Any]:
        """Open a logical replication connection and run IDENTIFY_SYSTEM (read-only)."""
        conn = self._open(replication=True)
        try:
            cursor = conn.cursor()
            self.executed_queries.append("IDENTIFY_SYSTEM")
            cursor.execute("IDENTIFY_SYSTEM")
            row = cursor.fetchone()
        except psycopg2.Error as exc:
            reason = scrub(connect_error_reason(to_native(exc)), self._secrets())
            raise PgConnectError("IDENTIFY_SYSTEM failed on a logical replication connection to %s: %s"
                                 % (self.endpoint, reason), classify_connect_error(reason), reason)
        finally:
            conn.close()
        return {"systemid": to_text(row[0]), "timeline": int(row[1]), "xlogpos": to_text(row[2]),
                "dbname": to_text(row[3]) if row[3] is not None else None}


class AnsiblePgClient(PgClient):
    """The PgClient of a module: owns the AnsibleModule, the merged argument spec and failures."""

    def __init__(self, argument_spec: t.Optional[t.Dict[str, t.Any]] = None, supports_check_mode: bool = True,
                 **kwargs: t.Any) -> None:
        spec = postgres_common_argument_spec()
        spec.update(argument_spec or {})
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, **kwargs)
        if not HAS_PSYCOPG2:
            self.module.fail_json(msg=missing_required_lib("psycopg2"), exception=PSYCOPG2_IMPORT_ERROR)
        super().__init__(connection_kwargs(self.module.params))

    def fail(self, msg: str, **result: t.Any) -> t.NoReturn:
        self.close()
        self.module.fail_json(msg=msg, **result)
