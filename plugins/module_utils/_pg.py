# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""PostgreSQL access and Flink CDC source readiness checks (private to this collection).

Three layers, so each can be tested on its own:

* connection: ``postgres_common_argument_spec()`` (documented once in the
  ``cdcops.flink_cdc.postgres`` doc fragment), ``connection_kwargs()`` and
  ``PgClient``, which turns every driver failure into a ``PgConnectError``
  whose message names the endpoint and never contains the password.
* ``collect()``: read-only catalog queries, all with bound parameters, that
  return plain data (the "facts").
* ``check_*()`` and ``evaluate()``: pure functions from facts to checks. Each
  check is a dict with ``name``, ``ok``, ``severity`` (error or warning),
  ``message`` and ``hint`` (the SQL or setting that fixes it).
* ``table_summaries()``: the facts of each requested table (primary key with
  column types, optional exact row count) as pg_logical_check returns them.
* replication slots (module pg_replication_slot): ``managed_slots_sql()`` reads
  the slots a task may touch, ``plan_slots()`` decides what to drop or create,
  as a pure function that refuses what must not be touched (``SlotError``).

Domain facts are cited from /work/shared/FACTS.md ("PostgreSQL prerequisites",
sourced from the Debezium 1.9 and Flink CDC postgres connector docs).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import traceback
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native, to_text

# PostgreSQL version data lives with the other version data, with its sources.
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._compat import (
    PGOUTPUT_MIN_VERSION_NUM,
    STANDBY_DECODING_MIN_VERSION_NUM,
    TESTED_MIN_VERSION_NUM,
    TESTED_MAX_MAJOR,
)

PSYCOPG2_IMPORT_ERROR = None  # type: Optional[str]
try:
    import psycopg2
    import psycopg2.extras
except ImportError:
    psycopg2 = None
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()

HAS_PSYCOPG2 = psycopg2 is not None

Check = Dict[str, Any]

ERROR = "error"
WARNING = "warning"

PLUGINS = ("pgoutput", "decoderbufs")
SSL_MODES = ("allow", "disable", "prefer", "require", "verify-ca", "verify-full")


# Flink CDC's slot.name rule: lowercase letters, digits and "_" (FACTS.md, "Defaults");
# PostgreSQL caps names at NAMEDATALEN - 1 = 63 bytes.
SLOT_NAME_RE = re.compile(r"^[a-z0-9_]+$")
MAX_NAME_BYTES = 63

# Debezium's publication.name default (FACTS.md, "Publication").
DEFAULT_PUBLICATION = "dbz_publication"

DEFAULT_INACTIVE_SLOT_RETAINED_BYTES = 1024 ** 3

# GUCs returned in ``settings`` and read by the checks.
RELEVANT_SETTINGS = (
    "server_version",
    "wal_level",
    "max_replication_slots",
    "max_wal_senders",
    "max_slot_wal_keep_size",
    "wal_sender_timeout",
    "shared_preload_libraries",
    "rds.logical_replication",
)

REPLICA_IDENTITY = {"d": "DEFAULT", "n": "NOTHING", "f": "FULL", "i": "USING INDEX"}
CAPTURABLE_RELKINDS = ("r", "p")
RELKIND_NAMES = {"v": "a view", "m": "a materialized view", "f": "a foreign table",
                 "S": "a sequence", "i": "an index", "I": "an index", "c": "a composite type",
                 "t": "a TOAST table"}

# What each pg_class.relkind is, for the ``tables`` result.
RELKIND_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
                 "f": "foreign table", "S": "sequence", "i": "index", "I": "index", "c": "composite type",
                 "t": "TOAST table"}

_SIMPLE_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_$]*$")


# --------------------------------------------------------------------------- options


def postgres_common_argument_spec():
    # type: () -> Dict[str, Any]
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


def connection_kwargs(params, application_name="cdcops.flink_cdc"):
    # type: (Dict[str, Any], str) -> Dict[str, Any]
    """libpq keyword arguments for the connection options.

    As in community.postgresql, O(login_unix_socket) is used when no host (or
    ``localhost``) is given. ``connect_params`` wins over everything else.
    """
    kw = {}  # type: Dict[str, Any]
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


def describe_endpoint(kwargs):
    # type: (Dict[str, Any]) -> str
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


def parse_table_name(name):
    # type: (str) -> Tuple[str, str]
    """``schema.table`` -> (schema, table); a bare name means ``public``.

    Parts in double quotes may contain dots, and ``""`` inside them stands for
    one quote. Names are taken as written (case-sensitive, as Flink CDC and
    community.postgresql treat them); quotes only group characters.
    """
    text = to_text(name)
    parts = []  # type: List[str]
    current = []  # type: List[Tuple[str, bool]]
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i += 1
            while True:
                if i >= len(text):
                    raise ValueError("table name %r has an unterminated double quote" % name)
                if text[i] == '"':
                    if text[i + 1:i + 2] == '"':
                        current.append(('"', True))
                        i += 2
                        continue
                    i += 1
                    break
                current.append((text[i], True))
                i += 1
            continue
        if char == ".":
            parts.append(_finish_part(current, name))
            current = []
        else:
            current.append((char, False))
        i += 1
    parts.append(_finish_part(current, name))
    if len(parts) == 1:
        return "public", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError("table name %r has %d dot-separated parts; write schema.table (the database is "
                     "login_db), and put names that contain dots in double quotes" % (name, len(parts)))


def _finish_part(chars, name):
    # type: (List[Tuple[str, bool]], str) -> str
    # Whitespace outside quotes around a part is not part of the name.
    while chars and not chars[0][1] and chars[0][0].isspace():
        chars = chars[1:]
    while chars and not chars[-1][1] and chars[-1][0].isspace():
        chars = chars[:-1]
    if not chars:
        raise ValueError("table name %r has an empty schema or table part" % name)
    return "".join(char for char, _quoted in chars)


def quote_ident(name):
    # type: (str) -> str
    """Quote an identifier for display when it is not a plain lowercase name."""
    if _SIMPLE_IDENT_RE.match(name):
        return name
    return '"%s"' % name.replace('"', '""')


def display_table(schema, table):
    # type: (str, str) -> str
    return "%s.%s" % (quote_ident(schema), quote_ident(table))


def format_bytes(value):
    # type: (Optional[int]) -> str
    if value is None:
        return "unknown"
    size = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            if unit == "bytes":
                return "%d bytes" % value
            return "%.1f %s" % (size, unit)
        size /= 1024
    return "%d bytes" % value  # pragma: no cover


