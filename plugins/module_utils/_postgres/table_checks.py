# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The readiness checks of each captured table (exists, readable, keyed, its replica identity) and of the
publication that pgoutput streams them through.
"""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.catalog import CAPTURABLE_RELKINDS
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.text import display_table, quote_ident
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres.verdict import (
    ERROR,
    WARNING,
    Check,
    make_check,
)

REPLICA_IDENTITY = {"d": "DEFAULT", "n": "NOTHING", "f": "FULL", "i": "USING INDEX"}

RELKIND_NAMES = {"v": "a view", "m": "a materialized view", "f": "a foreign table",
                 "S": "a sequence", "i": "an index", "I": "an index", "c": "a composite type",
                 "t": "a TOAST table"}


def check_table_exists(table: t.Dict[str, t.Any], database: str) -> Check:
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


def check_table_select(table: t.Dict[str, t.Any], user_quoted: str, user: str) -> Check:
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


def check_table_primary_key(table: t.Dict[str, t.Any]) -> Check:
    # Incremental snapshot splits on the primary key; since Flink CDC 3.4 a table without one
    # needs scan.incremental.snapshot.chunk.key-column (apache/flink-cdc
    # docs/content/docs/connectors/flink-sources/postgres-cdc.md at release-3.4).
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


def check_table_replica_identity(table: t.Dict[str, t.Any]) -> Check:
    # DEFAULT sends only the old key with UPDATE/DELETE, nothing without a PK; FULL sends the whole
    # old row (PostgreSQL doc/src/sgml/ref/alter_table.sgml, REPLICA IDENTITY; debezium/debezium
    # documentation/modules/ROOT/pages/connectors/postgresql.adoc at v1.9.8.Final, "Replica identity").
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


def check_tables(tables: t.List[t.Dict[str, t.Any]], user: str, user_quoted: str, database: str) -> t.List[Check]:
    checks: t.List[Check] = []
    for table in tables:
        exists = check_table_exists(table, database)
        checks.append(exists)
        if not exists["ok"]:
            continue
        checks.append(check_table_select(table, user_quoted, user))
        checks.append(check_table_primary_key(table))
        checks.append(check_table_replica_identity(table))
    return checks


def could_create_publication(role: t.Dict[str, t.Any], tables: t.List[t.Dict[str, t.Any]]) -> t.Tuple[bool, str]:
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


def check_publication(name: str, publication: t.Optional[t.Dict[str, t.Any]], tables: t.List[t.Dict[str, t.Any]],
                      role: t.Dict[str, t.Any], database: str) -> Check:
    # pgoutput needs a publication; Debezium's publication.autocreate.mode is all_tables (needs high
    # privileges), filtered or disabled (debezium/debezium documentation/modules/ROOT/pages/connectors/postgresql.adoc
    # at v1.9.8.Final, publication.autocreate.mode).
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


def check_publication_actions(name: str, publication: t.Dict[str, t.Any]) -> Check:
    missing = [action for action in ("insert", "update", "delete") if not publication.get(action)]
    if missing:
        return make_check(
            "publication_actions", False, ERROR,
            "publication %s does not publish %s: Flink CDC would miss those changes" % (name, ", ".join(missing)),
            "ALTER PUBLICATION %s SET (publish = 'insert, update, delete');"
            % (publication.get("quoted") or quote_ident(name)))
    return make_check("publication_actions", True, ERROR,
                      "publication %s publishes insert, update and delete" % name)
