"""The flink_cdc_report action plugin (plugins/action/flink_cdc_report.py) on a real ActionBase: the report written
on the controller, in check mode too, and a failure returned with the plugin's name, never raised."""

import json
import os
import stat

from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.action_setup import make_action

from ansible_collections.cdcops.flink_cdc.plugins.action.flink_cdc_report import ActionModule

ROWS = [{"host": "tm1", "area": "Java", "check": "java", "status": "ok", "detail": "Java 17"},
        {"host": "tm1", "area": "lib/", "check": "writable", "status": "fail", "detail": "lib/ is read-only"}]


def test_the_report_is_written_and_counted(tmp_path):
    dest = tmp_path / "report"
    args = {"dest": str(dest), "rows": ROWS, "rest_url": "http://ops:pw-report@jm:8081", "mode": "0640"}
    result = make_action(ActionModule, args).run(task_vars={})
    assert not result.get("failed"), result
    assert result["changed"] is False and result["counts"]["ok"] == 1 and result["counts"]["fail"] == 1
    assert result["markdown"] == str(dest / os.path.basename(result["markdown"]))
    assert result["msg"] == "readiness report: %s" % result["markdown"]
    with open(result["json"]) as f:
        doc = json.load(f)
    assert "pw-report" not in json.dumps(doc)  # the REST URL is written without its userinfo
    assert stat.S_IMODE(os.stat(result["json"]).st_mode) == 0o640


def test_check_mode_writes_the_report_too(tmp_path):
    result = make_action(ActionModule, {"dest": str(tmp_path), "rows": ROWS}, check_mode=True).run(task_vars={})
    assert not result.get("failed") and os.path.exists(result["markdown"]), result


def test_failures_are_returned_with_the_plugins_name(tmp_path):
    bad_row = make_action(ActionModule, {"dest": str(tmp_path), "rows": [{"host": "tm1"}]}).run(task_vars={})
    assert bad_row["failed"] is True and bad_row["changed"] is False
    assert bad_row["msg"].startswith("flink_cdc_report: rows[0] (host=tm1) lacks area, check, status, detail")
    bad_mode = make_action(ActionModule, {"dest": str(tmp_path), "rows": ROWS, "mode": "rw-all"}).run(task_vars={})
    assert bad_mode["failed"] is True and bad_mode["msg"].startswith("flink_cdc_report: ")
    missing = make_action(ActionModule, {"rows": ROWS}).run(task_vars={})
    assert missing["failed"] is True and missing["msg"].startswith("flink_cdc_report: ") and "dest" in missing["msg"]
    assert os.listdir(str(tmp_path)) == []