def version_text(version_num):
    # type: (int) -> str
    """150018 -> "15.18", 90624 -> "9.6.24"."""
    if version_num >= 100000:
        return "%d.%d" % (version_num // 10000, version_num % 10000)
    return "%d.%d.%d" % (version_num // 10000, (version_num // 100) % 100, version_num % 100)


def version_major(version_num):
    # type: (int) -> int
    return version_num // 10000


# --------------------------------------------------------------------------- connection


class PgConnectError(Exception):
    """A connection that could not be opened, with a message fit for the user."""

    def __init__(self, message, kind, reason):
        super(PgConnectError, self).__init__(message)
        self.message = message
        self.kind = kind
        self.reason = reason


def scrub(text, secrets):
    # type: (str, Iterable[Optional[str]]) -> str
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def connect_error_reason(raw):
    # type: (str) -> str
    """libpq's message without its 'connection to server at ... failed:' prefix and FATAL noise."""
    lines = [line.strip() for line in to_text(raw).splitlines() if line.strip()]
    cleaned = []
    for line in lines:
        line = re.sub(r'^connection to server (at|on) .*? failed:\s*', "", line)
        line = re.sub(r"^(FATAL|ERROR):\s+", "", line)
        if line and line not in cleaned:
            cleaned.append(line)
    return " ".join(cleaned) or to_text(raw).strip() or "unknown error"


def classify_connect_error(reason):
    # type: (str) -> str
    """One word for what went wrong, to choose the hint."""
    text = reason.lower()
    if "password authentication failed" in text or "no password supplied" in text \
            or "authentication failed" in text:
        return "auth"
    if "must be superuser or replication role" in text or "permission denied to start wal sender" in text:
        return "replication_privilege"
    if "no pg_hba.conf entry" in text or "pg_hba.conf rejects" in text:
        return "pg_hba"
    if "ssl" in text or "certificate" in text:
        return "ssl"
    if "permission denied for database" in text:
        return "no_connect_privilege"
    if "database" in text and "does not exist" in text:
        return "no_database"
    if "role" in text and "does not exist" in text:
        return "no_role"
    if "exceeds max_wal_senders" in text or "number of requested standby connections" in text:
        return "wal_senders"
    if "too many connections" in text or "too many clients" in text \
            or "remaining connection slots are reserved" in text:
        return "too_many_connections"
    if "starting up" in text or "shutting down" in text or "in recovery mode" in text:
        return "not_accepting"
    if "refused" in text or "timeout" in text or "timed out" in text or "could not translate" in text \
            or "no route to host" in text or "is the server running" in text \
            or "network is unreachable" in text or "no such file or directory" in text:
        return "unreachable"
    return "other"


def connect_hint(kind, endpoint, user, database, replication=False, reason=""):
    # type: (str, str, str, str, bool, str) -> str
    """What to do about a failed connection of ``kind``; ``reason`` (the server's words) refines it."""
    if kind == "auth":
        return ("Check login_user and login_password for %s. pg_hba.conf uses a password method "
                "(scram-sha-256 or md5) for this client; the role's password must match." % endpoint)
    if kind == "replication_privilege":
        return ("ALTER ROLE %s WITH REPLICATION;  (on Amazon RDS or Aurora: GRANT rds_replication TO %s;)"
                % (quote_ident(user), quote_ident(user)))
    if kind == "pg_hba":
        # A logical replication connection matches an ordinary database entry, not the
        # "replication" keyword (FACTS.md, "pg_hba").
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


class PgQueryError(Exception):
    """A catalog query that failed, e.g. because the connection dropped."""

    def __init__(self, message, pgcode=None, reason=None):
        super(PgQueryError, self).__init__(message)
        self.message = message
        self.pgcode = pgcode
        # The server's error text alone (no endpoint), for messages that add their own context.
        self.reason = reason if reason is not None else message


class PgClient(object):
    """One psycopg2 session (read-only unless asked otherwise); records the queries it runs."""

    def __init__(self, conn_kwargs):
        # type: (Dict[str, Any]) -> None
        self.conn_kwargs = dict(conn_kwargs)
        self.endpoint = describe_endpoint(self.conn_kwargs)
        self.user = to_text(self.conn_kwargs.get("user") or "")
        self.database = to_text(self.conn_kwargs.get("dbname") or self.user)
        self.conn = None  # type: Any
        self.readonly = True
        self.executed_queries = []  # type: List[str]

    def _secrets(self):
        # type: () -> List[Optional[str]]
        return [self.conn_kwargs.get("password"), self.conn_kwargs.get("sslpassword")]

    def _open(self, replication=False):
        # type: (bool) -> Any
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

    def connect(self, readonly=True):
        # type: (bool) -> None
        """Open the session. Checks never write, and a read-only session makes that a server-side
        guarantee; only a module that changes the server (pg_replication_slot) passes False."""
        self.conn = self._open()
        self.readonly = readonly
        self.conn.set_session(readonly=readonly, autocommit=True)

    def close(self):
        # type: () -> None
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def query(self, sql, params=None, record=True):
        # type: (str, Optional[Any], bool) -> List[Dict[str, Any]]
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

    def identify_system(self):
        # type: () -> Dict[str, Any]
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

    def __init__(self, argument_spec=None, supports_check_mode=True, **kwargs):
        spec = postgres_common_argument_spec()
        spec.update(argument_spec or {})
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, **kwargs)
        if not HAS_PSYCOPG2:
            self.module.fail_json(msg=missing_required_lib("psycopg2"), exception=PSYCOPG2_IMPORT_ERROR)
        super(AnsiblePgClient, self).__init__(connection_kwargs(self.module.params))

    def fail(self, msg, **result):
        self.close()
        self.module.fail_json(msg=msg, **result)


# --------------------------------------------------------------------------- facts (read-only SQL)

SERVER_SQL = """
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       pg_is_in_recovery() AS in_recovery,
       current_database() AS database,
       quote_ident(current_database()) AS quoted_database
"""

ROLE_SQL = """
SELECT r.rolname AS name, quote_ident(r.rolname) AS quoted, r.rolcanlogin AS can_login,
       r.rolreplication AS replication, r.rolsuper AS superuser,
       COALESCE((SELECT pg_has_role(r.oid, g.oid, 'MEMBER') FROM pg_roles g
                 WHERE g.rolname = 'rds_replication'), false) AS rds_replication,
       has_database_privilege(current_database(), 'CREATE') AS can_create_in_database
FROM pg_roles r WHERE r.rolname = current_user
"""

SETTINGS_SQL = """
SELECT name, setting, unit, pending_restart FROM pg_settings
WHERE name = ANY(%(names)s) OR pending_restart ORDER BY name
"""

# pg_file_settings is readable by superusers only; used to tell what a pending change will become.
FILE_SETTING_SQL = """
SELECT setting FROM pg_file_settings WHERE name = %(name)s AND error IS NULL
ORDER BY seqno DESC LIMIT 1
"""

WAL_SENDERS_SQL = "SELECT count(*)::int AS active FROM pg_stat_replication"

TABLES_SQL = """
SELECT r.ord::int AS position, r.schema_name AS schema, r.table_name AS table,
       c.oid IS NOT NULL AS exists, c.relkind::text AS relkind,
       CASE WHEN c.oid IS NOT NULL THEN quote_ident(n.nspname) || '.' || quote_ident(c.relname) END AS qualified,
       CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(n.oid, 'USAGE') END AS schema_usage,
       CASE WHEN c.oid IS NOT NULL THEN has_table_privilege(c.oid, 'SELECT') END AS can_select,
       CASE WHEN c.oid IS NOT NULL THEN pg_has_role(c.relowner, 'USAGE') END AS is_owner,
       CASE WHEN c.oid IS NOT NULL THEN pg_get_userbyid(c.relowner) END AS owner,
       c.relreplident::text AS replica_identity,
       pk.names AS primary_key, pk.types AS primary_key_types,
       r.chunk_key,
       CASE WHEN r.chunk_key IS NOT NULL AND c.oid IS NOT NULL THEN EXISTS (
           SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = r.chunk_key
              AND a.attnum > 0 AND NOT a.attisdropped) END AS chunk_key_exists,
       CASE WHEN c.oid IS NULL THEN (
           SELECT array_agg(quote_ident(n2.nspname) || '.' || quote_ident(c2.relname)
                            ORDER BY n2.nspname, c2.relname)
             FROM pg_class c2 JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
            WHERE lower(n2.nspname) = lower(r.schema_name) AND lower(c2.relname) = lower(r.table_name)
              AND c2.relkind IN ('r', 'p')) END AS similar
FROM unnest(%(schemas)s::text[], %(tables)s::text[], %(chunk_keys)s::text[])
     WITH ORDINALITY AS r(schema_name, table_name, chunk_key, ord)
LEFT JOIN pg_namespace n ON n.nspname = r.schema_name
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.table_name
LEFT JOIN LATERAL (
    SELECT array_agg(a.attname::text ORDER BY k.ord) AS names,
           array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord) AS types
      FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = c.oid AND i.indisprimary) pk ON true
ORDER BY r.ord
"""


def count_rows_sql(qualified):
    # type: (str) -> str
    """Exact row count of one table (a full scan).

    ``qualified`` is the server's own quote_ident(schema) || '.' || quote_ident(table) from
    TABLES_SQL, never user input: identifiers cannot be bound parameters.
    """
    return "SELECT count(*) AS row_count FROM %s" % qualified


def countable(table):
    # type: (Dict[str, Any]) -> bool
    """Whether an exact count runs on a TABLES_SQL row: an existing table the role can read."""
    return bool(table.get("exists") and table.get("relkind") in CAPTURABLE_RELKINDS and table.get("qualified")
                and table.get("schema_usage") and table.get("can_select"))


PUBLICATION_SQL = """
SELECT p.pubname AS name, quote_ident(p.pubname) AS quoted, p.puballtables AS all_tables,
       p.pubinsert AS insert, p.pubupdate AS update, p.pubdelete AS delete,
       pg_get_userbyid(p.pubowner) AS owner
FROM pg_publication p WHERE p.pubname = %(name)s
"""

# pg_publication_tables expands FOR ALL TABLES / TABLES IN SCHEMA but lists the partitions of a
# partitioned table; pg_publication_rel has the table as it was added.
PUBLICATION_TABLES_SQL = """
SELECT schemaname::text AS schema, tablename::text AS table FROM pg_publication_tables
WHERE pubname = %(name)s
UNION
SELECT n.nspname::text, c.relname::text FROM pg_publication_rel pr
JOIN pg_publication p ON p.oid = pr.prpubid
JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE p.pubname = %(name)s
"""


def slots_sql(version_num):
    # type: (int) -> str
    """pg_replication_slots with the WAL each slot holds back (FACTS.md, "Slot hygiene")."""
    return _slots_query(version_num, "")


def _slots_query(version_num, where):
    # type: (int, str) -> str
    if version_num >= 100000:
        current_lsn = ("CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                       "ELSE pg_current_wal_lsn() END")
        diff = "pg_wal_lsn_diff"
        temporary = "s.temporary"
    else:
        current_lsn = ("CASE WHEN pg_is_in_recovery() THEN pg_last_xlog_replay_location() "
                       "ELSE pg_current_xlog_location() END")
        diff = "pg_xlog_location_diff"
        temporary = "false"
    wal_status = "s.wal_status" if version_num >= 130000 else "NULL::text"
    return """
SELECT s.slot_name::text AS slot_name, s.plugin::text AS plugin, s.slot_type AS slot_type,
       s.database::text AS database, {temporary} AS temporary, s.active AS active,
       s.active_pid AS active_pid, {wal_status} AS wal_status,
       s.restart_lsn::text AS restart_lsn, s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
       CASE WHEN s.restart_lsn IS NOT NULL
            THEN {diff}({current_lsn}, s.restart_lsn)::bigint END AS retained_bytes,
       a.usename::text AS active_user, a.application_name AS active_application,
       host(a.client_addr) AS active_client_addr
FROM pg_replication_slots s LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid{where}
ORDER BY s.slot_name
""".format(temporary=temporary, wal_status=wal_status, diff=diff, current_lsn=current_lsn, where=where)


def collect(client, tables=(), publication=None, chunk_key_columns=None, replication_connection=True,
            count_rows=False):
    # type: (PgClient, Iterable[Tuple[str, str]], Optional[str], Optional[Dict[Tuple[str, str], str]], bool, bool) -> Dict[str, Any]
    """Read everything the checks need. ``client`` must be connected.

    With ``count_rows``, each table that ``countable()`` admits also gets ``rows``, an exact
    ``count(*)``: one query (a full scan) per table.
    """
    chunk_key_columns = chunk_key_columns or {}
    tables = list(tables)
    facts = {"endpoint": client.endpoint, "user": client.user}  # type: Dict[str, Any]
    server = client.query(SERVER_SQL)[0]
    facts["server"] = server
    version_num = server["version_num"]
    if version_num < TESTED_MIN_VERSION_NUM:
        return facts

    facts["role"] = client.query(ROLE_SQL)[0]
    rows = client.query(SETTINGS_SQL, {"names": list(RELEVANT_SETTINGS)})
    facts["settings"] = dict((row["name"], row["setting"]) for row in rows if row["name"] in RELEVANT_SETTINGS)
    facts["pending_restart"] = [row["name"] for row in rows if row["pending_restart"]]
    facts["pending_values"] = {}
    if "wal_level" in facts["pending_restart"]:
        facts["pending_values"]["wal_level"] = _file_setting(client, "wal_level")

    facts["slots"] = client.query(slots_sql(version_num))
    facts["wal_senders_active"] = client.query(WAL_SENDERS_SQL)[0]["active"]

    facts["tables"] = []
    if tables:
        facts["tables"] = client.query(TABLES_SQL, {
            "schemas": [schema for schema, _table in tables],
            "tables": [table for _schema, table in tables],
            "chunk_keys": [chunk_key_columns.get(key) for key in tables],
        })
        if count_rows:
            for table in facts["tables"]:
                if countable(table):
                    table["rows"] = client.query(count_rows_sql(table["qualified"]))[0]["row_count"]

    facts["publication"] = None
    if publication is not None and version_num >= PGOUTPUT_MIN_VERSION_NUM:
        found = client.query(PUBLICATION_SQL, {"name": publication})
        if found:
            pub = found[0]
            pub["tables"] = [[row["schema"], row["table"]]
                             for row in client.query(PUBLICATION_TABLES_SQL, {"name": publication})]
            facts["publication"] = pub

    if replication_connection:
        try:
            facts["replication"] = {"ok": True, "system": client.identify_system()}
        except PgConnectError as exc:
            facts["replication"] = {"ok": False, "error": exc.message, "kind": exc.kind}
    return facts


def _file_setting(client, name):
    # type: (PgClient, str) -> Optional[str]
    try:
        rows = client.query(FILE_SETTING_SQL, {"name": name})
    except PgQueryError:
        # Not a superuser: the pending value stays unknown.
        return None
    return rows[0]["setting"] if rows else None


# --------------------------------------------------------------------------- checks


def make_check(name, ok, severity, message, hint="", **extra):
    # type: (str, bool, str, str, str, Any) -> Check
    check = {"name": name, "ok": bool(ok), "severity": severity, "message": message,
             "hint": hint if not ok else ""}
    check.update(extra)
    return check


def check_connect(endpoint, error=None, kind=None, user="", database=""):
    # type: (str, Optional[str], Optional[str], str, str) -> Check
    if error:
        return make_check("connect", False, ERROR, error,
                          connect_hint(kind or "other", endpoint, user, database, reason=error))
    return make_check("connect", True, ERROR, "connected to PostgreSQL at %s (database %s, user %s)"
                      % (endpoint, database, user))


def check_server_version(version_num, plugin="pgoutput"):
    # type: (int, str) -> Check
    text = version_text(version_num)
    if version_num < TESTED_MIN_VERSION_NUM:
        return make_check(
            "server_version", False, ERROR,
            "PostgreSQL %s is older than 9.6, the oldest version Flink CDC supports" % text,
            "Upgrade PostgreSQL (10 or later for pgoutput).")
    if plugin == "pgoutput" and version_num < PGOUTPUT_MIN_VERSION_NUM:
        return make_check(
            "server_version", False, ERROR,
            "PostgreSQL %s has no pgoutput plugin: it ships with PostgreSQL 10" % text,
            "Upgrade PostgreSQL to 10 or later, or use plugin decoderbufs (installed on the server).")
    if version_major(version_num) > TESTED_MAX_MAJOR:
        return make_check(
            "server_version", False, WARNING,
            "PostgreSQL %s is newer than the versions the Flink CDC docs list as tested (9.6 - %d); "
            "it usually works, but is not covered by upstream tests" % (text, TESTED_MAX_MAJOR),
            "Test the pipeline on PostgreSQL %d before production, and read the release notes of your "
            "Flink CDC version." % version_major(version_num))
    return make_check("server_version", True, ERROR,
                      "PostgreSQL %s is within the Flink CDC tested range (9.6 - %d)" % (text, TESTED_MAX_MAJOR))


def check_standby(in_recovery, version_num):
    # type: (bool, int) -> Check
    if not in_recovery:
        return make_check("standby", True, ERROR, "the server is a primary (not in recovery)")
    if version_num >= STANDBY_DECODING_MIN_VERSION_NUM:
        return make_check("standby", True, ERROR,
                          "the server is a standby; PostgreSQL %s can decode logically on a standby "
                          "(keep hot_standby_feedback on)" % version_text(version_num))
    return make_check("standby", False, ERROR,
                      "the server is a standby (in recovery); logical decoding on a standby needs "
                      "PostgreSQL 16, this is %s" % version_text(version_num),
                      "Point login_host at the primary.")


def wal_level_hint(is_rds=False):
    # type: (bool) -> str
    # wal_level needs a restart; RDS uses rds.logical_replication instead (FACTS.md, "Server settings"/"Role").
    self_managed = ("ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (wal_level only "
                    "changes at server start, e.g. systemctl restart postgresql).")
    rds = ("On Amazon RDS or Aurora: set rds.logical_replication = 1 in the DB parameter group and "
           "reboot the instance.")
    return rds + " " + self_managed if is_rds else self_managed + " " + rds


def check_wal_level(wal_level, pending=False, pending_value=None, is_rds=False):
    # type: (Optional[str], bool, Optional[str], bool) -> Check
    if wal_level == "logical":
        if not pending:
            return make_check("wal_level", True, ERROR, "wal_level is logical")
        if pending_value is None:
            return make_check(
                "wal_level", False, WARNING,
                "wal_level is logical, but a changed wal_level waits for the next restart and this "
                "user cannot read it (pg_file_settings needs a superuser)",
                "Ask a superuser: SELECT setting, sourcefile FROM pg_file_settings WHERE name = "
                "'wal_level'; keep it logical before restarting.")
        if pending_value != "logical":
            return make_check(
                "wal_level", False, ERROR,
                "wal_level is logical now, but becomes %s at the next restart (pending_restart)" % pending_value,
                "ALTER SYSTEM SET wal_level = logical; (or remove the other setting from the "
                "configuration files) before PostgreSQL restarts.")
        return make_check("wal_level", True, ERROR, "wal_level is logical")
    current = wal_level or "unknown"
    if pending and pending_value == "logical":
        return make_check(
            "wal_level", False, ERROR,
            "wal_level is %s; logical is configured but waits for a restart (pending_restart)" % current,
            "Restart PostgreSQL to apply wal_level = logical (e.g. systemctl restart postgresql).")
    pending_note = " (a changed value waits for a restart)" if pending else ""
    return make_check("wal_level", False, ERROR,
                      "wal_level is %s%s; Flink CDC needs logical" % (current, pending_note),
                      wal_level_hint(is_rds))


def check_pending_restart(names):
    # type: (List[str]) -> Check
    if not names:
        return make_check("pending_restart", True, WARNING, "no setting waits for a restart")
    listed = ", ".join(names)
    return make_check(
        "pending_restart", False, WARNING,
        "settings changed in the configuration but not applied until PostgreSQL restarts: %s" % listed,
        "Restart PostgreSQL to apply them, or undo: %s SELECT pg_reload_conf();"
        % " ".join("ALTER SYSTEM RESET %s;" % name for name in names))


def _int_setting(settings, name):
    # type: (Dict[str, Any], str) -> Optional[int]
    try:
        return int(settings[name])
    except (KeyError, TypeError, ValueError):
        return None


def check_free_replication_slots(max_slots, slots, slots_needed, slot_name=None):
    # type: (Optional[int], List[Dict[str, Any]], int, Optional[str]) -> Check
    # Incremental snapshot creates a temporary slot per source subtask: budget 1 + parallelism
    # (FACTS.md, "Server settings").
    used = len(slots)
    own = [s for s in slots if slot_name and s["slot_name"] == slot_name]
    needed = max(slots_needed - len(own), 0)
    if max_slots is None:
        return make_check("free_replication_slots", False, ERROR,
                          "max_replication_slots could not be read", "Check the role's access to pg_settings.")
    free = max_slots - used
    reuse = " (slot %s exists and is reused)" % slot_name if own else ""
    if free >= needed:
        return make_check("free_replication_slots", True, ERROR,
                          "%d of %d replication slots free (%d in use); the job needs %d%s"
                          % (free, max_slots, used, needed, reuse))
    idle = [s["slot_name"] for s in slots if not s.get("active") and s["slot_name"] != slot_name]
    drop = ""
    if idle:
        drop = " Or drop slots no consumer uses, e.g. %s" % " ".join(
            "SELECT pg_drop_replication_slot('%s');" % name for name in idle[:5])
    return make_check(
        "free_replication_slots", False, ERROR,
        "only %d of %d replication slots free (%d in use); the job needs %d%s: its slot plus one "
        "temporary slot per incremental-snapshot subtask (slots_needed=%d)"
        % (max(free, 0), max_slots, used, needed, reuse, slots_needed),
        "ALTER SYSTEM SET max_replication_slots = %d; then restart PostgreSQL.%s"
        % (used + needed, drop))


def check_free_wal_senders(max_wal_senders, active, slots_needed):
    # type: (Optional[int], int, int) -> Check
    if max_wal_senders is None:
        return make_check("free_wal_senders", False, ERROR,
                          "max_wal_senders could not be read", "Check the role's access to pg_settings.")
    free = max_wal_senders - active
    if free >= slots_needed:
        return make_check("free_wal_senders", True, ERROR,
                          "%d of %d WAL senders free (%d active); the job needs %d"
                          % (free, max_wal_senders, active, slots_needed))
    return make_check(
        "free_wal_senders", False, ERROR,
        "only %d of %d WAL senders free (%d active); the job needs %d, one per replication stream "
        "(slots_needed=%d)" % (max(free, 0), max_wal_senders, active, slots_needed, slots_needed),
        "ALTER SYSTEM SET max_wal_senders = %d; then restart PostgreSQL." % (active + slots_needed))


def check_role(role, is_rds=False):
    # type: (Dict[str, Any], bool) -> Check
    # LOGIN plus REPLICATION, superuser, or rds_replication on RDS (FACTS.md, "Role").
    name = role["name"]
    quoted = role.get("quoted") or quote_ident(name)
    if not role.get("can_login"):
        return make_check("role", False, ERROR, "role %s cannot log in (NOLOGIN)" % name,
                          "ALTER ROLE %s WITH LOGIN;" % quoted)
    if role.get("superuser"):
        return make_check("role", True, ERROR,
                          "role %s is a superuser: it can replicate (a dedicated role with LOGIN, "
                          "REPLICATION and SELECT on the tables is safer)" % name)
    if role.get("replication"):
        return make_check("role", True, ERROR, "role %s has LOGIN and REPLICATION" % name)
    if role.get("rds_replication"):
        return make_check("role", True, ERROR, "role %s has LOGIN and is a member of rds_replication" % name)
    rds_grant = "GRANT rds_replication TO %s;" % quoted
    alter = "ALTER ROLE %s WITH REPLICATION;" % quoted
    return make_check(
        "role", False, ERROR,
        "role %s has LOGIN but neither REPLICATION nor superuser%s: it cannot open a replication stream"
        % (name, " nor membership in rds_replication" if is_rds else ""),
        "%s  (on Amazon RDS or Aurora: %s)" % (alter, rds_grant) if not is_rds
        else "%s  (self-managed PostgreSQL: %s)" % (rds_grant, alter))


def check_table_exists(table, database):
    # type: (Dict[str, Any], str) -> Check
    display = display_table(table["schema"], table["table"])
    if not table.get("exists"):
        similar = table.get("similar") or []
        if similar:
            hint = ("Did you mean %s? Names are case-sensitive; write mixed-case names as they are "
                    "stored." % ", ".join(similar))
        else:
            hint = ("Create the table, or fix its name in tables (schema.table; a bare name means "
                    "public).")
        return make_check("table_exists", False, ERROR,
                          "table %s does not exist in database %s" % (display, database), hint, table=display)
    relkind = table.get("relkind")
    if relkind not in CAPTURABLE_RELKINDS:
        return make_check(
            "table_exists", False, ERROR,
            "%s is %s, not a table: logical decoding only captures tables"
            % (display, RELKIND_NAMES.get(relkind or "", "not a table")),
            "Capture the table(s) it reads from instead.", table=display)
    kind = "partitioned table" if relkind == "p" else "table"
    return make_check("table_exists", True, ERROR, "%s %s exists" % (kind, display), table=display)


def check_table_select(table, user_quoted, user):
    # type: (Dict[str, Any], str, str) -> Check
    display = display_table(table["schema"], table["table"])
    qualified = table.get("qualified") or display
    if not table.get("schema_usage"):
        return make_check(
            "table_select", False, ERROR,
            "role %s has no USAGE on schema %s, so it cannot read %s" % (user, table["schema"], display),
            "GRANT USAGE ON SCHEMA %s TO %s; GRANT SELECT ON %s TO %s;"
            % (qualified.rsplit(".", 1)[0] if table.get("qualified") else quote_ident(table["schema"]),
               user_quoted, qualified, user_quoted),
            table=display)
    if not table.get("can_select"):
        return make_check(
            "table_select", False, ERROR,
            "role %s cannot SELECT %s; the snapshot phase reads it with SELECT" % (user, display),
            "GRANT SELECT ON %s TO %s;" % (qualified, user_quoted), table=display)
    return make_check("table_select", True, ERROR, "role %s can SELECT %s" % (user, display), table=display)


def check_table_primary_key(table):
    # type: (Dict[str, Any]) -> Check
    # Incremental snapshot splits on the primary key; since Flink CDC 3.4 a table without one
    # needs scan.incremental.snapshot.chunk.key-column (FACTS.md, "Replica identity and keys").
    display = display_table(table["schema"], table["table"])
    qualified = table.get("qualified") or display
    primary_key = table.get("primary_key") or []
    if primary_key:
        return make_check("table_primary_key", True, ERROR,
                          "%s has a primary key (%s)" % (display, ", ".join(primary_key)), table=display)
    chunk_key = table.get("chunk_key")
    if chunk_key and table.get("chunk_key_exists"):
        return make_check(
            "table_primary_key", True, ERROR,
            "%s has no primary key; the incremental snapshot splits it on column %s "
            "(scan.incremental.snapshot.chunk.key-column)" % (display, chunk_key), table=display)
    if chunk_key:
        return make_check(
            "table_primary_key", False, ERROR,
            "%s has no primary key, and its chunk key column %s (chunk_key_columns) does not exist"
            % (display, chunk_key),
            "Name an existing column of %s in chunk_key_columns and in the Flink table's "
            "'scan.incremental.snapshot.chunk.key-column'." % display, table=display)
    return make_check(
        "table_primary_key", False, ERROR,
        "%s has no primary key: the incremental snapshot splits tables on their primary key" % display,
        "ALTER TABLE %s ADD PRIMARY KEY (<columns>); or set 'scan.incremental.snapshot.chunk.key-column' "
        "= '<column>' on the Flink table (Flink CDC 3.4+) and name it in chunk_key_columns." % qualified,
        table=display)


def check_table_replica_identity(table):
    # type: (Dict[str, Any]) -> Check
    # DEFAULT sends only the old key with UPDATE/DELETE, nothing without a PK; FULL sends the whole
    # old row (FACTS.md, "Replica identity and keys").
    display = display_table(table["schema"], table["table"])
    qualified = table.get("qualified") or display
    identity = table.get("replica_identity")
    hint = "ALTER TABLE %s REPLICA IDENTITY FULL;" % qualified
    if identity == "f":
        return make_check("table_replica_identity", True, WARNING,
                          "%s has REPLICA IDENTITY FULL: UPDATE and DELETE carry the whole old row" % display,
                          table=display)
    primary_key = table.get("primary_key") or []
    if identity == "d" and primary_key:
        message = ("%s has REPLICA IDENTITY DEFAULT: UPDATE and DELETE carry only the old primary key "
                   "(%s), not the old row" % (display, ", ".join(primary_key)))
    elif identity == "i":
        message = ("%s has REPLICA IDENTITY USING INDEX: UPDATE and DELETE carry only the index "
                   "columns of the old row" % display)
    else:
        message = ("%s has REPLICA IDENTITY %s%s: UPDATE and DELETE carry no old row, and once the "
                   "table is in a publication that publishes them, UPDATE and DELETE on it fail on "
                   "the source" % (display, REPLICA_IDENTITY.get(identity or "", identity or "unknown"),
                                   " and no primary key" if identity == "d" else ""))
    return make_check("table_replica_identity", False, WARNING, message, hint, table=display)


def check_tables(tables, user, user_quoted, database):
    # type: (List[Dict[str, Any]], str, str, str) -> List[Check]
    checks = []  # type: List[Check]
    for table in tables:
        exists = check_table_exists(table, database)
        checks.append(exists)
        if not exists["ok"]:
            continue
        checks.append(check_table_select(table, user_quoted, user))
        checks.append(check_table_primary_key(table))
        checks.append(check_table_replica_identity(table))
    return checks


def could_create_publication(role, tables):
    # type: (Dict[str, Any], List[Dict[str, Any]]) -> Tuple[bool, str]
    """Whether this role could CREATE PUBLICATION ... FOR TABLE over the tables, and why."""
    if role.get("superuser"):
        return True, "role %s could create it (superuser, also FOR ALL TABLES)" % role["name"]
    reasons = []
    if not role.get("can_create_in_database"):
        reasons.append("it has no CREATE privilege on the database")
    not_owned = [display_table(t["schema"], t["table"]) for t in tables if t.get("exists") and not t.get("is_owner")]
    if not_owned:
        reasons.append("it does not own %s" % ", ".join(not_owned))
    if reasons:
        return False, "role %s could not create it: %s (FOR ALL TABLES needs a superuser)" % (
            role["name"], " and ".join(reasons))
    return True, ("role %s could create it FOR TABLE (CREATE on the database, owns the tables), "
                  "not FOR ALL TABLES (superuser only)" % role["name"])


def check_publication(name, publication, tables, role, database):
    # type: (str, Optional[Dict[str, Any]], List[Dict[str, Any]], Dict[str, Any], str) -> Check
    # pgoutput needs a publication; Debezium's publication.autocreate.mode is all_tables (needs high
    # privileges), filtered or disabled (FACTS.md, "Publication").
    existing = [t for t in tables if t.get("exists") and t.get("relkind") in CAPTURABLE_RELKINDS]
    qualified = [t.get("qualified") or display_table(t["schema"], t["table"]) for t in existing]
    quoted_name = quote_ident(name)
    if publication is None:
        target = "FOR TABLE %s" % ", ".join(qualified) if qualified else "FOR ALL TABLES"
        hint = "CREATE PUBLICATION %s %s;  (as the tables' owner or a superuser)" % (quoted_name, target)
        if role.get("superuser"):
            # Debezium's default autocreate mode (all_tables) works for a superuser: not an error,
            # but the publication it makes carries every table of the database.
            return make_check(
                "publication", False, WARNING,
                "publication %s does not exist in database %s; role %s is a superuser, so Debezium's "
                "default publication.autocreate.mode (all_tables) creates it FOR ALL TABLES on first start"
                % (name, database, role["name"]),
                hint + " Create it beforehand to publish only the captured tables.")
        can_create, why = could_create_publication(role, existing)
        if can_create:
            hint += (" Or let Flink CDC create it on start: 'debezium.publication.autocreate.mode' = "
                     "'filtered' (the default all_tables needs a superuser).")
        return make_check("publication", False, ERROR,
                          "publication %s does not exist in database %s; %s" % (name, database, why), hint)
    quoted_name = publication.get("quoted") or quoted_name
    if publication.get("all_tables"):
        return make_check("publication", True, ERROR, "publication %s is FOR ALL TABLES" % name)
    covered = set(tuple(pair) for pair in publication.get("tables") or [])
    missing = [t for t in existing if (t["schema"], t["table"]) not in covered]
    if missing:
        names = [t.get("qualified") or display_table(t["schema"], t["table"]) for t in missing]
        return make_check(
            "publication", False, ERROR,
            "publication %s does not cover %s: Flink CDC receives no changes for %s"
            % (name, ", ".join(display_table(t["schema"], t["table"]) for t in missing),
               "it" if len(missing) == 1 else "them"),
            "ALTER PUBLICATION %s ADD TABLE %s;  (as its owner %s, who must own the tables, or a superuser)"
            % (quoted_name, ", ".join(names), publication.get("owner") or "?"))
    return make_check("publication", True, ERROR,
                      "publication %s covers all %d listed tables that exist" % (name, len(existing)))


def check_publication_actions(name, publication):
    # type: (str, Dict[str, Any]) -> Check
    missing = [action for action in ("insert", "update", "delete") if not publication.get(action)]
    if missing:
        return make_check(
            "publication_actions", False, ERROR,
            "publication %s does not publish %s: Flink CDC would miss those changes" % (name, ", ".join(missing)),
            "ALTER PUBLICATION %s SET (publish = 'insert, update, delete');"
            % (publication.get("quoted") or quote_ident(name)))
    return make_check("publication_actions", True, ERROR,
                      "publication %s publishes insert, update and delete" % name)


def check_decoderbufs(shared_preload_libraries, user=""):
    # type: (Optional[str], str) -> Check
    if shared_preload_libraries is None:
        # pg_settings hides it from roles that are neither superuser nor in pg_read_all_settings.
        return make_check(
            "decoderbufs", False, WARNING,
            "plugin decoderbufs is chosen, but role %s cannot read shared_preload_libraries to confirm "
            "it is loaded" % (user or "?"),
            "Check as a superuser (SHOW shared_preload_libraries;), or let the role read settings: "
            "GRANT pg_read_all_settings TO %s;" % quote_ident(user or "<role>"))
    current = shared_preload_libraries
    libraries = [lib.strip().strip('"').strip() for lib in current.split(",")]
    if "decoderbufs" in libraries:
        return make_check("decoderbufs", True, ERROR, "decoderbufs is in shared_preload_libraries")
    new_value = ", ".join([lib for lib in libraries if lib] + ["decoderbufs"])
    return make_check(
        "decoderbufs", False, ERROR,
        "plugin decoderbufs is chosen but not in shared_preload_libraries (%s)" % (current or "empty"),
        "Install the decoderbufs package on the server, then ALTER SYSTEM SET shared_preload_libraries = "
        "'%s'; and restart PostgreSQL. Or use plugin pgoutput (built in since PostgreSQL 10) with "
        "'decoding.plugin.name' = 'pgoutput' in Flink CDC." % new_value)


def suggest_slot_name(name):
    # type: (str) -> str
    suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
    return (suggestion or "flink_cdc_slot")[:MAX_NAME_BYTES]


def slot_name_problems(slot_name):
    # type: (str) -> List[str]
    problems = []
    if not SLOT_NAME_RE.match(slot_name):
        problems.append("Flink CDC's slot.name allows only lowercase letters, digits and _")
    if len(slot_name.encode("utf-8")) > MAX_NAME_BYTES:
        problems.append("PostgreSQL names are at most %d bytes" % MAX_NAME_BYTES)
    return problems


def check_slot_name(slot_name):
    # type: (str) -> Check
    problems = slot_name_problems(slot_name)
    if problems:
        return make_check("slot_name", False, ERROR,
                          "slot name %r is invalid: %s" % (slot_name, "; ".join(problems)),
                          "Use a name like %r in slot_name and in the job's 'slot.name'."
                          % suggest_slot_name(slot_name))
    return make_check("slot_name", True, ERROR, "slot name %s is valid for Flink CDC" % slot_name)


def find_slot(slots, slot_name):
    # type: (List[Dict[str, Any]], Optional[str]) -> Optional[Dict[str, Any]]
    for slot in slots:
        if slot["slot_name"] == slot_name:
            return slot
    return None


def check_slot(slot_name, slot, plugin, database):
    # type: (str, Optional[Dict[str, Any]], str, str) -> Check
    if slot is None:
        return make_check("slot", True, ERROR,
                          "slot %s does not exist yet; Flink CDC creates it on first start" % slot_name)
    drop = "SELECT pg_drop_replication_slot('%s');" % slot_name.replace("'", "''")
    problems = []  # type: List[Tuple[str, str]]
    if slot.get("slot_type") != "logical":
        problems.append(("slot %s is a %s slot; Flink CDC needs a logical one" % (slot_name, slot.get("slot_type")),
                         "Choose another slot_name, or drop it: %s" % drop))
    else:
        if slot.get("database") != database:
            problems.append(("slot %s belongs to database %s, not %s" % (slot_name, slot.get("database"), database),
                             "Use another slot_name for database %s." % database))
        if slot.get("plugin") != plugin:
            problems.append((
                "slot %s uses plugin %s, but the job is set for %s" % (slot_name, slot.get("plugin"), plugin),
                "Set 'decoding.plugin.name' = '%s' in the job, or drop the slot so Flink CDC recreates it "
                "(the job then needs a new snapshot): %s" % (slot.get("plugin"), drop)))
    if slot.get("wal_status") == "lost":
        problems.append((
            "slot %s lost WAL it needs (wal_status lost, beyond max_slot_wal_keep_size); it cannot stream" % slot_name,
            "Drop it and let Flink CDC recreate it with a new snapshot: %s" % drop))
    if slot.get("active"):
        who = ", ".join("%s %s" % (label, slot[key]) for key, label in (
            ("active_user", "user"), ("active_application", "application"), ("active_client_addr", "client"))
            if slot.get(key))
        pid = slot.get("active_pid")
        problems.append((
            "slot %s is active for PID %s%s: another consumer streams from it"
            % (slot_name, pid, " (%s)" % who if who else ""),
            "Stop that consumer (a running Flink job or pg_recvlogical), or give this job its own "
            "slot_name. To end the session: SELECT pg_terminate_backend(%s);" % pid))
    retained = " and holds back %s of WAL" % format_bytes(slot.get("retained_bytes"))
    if problems:
        return make_check("slot", False, ERROR, "; ".join(p[0] for p in problems) + retained,
                          " ".join(p[1] for p in problems), retained_bytes=slot.get("retained_bytes"))
    return make_check("slot", True, ERROR,
                      "slot %s exists (%s, inactive)%s" % (slot_name, slot.get("plugin"), retained),
                      retained_bytes=slot.get("retained_bytes"))


def check_inactive_slots(slots, max_retained_bytes, max_slot_wal_keep_size=None):
    # type: (List[Dict[str, Any]], int, Optional[str]) -> Check
    # An inactive slot keeps all WAL since restart_lsn; max_slot_wal_keep_size defaults to -1,
    # unlimited (FACTS.md, "Slot hygiene").
    heavy = [s for s in slots if not s.get("active") and (s.get("retained_bytes") or 0) > max_retained_bytes]
    if not heavy:
        return make_check("inactive_slots", True, WARNING,
                          "no inactive slot holds back more than %s of WAL" % format_bytes(max_retained_bytes))
    listed = ", ".join("%s (%s)" % (s["slot_name"], format_bytes(s["retained_bytes"])) for s in heavy)
    cap = ""
    if max_slot_wal_keep_size in (None, "-1"):
        cap = (" Cap what a slot may hold with max_slot_wal_keep_size (PostgreSQL 13+, now unlimited): "
               "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf();")
    return make_check(
        "inactive_slots", False, WARNING,
        "inactive slots hold back more than %s of WAL each, which fills the disk: %s"
        % (format_bytes(max_retained_bytes), listed),
        "Restart their consumers, or drop the ones no job uses: %s%s"
        % (" ".join("SELECT pg_drop_replication_slot('%s');" % s["slot_name"].replace("'", "''") for s in heavy), cap))


def check_replication_connection(endpoint, user, database, result):
    # type: (str, str, str, Dict[str, Any]) -> Check
    if result.get("ok"):
        system = result.get("system") or {}
        return make_check(
            "replication_connection", True, ERROR,
            "a logical replication connection (replication=database) to %s as %s ran IDENTIFY_SYSTEM "
            "(system %s, timeline %s): pg_hba.conf admits this host"
            % (endpoint, user, system.get("systemid"), system.get("timeline")))
    return make_check("replication_connection", False, ERROR, result.get("error") or "failed",
                      connect_hint(result.get("kind") or "other", endpoint, user, database, replication=True,
                                   reason=result.get("error") or ""))


# --------------------------------------------------------------------------- verdict


def evaluate(facts, plugin="pgoutput", slots_needed=1, slot_name=None, publication=None,
             max_inactive_slot_retained_bytes=DEFAULT_INACTIVE_SLOT_RETAINED_BYTES):
    # type: (Dict[str, Any], str, int, Optional[str], Optional[str], int) -> List[Check]
    """All checks for the facts from ``collect()`` (or a connect failure), in a stable order."""
    endpoint = facts.get("endpoint", "?")
    if facts.get("connect_error"):
        error = facts["connect_error"]
        return [check_connect(endpoint, error["message"], error.get("kind"), facts.get("user", ""),
                              facts.get("database", ""))]
    server = facts["server"]
    database = server["database"]
    role = facts.get("role") or {}
    user = role.get("name") or facts.get("user", "")
    checks = [check_connect(endpoint, user=user, database=database)]
    checks.append(check_server_version(server["version_num"], plugin))
    if server["version_num"] < TESTED_MIN_VERSION_NUM:
        return checks
    settings = facts.get("settings") or {}
    is_rds = "rds.logical_replication" in settings
    pending = facts.get("pending_restart") or []
    slots = facts.get("slots") or []
    checks.append(check_standby(server.get("in_recovery", False), server["version_num"]))
    checks.append(check_wal_level(settings.get("wal_level"), "wal_level" in pending,
                                  (facts.get("pending_values") or {}).get("wal_level"), is_rds))
    checks.append(check_pending_restart(pending))
    checks.append(check_role(role, is_rds))
    checks.append(check_free_replication_slots(_int_setting(settings, "max_replication_slots"), slots,
                                               slots_needed, slot_name))
    checks.append(check_free_wal_senders(_int_setting(settings, "max_wal_senders"),
                                         facts.get("wal_senders_active") or 0, slots_needed))
    if slot_name:
        checks.append(check_slot_name(slot_name))
        checks.append(check_slot(slot_name, find_slot(slots, slot_name), plugin, database))
    checks.append(check_inactive_slots(slots, max_inactive_slot_retained_bytes,
                                       settings.get("max_slot_wal_keep_size")))
    if plugin == "decoderbufs":
        checks.append(check_decoderbufs(settings.get("shared_preload_libraries"), user))
    tables = facts.get("tables") or []
    if plugin == "pgoutput" and publication is not None and server["version_num"] >= PGOUTPUT_MIN_VERSION_NUM:
        checks.append(check_publication(publication, facts.get("publication"), tables, role, database))
        if facts.get("publication"):
            checks.append(check_publication_actions(publication, facts["publication"]))
    checks.extend(check_tables(tables, user, role.get("quoted") or quote_ident(user), database))
    if "replication" in facts:
        checks.append(check_replication_connection(endpoint, user, database, facts["replication"]))
    return checks


def is_ready(checks):
    # type: (List[Check]) -> bool
    return not failing(checks, ERROR)


def failing(checks, severity=None):
    # type: (List[Check], Optional[str]) -> List[Check]
    return [c for c in checks if not c["ok"] and (severity is None or c["severity"] == severity)]


def check_label(check):
    # type: (Check) -> str
    return "%s (%s)" % (check["name"], check["table"]) if check.get("table") else check["name"]


def not_ready_message(endpoint, database, checks):
    # type: (str, Optional[str], List[Check]) -> str
    errors = failing(checks, ERROR)
    return "PostgreSQL at %s%s is not ready for Flink CDC; %d check%s failed: %s" % (
        endpoint, " (database %s)" % database if database else "", len(errors),
        "" if len(errors) == 1 else "s",
        "; ".join("%s: %s" % (check_label(c), c["message"]) for c in errors))


# --------------------------------------------------------------------------- table facts


def table_summaries(tables):
    # type: (List[Dict[str, Any]]) -> List[Dict[str, Any]]
    """The ``tables`` result of pg_logical_check: one entry per TABLES_SQL row, in request order.

    ``primary_key`` lists the key columns in key order with their ``format_type()`` text, which
    is what a Flink DDL for the table is built from.
    """
    summaries = []
    for table in tables:
        exists = bool(table.get("exists"))
        names = table.get("primary_key") or []
        types = table.get("primary_key_types") or [None] * len(names)
        summary = {
            "name": display_table(table["schema"], table["table"]),
            "schema": table["schema"],
            "table": table["table"],
            "exists": exists,
            "kind": RELKIND_KINDS.get(table.get("relkind") or "") if exists else None,
            "primary_key": [{"name": name, "type": type_} for name, type_ in zip(names, types)],
        }  # type: Dict[str, Any]
        if table.get("rows") is not None:
            summary["rows"] = int(table["rows"])
        summaries.append(summary)
    return summaries


# --------------------------------------------------------------------------- replication slots
#
# Flink CDC's incremental snapshot gives each source subtask a backfill slot named
# "<slot.name>_<subtask index>": apache/flink-cdc PostgresSourceConfig.getSlotNameForBackfillTask()
# (the same at release-2.4.2, 3.0.1, 3.1.0, 3.5.0 and 3.6.0), used by
# PostgresSourceFetchTaskContext.configure() and PostgresScanFetchTask
# .maybeCreateSlotForBackFillReadTask(). The main slot outlives a snapshot-mode job before 3.5.0
# (FLINK-38277).

# SQLSTATEs (PostgreSQL "Errcodes" appendix) the slot functions raise.
SQLSTATE_INSUFFICIENT_PRIVILEGE = "42501"
SQLSTATE_OBJECT_IN_USE = "55006"
SQLSTATE_UNDEFINED_OBJECT = "42704"
SQLSTATE_DUPLICATE_OBJECT = "42710"
SQLSTATE_PREREQUISITE_STATE = "55000"
SQLSTATE_CONFIGURATION_LIMIT = "53400"
SQLSTATE_UNDEFINED_FILE = "58P01"

_SUBTASK_SUFFIX_RE = re.compile(r"_[0-9]+")

CREATE_SLOT_SQL = ("SELECT slot_name::text AS slot_name, lsn::text AS lsn "
                   "FROM pg_create_logical_replication_slot(%(name)s, %(plugin)s)")
DROP_SLOT_SQL = "SELECT pg_drop_replication_slot(%(name)s)"


class SlotError(Exception):
    """A slot change that must not, or cannot, be made; ``hint`` says what to do."""

    def __init__(self, message, hint=""):
        super(SlotError, self).__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self):
        return "%s. %s" % (self.message, self.hint) if self.hint else self.message


def managed_slots_sql(version_num):
    # type: (int) -> str
    """The slots named ``%(name)s`` and, when ``%(subtasks)s``, ``%(subtask_pattern)s``, of any type
    and database: the plan refuses foreign ones rather than not seeing them."""
    return _slots_query(version_num, "\nWHERE s.slot_name = %(name)s OR (%(subtasks)s AND s.slot_name ~ %(subtask_pattern)s)")


def subtask_slot_pattern(name):
    # type: (str) -> str
    """POSIX regex for ``<name>_<digits>``; ``name`` passed slot_name_problems(), so it has no metacharacters."""
    return "^%s_[0-9]+$" % name


def is_subtask_slot(slot_name, name):
    # type: (str, str) -> bool
    return slot_name.startswith(name) and bool(_SUBTASK_SUFFIX_RE.fullmatch(slot_name[len(name):]))


def _subtask_index(slot_name, name):
    # type: (str, str) -> int
    return int(slot_name[len(name) + 1:])


def slot_is_managed(slot, database):
    # type: (Dict[str, Any], str) -> bool
    """Only logical slots of the connected database are ever touched."""
    return slot.get("slot_type") == "logical" and slot.get("database") == database


def slot_summary(slot):
    # type: (Dict[str, Any]) -> Dict[str, Any]
    return {"name": slot["slot_name"], "slot_type": slot.get("slot_type"), "database": slot.get("database"),
            "plugin": slot.get("plugin"), "temporary": bool(slot.get("temporary")),
            "active": bool(slot.get("active")), "active_pid": slot.get("active_pid"),
            "retained_bytes": slot.get("retained_bytes")}


def slot_consumer(slot):
    # type: (Dict[str, Any]) -> Dict[str, Any]
    """Who holds an active slot, from pg_stat_activity."""
    return {"name": slot["slot_name"], "active_pid": slot.get("active_pid"),
            "user": slot.get("active_user"), "application_name": slot.get("active_application"),
            "client_addr": slot.get("active_client_addr")}


def describe_consumer(slot):
    # type: (Dict[str, Any]) -> str
    details = ", ".join("%s %s" % (label, slot[key]) for key, label in (
        ("active_client_addr", "client"), ("active_application", "application"), ("active_user", "user"))
        if slot.get(key))
    return "PID %s%s" % (slot.get("active_pid"), " (%s)" % details if details else "")


def _drop_sql_text(name):
    # type: (str) -> str
    return "SELECT pg_drop_replication_slot('%s');" % name.replace("'", "''")


def foreign_slot_error(slot, database, state):
    # type: (Dict[str, Any], str, str) -> SlotError
    name = slot["slot_name"]
    if state == "absent":
        consequence = "this module never drops it"
    else:
        consequence = ("this module does not reuse it, and no logical slot of that name can be created "
                       "(slot names are unique across the server)")
    if slot.get("slot_type") != "logical":
        return SlotError(
            "replication slot %s is a %s slot, not a logical slot of database %s: %s; a standby or a base "
            "backup may stream from it" % (name, slot.get("slot_type") or "non-logical", database, consequence),
            "Give the Flink CDC job another slot.name. Drop the physical slot yourself only when no standby "
            "uses it: %s" % _drop_sql_text(name))
    return SlotError(
        "replication slot %s is a logical slot of database %s, not of %s (login_db): %s"
        % (name, slot.get("database"), database, consequence),
        "Run the task with login_db=%s to manage it, or give the job another slot.name."
        % slot.get("database"))


def active_slots_error(active):
    # type: (List[Dict[str, Any]]) -> SlotError
    listed = "; ".join("replication slot %s is active for %s" % (s["slot_name"], describe_consumer(s))
                       for s in active)
    pids = " ".join("SELECT pg_terminate_backend(%s);" % s.get("active_pid") for s in active)
    return SlotError(
        "%s: an active slot is not dropped, so nothing was dropped" % listed,
        "Stop the consumer first (cancel the Flink job that reads the slot, or stop pg_recvlogical), then "
        "run the task again. To end the session instead: %s Or set fail_on_active=false to drop only the "
        "inactive slots and leave the active ones." % pids)


def plan_slots(slots, name, database, state="present", plugin="pgoutput", include_subtask_slots=False,
               fail_on_active=True):
    # type: (List[Dict[str, Any]], str, str, str, str, bool, bool) -> Dict[str, Any]
    """What pg_replication_slot does with the slots ``managed_slots_sql()`` returned.

    Returns ``drop`` (slot names, the main slot first, then subtask slots by index),
    ``create`` (bool), ``active`` (slots left because they are active), ``foreign`` (subtask-named
    slots of another type or database, left alone) and ``before``/``after`` (names of this
    database's matching logical slots). Raises SlotError for what must not be done.
    """
    main = find_slot(slots, name)
    if main is not None and not slot_is_managed(main, database):
        raise foreign_slot_error(main, database, state)
    plan = {"drop": [], "create": False, "active": [], "foreign": []}  # type: Dict[str, Any]
    if state == "present":
        before = [name] if main is not None else []
        if main is None:
            plan["create"] = True
        elif main.get("plugin") != plugin:
            raise SlotError(
                "replication slot %s exists in database %s with plugin %s, not %s; a slot's plugin cannot be "
                "changed" % (name, database, main.get("plugin"), plugin),
                "Set plugin=%s (and 'decoding.plugin.name' = '%s' in the job), or drop the slot with "
                "state=absent and create it again (the job then needs a new snapshot)."
                % (main.get("plugin"), main.get("plugin")))
        plan.update(before=before, after=[name])
        return plan

    candidates = [main] if main is not None else []
    if include_subtask_slots:
        subtasks = [s for s in slots if is_subtask_slot(s["slot_name"], name)]
        subtasks.sort(key=lambda s: (_subtask_index(s["slot_name"], name), s["slot_name"]))
        plan["foreign"] = [s for s in subtasks if not slot_is_managed(s, database)]
        candidates += [s for s in subtasks if slot_is_managed(s, database)]
    active = [s for s in candidates if s.get("active")]
    if active and fail_on_active:
        raise active_slots_error(active)
    plan["active"] = active
    plan["drop"] = [s["slot_name"] for s in candidates if not s.get("active")]
    plan["before"] = [s["slot_name"] for s in candidates]
    plan["after"] = [s["slot_name"] for s in active]
    return plan


def slot_privilege_hint(user):
    # type: (str) -> str
    quoted = quote_ident(user or "<role>")
    return ("ALTER ROLE %s WITH REPLICATION;  (on Amazon RDS or Aurora: GRANT rds_replication TO %s;) "
            "Or run the task as a superuser." % (quoted, quoted))


def can_use_slots(role):
    # type: (Dict[str, Any]) -> bool
    """REPLICATION, superuser or rds_replication: what the slot functions require."""
    return bool(role.get("superuser") or role.get("replication") or role.get("rds_replication"))


def slot_call_error(exc, action, name, endpoint, user, plugin="pgoutput"):
    # type: (PgQueryError, str, str, str, str, str) -> SlotError
    """A failed pg_create/pg_drop_replication_slot call, with what to do about it."""
    what = "cannot %s replication slot %s on %s: %s" % (action, name, endpoint, exc.reason)
    code = exc.pgcode
    if code == SQLSTATE_INSUFFICIENT_PRIVILEGE:
        return SlotError("%s (role %s needs REPLICATION or superuser)" % (what, user or "?"),
                         slot_privilege_hint(user))
    if code == SQLSTATE_OBJECT_IN_USE:
        return SlotError(what, "Stop the consumer that streams from it (a Flink job or pg_recvlogical) and run "
                               "the task again, or set fail_on_active=false to leave it.")
    if code == SQLSTATE_DUPLICATE_OBJECT:
        return SlotError(what, "Another session created it while this task ran; run the task again.")
    if code == SQLSTATE_CONFIGURATION_LIMIT:
        return SlotError(what, "ALTER SYSTEM SET max_replication_slots = <more>; then restart PostgreSQL, or drop "
                               "slots no consumer uses.")
    if code == SQLSTATE_UNDEFINED_FILE:
        return SlotError(what, "The output plugin %s is not installed on the server; use pgoutput (built in since "
                               "PostgreSQL 10) or install the plugin." % plugin)
    if code == SQLSTATE_PREREQUISITE_STATE and "wal_level" in to_text(exc.reason):
        return SlotError(what, wal_level_hint())
    if code == SQLSTATE_PREREQUISITE_STATE and "recovery" in to_text(exc.reason):
        return SlotError(what, "Point login_host at the primary (logical slots on a standby need PostgreSQL 16).")
    return SlotError(what + (" (SQLSTATE %s)" % code if code else ""))
