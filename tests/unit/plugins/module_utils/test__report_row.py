"""One report row (plugins/module_utils/_report_row.py): the shape host code and the controller's report share."""

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _host_check, _report_row
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _pipeline, _report_rows, _smoke


def test_row_line_and_row_with_line():
    r = _report_row.row("tm1", "Java/config", "java", "ok", "Java 17 for Flink 1.20.3")
    assert r == {"host": "tm1", "area": "Java/config", "check": "java", "status": "ok",
                 "detail": "Java 17 for Flink 1.20.3"}
    assert _report_row.line(r) == "tm1: Java/config java: Java 17 for Flink 1.20.3"
    assert _report_row.row_with_line("tm1", "Smoke", "job", "fail", "x") == dict(
        _report_row.row("tm1", "Smoke", "job", "fail", "x"), line="tm1: Smoke job: x")


def test_one_owner_under_the_names_other_code_uses():
    # plugin_utils/_report_rows keeps ``row`` and ``line`` importable; _host_check builds its rows with the same one.
    assert _report_rows.row is _report_row.row and _report_rows.line is _report_row.line
    assert _host_check.row is _report_row.row


def test_pipeline_and_smoke_rows_have_the_shape_and_its_line():
    assert _pipeline._row("jm", "orders", "ok", "running") == _report_row.row_with_line(
        "jm", "Pipeline", "orders", "ok", "running")
    plan = {"ok": False, "reason": "flink_cdc_smoke_table is empty"}
    (row,) = _smoke.rows(plan, {}, [], "jm")
    assert row == _report_row.row_with_line("jm", "Smoke", "job", "warn", "not run: flink_cdc_smoke_table is empty")
