#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_replication_slot
short_description: Create or drop a Flink CDC logical replication slot, and its per-subtask backfill slots
version_added: 0.2.0
description:
  - Creates one logical replication slot in the database of O(login_db), or drops it.
  - With O(include_subtask_slots), O(state=absent) also drops the slots named C(<name>_<digits>). Flink CDC's
    incremental snapshot gives each source subtask such a backfill slot, named after the job's C(slot.name)
    and the subtask index (apache/flink-cdc C(PostgresSourceConfig) method C(getSlotNameForBackfillTask), used by
    C(PostgresSourceFetchTaskContext) and C(PostgresScanFetchTask)). A job that fails mid-snapshot can leave
    them behind, and before Flink CDC 3.5.0 a snapshot-mode job also leaves its main slot. An inactive slot
    keeps all WAL from its C(restart_lsn), so leftovers fill the disk.
  - Only logical slots of the connected database (the one C(current_database) returns) are touched. A physical slot, or a
    slot of another database, named O(name) makes the task fail and is never dropped or reused. Such a
    slot named like a subtask slot is left alone with a warning.
  - An active slot, one a consumer streams from, is never dropped. By default the task then fails before it
    drops anything, naming the slot, the PID of its WAL sender and the client from C(pg_stat_activity).
  - Self-contained, in the style of C(community.postgresql.postgresql_slot); it uses the same connection
    options.
author:
  - cdcops.flink_cdc maintainers (@cdcops)
extends_documentation_fragment:
  - cdcops.flink_cdc.postgres
attributes:
  check_mode:
    support: full
    description: In check mode the module reads the slots and reports what it would drop or create, and
      changes nothing.
  diff_mode:
    support: full
    description: The diff shows the names of the matching slots of the database before and after the task.
options:
  name:
    description:
      - Name of the slot, the Flink CDC job's C(slot.name).
      - Lowercase letters, digits and C(_), at most 63 bytes, as Flink CDC and PostgreSQL require.
    type: str
    required: true
    aliases: [slot_name]
  state:
    description:
      - V(present) creates the slot when it does not exist.
      - V(absent) drops it, and with O(include_subtask_slots) its subtask backfill slots.
    type: str
    choices: [present, absent]
    default: present
  plugin:
    description:
      - Logical decoding output plugin of a slot created with O(state=present) (Flink CDC's
        C(decoding.plugin.name)).
      - When the slot exists with another plugin, the task fails, because a slot's plugin cannot be changed.
      - Not used with O(state=absent).
    type: str
    default: pgoutput
  include_subtask_slots:
    description:
      - With O(state=absent), also drop every logical slot of the database named C(<name>_<digits>), for
        example C(flink_job_0) and C(flink_job_1) for O(name=flink_job), the backfill slots of Flink CDC's
        incremental snapshot. C(flink_job_x) or C(flink_job_0a) are not touched.
      - Not used with O(state=present).
    type: bool
    default: false
  fail_on_active:
    description:
      - What to do when a slot to drop is active (a consumer streams from it, or a temporary slot belongs to
        a session).
      - With V(true), the task fails before it drops anything, naming each active slot, its PID and client.
        Stop the consumer (cancel the Flink job, stop C(pg_recvlogical)) and run the task again.
      - With V(false), active slots are left, listed in RV(active) and as warnings, and the inactive ones
        are dropped.
    type: bool
    default: true
notes:
  - Creating and dropping slots needs the C(REPLICATION) attribute or a superuser (C(rds_replication) on
    Amazon RDS and Aurora). Reading them needs no privilege.
  - Creating a logical slot waits until the transactions running at that moment have ended.
  - Supports PostgreSQL 9.6 and later; the plugin V(pgoutput) needs PostgreSQL 10.
seealso:
  - module: cdcops.flink_cdc.pg_logical_check
  - name: PostgreSQL replication slot functions
    description: C(pg_create_logical_replication_slot) and C(pg_drop_replication_slot).
    link: https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-REPLICATION
  - name: Flink CDC postgres connector
    description: C(slot.name), C(decoding.plugin.name) and the incremental snapshot options.
    link: https://nightlies.apache.org/flink/flink-cdc-docs-stable/docs/connectors/flink-sources/postgres-cdc/
"""

EXAMPLES = r"""
- name: Drop what a finished snapshot-mode smoke job left behind (its slot and backfill slots)
  cdcops.flink_cdc.pg_replication_slot:
    login_host: db.example.com
    login_user: flink_cdc
    login_password: "{{ vault_flink_cdc_password }}"
    login_db: shop
    name: flink_cdc_smoke
    state: absent
    include_subtask_slots: true

