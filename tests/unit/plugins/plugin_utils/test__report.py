"""The readiness report files (plugin_utils/_report.py): the JSON document, the Markdown table, atomic writes."""

import datetime
import json
import os

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _report

WHEN = datetime.datetime(2026, 12, 2, 1, 2, 3, tzinfo=datetime.timezone.utc)
ROWS = [
    {"host": "jobmanager", "area": "JobManager", "check": "reachable", "status": "ok", "detail": "Flink 1.20.3"},
    {"host": "tm1", "area": "Java", "check": "version", "status": "fail", "detail": "Java 8 | needs 11\nor 17"},
    {"host": "tm1", "area": "lib/", "check": "writable", "status": "warn", "detail": "owned by flink", "line": "x"},
    {"host": "tm2", "area": "deploy", "check": "jars", "status": "changed", "detail": "2 installed"},
    {"host": "tm2", "area": "restart", "check": "TaskManager", "status": "skip", "detail": "not asked"},
]
CONNECTORS = [{"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc", "version": "3.5.0"}]


def doc(check_mode=False, rows=None):
    return _report.document(ROWS if rows is None else rows, "http://jm:8081", "1.20.3", CONNECTORS, False, check_mode, generated=WHEN)


def test_document_keeps_the_reports_keys():
    assert doc() == {"generated": "2026-12-02T01:02:03+00:00", "check_mode": False, "rest_url": "http://jm:8081",
                     "flink_version": "1.20.3", "connectors": CONNECTORS, "connectors_pinned": False, "rows": ROWS}


def test_markdown_header_counts_and_one_line_per_row():
    text = _report.markdown(doc(), "postgres-cdc 3.5.0 (chosen for Flink 1.20)")
    assert text.splitlines() == [
        "# Flink CDC readiness report",
        "",
        "- Cluster: http://jm:8081 (Flink 1.20.3)",
        "- Connectors: postgres-cdc 3.5.0 (chosen for Flink 1.20)",
        "- Run: real run, 2026-12-02 01:02:03 UTC",
        "- Result: 1 ok, 1 warning(s), 1 failed, 1 skipped",
        "",
        "| host | area | check | status | detail |",
        "|---|---|---|---|---|",
        "| jobmanager | JobManager | reachable | ok | Flink 1.20.3 |",
        "| tm1 | Java | version | **FAIL** | Java 8 \\| needs 11 or 17 |",
        "| tm1 | lib/ | writable | WARN | owned by flink |",
        "| tm2 | deploy | jars | changed | 2 installed |",
        "| tm2 | restart | TaskManager | skip | not asked |",
    ]


def test_markdown_says_dry_run_and_unknown_version_and_leaves_out_an_empty_connector_line():
    d = _report.document([], "http://jm:8081", "", [], True, True, generated=WHEN)
    lines = _report.markdown(d).splitlines()
    assert lines[2] == "- Cluster: http://jm:8081 (Flink unknown)"
    assert lines[3] == "- Run: check mode (dry run), 2026-12-02 01:02:03 UTC"
    assert lines[4] == "- Result: 0 ok, 0 warning(s), 0 failed, 0 skipped"
    assert not any(line.startswith("- Connectors") for line in lines)


def test_counts_every_status():
    assert _report.counts(ROWS) == {"ok": 1, "changed": 1, "warn": 1, "fail": 1, "skip": 1}


@pytest.mark.parametrize("rows, message", [
    ("not a list", "rows must be a list of report rows, got str"),
    ([ROWS[0], "x"], "rows[1] must be a dict with host, area, check, status, detail, got str"),
    ([{"host": "tm1", "area": "Java", "status": "ok"}], "rows[0] (host=tm1, area=Java, status=ok) lacks check, detail"),
])
def test_a_row_that_is_not_one_is_named(rows, message):
    with pytest.raises(_report.ReportError) as exc:
        _report.check_rows(rows)
    assert str(exc.value) == message


def test_write_creates_the_directory_and_both_files(tmp_path):
    dest = str(tmp_path / "a" / "report")
    paths = _report.write(dest, doc(), "postgres-cdc 3.5.0", mode=0o640)
    assert paths == {"markdown": os.path.join(dest, "flink_cdc_report.md"),
                     "json": os.path.join(dest, "flink_cdc_report.json")}
    with open(paths["json"]) as f:
        assert json.load(f) == doc()
    with open(paths["markdown"]) as f:
        assert f.read() == _report.markdown(doc(), "postgres-cdc 3.5.0")
    assert oct(os.stat(paths["json"]).st_mode & 0o7777) == oct(0o640)
    assert oct(os.stat(paths["markdown"]).st_mode & 0o7777) == oct(0o640)
    assert sorted(os.listdir(dest)) == ["flink_cdc_report.json", "flink_cdc_report.md"]


def test_write_replaces_the_old_report(tmp_path):
    _report.write(str(tmp_path), doc(rows=ROWS[:1]))
    _report.write(str(tmp_path), doc())
    with open(str(tmp_path / "flink_cdc_report.json")) as f:
        assert len(json.load(f)["rows"]) == len(ROWS)
    assert sorted(os.listdir(str(tmp_path))) == ["flink_cdc_report.json", "flink_cdc_report.md"]


def test_a_failed_write_leaves_the_old_report_and_no_temporary_file(tmp_path, monkeypatch):
    _report.write(str(tmp_path), doc(rows=ROWS[:1]))
    with open(str(tmp_path / "flink_cdc_report.md")) as f:
        before = f.read()

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_report.os, "replace", refuse)
    with pytest.raises(_report.ReportError) as exc:
        _report.write(str(tmp_path), doc())
    assert str(exc.value) == "cannot write the report in %s: No space left on device" % tmp_path
    with open(str(tmp_path / "flink_cdc_report.md")) as f:
        assert f.read() == before
    assert sorted(os.listdir(str(tmp_path))) == ["flink_cdc_report.json", "flink_cdc_report.md"]


def test_a_directory_that_cannot_be_made_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(_report.ReportError) as exc:
        _report.write(str(blocker / "report"), doc())
    assert str(exc.value).startswith("cannot create the report directory %s: " % (blocker / "report"))
