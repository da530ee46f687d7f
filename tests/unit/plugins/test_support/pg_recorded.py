"""PostgreSQL facts recorded from the bed and the check helpers shared by the unit tests of
plugins/module_utils/_postgres/.

Check functions get plain inputs; ``evaluate()`` is replayed on facts recorded from the bed's real PostgreSQL 15
clusters (tests/unit/fixtures/pg/, written by ``python tests/bed/pg_seed.py record``). libpq messages in the
tests were captured from the same clusters.
"""

import json
import os

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (
    readiness as pg_readiness,
    text as pg_text,
    verdict as pg_verdict,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "pg")


def recorded(name):
    with open(os.path.join(FIXTURES, "%s.json" % name)) as f:
        return json.load(f)


def evaluate_recorded(name, **overrides):
    data = recorded(name)
    options = dict(data["options"])
    options.pop("tables")
    options.update(overrides)
    return pg_readiness.evaluate(data["facts"], **options)


def by_name(checks, name, table=None):
    found = [c for c in checks if c["name"] == name and (table is None or c.get("table") == table)]
    assert len(found) == 1, "expected one %s check for %s in %s" % (name, table, [pg_verdict.check_label(c) for c in checks])
    return found[0]


def assert_failed(check, severity, *hint_parts):
    assert check["ok"] is False, check
    assert check["severity"] == severity, check
    assert check["message"], check
    for part in hint_parts:
        assert part in check["hint"], (part, check["hint"])


def assert_passed(check):
    assert check["ok"] is True, check
    assert check["hint"] == "", check


def slot(name, active=False, retained=0, plugin="pgoutput", database="shop", slot_type="logical", **extra):
    data = {"slot_name": name, "active": active, "active_pid": 4242 if active else None, "plugin": plugin,
            "database": database, "slot_type": slot_type, "retained_bytes": retained, "wal_status": "reserved"}
    data.update(extra)
    return data


def table(schema="public", name="orders", **facts):
    data = {"schema": schema, "table": name, "exists": True, "relkind": "r", "schema_usage": True,
            "can_select": True, "primary_key": ["id"], "replica_identity": "f",
            "qualified": pg_text.display_table(schema, name), "is_owner": False}
    data.update(facts)
    return data


# --------------------------------------------------------------------------- table facts (pg_logical_check tables)

# tests/unit/fixtures/pg/tables.json: collect(count_rows=True) on the bed, written by
# tests/integration/test_pg_logical_check.py with CDCOPS_RECORD_FIXTURES=1.


def recorded_tables():
    data = recorded("tables")
    return data, {(pg_text.display_table(t["schema"], t["table"])): t for t in data["facts_tables"]}
