# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The rules of pg_logical_check: ``evaluate()`` turns the facts from ``catalog.collect()`` (or a connection failure)
into checks, in a stable order; the server, settings, role and replication connection checks live here, the table
and publication checks in ``table_checks``, the slot checks in ``slot_checks``. All are pure functions of their
inputs, so unit tests replay facts recorded from a real server.
"""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.catalog import find_slot
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.hints import connect_hint, wal_level_hint
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.slot_checks import (
    check_free_replication_slots,
    check_free_wal_senders,
    check_inactive_slots,
    check_slot,
    check_slot_name,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.table_checks import (
    check_publication,
    check_publication_actions,
    check_tables,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import (
    quote_ident,
    version_major,
    version_text,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.verdict import (
    ERROR,
    WARNING,
    Check,
    make_check,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import (
    PGOUTPUT_MIN_VERSION_NUM,
    STANDBY_DECODING_MIN_VERSION_NUM,
    TESTED_MAX_MAJOR,
    TESTED_MIN_VERSION_NUM,
)

PLUGINS = ("pgoutput", "decoderbufs")

# Debezium's publication.name default (debezium/debezium documentation/modules/ROOT/pages/connectors/postgresql.adoc
# at v1.9.8.Final, connector properties).
DEFAULT_PUBLICATION = "dbz_publication"

DEFAULT_INACTIVE_SLOT_RETAINED_BYTES = 1024 ** 3


def check_connect(endpoint: str, error: t.Optional[str] = None, kind: t.Optional[str] = None, user: str = "",
                  database: str = "") -> Check:
    if error:
        return make_check("connect", False, ERROR, error,
                          connect_hint(kind or "other", endpoint, user, database, reason=error))
    return make_check("connect", True, ERROR, "connected to PostgreSQL at %s (database %s, user %s)"
                      % (endpoint, database, user))


def check_server_version(version_num: int, plugin: str = "pgoutput") -> Check:
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


def check_standby(in_recovery: bool, version_num: int) -> Check:
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


def check_wal_level(wal_level: t.Optional[str], pending: bool = False, pending_value: t.Optional[str] = None,
                    is_rds: bool = False) -> Check:
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


def check_pending_restart(names: t.List[str]) -> Check:
    if not names:
        return make_check("pending_restart", True, WARNING, "no setting waits for a restart")
    listed = ", ".join(names)
    return make_check(
        "pending_restart", False, WARNING,
        "settings changed in the configuration but not applied until PostgreSQL restarts: %s" % listed,
        "Restart PostgreSQL to apply them, or undo: %s SELECT pg_reload_conf();"
        % " ".join("ALTER SYSTEM RESET %s;" % name for name in names))


def _int_setting(settings: t.Dict[str, t.Any], name: str) -> t.Optional[int]:
    try:
        return int(settings[name])
    except (KeyError, TypeError, ValueError):
        return None


def check_role(role: t.Dict[str, t.Any], is_rds: bool = False) -> Check:
    # LOGIN plus REPLICATION, superuser, or rds_replication on RDS (debezium/debezium
    # documentation/modules/ROOT/pages/connectors/postgresql.adoc at v1.9.8.Final, "Setting up permissions" and
    # "PostgreSQL in the Cloud").
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


def check_decoderbufs(shared_preload_libraries: t.Optional[str], user: str = "") -> Check:
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


def check_replication_connection(endpoint: str, user: str, database: str, result: t.Dict[str, t.Any]) -> Check:
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


def evaluate(facts: t.Dict[str, t.Any], plugin: str = "pgoutput", slots_needed: int = 1,
             slot_name: t.Optional[str] = None, publication: t.Optional[str] = None,
             max_inactive_slot_retained_bytes: int = DEFAULT_INACTIVE_SLOT_RETAINED_BYTES) -> t.List[Check]:
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
