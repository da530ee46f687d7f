# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""How this collection reads and writes PostgreSQL's text: table names as users write them (``parse_table_name``)
and as messages and SQL hints show them (``quote_ident``, ``display_table``), the rule for a Flink CDC slot name,
and server versions and byte sizes in messages.
"""

from __future__ import annotations

import re
import typing as t

from ansible.module_utils.common.text.converters import to_text

# Flink CDC's slot.name rule: lowercase letters, digits and "_" (apache/flink-cdc
# docs/content/docs/connectors/flink-sources/postgres-cdc.md, slot.name);
# PostgreSQL caps names at NAMEDATALEN - 1 = 63 bytes.
SLOT_NAME_RE = re.compile(r"^[a-z0-9_]+$")
MAX_NAME_BYTES = 63

_SIMPLE_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_$]*$")


def parse_table_name(name: str) -> t.Tuple[str, str]:
    """``schema.table`` -> (schema, table); a bare name means ``public``.

    Parts in double quotes may contain dots, and ``""`` inside them stands for
    one quote. Names are taken as written (case-sensitive, as Flink CDC and
    community.postgresql treat them); quotes only group characters.
    """
    text = to_text(name)
    parts: t.List[str] = []
    current: t.List[t.Tuple[str, bool]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i += 1
            while True:
                if i >= len(text):
                    raise ValueError("table name %r has an unterminated double quote" % name)
                if text[i] == '"':
                    if text[i + 1:i + 2] == '"':
                        current.append(('"', True))
                        i += 2
                        continue
                    i += 1
                    break
                current.append((text[i], True))
                i += 1
            continue
        if char == ".":
            parts.append(_finish_part(current, name))
            current = []
        else:
            current.append((char, False))
        i += 1
    parts.append(_finish_part(current, name))
    if len(parts) == 1:
        return "public", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError("table name %r has %d dot-separated parts; write schema.table (the database is "
                     "login_db), and put names that contain dots in double quotes" % (name, len(parts)))


def _finish_part(chars: t.List[t.Tuple[str, bool]], name: str) -> str:
    # Whitespace outside quotes around a part is not part of the name.
    while chars and not chars[0][1] and chars[0][0].isspace():
        chars = chars[1:]
    while chars and not chars[-1][1] and chars[-1][0].isspace():
        chars = chars[:-1]
    if not chars:
        raise ValueError("table name %r has an empty schema or table part" % name)
    return "".join(char for char, _quoted in chars)


def quote_ident(name: str) -> str:
    """Quote an identifier for display when it is not a plain lowercase name."""
    if _SIMPLE_IDENT_RE.match(name):
        return name
    return '"%s"' % name.replace('"', '""')


def display_table(schema: str, table: str) -> str:
    return "%s.%s" % (quote_ident(schema), quote_ident(table))


def suggest_slot_name(name: str) -> str:
    suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
    return (suggestion or "flink_cdc_slot")[:MAX_NAME_BYTES]


def slot_name_problems(slot_name: str) -> t.List[str]:
    problems = []
    if not SLOT_NAME_RE.match(slot_name):
        problems.append("Flink CDC's slot.name allows only lowercase letters, digits and _")
    if len(slot_name.encode("utf-8")) > MAX_NAME_BYTES:
        problems.append("PostgreSQL names are at most %d bytes" % MAX_NAME_BYTES)
    return problems


def version_text(version_num: int) -> str:
    """150018 -> "15.18", 90624 -> "9.6.24"."""
    if version_num >= 100000:
        return "%d.%d" % (version_num // 10000, version_num % 10000)
    return "%d.%d.%d" % (version_num // 10000, (version_num // 100) % 100, version_num % 100)


def version_major(version_num: int) -> int:
    return version_num // 10000


def format_bytes(value: t.Optional[int]) -> str:
    if value is None:
        return "unknown"
    size = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            if unit == "bytes":
                return "%d bytes" % value
            return "%.1f %s" % (size, unit)
        size /= 1024
    return "%d bytes" % value  # pragma: no cover
