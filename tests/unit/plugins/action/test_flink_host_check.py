"""The flink_host_check action plugin (plugins/action/flink_host_check.py) on a real ActionBase with ansible-core's
local connection: the facts read on this machine with one command (plugin_utils/_probe.py) and judged on the
controller, and the option failures returned with ``rows: []``."""

import sys

from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.action_setup import make_action

from ansible_collections.cdcops.flink_cdc.plugins.action.flink_host_check import ActionModule

PYTHON = {"inventory_hostname": "tm1", "ansible_python_interpreter": sys.executable}


def test_the_check_runs_as_one_command_and_returns_rows(tmp_path):
    (tmp_path / "flink" / "lib").mkdir(parents=True)
    plugin = make_action(ActionModule, {"flink_home": str(tmp_path / "flink"), "needed_bytes": 1024, "report_host": "tm1",
                                        "endpoints": [{"name": "closed", "host": "127.0.0.1", "port": 1}], "timeout": 1})
    commands = []
    run_command = plugin._low_level_execute_command

    def counted(cmd, *args, **kwargs):
        commands.append(cmd)
        return run_command(cmd, *args, **kwargs)

    plugin._low_level_execute_command = counted
    result = plugin.run(task_vars=PYTHON)
    assert len(commands) == 1 and commands[0].startswith(sys.executable)
    assert result["changed"] is False and result["rows"], result
    assert {r["host"] for r in result["rows"]} == {"tm1"}
    by_check = {r["check"]: r for r in result["rows"]}
    assert by_check["closed 127.0.0.1:1"]["status"] == "fail"
    assert by_check["closed 127.0.0.1:1"]["detail"] == "not reachable from tm1: connection refused"
    assert by_check["lib/"]["status"] == "ok" and by_check["free space"]["status"] == "ok"


def test_option_problems_fail_before_anything_runs_with_empty_rows(tmp_path):
    plugin = make_action(ActionModule, {"flink_home": str(tmp_path), "needed_bytes": -1})
    result = plugin.run(task_vars=PYTHON)
    assert result["failed"] is True and result["changed"] is False and result["rows"] == []
    assert "needed_bytes must not be negative, got -1" in result["msg"]


def test_invalid_options_fail_with_empty_rows():
    result = make_action(ActionModule, {"timeout": "soon"}).run(task_vars=PYTHON)
    assert result["failed"] is True and result["rows"] == []
    assert "flink_home" in result["msg"]
