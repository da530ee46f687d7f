"""PostgreSQL objects for the test bed.

* ``seed_demo(pg)``: the sandbox's demo source (database ``shop``), used by
  ``bed.up()`` and the README demo. Idempotent.
* ``create_scenario(pg, suffix)`` / ``drop_scenario(pg, scenario)``: a ready
  source next to broken variants, for the ``pg_logical_check`` integration
  tests. Every cluster-wide name (database, roles, slots) starts with
  ``plc_<suffix>_`` so runs never collide with other objects on the bed.
* ``record_fixtures(state, out_dir)``: what ``pg_logical_check`` reads from
  those variants, saved for the unit tests (tests/unit/fixtures/pg/).
  ``python tests/bed/pg_seed.py record`` re-records them from the running bed.

* ``query(pg, dbname, statement)``: one statement as the bed's superuser, for
  the integration tests' out-of-band reads.

``pg`` is ``state["postgres"]["logical"]`` (or ``["replica"]``) from bed.py's
state.json. Everything connects as the bed's superuser over TCP.
"""

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time

import psycopg2
import psycopg2.errors
from psycopg2 import sql

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

DEMO_DATABASE = "shop"
DEMO_USER = "flink_cdc"
DEMO_PUBLICATION = "flink_cdc_pub"
DEMO_SLOT = "flink_cdc_shop"
# The smoke job's table: a bounded snapshot of it must read exactly DEMO_SMOKE_ROWS rows.
DEMO_SMOKE_TABLE = "public.products"
DEMO_SMOKE_ROWS = 300
DEMO_TABLES = ("public.customers", "public.orders", DEMO_SMOKE_TABLE)
# The real sink of the bed's CDC jobs: a second database on the same server, written through Flink's JDBC
# connector (no StarRocks server exists here). Owned by the demo role, so a job writes with its credentials.
SINK_DATABASE = "sink"


def admin_connect(pg, dbname="postgres"):
    conn = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"],
                            dbname=dbname, connect_timeout=10, application_name="cdcops-bed-seed")
    conn.autocommit = True
    return conn


