# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The readiness report files, on the controller (only the flink_cdc_report action uses this).

``document`` builds what ``flink_cdc_report.json`` holds; ``markdown`` renders the same document as
``flink_cdc_report.md``; ``write`` puts both in a directory, each atomically (a temporary file in the same
directory, then a rename), so a reader never sees half a report and a failed write leaves the old one.
The rows are judged elsewhere (plugin_utils/_report_rows.py); this only lays them out.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import typing as t

MARKDOWN = "flink_cdc_report.md"
JSON = "flink_cdc_report.json"
STATUSES = ("ok", "changed", "warn", "fail", "skip")
# How each status shows in the Markdown table: the ones to look at stand out.
SHOWN = {"ok": "ok", "warn": "WARN", "fail": "**FAIL**", "skip": "skip", "changed": "changed"}
ROW_KEYS = ("host", "area", "check", "status", "detail")


class ReportError(Exception):
    pass


def check_rows(rows: t.Any) -> t.List[t.Dict[str, t.Any]]:
    """The rows as plain dicts, each with host, area, check, status and detail; a clear error naming the first
    row that is not one."""
    if not isinstance(rows, (list, tuple)):
        raise ReportError("rows must be a list of report rows, got %s" % type(rows).__name__)
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise ReportError("rows[%d] must be a dict with %s, got %s" % (i, ", ".join(ROW_KEYS), type(r).__name__))
        missing = [k for k in ROW_KEYS if k not in r]
        if missing:
            raise ReportError("rows[%d] (%s) lacks %s" % (i, ", ".join("%s=%s" % (k, r[k]) for k in ROW_KEYS if k in r),
                                                          ", ".join(missing)))
        out.append(dict(r))
    return out


def counts(rows: t.Sequence[t.Mapping[str, t.Any]]) -> t.Dict[str, int]:
    return {status: len([r for r in rows if r["status"] == status]) for status in STATUSES}


def document(rows: t.Sequence[t.Mapping[str, t.Any]], rest_url: str, flink_version: str,
             connectors: t.Sequence[t.Mapping[str, t.Any]], connectors_pinned: bool, check_mode: bool,
             generated: t.Optional[datetime.datetime] = None) -> t.Dict[str, t.Any]:
    """The JSON report (its keys are the report's interface: keep them)."""
    when = generated or datetime.datetime.now(datetime.timezone.utc)
    return {"generated": when.isoformat(), "check_mode": bool(check_mode), "rest_url": rest_url,
            "flink_version": flink_version, "connectors": [dict(c) for c in connectors],
            "connectors_pinned": bool(connectors_pinned), "rows": [dict(r) for r in rows]}


def _cell(value: t.Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(doc: t.Mapping[str, t.Any], connector_summary: t.Optional[str] = None) -> str:
    rows = doc["rows"]
    n = counts(rows)
    when = datetime.datetime.fromisoformat(doc["generated"])
    lines = ["# Flink CDC readiness report", "",
             "- Cluster: %s (Flink %s)" % (doc["rest_url"], doc["flink_version"] or "unknown")]
    if connector_summary:
        lines.append("- Connectors: %s" % connector_summary)
    lines += ["- Run: %s, %s" % ("check mode (dry run)" if doc["check_mode"] else "real run",
                                 when.strftime("%Y-%m-%d %H:%M:%S UTC")),
              "- Result: %d ok, %d warning(s), %d failed, %d skipped" % (n["ok"], n["warn"], n["fail"], n["skip"]),
              "", "| host | area | check | status | detail |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %s | %s | %s |" % (_cell(r["host"]), _cell(r["area"]), _cell(r["check"]),
                                                     SHOWN.get(r["status"], _cell(r["status"])), _cell(r["detail"])))
    return "\n".join(lines) + "\n"


def _atomic_write(path: str, text: str, mode: int) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write(directory: str, doc: t.Mapping[str, t.Any], connector_summary: t.Optional[str] = None,
          mode: int = 0o644, directory_mode: int = 0o755) -> t.Dict[str, str]:
    """Write both files into ``directory`` (created with ``directory_mode`` when missing); their paths."""
    try:
        os.makedirs(directory, mode=directory_mode, exist_ok=True)
    except OSError as exc:
        raise ReportError("cannot create the report directory %s: %s" % (directory, exc.strerror or exc))
    paths = {"markdown": os.path.join(directory, MARKDOWN), "json": os.path.join(directory, JSON)}
    try:
        _atomic_write(paths["markdown"], markdown(doc, connector_summary), mode)
        _atomic_write(paths["json"], json.dumps(doc, indent=4, sort_keys=True) + "\n", mode)
    except OSError as exc:
        raise ReportError("cannot write the report in %s: %s" % (directory, exc.strerror or exc))
    return paths
