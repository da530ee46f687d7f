# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""A check and the verdict over a list of checks. Each check is a dict with ``name``, ``ok``, ``severity`` (error or
warning), ``message`` and ``hint`` (the SQL or setting that fixes it); a source is ready when no error fails.
"""

from __future__ import annotations

import typing as t

Check = t.Dict[str, t.Any]
ERROR = "error"
WARNING = "warning"


def make_check(name: str, ok: bool, severity: str, message: str, hint: str = "", **extra: t.Any) -> Check:
    check = {"name": name, "ok": bool(ok), "severity": severity, "message": message,
             "hint": hint if not ok else ""}
    check.update(extra)
    return check


def is_ready(checks: t.List[Check]) -> bool:
    return not failing(checks, ERROR)


def failing(checks: t.List[Check], severity: t.Optional[str] = None) -> t.List[Check]:
    return [c for c in checks if not c["ok"] and (severity is None or c["severity"] == severity)]


def check_label(check: Check) -> str:
    return "%s (%s)" % (check["name"], check["table"]) if check.get("table") else check["name"]


def not_ready_message(endpoint: str, database: t.Optional[str], checks: t.List[Check]) -> str:
    errors = failing(checks, ERROR)
    return "PostgreSQL at %s%s is not ready for Flink CDC; %d check%s failed: %s" % (
        endpoint, " (database %s)" % database if database else "", len(errors),
        "" if len(errors) == 1 else "s",
        "; ".join("%s: %s" % (check_label(c), c["message"]) for c in errors))