def query(pg, dbname, statement, params=None):
    """Run one statement in ``dbname`` as the bed's superuser, on a connection of its own: its rows, or None when
    it returns none (the integration tests' out-of-band reads and set-ups)."""
    conn = admin_connect(pg, dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def _execute(conn, *statements):
    with conn.cursor() as cur:
        for statement in statements:
            if isinstance(statement, tuple):
                cur.execute(*statement)
            else:
                cur.execute(statement)


def _scalar(conn, query, params=None):
    with conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
    return row[0] if row else None


def _ensure_database(admin, name):
    if not _scalar(admin, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)):
        _execute(admin, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _ensure_role(admin, name, password, replication):
    options = sql.SQL("LOGIN REPLICATION" if replication else "LOGIN NOREPLICATION")
    verb = "ALTER" if _scalar(admin, "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)) else "CREATE"
    _execute(admin, (sql.SQL(verb + " ROLE {} WITH {} PASSWORD %s").format(sql.Identifier(name), options),
                     (password,)))


def _password_file(pg, user):
    """Where the demo role's password lives: beside the clusters in the bed's PostgreSQL directory, mode 0600."""
    return os.path.join(os.path.dirname(os.path.dirname(pg["data"])), "%s.password" % user)


def _stable_password(pg, user):
    path = _password_file(pg, user)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(18))
    with open(path) as f:
        return f.read().strip()


# --------------------------------------------------------------------------- demo source


def seed_demo(pg):
    """Create (or bring back) the demo source: shop.public.{customers,orders,products} for Flink CDC.

    Tables have primary keys and REPLICA IDENTITY FULL, the login role has
    REPLICATION and SELECT, and the publication covers all three tables.
    ``public.products`` (DEMO_SMOKE_TABLE) holds exactly DEMO_SMOKE_ROWS rows,
    for a bounded snapshot-mode smoke job. The slot
    is not created: Flink CDC creates it when the job starts. The password
    is generated once and kept in the bed directory, so running this again
    does not change it under a running job.
    """
    password = _stable_password(pg, DEMO_USER)
    admin = admin_connect(pg)
    try:
        _ensure_database(admin, DEMO_DATABASE)
        _ensure_role(admin, DEMO_USER, password, replication=True)
    finally:
        admin.close()
    conn = admin_connect(pg, DEMO_DATABASE)
    try:
        _execute(
            conn,
            """CREATE TABLE IF NOT EXISTS public.customers (
                   id bigint PRIMARY KEY,
                   name text NOT NULL,
                   email text NOT NULL,
                   created_at timestamptz NOT NULL DEFAULT now())""",
            """CREATE TABLE IF NOT EXISTS public.orders (
                   id bigint PRIMARY KEY,
                   customer_id bigint NOT NULL REFERENCES public.customers (id),
                   amount numeric(12, 2) NOT NULL,
                   status text NOT NULL DEFAULT 'new',
                   created_at timestamptz NOT NULL DEFAULT now())""",
            # The incremental snapshot splits on the primary key (FACTS.md, "A bounded smoke job").
            """CREATE TABLE IF NOT EXISTS public.products (
                   id bigint PRIMARY KEY,
                   name text NOT NULL,
                   price numeric(10, 2) NOT NULL,
                   updated_at timestamptz NOT NULL DEFAULT now())""",
            # UPDATE and DELETE then carry the whole old row (FACTS.md, "Replica identity and keys").
            "ALTER TABLE public.customers REPLICA IDENTITY FULL",
            "ALTER TABLE public.orders REPLICA IDENTITY FULL",
            "ALTER TABLE public.products REPLICA IDENTITY FULL",
            """INSERT INTO public.customers (id, name, email) VALUES
                   (1, 'Ada Lovelace', 'ada@example.com'),
                   (2, 'Grace Hopper', 'grace@example.com'),
                   (3, 'Edsger Dijkstra', 'edsger@example.com')
               ON CONFLICT (id) DO NOTHING""",
            """INSERT INTO public.orders (id, customer_id, amount, status) VALUES
                   (1001, 1, 42.50, 'paid'),
                   (1002, 2, 17.00, 'new'),
                   (1003, 1, 99.90, 'shipped'),
                   (1004, 3, 5.25, 'new')
               ON CONFLICT (id) DO NOTHING""",
            ("""INSERT INTO public.products (id, name, price)
                    SELECT g, 'product ' || g, (g %% 97) + 0.99 FROM generate_series(1, %s) g
                ON CONFLICT (id) DO NOTHING""", (DEMO_SMOKE_ROWS,)),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(DEMO_USER)),
            sql.SQL("GRANT SELECT ON public.customers, public.orders, public.products TO {}")
            .format(sql.Identifier(DEMO_USER)),
        )
        tables = sql.SQL(", ").join(sql.SQL(t) for t in DEMO_TABLES)
        if _scalar(conn, "SELECT 1 FROM pg_publication WHERE pubname = %s", (DEMO_PUBLICATION,)):
            _execute(conn, sql.SQL("ALTER PUBLICATION {} SET TABLE {}")
                     .format(sql.Identifier(DEMO_PUBLICATION), tables))
        else:
            _execute(conn, sql.SQL("CREATE PUBLICATION {} FOR TABLE {}")
                     .format(sql.Identifier(DEMO_PUBLICATION), tables))
    finally:
        conn.close()
    return {"database": DEMO_DATABASE, "user": DEMO_USER, "password": password,
            "tables": list(DEMO_TABLES), "publication": DEMO_PUBLICATION, "slot_name": DEMO_SLOT,
            "sink_database": seed_sink(pg)}


def seed_sink(pg):
    """The sink database, owned by the demo role (idempotent); its name."""
    admin = admin_connect(pg)
    try:
        if not _scalar(admin, "SELECT 1 FROM pg_database WHERE datname = %s", (SINK_DATABASE,)):
            create = sql.SQL("CREATE DATABASE {} OWNER {}")
            _execute(admin, create.format(sql.Identifier(SINK_DATABASE), sql.Identifier(DEMO_USER)))
    finally:
        admin.close()
    conn = admin_connect(pg, SINK_DATABASE)
    try:
        _execute(conn, sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(DEMO_USER)))
        # The demo pipeline's sink tables: the demo source's columns and keys (a JDBC sink creates no table).
        for statement in SINK_TABLES:
            _execute(conn, statement)
        for table in DEMO_TABLES:
            _execute(conn, sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                sql.SQL(table), sql.Identifier(DEMO_USER)))
    finally:
        conn.close()
    return SINK_DATABASE


SINK_TABLES = (
    """CREATE TABLE IF NOT EXISTS public.customers (
           id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS public.orders (
           id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12, 2) NOT NULL, status text NOT NULL,
           created_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS public.products (
           id bigint PRIMARY KEY, name text NOT NULL, price numeric(10, 2) NOT NULL, updated_at timestamptz NOT NULL)""",
)


