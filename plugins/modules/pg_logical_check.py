#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_logical_check
short_description: Check that a PostgreSQL database is ready to be a Flink CDC source
version_added: 0.1.0
description:
  - Gives one verdict on whether Flink CDC's postgres connector (Debezium inside) can capture the given
    tables, before a job fails at runtime, often hours into a snapshot.
  - 'Checks the connection, the server version, C(wal_level=logical) and settings waiting for a
    restart, free replication slots and WAL senders, the role (LOGIN plus REPLICATION, superuser or
    C(rds_replication)), each table (exists, SELECT privilege, primary key, REPLICA IDENTITY), the
    publication (pgoutput) or C(shared_preload_libraries) (decoderbufs), the replication slot, inactive
    slots that hold back WAL, and a real logical replication connection.'
  - Each check returns the SQL or setting that fixes it. RV(ready) is true when no check of severity
    C(error) failed; failed C(warning) checks are also shown as Ansible warnings.
  - RV(tables) returns the facts of each table in O(tables) (whether it exists, its primary key columns with
    their types, and with O(count_rows) its exact row count), for building the Flink DDL of a source table
    and checking what a job read.
  - The module is read-only. Its session is read-only, it never changes the server and never reports
    C(changed).
author:
  - cdcops.flink_cdc maintainers (@cdcops)
extends_documentation_fragment:
  - cdcops.flink_cdc.postgres
  - cdcops.flink_cdc.attributes.info_module
