# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Flink SQL text built from PostgreSQL facts (controller only): column types as the postgres-cdc connector reads
them, identifiers, string literals, and the regular expressions postgres-cdc takes for schema and table names.

The table is the connector's documented "Data Type Mapping" (apache/flink-cdc
``docs/content/docs/connectors/flink-sources/postgres-cdc.md``), keyed by PostgreSQL's ``format_type()`` text,
which is what ``pg_logical_check`` returns. Two rows go beyond the page: an unconstrained ``numeric`` (no precision
in the catalog) reads as ``DECIMAL(38, 18)`` and ``numeric(p)`` as ``DECIMAL(p, 0)``; Flink's DECIMAL holds at most
38 digits (apache/flink ``DecimalType.MAX_PRECISION``).
"""

from __future__ import annotations

import re
import typing as t

_TYPES = (
    (r"smallint", "SMALLINT"),
    (r"integer", "INT"),
    (r"bigint", "BIGINT"),
    (r"real", "FLOAT"),
    (r"double precision", "DOUBLE"),
    (r"numeric\((\d+),(\d+)\)", "DECIMAL({0}, {1})"),
    (r"numeric\((\d+)\)", "DECIMAL({0}, 0)"),
    (r"numeric", "DECIMAL(38, 18)"),
    (r"boolean", "BOOLEAN"),
    (r"date", "DATE"),
    (r"time(?:\((\d)\))? without time zone", "TIME({0})"),
    (r"timestamp(?:\((\d)\))? without time zone", "TIMESTAMP({0})"),
    (r"timestamp(?:\((\d)\))? with time zone", "TIMESTAMP_LTZ({0})"),
    (r"character\(\d+\)|character varying(?:\(\d+\))?|text", "STRING"),
    (r"bytea", "BYTES"),
)
MAX_DECIMAL_PRECISION = 38
MAPPED = ("smallint, integer, bigint, real, double precision, numeric (at most 38 digits), boolean, date, time, "
          "timestamp, timestamp with time zone, char, varchar, text, bytea")


def flink_type(pg_type: str) -> t.Optional[str]:
    """The Flink SQL type of a PostgreSQL column type, or None when the connector does not map it."""
    text = (pg_type or "").strip()
    for pattern, flink in _TYPES:
        match = re.fullmatch(pattern, text)
        if match:
            args = [g if g is not None else "6" for g in match.groups()]
            if flink.startswith("DECIMAL(") and args and int(args[0]) > MAX_DECIMAL_PRECISION:
                return None
            return flink.format(*args)
    return None


def literal(value: t.Any) -> str:
    """A SQL string literal (a single quote doubled)."""
    return "'%s'" % str(value).replace("'", "''")


def ident(name: str) -> str:
    """A Flink SQL identifier in backquotes."""
    return "`%s`" % name.replace("`", "``")


def name_regex(name: str) -> str:
    """``schema-name`` and ``table-name`` are regular expressions in postgres-cdc: one that matches this name only."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", name)


def options(values: t.Mapping[str, t.Any]) -> str:
    """The body of a ``WITH (...)`` clause, one option a line."""
    return ",\n".join("  %s = %s" % (literal(k), literal(v)) for k, v in values.items())