# --------------------------------------------------------------------------- a real consumer


def _active_pid(pg, slot):
    conn = admin_connect(pg)
    try:
        return _scalar(conn, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s AND active", (slot,))
    finally:
        conn.close()


@contextlib.contextmanager
def logical_consumer(pg, names, slot, pg_bin):
    """A real ``pg_recvlogical`` streaming from ``slot`` as the scenario's CDC user (pgoutput, the scenario's
    publication); yields the PID of its WAL sender once the slot is active, and on leaving waits until the
    slot is inactive again. ``pg_bin`` is the server's bin directory (bed.pg_bin())."""
    cmd = [os.path.join(pg_bin, "pg_recvlogical"), "-h", pg["host"], "-p", str(pg["port"]),
           "-U", names["cdc_user"], "-d", names["database"], "--slot", slot, "--start", "--no-loop",
           "-o", "proto_version=1", "-o", "publication_names=%s" % names["publication"], "-f", os.devnull]
    proc = subprocess.Popen(cmd, env=dict(os.environ, PGPASSWORD=names["password"]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            pid = _active_pid(pg, slot)
            if pid:
                break
            if proc.poll() is not None:
                raise AssertionError("pg_recvlogical exited: %s" % proc.stderr.read().decode())
            assert time.monotonic() < deadline, "pg_recvlogical never made %s active" % slot
            time.sleep(0.2)
        yield pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _active_pid(pg, slot):
            assert time.monotonic() < deadline, "%s still active after pg_recvlogical stopped" % slot
            time.sleep(0.2)


# --------------------------------------------------------------------------- test scenario


def scenario_names(suffix):
    prefix = "plc_%s" % suffix
    return {
        "prefix": prefix,
        "database": prefix,
        "password": "pw-" + secrets.token_hex(8),
        "cdc_user": prefix + "_cdc",        # LOGIN REPLICATION, SELECT on the good tables
        "norepl_user": prefix + "_norepl",  # LOGIN only
        "owner_user": prefix + "_owner",    # owns public.owned, CREATE on the database
        "noconnect_user": prefix + "_noconnect",  # REPLICATION, but no CONNECT on the database
        "good_tables": ["public.orders", "public.customers", '"Sales.EU"."Orders"'],
        "publication": "plc_pub_good",
        "partial_publication": "plc_pub_partial",      # covers public.orders only
        "inserts_publication": "plc_pub_inserts",      # publish = 'insert'
        "all_publication": "plc_pub_all",              # FOR ALL TABLES
    }


# Scenario roles and whether they have REPLICATION.
ROLES = (("cdc_user", True), ("norepl_user", False), ("owner_user", False), ("noconnect_user", True))

# public.typed_keys, created in a scenario's database by tests/integration/test_pg_logical_check.py (typed_tables)
# and recorded in tests/unit/fixtures/pg/tables.json: keys of the types a Flink DDL must map, in an order (uid,
# region, at, amount) unlike the columns'. TYPED_KEYS_SUMMARY is what pg_logical_check says of it: the key in key
# order with format_type() text, every column in table order (what a pipeline's Flink DDL is built from).
TYPED_KEYS_SQL = (
    """CREATE TABLE public.typed_keys (region varchar(20), amount numeric(10,2), at timestamptz,
           uid uuid, note text, PRIMARY KEY (uid, region, at, amount))""",
    """INSERT INTO public.typed_keys VALUES
           ('eu', 1.50, '2024-01-01 00:00+00', '00000000-0000-0000-0000-000000000001', 'a'),
           ('us', 2.25, '2024-01-02 00:00+00', '00000000-0000-0000-0000-000000000002', NULL)""",
)
TYPED_KEYS_SUMMARY = {
    "name": "public.typed_keys", "schema": "public", "table": "typed_keys", "exists": True, "kind": "table",
    "primary_key": [{"name": "uid", "type": "uuid"}, {"name": "region", "type": "character varying(20)"},
                    {"name": "at", "type": "timestamp with time zone"},
                    {"name": "amount", "type": "numeric(10,2)"}],
    "columns": [{"name": "region", "type": "character varying(20)", "nullable": False},
                {"name": "amount", "type": "numeric(10,2)", "nullable": False},
                {"name": "at", "type": "timestamp with time zone", "nullable": False},
                {"name": "uid", "type": "uuid", "nullable": False},
                {"name": "note", "type": "text", "nullable": True}],
    "rows": 2}


def create_scenario(pg, suffix):
    """A ready source plus every broken variant the readiness checks must catch."""
    names = scenario_names(suffix)
    drop_scenario(pg, names)
    admin = admin_connect(pg)
    try:
        _execute(admin, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names["database"])))
        for key, replication in ROLES:
            _ensure_role(admin, names[key], names["password"], replication)
        database = sql.Identifier(names["database"])
        _execute(admin,
                 sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(database),
                 sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}, {}").format(
                     database, *(sql.Identifier(names[key]) for key in ("cdc_user", "norepl_user", "owner_user"))),
                 sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(database, sql.Identifier(names["owner_user"])))
    finally:
        admin.close()
    conn = admin_connect(pg, names["database"])
    ident = {key: sql.Identifier(names[key]) for key in ("cdc_user", "norepl_user", "owner_user")}
    try:
        _execute(
            conn,
            "CREATE TABLE public.orders (id bigint PRIMARY KEY, amount numeric NOT NULL)",
            "ALTER TABLE public.orders REPLICA IDENTITY FULL",
            "CREATE TABLE public.customers (id bigint PRIMARY KEY, name text)",
            "ALTER TABLE public.customers REPLICA IDENTITY FULL",
            "CREATE SCHEMA \"Sales.EU\"",
            "CREATE TABLE \"Sales.EU\".\"Orders\" (\"Id\" bigint PRIMARY KEY, total numeric)",
            "ALTER TABLE \"Sales.EU\".\"Orders\" REPLICA IDENTITY FULL",
            # PK, but REPLICA IDENTITY DEFAULT.
            "CREATE TABLE public.items_default (id bigint PRIMARY KEY, sku text)",
            # No PK (REPLICA IDENTITY FULL so only the key check fails).
            "CREATE TABLE public.events_nopk (event_id bigint NOT NULL, payload text)",
            "ALTER TABLE public.events_nopk REPLICA IDENTITY FULL",
            # No SELECT grant for anyone but the owner.
            "CREATE TABLE public.secret (id bigint PRIMARY KEY)",
            "ALTER TABLE public.secret REPLICA IDENTITY FULL",
            # SELECT granted, but no USAGE on its schema.
            "CREATE SCHEMA hidden",
            "CREATE TABLE hidden.t (id bigint PRIMARY KEY)",
            "ALTER TABLE hidden.t REPLICA IDENTITY FULL",
            "CREATE VIEW public.orders_view AS SELECT * FROM public.orders",
            "CREATE TABLE public.owned (id bigint PRIMARY KEY)",
            "ALTER TABLE public.owned REPLICA IDENTITY FULL",
            sql.SQL("ALTER TABLE public.owned OWNER TO {}").format(ident["owner_user"]),
            "INSERT INTO public.orders SELECT g, g * 1.5 FROM generate_series(1, 100) g",
            sql.SQL("GRANT USAGE ON SCHEMA \"Sales.EU\" TO {}, {}").format(ident["cdc_user"], ident["norepl_user"]),
            sql.SQL("GRANT SELECT ON public.orders, public.customers, \"Sales.EU\".\"Orders\", "
                    "public.items_default, public.events_nopk, public.orders_view, hidden.t "
                    "TO {}, {}").format(ident["cdc_user"], ident["norepl_user"]),
            sql.SQL("CREATE PUBLICATION {} FOR TABLE public.orders, public.customers, \"Sales.EU\".\"Orders\"")
            .format(sql.Identifier(names["publication"])),
            sql.SQL("CREATE PUBLICATION {} FOR TABLE public.orders").format(
                sql.Identifier(names["partial_publication"])),
            sql.SQL("CREATE PUBLICATION {} FOR TABLE public.orders, public.customers WITH (publish = 'insert')")
            .format(sql.Identifier(names["inserts_publication"])),
            sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(names["all_publication"])),
        )
    finally:
        conn.close()
    return names


