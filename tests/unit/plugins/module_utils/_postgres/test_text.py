"""Table names, byte counts and slot names as PostgreSQL and Flink CDC take them.

Without a server: tests/unit/plugins/test_support/pg_recorded.py replays the facts recorded on the bed.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (
    slot_checks as pg_slot_checks,
    text as pg_text,
)


# --------------------------------------------------------------------------- options and names


@pytest.mark.parametrize("name, expected", [
    ("orders", ("public", "orders")),
    ("public.orders", ("public", "orders")),
    ("Sales.Orders", ("Sales", "Orders")),
    (" sales . orders ", ("sales", "orders")),
    ('"Sales.EU"."Orders"', ("Sales.EU", "Orders")),
    ('"Sales.EU".orders', ("Sales.EU", "orders")),
    ('"a ""quoted"" name"', ("public", 'a "quoted" name')),
    ('" padded "', ("public", " padded ")),
])
def test_parse_table_name(name, expected):
    assert pg_text.parse_table_name(name) == expected


@pytest.mark.parametrize("name, error", [
    ("shop.public.orders", "3 dot-separated parts"),
    ('"unterminated', "unterminated double quote"),
    ("public.", "empty schema or table part"),
    (".orders", "empty schema or table part"),
    ('"".orders', "empty schema or table part"),
    ("", "empty schema or table part"),
])
def test_parse_table_name_rejects(name, error):
    with pytest.raises(ValueError, match=error):
        pg_text.parse_table_name(name)


@pytest.mark.parametrize("schema, table, display", [
    ("public", "orders", "public.orders"),
    ("Sales.EU", "Orders", '"Sales.EU"."Orders"'),
    ("public", 'we"ird', 'public."we""ird"'),
])
def test_display_table_quotes_only_when_needed(schema, table, display):
    assert pg_text.display_table(schema, table) == display


@pytest.mark.parametrize("value, text", [
    (None, "unknown"), (0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KiB"), (3 * 1024 ** 3, "3.0 GiB"),
])
def test_format_bytes(value, text):
    assert pg_text.format_bytes(value) == text


def test_slot_name_problems_match_the_check():
    assert pg_text.slot_name_problems("flink_cdc_shop") == []
    assert pg_text.slot_name_problems("Flink-Slot") == ["Flink CDC's slot.name allows only lowercase letters, digits and _"]
    assert pg_text.slot_name_problems("x" * 64) == ["PostgreSQL names are at most 63 bytes"]
    check = pg_slot_checks.check_slot_name("Flink-Slot")
    assert check["message"] == "slot name 'Flink-Slot' is invalid: Flink CDC's slot.name allows only lowercase " \
                               "letters, digits and _"
