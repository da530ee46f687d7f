# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The readiness checks of replication capacity (free slots and WAL senders) and of the job's slot: its name, the
slot itself if it exists, and inactive slots that hold back WAL.
"""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import (
    format_bytes,
    slot_name_problems,
    suggest_slot_name,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.verdict import (
    ERROR,
    WARNING,
    Check,
    make_check,
)


def check_free_replication_slots(max_slots: t.Optional[int], slots: t.List[t.Dict[str, t.Any]], slots_needed: int,
                                 slot_name: t.Optional[str] = None) -> Check:
    # Incremental snapshot creates a temporary slot per source subtask: budget 1 + parallelism
    # (apache/flink-cdc PostgresSourceConfig.getSlotNameForBackfillTask(); see slots.py).
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


def check_free_wal_senders(max_wal_senders: t.Optional[int], active: int, slots_needed: int) -> Check:
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


def check_slot_name(slot_name: str) -> Check:
    problems = slot_name_problems(slot_name)
    if problems:
        return make_check("slot_name", False, ERROR,
                          "slot name %r is invalid: %s" % (slot_name, "; ".join(problems)),
                          "Use a name like %r in slot_name and in the job's 'slot.name'."
                          % suggest_slot_name(slot_name))
    return make_check("slot_name", True, ERROR, "slot name %s is valid for Flink CDC" % slot_name)


def check_slot(slot_name: str, slot: t.Optional[t.Dict[str, t.Any]], plugin: str, database: str) -> Check:
    if slot is None:
        return make_check("slot", True, ERROR,
                          "slot %s does not exist yet; Flink CDC creates it on first start" % slot_name)
    drop = "SELECT pg_drop_replication_slot('%s');" % slot_name.replace("'", "''")
    problems: t.List[t.Tuple[str, str]] = []
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


def check_inactive_slots(slots: t.List[t.Dict[str, t.Any]], max_retained_bytes: int,
                         max_slot_wal_keep_size: t.Optional[str] = None) -> Check:
    # An inactive slot keeps all WAL since restart_lsn; max_slot_wal_keep_size defaults to -1,
    # unlimited (PostgreSQL doc/src/sgml/config.sgml, max_slot_wal_keep_size, 13+).
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