def drop_slots(pg, prefix):
    """Drop every slot whose name starts with ``prefix``, ending its consumer first."""
    admin = admin_connect(pg)
    try:
        like = prefix.replace("_", r"\_") + "%"
        _execute(admin, ("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                         "WHERE slot_name LIKE %s AND active_pid IS NOT NULL", (like,)))
        with admin.cursor() as cur:
            cur.execute("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s", (like,))
            slots = [row[0] for row in cur.fetchall()]
        for slot in slots:
            for _attempt in range(50):
                try:
                    _execute(admin, ("SELECT pg_drop_replication_slot(%s)", (slot,)))
                    break
                except psycopg2.errors.ObjectInUse:
                    time.sleep(0.1)
                except psycopg2.errors.UndefinedObject:
                    break
    finally:
        admin.close()


def drop_scenario(pg, names):
    drop_slots(pg, names["prefix"] + "_")
    admin = admin_connect(pg)
    try:
        _execute(admin, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(names["database"])))
        for key, _replication in ROLES:
            _execute(admin, sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(names[key])))
    finally:
        admin.close()


# --------------------------------------------------------------------------- unit fixtures


def _collection_import():
    # CDCOPS_COLLECTIONS_PATH: a collections path whose cdcops/flink_cdc is this checkout, for a git worktree that
    # has no .venv of its own (as tests/integration/conftest.py reads it).
    sys.path.insert(0, os.environ.get("CDCOPS_COLLECTIONS_PATH") or os.path.join(ROOT, ".venv", "collections"))
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _postgres
    # Importing the submodules makes them attributes of the package: _postgres.connection.PgClient, ...
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (  # noqa: F401
        catalog, connection, readiness, slots, text)
    return _postgres


