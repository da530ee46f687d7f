"""The restart filters over plugins/plugin_utils/_restart.py: they read each host's variables, results and
restart method through the hostvars passed in (the values that host rendered, restart_method.yml's fact), never
ansible-core internals."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import FilterModule, restart_batches, restart_method
from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import restart_method_rows
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


ROLE = {"flink_cdc_taskmanager_restart_command": "", "flink_cdc_taskmanager_service": "",
        "flink_cdc_jobmanager_restart_command": "", "flink_cdc_jobmanager_service": ""}


def rendered(home, kind="taskmanager"):
    """What restart_method.yml records on a host whose flink_cdc_flink_home is ``home``."""
    return dict(ROLE, **{"flink_cdc_%s_restart_command" % kind:
                         "%s/bin/%s.sh stop && %s/bin/%s.sh start" % (home, kind, home, kind)})


class HostVarsVars(dict):
    """A host's variables as Ansible's hostvars[host] gives them: a mapping, each value rendered for that host."""


def test_rows_show_each_hosts_rendered_command():
    hostvars = {"tm1": HostVarsVars(__flink_cdc_restart_method=rendered("/srv/tm1")),
                "tm2": HostVarsVars(__flink_cdc_restart_method=rendered("/srv/tm2")),
                "jm": HostVarsVars(__flink_cdc_restart_method=rendered("/srv/jm", "jobmanager"))}
    tm, jm = restart_method_rows(hostvars, ["tm1", "tm2"], ["jm"], ROLE)
    assert tm["status"] == "ok" and tm["detail"] == (
        "rolling restart with tm1: command: /srv/tm1/bin/taskmanager.sh stop && /srv/tm1/bin/taskmanager.sh start; "
        "tm2: command: /srv/tm2/bin/taskmanager.sh stop && /srv/tm2/bin/taskmanager.sh start")
    assert jm["detail"] == ("rolling restart with command: /srv/jm/bin/jobmanager.sh stop && "
                            "/srv/jm/bin/jobmanager.sh start")
    assert "{{" not in tm["detail"] + jm["detail"]


def test_a_host_without_the_recorded_method_falls_back_to_the_role_values_or_is_named():
    hostvars = {"tm1": HostVarsVars(__flink_cdc_restart_method=rendered("/srv/tm1")), "tm2": HostVarsVars()}
    (row,) = restart_method_rows(hostvars, ["tm1", "tm2"], None, ROLE)
    assert row["status"] == "fail" and row["detail"].endswith("not set for tm2")
    (row,) = restart_method_rows(hostvars, ["tm1", "tm2"], [], dict(ROLE, flink_cdc_taskmanager_service="flink-tm"))
    assert row["status"] == "ok" and row["detail"] == (
        "rolling restart with tm1: command: /srv/tm1/bin/taskmanager.sh stop && /srv/tm1/bin/taskmanager.sh start; "
        "tm2: systemd unit flink-tm")
    # A host the hostvars do not know has no method.
    (row,) = restart_method_rows({}, ["tm9"], [], ROLE)
    assert row["detail"].endswith("not set for tm9")


def test_restart_method_is_the_one_resolution_the_restart_phase_runs():
    hostvars = {"jm": HostVarsVars(__flink_cdc_restart_method=dict(rendered("/srv/jm", "jobmanager"),
                                                                   flink_cdc_jobmanager_service="flink-jm"))}
    assert restart_method(hostvars, "jm", "jobmanager", ROLE) == {
        "command": "/srv/jm/bin/jobmanager.sh stop && /srv/jm/bin/jobmanager.sh start", "service": "flink-jm"}
    assert restart_method(hostvars, "jm", "taskmanager", dict(ROLE, flink_cdc_taskmanager_service="tm")) == {
        "command": "", "service": "tm"}
    assert restart_method({}, "tm1", "taskmanager", None) == {"command": "", "service": ""}
    with pytest.raises(AnsibleFilterError, match="kind is 'worker'; one of taskmanager, jobmanager"):
        restart_method(hostvars, "jm", "worker", ROLE)


def test_the_filters_are_registered():
    filters = FilterModule().filters()
    assert filters["restart_method"] is restart_method
    assert filters["restart_method_rows"] is restart_method_rows


def test_the_batch_and_jobmanager_filters():
    from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import (
        restart_batch_expected, restart_jobmanager_jars, restart_jobmanager_record, restart_missing, restart_old_ids,
        restart_records)
    filters = FilterModule().filters()
    for name, func in (("restart_batch_expected", restart_batch_expected), ("restart_old_ids", restart_old_ids),
                       ("restart_jobmanager_jars", restart_jobmanager_jars),
                       ("restart_jobmanager_record", restart_jobmanager_record)):
        assert filters[name] is func
    assert restart_batch_expected({"tm1": "a", "tm2": "b"}, ["tm2"]) == {"tm2": "b"}
    assert restart_old_ids({"host_matches": {"matched": {"tm1": ["x"]}}}, ["tm1"]) == ["x"]
    assert restart_old_ids(None, None) == []
    assert restart_missing({"skipped": True}, ["tm1"], [], True) == []
    lost = [{"host": "tm1", "kind": "TaskManager", "old": [], "new": [], "failed": "x"}]
    assert restart_records(["tm1"], None, None, False, lost) == lost
    hostvars = {"jm": HostVarsVars(__flink_cdc_deploy={"jars": [{"path": "/srv/jm/lib/a.jar"}]})}
    assert restart_jobmanager_jars(hostvars, {"host": "jm", "own_url": True}) == ["a.jar"]
    assert restart_jobmanager_jars(hostvars, {"host": "jm", "own_url": False}) == []
    assert restart_jobmanager_jars({}, {"host": "jm", "own_url": True}) == []
    record = restart_jobmanager_record({"host": "jm", "role": "unknown", "ha": False, "own_url": True}, None)
    assert record["host"] == "jm" and record["kind"] == "JobManager" and record["leader"] is None
