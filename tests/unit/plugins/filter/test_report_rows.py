"""The report-row filters over plugins/plugin_utils/_report_rows.py, reading each host's results."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter import report_rows as filters
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _report_rows as rr
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.report_rows_data import (
    HOST_CHECK,
    JM,
    URL,
    jar,
)


# --- the filters: per-host inputs come from hostvars

class HostVars(dict):
    """hostvars as a filter sees it: a mapping of host -> its variables."""


def test_preflight_rows_filter_computes_each_hosts_rows_from_its_host_check():
    # tm1 got jars (its host check ran), tm2 is a TaskManager whose check was skipped, jobmanager is in no group.
    hostvars = HostVars(tm1={"__flink_cdc_host_check": HOST_CHECK}, tm2={"__flink_cdc_host_check": {"skipped": True}},
                        jobmanager={})
    hosts = ["tm1", "tm2", "jobmanager"]
    rows = filters.preflight_rows(JM, hostvars, URL, None, "", [], [], hosts, hosts, ["tm1", "tm2"],
                                  {"tm1": "127.0.0.2", "tm2": "127.0.0.3"})
    assert [r for r in rows if r["host"] == "tm1"] == [
        dict(r, line=rr.line(r)) for r in rr.host_rows("tm1", True, True, JM, "127.0.0.2", URL, HOST_CHECK)]
    assert [r for r in rows if r["host"] == "tm2"] == [
        dict(r, line=rr.line(r)) for r in rr.host_rows("tm2", True, False, JM, "127.0.0.3", URL, None)]
    assert not [r for r in rows if r["host"] == "jobmanager" and r["area"] != "JobManager"]
    # A host check that failed to run still gives that host its failed rows.
    failed_check = {"failed": True, "msg": "boom"}
    failed = HostVars(tm1={"__flink_cdc_host_check": failed_check})
    got = filters.preflight_rows(JM, failed, URL, None, "", [], [], ["tm1"], ["tm1"], ["tm1"], {"tm1": "127.0.0.2"})
    want = rr.host_rows("tm1", True, True, JM, "127.0.0.2", URL, failed_check)
    assert [r["status"] for r in got if r["host"] == "tm1"] == [r["status"] for r in want]


def test_an_unreachable_host_is_named_with_its_connection_and_ansibles_error():
    """A host Ansible could not connect to registers its result like any other: "unreachable" and Ansible's msg."""
    unreachable = {"unreachable": True, "changed": False,
                   "msg": "Task failed: Failed to connect to the host via ssh: ssh: connect to host 10.0.0.13 port 2222: "
                          "Connection timed out"}
    hostvars = HostVars(tm1={"__flink_cdc_host_check": HOST_CHECK},
                        tm3={"__flink_cdc_host_check": unreachable, "ansible_host": "10.0.0.13", "ansible_port": 2222})
    rows = filters.preflight_rows(JM, hostvars, URL, None, "", [], [], ["tm1", "tm3"], ["tm1"], ["tm1", "tm3"],
                                  {"tm1": "127.0.0.2", "tm3": "10.0.0.13"})
    (gone,) = [r for r in rows if r["host"] == "tm3"]
    assert gone["status"] == "fail" and gone["area"] == "TaskManager" and gone["check"] == "reachable"
    assert gone["line"].startswith(
        "tm3: TaskManager reachable: Ansible cannot reach tm3 (ssh to 10.0.0.13:2222): Failed to connect to the host "
        "via ssh: ssh: connect to host 10.0.0.13 port 2222: Connection timed out. Fix: start the host"), gone["line"]
    assert "ansible_host, ansible_port and ansible_user" in gone["detail"]
    # A host that left the play before its preflight check (no result of its own) keeps the row that says so.
    hostvars["tm3"] = {}
    rows = filters.preflight_rows(JM, hostvars, URL, None, "", [], [], ["tm1", "tm3"], ["tm1"], ["tm1", "tm3"], {})
    assert [r["line"] for r in rows if r["host"] == "tm3"] == ["tm3: TaskManager host: unreachable or failed before preflight"]


def test_host_rows_filter():
    rows = filters.host_rows(HOST_CHECK, "tm1", True, True, JM, {"tm1": "127.0.0.2"}, URL)
    assert rows[0] == rr.row("tm1", "TaskManager", "registered", "ok", "as 127.0.0.2 (tm-a)")


def test_deploy_rows_filter_reads_each_hosts_deploy_from_hostvars():
    hostvars = HostVars(tm1={"__flink_cdc_deploy": {"changed": True, "jars": [jar("a-1.jar", True)]}}, tm2={})
    rows = filters.deploy_rows(hostvars, ["tm1", "tm2"], ["tm1"], [], False, "jobmanager", True)
    assert [(r["host"], r["status"], r["detail"]) for r in rows] == [
        ("tm1", "changed", "would install: a-1.jar"),
        ("tm1", "warn", "jars changed; restart this TaskManager to load them (flink_cdc_restart=rolling does it)")]


def test_report_summary_filter_and_bad_input():
    assert filters.report_summary([], None, None, "", False) == [
        "Flink CDC readiness: 0 ok, 0 changed, 0 warning(s), 0 failed"]
    with pytest.raises(AnsibleFilterError):
        filters.report_summary("not rows")