def fixture_cases(state, names):
    """(fixture name, cluster, connection params, evaluate/collect options) for recording."""
    logical, replica = state["postgres"]["logical"], state["postgres"]["replica"]

    def conn(pg, user, password, db):
        return {"login_host": pg["host"], "login_port": pg["port"], "login_user": user,
                "login_password": password, "login_db": db}

    return [
        ("ready", conn(logical, names["cdc_user"], names["password"], names["database"]),
         {"tables": names["good_tables"], "publication": names["publication"],
          "slot_name": names["prefix"] + "_ready", "plugin": "pgoutput", "slots_needed": 3}),
        ("broken", conn(logical, names["norepl_user"], names["password"], names["database"]),
         {"tables": ["public.orders", "public.items_default", "public.events_nopk", "public.secret",
                     "hidden.t", "public.orders_view", "public.Customers", "public.missing"],
          "publication": names["partial_publication"], "slot_name": names["prefix"] + "_testdec",
          "plugin": "pgoutput", "slots_needed": 2}),
        ("replica", conn(replica, replica["user"], replica["password"], "postgres"),
         {"tables": [], "publication": None, "slot_name": None, "plugin": "pgoutput", "slots_needed": 1}),
    ]


def collect_case(_pg, params, options):
    client = _pg.connection.PgClient(_pg.connection.connection_kwargs(dict(params, connect_timeout=10)))
    client.connect()
    try:
        tables = [_pg.text.parse_table_name(t) for t in options["tables"]]
        return client.conn_kwargs, _pg.catalog.collect(client, tables=tables, publication=options["publication"])
    finally:
        client.close()


def record_fixtures(state, out_dir, suffix="fx"):
    """Record what pg_logical_check reads for a ready and a broken source, and a wal_level=replica one."""
    _pg = _collection_import()
    logical = state["postgres"]["logical"]
    names = create_scenario(logical, suffix)
    admin = admin_connect(logical, names["database"])
    try:
        # A slot with another plugin, retaining some WAL, for the broken case.
        _execute(admin, ("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')",
                         (names["prefix"] + "_testdec",)),
                 "INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 50) g")
        os.makedirs(out_dir, exist_ok=True)
        for name, params, options in fixture_cases(state, names):
            _kwargs, facts = collect_case(_pg, params, options)
            record = {"options": options, "facts": facts,
                      "recorded_from": "PostgreSQL %s, tests/bed/pg_seed.py record" % facts["server"]["version"]}
            text = json.dumps(record, indent=2, sort_keys=True, default=str)
            # Nothing secret or run-specific belongs in a fixture.
            text = text.replace(names["password"], "********")
            with open(os.path.join(out_dir, "%s.json" % name), "w") as f:
                f.write(text + "\n")
    finally:
        admin.close()
        drop_scenario(logical, names)


def _load_state():
    sys.path.insert(0, HERE)
    import bed
    return bed.state()


if __name__ == "__main__":
    if sys.argv[1:] == ["demo"]:
        print(json.dumps(seed_demo(_load_state()["postgres"]["logical"]), indent=2))
    elif sys.argv[1:] == ["record"]:
        record_fixtures(_load_state(), os.path.join(ROOT, "tests", "unit", "fixtures", "pg"))
    else:
        raise SystemExit("usage: pg_seed.py demo | record")