options:
  tables:
    description:
      - Tables the job captures, as C(schema.table). A bare name means C(public).
      - Names are case-sensitive and taken as written, as in Flink CDC's C(schema-name) and C(table-name).
        Put a part that contains a dot in double quotes, for example C("my.schema".orders).
    type: list
    elements: str
    default: []
  slot_name:
    description:
      - The replication slot the job uses (Flink CDC's C(slot.name)).
      - Checked against Flink CDC's rule (lowercase letters, digits and C(_)). When the slot exists, its
        plugin and database must match, it must not be active (used by another consumer), and its
        retained WAL is reported.
    type: str
  publication:
    description:
      - Publication the job reads with pgoutput (Debezium's C(publication.name), set in Flink CDC as
        C(debezium.publication.name)). It must exist and cover every table in O(tables), or be
        C(FOR ALL TABLES), and publish inserts, updates and deletes.
      - The default is Debezium's default name.
      - When it does not exist, the check says whether O(login_user) could create it. For a superuser this
        is only a warning, because Debezium's default C(publication.autocreate.mode) (C(all_tables)) then
        creates it C(FOR ALL TABLES) on first start.
      - Not used with O(plugin=decoderbufs).
    type: str
    default: dbz_publication
  plugin:
    description:
      - Logical decoding output plugin the job uses (Flink CDC's C(decoding.plugin.name)).
      - Flink CDC's default is C(decoderbufs), which stock PostgreSQL lacks; with V(pgoutput), set
        C('decoding.plugin.name' = 'pgoutput') in the job.
    type: str
    choices: [pgoutput, decoderbufs]
    default: pgoutput
  slots_needed:
    description:
      - Replication slots, and WAL senders, the job needs free.
      - The incremental snapshot creates one temporary slot per source subtask, so a safe value is
        1 + the source parallelism. An existing O(slot_name) counts as one of them.
    type: int
    default: 1
  replication_connection:
    description:
      - Open a real logical replication connection (C(replication=database)) and run C(IDENTIFY_SYSTEM).
      - This proves that C(pg_hba.conf) admits O(login_user) for logical replication from the host where
        the module runs. A logical replication connection matches an ordinary database line of
        C(pg_hba.conf), not the C(replication) keyword.
    type: bool
    default: true
  chunk_key_columns:
    description:
      - Table (as in O(tables)) to the column the job splits it on, for tables without a primary key
        (Flink CDC's C(scan.incremental.snapshot.chunk.key-column), needed since Flink CDC 3.4).
      - A table without a primary key fails its C(table_primary_key) check unless it has an existing
        column here.
    type: dict
    default: {}
  max_inactive_slot_retained_bytes:
    description:
      - An inactive slot anywhere on the server that holds back more WAL than this is reported as a
        warning, because inactive slots keep all WAL and fill the disk.
      - Accepts a size such as V(512MB) or V(2GB).
    type: bytes
    default: 1GB
  count_rows:
    description:
      - Also count the rows of each table in O(tables) that exists (a table or partitioned table) and that
        O(login_user) can read, with an exact C(count) query (SELECT count(*) FROM the table), and return the count as C(rows) in RV(tables).
      - Each count is a full scan of the table (of all partitions of a partitioned table); on a large table it
        takes time and I/O. Meant for small tables, such as the table of a bounded smoke job whose record count
        is compared with it.
      - The count does not change the checks or the verdict.
    type: bool
    default: false
    version_added: 0.2.0
  lock_timeout:
    description:
      - Seconds a row count (O(count_rows)) waits for a lock on its table. Another session that holds
        C(ACCESS EXCLUSIVE) on the table (C(LOCK TABLE), C(ALTER TABLE), C(TRUNCATE), C(VACUUM FULL) and so on)
        keeps every reader out until its transaction ends.
      - Past it the count gives up (PostgreSQL's C(lock_timeout)), the table has no C(rows) but a C(count_error),
        and the module reads who holds the lock, as with O(table_locks).
    type: float
    default: 10
    version_added: 0.3.0
  table_locks:
    description:
      - Also read, for each table in O(tables), the sessions that keep readers out of it (from C(pg_locks) joined
        with C(pg_stat_activity)), and return them as C(locks) in RV(tables) with a C(lock_diagnosis) that names
        each one and the fix.
      - The module only reports them. Ending another session (C(SELECT pg_terminate_backend(<pid>))) is left to
        the operator.
      - O(login_user) sees the client address, the transaction start and the statement of other roles'
        sessions only as a member of C(pg_read_all_stats) (or as superuser); otherwise the diagnosis says they
        are hidden.
    type: bool
    default: false
    version_added: 0.3.0
  fail_on_not_ready:
    description:
      - Fail the task when RV(ready) is false, with a message that names every failed check.
      - With V(false), the task succeeds and reports RV(ready) and RV(checks), for example to print a
        readiness table.
    type: bool
    default: true
notes:
  - Run the check as the role the job uses (O(login_user)), against the database it captures
    (O(login_db)), from the hosts where Flink runs, so that privileges and C(pg_hba.conf) are checked
    as the job will meet them.
  - Supports PostgreSQL 9.6 and later; pgoutput needs PostgreSQL 10.
seealso:
  - name: Flink CDC postgres connector
    description: Connector options such as C(slot.name), C(decoding.plugin.name) and
      C(scan.incremental.snapshot.chunk.key-column).
    link: https://nightlies.apache.org/flink/flink-cdc-docs-stable/docs/connectors/flink-sources/postgres-cdc/
  - name: Debezium PostgreSQL connector, setting up PostgreSQL
    description: The server, role and publication prerequisites this module checks.
    link: https://debezium.io/documentation/reference/1.9/connectors/postgresql.html#setting-up-postgresql
"""

EXAMPLES = r"""
- name: Is the shop database ready for the Flink CDC job?
  cdcops.flink_cdc.pg_logical_check:
    login_host: db.example.com
    login_user: flink_cdc
    login_password: "{{ vault_flink_cdc_password }}"
    login_db: shop
    tables:
      - public.orders
      - public.customers
    publication: flink_cdc_pub
    slot_name: flink_cdc_shop
    slots_needed: 5  # 1 + source parallelism 4

- name: Collect the verdict without failing, to show a readiness table
  cdcops.flink_cdc.pg_logical_check:
    login_host: db.example.com
    login_user: flink_cdc
    login_password: "{{ vault_flink_cdc_password }}"
    login_db: shop
    tables: [orders, customers]
    publication: flink_cdc_pub
    slot_name: flink_cdc_shop
    fail_on_not_ready: false
  register: pg_ready

- name: Show the readiness table
  ansible.builtin.debug:
    msg: "{{ '%-4s %-40s %s' | format('ok' if item.ok else ('FAIL' if item.severity == 'error' else 'warn'),
      item.name ~ ((' ' ~ item.table) if item.table is defined else ''),
      item.message if item.ok else item.message ~ ' -> ' ~ item.hint) }}"
  loop: "{{ pg_ready.checks }}"
  loop_control:
    label: "{{ item.name }}"

- name: Key columns and exact row count of the smoke job's table (count_rows scans the table)
  cdcops.flink_cdc.pg_logical_check:
    login_host: db.example.com
    login_user: flink_cdc
    login_password: "{{ vault_flink_cdc_password }}"
    login_db: shop
    tables: [public.products]
    publication: flink_cdc_pub
    count_rows: true
  register: pg_smoke_table

- name: Show them
  ansible.builtin.debug:
    msg: >-
      {{ pg_smoke_table.tables[0].name }}: primary key
      {{ pg_smoke_table.tables[0].primary_key | map(attribute='name') | join(', ') }},
      {{ pg_smoke_table.tables[0].rows }} rows

- name: A table without a primary key that the job splits on a column, read with decoderbufs
  cdcops.flink_cdc.pg_logical_check:
    login_unix_socket: /var/run/postgresql
    login_user: flink_cdc
    login_db: shop
    tables: [public.events]
    chunk_key_columns:
      public.events: event_id
    plugin: decoderbufs
    slot_name: flink_cdc_events
"""

RETURN = r"""
ready:
  description: True when no check of severity C(error) failed.
  returned: always
  type: bool
  sample: true
checks:
  description: One entry per check, in a fixed order. Table checks come once per table.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: >-
        The check: C(connect), C(server_version), C(standby), C(wal_level), C(pending_restart), C(role),
        C(free_replication_slots), C(free_wal_senders), C(slot_name), C(slot), C(inactive_slots),
        C(decoderbufs), C(publication), C(publication_actions), C(table_exists), C(table_select),
        C(table_primary_key), C(table_replica_identity) or C(replication_connection).
      type: str
      sample: wal_level
    ok:
      description: Whether the check passed.
      type: bool
      sample: false
    severity:
      description: C(error) makes RV(ready) false when the check fails; C(warning) does not.
      type: str
      sample: error
    message:
      description: What was found.
      type: str
      sample: wal_level is replica; Flink CDC needs logical
    hint:
      description: The SQL or setting that fixes a failed check; empty when it passed.
      type: str
      sample: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL ...
    table:
      description: The table of a C(table_*) check.
      type: str
      returned: for table checks
      sample: public.orders
    retained_bytes:
      description: WAL held back by the slot, for the C(slot) check of an existing slot.
      type: int
      returned: for the slot check
failed_checks:
  description: Names of the failed C(error) checks (with the table for table checks).
  returned: always
  type: list
  elements: str
  sample: ["wal_level", "table_primary_key (public.events)"]
server_version:
  description: The server's version.
  returned: when connected
  type: dict
  contains:
    full:
      description: C(server_version) as the server reports it.
      type: str
      sample: 15.18 (Debian 15.18-0+deb12u1)
    major:
      description: Major version.
      type: int
      sample: 15
    num:
      description: C(server_version_num).
      type: int
      sample: 150018
database:
  description: Database the checks ran in.
  returned: when connected
  type: str
  sample: shop
user:
  description: Role the checks ran as.
  returned: always
  type: str
  sample: flink_cdc
settings:
  description: >-
    Relevant settings as in C(pg_settings.setting) (base units): C(wal_level), C(max_replication_slots),
    C(max_wal_senders), C(max_slot_wal_keep_size), C(wal_sender_timeout), C(shared_preload_libraries),
    and C(rds.logical_replication) on Amazon RDS.
  returned: when connected
  type: dict
  sample: {"wal_level": "logical", "max_replication_slots": "10", "max_wal_senders": "10"}
pending_restart:
  description: Settings changed in the configuration that wait for a restart.
  returned: when connected
  type: list
  elements: str
  sample: []
slots:
  description: All replication slots on the server.
  returned: when connected
  type: list
  elements: dict
  contains:
    slot_name:
      description: Slot name.
      type: str
    plugin:
      description: Output plugin of a logical slot.
      type: str
    slot_type:
      description: C(logical) or C(physical).
      type: str
    database:
      description: Database of a logical slot.
      type: str
    temporary:
      description: Whether the slot is temporary.
      type: bool
    active:
      description: Whether a consumer is streaming from the slot.
      type: bool
    active_pid:
      description: PID of the consumer's WAL sender.
      type: int
    wal_status:
      description: C(reserved), C(extended), C(unreserved) or C(lost) (PostgreSQL 13+).
      type: str
    restart_lsn:
      description: Oldest WAL position the slot needs.
      type: str
    confirmed_flush_lsn:
      description: Position the consumer has confirmed.
      type: str
    retained_bytes:
      description: WAL held back by the slot, in bytes, from C(restart_lsn) to the current position.
      type: int
tables:
  description: The facts of each table in O(tables), in the order given (duplicates once).
  returned: when connected (PostgreSQL 9.6 or later)
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    name:
      description: The table as C(schema.table), each part quoted only when it needs quotes, as in the table
        checks' C(table).
      type: str
      sample: public.orders
    schema:
      description: The schema name as stored (unquoted), for Flink CDC's C(schema-name).
      type: str
      sample: public
    table:
      description: The table name as stored (unquoted), for Flink CDC's C(table-name).
      type: str
      sample: orders
    exists:
      description: Whether a relation of that name exists. It may be a view or another relation that is
        not a table (see C(kind)); the C(table_exists) check fails for those.
      type: bool
      sample: true
    kind:
      description: C(table), C(partitioned table), C(view), C(materialized view), C(foreign table) and so on;
        null when it does not exist.
      type: str
      sample: table
    primary_key:
      description: The primary key columns in key order; empty when there is no primary key (or no table).
      type: list
      elements: dict
      contains:
        name:
          description: Column name.
          type: str
          sample: id
        type:
          description: >-
            The column type as PostgreSQL's format_type(atttypid, atttypmod) gives it, for example
            C(bigint), "numeric(10,2)", C(timestamp with time zone), "character varying(20)" or C(uuid).
          type: str
          sample: bigint
      sample: [{"name": "id", "type": "bigint"}]
    columns:
      description: Every column of the table in table order; empty when it does not exist.
      type: list
      elements: dict
      version_added: 0.3.0
      contains:
        name:
          description: Column name.
          type: str
          sample: amount
        type:
          description: The column type as format_type(atttypid, atttypmod) gives it, as in RV(tables[].primary_key[].type).
          type: str
          sample: numeric(12,2)
        nullable:
          description: Whether the column may hold null (no C(NOT NULL) constraint).
          type: bool
          sample: false
      sample: [{"name": "id", "type": "bigint", "nullable": false}, {"name": "amount", "type": "numeric(12,2)", "nullable": true}]
    rows:
      description: Exact row count, from SELECT count(*) FROM the table.
      type: int
      returned: with O(count_rows), for tables that exist and O(login_user) can read
      sample: 4
    count_error:
      description: Why the row count gave up, when a lock kept it out longer than O(lock_timeout).
      type: str
      returned: with O(count_rows), when the count waited too long for a lock
      version_added: 0.3.0
      sample: counting the rows of public.products waited 10s for a lock and gave up (lock_timeout)
    locks:
      description:
        - The locks on the table that keep readers out (C(ACCESS EXCLUSIVE), held or queued), each with the
          session behind it.
        - C(pid), C(mode), C(granted), C(prepared) (a prepared transaction, which has no session),
          C(application_name), C(user), C(client_addr), C(backend_type), C(state), C(wait_event_type),
          C(wait_event), C(query) (its first 300 characters), C(xact_start) and C(state_change) (UTC),
          C(xact_seconds) and C(state_seconds) (how long ago), C(blocked_pids) (the sessions that wait behind
          it) and C(waits_for) (for a lock that is not granted yet).
      type: list
      elements: dict
      returned: with O(table_locks), or when a count gave up on a lock
      version_added: 0.3.0
      sample: [{"pid": 4711, "mode": "AccessExclusiveLock", "granted": true, "application_name": "psql",
                "user": "admin", "client_addr": "10.0.0.5", "state": "idle in transaction",
                "xact_start": "2026-12-06 12:51:58 UTC", "query": "LOCK TABLE public.products",
                "blocked_pids": [4800]}]
    lock_diagnosis:
      description: The C(locks) in words, with the fix; empty when nothing keeps readers out.
      type: str
      returned: with O(table_locks), or when a count gave up on a lock
      version_added: 0.3.0
      sample: "public.products is locked: pid 4711 (application_name 'psql', user admin, from 10.0.0.5, ...)
        holds AccessExclusiveLock on it; 1 session(s) wait behind it (pid 4800). Fix: let that session finish
        its transaction (COMMIT or ROLLBACK in that session) or end it yourself: SELECT pg_terminate_backend(4711).
        Nothing here ends another session for you."
queries:
  description: The SQL the module ran, with parameters bound, and C(IDENTIFY_SYSTEM).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.catalog import (
    collect,
    table_summaries,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.connection import (
    AnsiblePgClient,
    PgConnectError,
    PgQueryError,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.readiness import (
    DEFAULT_PUBLICATION,
    PLUGINS,
    evaluate,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import (
    parse_table_name,
    version_major,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.verdict import (
    ERROR,
    WARNING,
    check_label,
    failing,
    is_ready,
    not_ready_message,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import TESTED_MIN_VERSION_NUM


class PgLogicalCheck:
    """The readiness verdict for one source database."""

    def __init__(self, client):
        self.client = client
        self.module = client.module
        self.params = client.module.params

    def _options(self):
        tables = []
        for name in self.params["tables"]:
            try:
                key = parse_table_name(name)
            except ValueError as exc:
                self.client.fail("tables: %s" % exc)
            if key not in tables:
                tables.append(key)
        chunk_keys = {}
        for name, column in (self.params["chunk_key_columns"] or {}).items():
            try:
                key = parse_table_name(name)
            except ValueError as exc:
                self.client.fail("chunk_key_columns: %s" % exc)
            if key not in tables:
                self.client.fail("chunk_key_columns names %s, which is not in tables" % name)
            if not isinstance(column, str) or not column:
                self.client.fail("chunk_key_columns: the column for %s must be a column name" % name)
            chunk_keys[key] = column
        if self.params["slots_needed"] < 1:
            self.client.fail("slots_needed must be at least 1 (the job's own slot), got %d"
                             % self.params["slots_needed"])
        if self.params["lock_timeout"] <= 0:
            self.client.fail("lock_timeout must be positive, got %s" % self.params["lock_timeout"])
        if self.params["max_inactive_slot_retained_bytes"] < 0:
            self.client.fail("max_inactive_slot_retained_bytes must not be negative")
        return tables, chunk_keys

    def run(self):
        tables, chunk_keys = self._options()
        client = self.client
        result = dict(changed=False, user=client.user, queries=client.executed_queries)
        publication = self.params["publication"] if self.params["plugin"] == "pgoutput" else None
        try:
            client.connect()
        except PgConnectError as exc:
            facts = {"endpoint": client.endpoint, "user": client.user, "database": client.database,
                     "connect_error": {"message": exc.message, "kind": exc.kind}}
        else:
            try:
                facts = collect(client, tables=tables, publication=publication, chunk_key_columns=chunk_keys,
                                replication_connection=self.params["replication_connection"],
                                count_rows=self.params["count_rows"], table_locks=self.params["table_locks"],
                                lock_timeout=self.params["lock_timeout"])
            except PgQueryError as exc:
                client.fail(exc.message, **result)
            finally:
                client.close()

        checks = evaluate(facts, plugin=self.params["plugin"], slots_needed=self.params["slots_needed"],
                          slot_name=self.params["slot_name"], publication=publication,
                          max_inactive_slot_retained_bytes=self.params["max_inactive_slot_retained_bytes"])
        ready = is_ready(checks)
        result.update(ready=ready, checks=checks,
                      failed_checks=[check_label(c) for c in failing(checks, ERROR)])
        server = facts.get("server")
        if server:
            result.update(server_version={"full": server["version"], "num": server["version_num"],
                                          "major": version_major(server["version_num"])},
                          database=server["database"], user=(facts.get("role") or {}).get("name") or client.user)
        if server and server["version_num"] >= TESTED_MIN_VERSION_NUM:
            result.update(settings=facts["settings"], pending_restart=facts["pending_restart"],
                          slots=facts["slots"], tables=table_summaries(facts["tables"]))
        for check in failing(checks, WARNING):
            self.module.warn("%s: %s" % (check_label(check), check["message"]))
        if not ready and self.params["fail_on_not_ready"]:
            client.fail(not_ready_message(client.endpoint, result.get("database") or client.database, checks),
                        **result)
        self.module.exit_json(**result)


def main():
    client = AnsiblePgClient(
        argument_spec=dict(
            tables=dict(type="list", elements="str", default=[]),
            slot_name=dict(type="str"),
            publication=dict(type="str", default=DEFAULT_PUBLICATION),
            plugin=dict(type="str", default="pgoutput", choices=list(PLUGINS)),
            slots_needed=dict(type="int", default=1),
            replication_connection=dict(type="bool", default=True),
            chunk_key_columns=dict(type="dict", default={}, no_log=False),
            max_inactive_slot_retained_bytes=dict(type="bytes", default="1GB"),
            count_rows=dict(type="bool", default=False),
            lock_timeout=dict(type="float", default=10.0),
            table_locks=dict(type="bool", default=False),
            fail_on_not_ready=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    PgLogicalCheck(client).run()


if __name__ == "__main__":
    main()
