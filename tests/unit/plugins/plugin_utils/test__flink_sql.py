"""Flink SQL text from PostgreSQL facts: the postgres-cdc type mapping, literals, identifiers, name regexes, options."""

import re

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _flink_sql


@pytest.mark.parametrize("pg_type, flink", [
    ("smallint", "SMALLINT"),
    ("integer", "INT"),
    ("bigint", "BIGINT"),
    ("real", "FLOAT"),
    ("double precision", "DOUBLE"),
    ("numeric(10,2)", "DECIMAL(10, 2)"),
    ("numeric(38,10)", "DECIMAL(38, 10)"),
    ("numeric(5)", "DECIMAL(5, 0)"),
    ("numeric(38)", "DECIMAL(38, 0)"),
    ("numeric", "DECIMAL(38, 18)"),
    ("boolean", "BOOLEAN"),
    ("date", "DATE"),
    ("time without time zone", "TIME(6)"),
    ("time(3) without time zone", "TIME(3)"),
    ("time(0) without time zone", "TIME(0)"),
    ("timestamp without time zone", "TIMESTAMP(6)"),
    ("timestamp(3) without time zone", "TIMESTAMP(3)"),
    ("timestamp with time zone", "TIMESTAMP_LTZ(6)"),
    ("timestamp(3) with time zone", "TIMESTAMP_LTZ(3)"),
    ("character(10)", "STRING"),
    ("character varying(20)", "STRING"),
    ("character varying", "STRING"),
    ("text", "STRING"),
    ("bytea", "BYTES"),
])
def test_flink_type_maps_each_documented_row(pg_type, flink):
    assert _flink_sql.flink_type(pg_type) == flink


@pytest.mark.parametrize("pg_type", [
    "numeric(39,2)",  # Flink's DECIMAL holds at most 38 digits
    "numeric(39)",
    "numeric(1000,0)",
    "uuid",
    "jsonb",
    "json",
    "point",
    "integer[]",
    "interval",
    "money",
    "time with time zone",
    "character varying(20)[]",
    "",
    None,
])
def test_flink_type_is_none_for_what_the_connector_does_not_map(pg_type):
    assert _flink_sql.flink_type(pg_type) is None


def test_flink_type_matches_the_whole_type_text_only():
    # A prefix of a mapped type is not that type.
    assert _flink_sql.flink_type("integer[]") is None
    assert _flink_sql.flink_type("bigint2") is None
    assert _flink_sql.flink_type("datetime") is None
    assert _flink_sql.flink_type("texts") is None


def test_flink_type_ignores_surrounding_whitespace():
    assert _flink_sql.flink_type("  integer \n") == "INT"
    assert _flink_sql.flink_type(" numeric(12,2) ") == "DECIMAL(12, 2)"


def test_mapped_lists_what_the_errors_name():
    for name in ("smallint", "bigint", "numeric (at most 38 digits)", "timestamp with time zone", "bytea"):
        assert name in _flink_sql.MAPPED
    assert "uuid" not in _flink_sql.MAPPED
    assert _flink_sql.MAX_DECIMAL_PRECISION == 38


@pytest.mark.parametrize("value, text", [
    ("shop", "'shop'"),
    ("it's", "'it''s'"),
    ("''", "''''''"),
    ("", "''"),
    (5432, "'5432'"),
    ("${pg_password}", "'${pg_password}'"),
    ('say "hi"', "'say \"hi\"'"),
])
def test_literal_quotes_and_doubles_single_quotes(value, text):
    assert _flink_sql.literal(value) == text


@pytest.mark.parametrize("name, text", [
    ("id", "`id`"),
    ("Order Id", "`Order Id`"),
    ("a`b", "`a``b`"),
    ("``", "``````"),
    ("src_1", "`src_1`"),
])
def test_ident_backquotes_and_doubles_backquotes(name, text):
    assert _flink_sql.ident(name) == text


@pytest.mark.parametrize("char", list(".*+?()[]{}|\\^$"))
def test_name_regex_escapes_each_regex_metacharacter(char):
    name = "a%sb" % char
    assert _flink_sql.name_regex(name) == "a\\%sb" % char
    assert re.fullmatch(_flink_sql.name_regex(name), name)


@pytest.mark.parametrize("name", ["public", "orders", "Orders", "orders_2024", "order-lines", "Sales EU"])
def test_name_regex_leaves_plain_names(name):
    assert _flink_sql.name_regex(name) == name


def test_name_regex_matches_only_the_name_it_was_made_from():
    name = "Sales.EU(v2)$"
    pattern = _flink_sql.name_regex(name)
    assert pattern == "Sales\\.EU\\(v2\\)\\$"
    assert re.fullmatch(pattern, name)
    assert not re.fullmatch(pattern, "SalesXEU(v2)$")
    assert not re.fullmatch(pattern, "Sales.EUv2")


def test_options_renders_one_option_a_line():
    text = _flink_sql.options({"connector": "postgres-cdc", "port": 5432, "password": "${pg_password}"})
    assert text == ("  'connector' = 'postgres-cdc',\n"
                    "  'port' = '5432',\n"
                    "  'password' = '${pg_password}'")


def test_options_quotes_keys_and_values():
    assert _flink_sql.options({"it's": "o'k"}) == "  'it''s' = 'o''k'"


def test_options_of_nothing_is_empty():
    assert _flink_sql.options({}) == ""
