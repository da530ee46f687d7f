"""The restart filters over plugins/plugin_utils/_restart.py, reading each host's variables and results."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import FilterModule, restart_batches
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.restart_data import (
    BEFORE,
    BEFORE_3,
    FAILED_COMMAND,
    logs,
)


def test_the_filters():
    assert FilterModule().filters()["restart_batches"] is restart_batches
    assert restart_batches(["a", "b", "c"], 2) == [["a", "b"], ["c"]]
    assert restart_batches(None, 2) == []
    with pytest.raises(AnsibleFilterError, match="flink_cdc_restart_batch is 'x'"):
        restart_batches(["a"], "x")


def test_the_registration_filters():
    from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import restart_missing, restart_records
    filters = FilterModule().filters()
    assert filters["restart_missing"] is restart_missing and filters["restart_records"] is restart_records
    assert restart_missing(None, ["tm1"], None) == ["tm1"]
    assert restart_records(["tm1"], BEFORE, None) == [{"host": "tm1", "old": ["127.0.0.2:40001-aaaaaa"], "new": []}]


def test_restart_targets_filter_reads_hostvars():
    from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import restart_targets
    assert FilterModule().filters()["restart_targets"] is restart_targets
    hostvars = {"tm1": {"__flink_cdc_deploy": {"changed": True}}}
    assert restart_targets(hostvars, ["tm1", "gone"], ["tm1", "gone"], "")["taskmanagers"] == ["tm1"]
    assert restart_targets(hostvars, None, None, None) == {"taskmanagers": [], "jobmanagers": [], "jobmanager": False,
                                                           "why": {}}


def test_the_failure_filters_read_each_host():
    from ansible_collections.cdcops.flink_cdc.plugins.filter import restart as f
    filters = FilterModule().filters()
    for name in ("restart_launch", "restart_failures", "restart_stop", "restart_newest_log"):
        assert filters[name] is getattr(f, name)
    hostvars = {"tm1": {"__flink_cdc_restart_command_run": FAILED_COMMAND,
                        "__flink_cdc_restart_service_run": {"skipped": True}},
                "tm2": {"__flink_cdc_restart_command_run": {"changed": True, "rc": 0},
                        "__flink_cdc_restart_service_run": {"skipped": True},
                        "__flink_cdc_restart_log": logs("tm1")}}
    launched = f.restart_launch(hostvars, ["tm1", "tm2"], BEFORE_3)
    assert launched["started"] == ["tm2"] and list(launched["failed"]) == ["tm1"]
    records = f.restart_failures(hostvars, ["tm1", "tm2"], launched, ["tm2"], None, BEFORE_3, 30)
    assert [(r["host"], r["source"]) for r in records] == [
        ("tm1", "its output"), ("tm2", "/opt/flink/log/flink-flink-taskexecutor-0-tm1.log")]
    stop = f.restart_stop(hostvars, ["tm1", "tm2"], {"flink_version": "1.20.3"}, "Restart | Stop", "stopped",
                          records, records, ["tm1", "tm2"], False, "jm", "http://jm:8081")
    assert stop["msg"].startswith("tm1: the restart") and stop["rows"] == []
    assert f.restart_newest_log(None) == ""
