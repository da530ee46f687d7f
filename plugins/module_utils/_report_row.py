# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""One row of the flink_cdc role's readiness report, the shape every check returns (private to this collection).

A row is ``{host, area, check, status, detail}``: status ``ok``, ``warn``, ``fail``, ``skip`` or ``changed``.
``line`` says a row as one sentence, for failure messages and the printed summary. Host code (flink_host_check)
and the controller's report code (plugins/plugin_utils/) build their rows here, so the shape lives in one place.
"""

from __future__ import annotations

import typing as t

Row = t.Dict[str, t.Any]


def row(host: str, area: str, check: str, status: str, detail: str) -> Row:
    return {"host": host, "area": area, "check": check, "status": status, "detail": detail}


def line(r: t.Mapping[str, t.Any]) -> str:
    """``<host>: <area> <check>: <detail>``."""
    return "%s: %s %s: %s" % (r["host"], r["area"], r["check"], r["detail"])


def row_with_line(host: str, area: str, check: str, status: str, detail: str) -> Row:
    """A row with its ``line``."""
    out = row(host, area, check, status, detail)
    out["line"] = line(out)
    return out