- name: Create the job's slot before the first start, so WAL is kept from now on
  cdcops.flink_cdc.pg_replication_slot:
    login_host: db.example.com
    login_user: flink_cdc
    login_password: "{{ vault_flink_cdc_password }}"
    login_db: shop
    name: flink_cdc_shop
    plugin: pgoutput

- name: Drop the inactive leftovers and leave the slots a running job still uses
  cdcops.flink_cdc.pg_replication_slot:
    login_unix_socket: /var/run/postgresql
    login_user: postgres
    login_db: shop
    name: flink_cdc_shop
    state: absent
    include_subtask_slots: true
    fail_on_active: false
  register: slot_cleanup

- name: Report the slots left because they are active
  ansible.builtin.debug:
    msg: "{{ item.name }} is used by PID {{ item.active_pid }} ({{ item.application_name }})"
  loop: "{{ slot_cleanup.active }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
dropped:
  description: Slots dropped, or in check mode the slots that would be dropped; the main slot first, then
    the subtask slots by index.
  returned: always
  type: list
  elements: str
  sample: ["flink_cdc_smoke", "flink_cdc_smoke_0", "flink_cdc_smoke_1"]
created:
  description: Whether the slot was created (in check mode, would be created).
  returned: always
  type: bool
  sample: false
active:
  description: Slots not dropped because a consumer is active on them (only with O(fail_on_active=false)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Slot name.
      type: str
    active_pid:
      description: PID of the session (WAL sender) that holds the slot.
      type: int
    user:
      description: Role of that session.
      type: str
    application_name:
      description: Its C(application_name), for example C(pg_recvlogical).
      type: str
    client_addr:
      description: Its client address; empty for a unix socket client, or when the role may not see it.
      type: str
slots:
  description: The slots named O(name) (and, with O(include_subtask_slots), like its subtask slots) before
    the change, of any type or database.
  returned: when connected
  type: list
  elements: dict
  contains:
    name:
      description: Slot name.
      type: str
    slot_type:
      description: C(logical) or C(physical).
      type: str
    database:
      description: Database of a logical slot.
      type: str
    plugin:
      description: Output plugin of a logical slot.
      type: str
    temporary:
      description: Whether the slot is temporary (it lives as long as its session).
      type: bool
    active:
      description: Whether a consumer streams from the slot.
      type: bool
    active_pid:
      description: PID of that consumer's session.
      type: int
    retained_bytes:
      description: WAL the slot holds back, in bytes, from its C(restart_lsn) to the current position.
      type: int
    lag_bytes:
      description: How far the consumer's confirmed position lags, in bytes, from its C(confirmed_flush_lsn) to the
        current position; null for a physical slot.
      type: int
      version_added: 0.3.0
  sample:
    - {name: flink_cdc_smoke, slot_type: logical, database: shop, plugin: pgoutput, temporary: false,
       active: false, active_pid: null, retained_bytes: 56, lag_bytes: 56}
database:
  description: Database the task ran in.
  returned: when connected
  type: str
  sample: shop
queries:
  description: The SQL the module ran, with parameters bound.
  returned: always
  type: list
  elements: str
  sample:
    - "SELECT pg_drop_replication_slot('flink_cdc_smoke')"
"""

import re
from typing import Any, Dict, List

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.catalog import (
    ROLE_SQL,
    SERVER_SQL,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.connection import (
    AnsiblePgClient,
    PgConnectError,
    PgQueryError,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.hints import connect_hint
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.slots import (
    CREATE_SLOT_SQL,
    DROP_SLOT_SQL,
    SQLSTATE_OBJECT_IN_USE,
    SQLSTATE_UNDEFINED_OBJECT,
    SlotError,
    can_use_slots,
    describe_consumer,
    managed_slots_sql,
    plan_slots,
    slot_call_error,
    slot_consumer,
    slot_privilege_hint,
    slot_summary,
    subtask_slot_pattern,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import (
    slot_name_problems,
    suggest_slot_name,
)

_ACTIVE_PID_RE = re.compile(r"active for PID (\d+)")


class PgReplicationSlot:
    """Brings one logical slot (and its subtask slots) of the connected database to ``state``."""

    def __init__(self, client: AnsiblePgClient) -> None:
        self.client = client
        self.module = client.module
        self.params = client.module.params
        self.result: Dict[str, Any] = dict(changed=False, dropped=[], created=False, active=[],
                                           queries=client.executed_queries)

    def fail(self, msg: str) -> None:
        self.client.fail(msg, **self.result)

    def _validate(self) -> str:
        name = self.params["name"]
        problems = slot_name_problems(name)
        if problems:
            self.fail("name: slot name %r is invalid: %s. Use a name like %r, also as the job's 'slot.name'."
                      % (name, "; ".join(problems), suggest_slot_name(name)))
        return name

    def run(self) -> None:
        name = self._validate()
        client = self.client
        try:
            client.connect(readonly=False)
        except PgConnectError as exc:
            self.fail("%s. %s" % (exc.message, connect_hint(exc.kind, client.endpoint, client.user,
                                                            client.database, reason=exc.reason)))
        try:
            self._run(name)
        except PgQueryError as exc:
            self.fail(exc.message)
        finally:
            client.close()
        self.module.exit_json(**self.result)

    def _run(self, name: str) -> None:
        params = self.params
        client = self.client
        server = client.query(SERVER_SQL)[0]
        database = server["database"]
        include_subtasks = params["state"] == "absent" and params["include_subtask_slots"]
        slots = client.query(managed_slots_sql(server["version_num"]), {
            "name": name, "subtasks": include_subtasks, "subtask_pattern": subtask_slot_pattern(name)})
        self.result.update(database=database, slots=[slot_summary(s) for s in slots])
        try:
            plan = plan_slots(slots, name, database, state=params["state"], plugin=params["plugin"],
                              include_subtask_slots=include_subtasks, fail_on_active=params["fail_on_active"])
        except SlotError as exc:
            self.fail("%s (PostgreSQL at %s). %s" % (exc.message, client.endpoint, exc.hint))
        for slot in plan["foreign"]:
            self.module.warn("replication slot %s is named like a subtask slot of %s but is a %s slot%s; it is "
                             "left alone" % (slot["slot_name"], name, slot.get("slot_type"),
                                             " of database %s" % slot.get("database") if slot.get("database") else ""))
        for slot in plan["active"]:
            self.module.warn("replication slot %s is active for %s; it is left in place (fail_on_active=false)"
                             % (slot["slot_name"], describe_consumer(slot)))
        self.result["active"] = [slot_consumer(s) for s in plan["active"]]
        if self.module._diff:
            self.result["diff"] = {"before": {"slots": plan["before"]}, "after": {"slots": plan["after"]}}

        if self.module.check_mode:
            if plan["drop"] or plan["create"]:
                role = client.query(ROLE_SQL)[0]
                if not can_use_slots(role):
                    self.module.warn("role %s has neither REPLICATION nor superuser, so the real run would fail. %s"
                                     % (role["name"], slot_privilege_hint(role["name"])))
            self.result.update(dropped=list(plan["drop"]), created=plan["create"],
                               changed=bool(plan["drop"] or plan["create"]))
            return

        for slot_name in plan["drop"]:
            self._drop(slot_name)
        if plan["create"]:
            try:
                client.query(CREATE_SLOT_SQL, {"name": name, "plugin": params["plugin"]})
            except PgQueryError as exc:
                self.fail(str(slot_call_error(exc, "create", name, client.endpoint, client.user, params["plugin"])))
            self.result.update(created=True, changed=True)

    def _drop(self, slot_name: str) -> None:
        client = self.client
        try:
            client.query(DROP_SLOT_SQL, {"name": slot_name})
        except PgQueryError as exc:
            if exc.pgcode == SQLSTATE_UNDEFINED_OBJECT:
                return  # dropped by someone else since it was read: already as wanted
            if exc.pgcode == SQLSTATE_OBJECT_IN_USE and not self.params["fail_on_active"]:
                # A consumer attached between reading the slots and dropping this one.
                match = _ACTIVE_PID_RE.search(exc.reason)
                self.result["active"].append({"name": slot_name, "active_pid": int(match.group(1)) if match else None,
                                              "user": None, "application_name": None, "client_addr": None})
                self.module.warn("replication slot %s became active before it was dropped (%s); it is left in "
                                 "place" % (slot_name, exc.reason))
                self._left_active(slot_name)
                return
            self.fail(str(slot_call_error(exc, "drop", slot_name, client.endpoint, client.user)))
        dropped: List[str] = self.result["dropped"]
        dropped.append(slot_name)
        self.result["changed"] = True

    def _left_active(self, slot_name: str) -> None:
        diff = self.result.get("diff")
        if diff and slot_name not in diff["after"]["slots"]:
            diff["after"]["slots"].append(slot_name)


def main() -> None:
    client = AnsiblePgClient(
        argument_spec=dict(
            name=dict(type="str", required=True, aliases=["slot_name"]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            plugin=dict(type="str", default="pgoutput"),
            include_subtask_slots=dict(type="bool", default=False),
            fail_on_active=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    PgReplicationSlot(client).run()


if __name__ == "__main__":
    main()
