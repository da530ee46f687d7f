# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Replication slots of pg_replication_slot: ``managed_slots_sql()`` reads the slots a task may touch,
``plan_slots()`` decides what to drop or create, as a pure function that refuses what must not be touched
(``SlotError``), and ``slot_call_error()`` says what to do about a failed create or drop.

Flink CDC's incremental snapshot gives each source subtask a backfill slot named
"<slot.name>_<subtask index>": apache/flink-cdc PostgresSourceConfig.getSlotNameForBackfillTask()
(the same at release-2.4.2, 3.0.1, 3.1.0, 3.5.0 and 3.6.0), used by
PostgresSourceFetchTaskContext.configure() and PostgresScanFetchTask
.maybeCreateSlotForBackFillReadTask(). The main slot outlives a snapshot-mode job before 3.5.0
(FLINK-38277).
"""

from __future__ import annotations

import re
import typing as t

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.catalog import _slots_query, find_slot
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.connection import PgQueryError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.hints import wal_level_hint
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import quote_ident

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

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return "%s. %s" % (self.message, self.hint) if self.hint else self.message


def managed_slots_sql(version_num: int) -> str:
    """The slots named ``%(name)s`` and, when ``%(subtasks)s``, ``%(subtask_pattern)s``, of any type
    and database: the plan refuses foreign ones rather than not seeing them."""
    return _slots_query(version_num,
                        "\nWHERE s.slot_name = %(name)s OR (%(subtasks)s AND s.slot_name ~ %(subtask_pattern)s)")


def subtask_slot_pattern(name: str) -> str:
    """POSIX regex for ``<name>_<digits>``; ``name`` passed slot_name_problems(), so it has no metacharacters."""
    return "^%s_[0-9]+$" % name


def is_subtask_slot(slot_name: str, name: str) -> bool:
    return slot_name.startswith(name) and bool(_SUBTASK_SUFFIX_RE.fullmatch(slot_name[len(name):]))


def _subtask_index(slot_name: str, name: str) -> int:
    return int(slot_name[len(name) + 1:])


def slot_is_managed(slot: t.Dict[str, t.Any], database: str) -> bool:
    """Only logical slots of the connected database are ever touched."""
    return slot.get("slot_type") == "logical" and slot.get("database") == database


def slot_summary(slot: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    return {"name": slot["slot_name"], "slot_type": slot.get("slot_type"), "database": slot.get("database"),
            "plugin": slot.get("plugin"), "temporary": bool(slot.get("temporary")),
            "active": bool(slot.get("active")), "active_pid": slot.get("active_pid"),
            "retained_bytes": slot.get("retained_bytes"), "lag_bytes": slot.get("lag_bytes")}


def slot_consumer(slot: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """Who holds an active slot, from pg_stat_activity."""
    return {"name": slot["slot_name"], "active_pid": slot.get("active_pid"),
            "user": slot.get("active_user"), "application_name": slot.get("active_application"),
            "client_addr": slot.get("active_client_addr")}


def describe_consumer(slot: t.Dict[str, t.Any]) -> str:
    details = ", ".join("%s %s" % (label, slot[key]) for key, label in (
        ("active_client_addr", "client"), ("active_application", "application"), ("active_user", "user"))
        if slot.get(key))
    return "PID %s%s" % (slot.get("active_pid"), " (%s)" % details if details else "")


def _drop_sql_text(name: str) -> str:
    return "SELECT pg_drop_replication_slot('%s');" % name.replace("'", "''")


def foreign_slot_error(slot: t.Dict[str, t.Any], database: str, state: str) -> SlotError:
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


def active_slots_error(active: t.List[t.Dict[str, t.Any]]) -> SlotError:
    listed = "; ".join("replication slot %s is active for %s" % (s["slot_name"], describe_consumer(s))
                       for s in active)
    pids = " ".join("SELECT pg_terminate_backend(%s);" % s.get("active_pid") for s in active)
    return SlotError(
        "%s: an active slot is not dropped, so nothing was dropped" % listed,
        "Stop the consumer first (cancel the Flink job that reads the slot, or stop pg_recvlogical), then "
        "run the task again. To end the session instead: %s Or set fail_on_active=false to drop only the "
        "inactive slots and leave the active ones." % pids)


def plan_slots(slots: t.List[t.Dict[str, t.Any]], name: str, database: str, state: str = "present",
               plugin: str = "pgoutput", include_subtask_slots: bool = False,
               fail_on_active: bool = True) -> t.Dict[str, t.Any]:
    """What pg_replication_slot does with the slots ``managed_slots_sql()`` returned.

    Returns ``drop`` (slot names, the main slot first, then subtask slots by index),
    ``create`` (bool), ``active`` (slots left because they are active), ``foreign`` (subtask-named
    slots of another type or database, left alone) and ``before``/``after`` (names of this
    database's matching logical slots). Raises SlotError for what must not be done.
    """
    main = find_slot(slots, name)
    if main is not None and not slot_is_managed(main, database):
        raise foreign_slot_error(main, database, state)
    plan: t.Dict[str, t.Any] = {"drop": [], "create": False, "active": [], "foreign": []}
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


def slot_privilege_hint(user: str) -> str:
    quoted = quote_ident(user or "<role>")
    return ("ALTER ROLE %s WITH REPLICATION;  (on Amazon RDS or Aurora: GRANT rds_replication TO %s;) "
            "Or run the task as a superuser." % (quoted, quoted))


def can_use_slots(role: t.Dict[str, t.Any]) -> bool:
    """REPLICATION, superuser or rds_replication: what the slot functions require."""
    return bool(role.get("superuser") or role.get("replication") or role.get("rds_replication"))


def slot_call_error(exc: PgQueryError, action: str, name: str, endpoint: str, user: str,
                    plugin: str = "pgoutput") -> SlotError:
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
