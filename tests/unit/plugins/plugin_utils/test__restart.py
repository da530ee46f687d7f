"""The restart phase's rules: each host's restart method, and the batches TaskManagers restart in."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _report_rows as rr
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _restart
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.restart_data import (
    BEFORE,
    BEFORE_3,
    DEFAULTS,
    FAILED_COMMAND,
    HOSTS,
    logs,
)


class HostVars(dict):
    """Each host's restart variables as that host rendered them (the role's restart_method.yml records them)."""


def test_per_host_restart_commands_satisfy_the_check():
    # The same command in the inventory, "{{ flink_cdc_flink_home }}/bin/tm restart", rendered on each host with its
    # own Flink home: the row shows each host's command as it will run (it showed the raw Jinja before).
    hostvars = HostVars(tm1={"flink_cdc_taskmanager_restart_command": "/opt/flink-a/bin/tm restart"},
                        tm2={"flink_cdc_taskmanager_restart_command": "/opt/flink-b/bin/tm restart"},
                        jm={"flink_cdc_jobmanager_service": "flink-jobmanager"})
    rows = _restart.method_rows(hostvars, ["tm1", "tm2"], ["jm"], DEFAULTS)
    assert [(r["area"], r["status"]) for r in rows] == [("TaskManager", "ok"), ("JobManager", "ok")]
    assert rows[0]["detail"] == ("rolling restart with tm1: command: /opt/flink-a/bin/tm restart; "
                                 "tm2: command: /opt/flink-b/bin/tm restart")
    assert rows[1]["detail"] == "rolling restart with systemd unit flink-jobmanager"


def test_one_command_for_every_host_is_shown_once():
    hostvars = HostVars(tm1={"flink_cdc_taskmanager_restart_command": "/opt/flink/bin/tm restart"},
                        tm2={"flink_cdc_taskmanager_restart_command": "/opt/flink/bin/tm restart"})
    (row,) = _restart.method_rows(hostvars, ["tm1", "tm2"], [], DEFAULTS)
    assert row == rr.row("controller", "TaskManager", "restart method", "ok",
                         "rolling restart with command: /opt/flink/bin/tm restart")


def test_method_takes_the_command_over_the_service_and_the_role_values_last():
    own = {"flink_cdc_jobmanager_restart_command": "", "flink_cdc_jobmanager_service": "flink-jm"}
    assert _restart.method(own, "jobmanager", DEFAULTS) == {"command": "", "service": "flink-jm"}
    assert _restart.shown(_restart.method(own, "jobmanager", DEFAULTS)) == "systemd unit flink-jm"
    role = dict(DEFAULTS, flink_cdc_jobmanager_restart_command="/opt/flink/bin/jm restart")
    found = _restart.method(own, "jobmanager", role)
    assert found == {"command": "/opt/flink/bin/jm restart", "service": "flink-jm"}
    assert _restart.shown(found) == "command: /opt/flink/bin/jm restart"
    assert _restart.method(None, "taskmanager", DEFAULTS) == {"command": "", "service": ""}
    assert _restart.shown({"command": "", "service": ""}) == ""


def test_hosts_without_a_method_are_named():
    hostvars = HostVars(tm1={"flink_cdc_taskmanager_service": "flink-tm"}, tm2={}, jm={})
    rows = _restart.method_rows(hostvars, ["tm1", "tm2"], ["jm"], DEFAULTS)
    assert [r["status"] for r in rows] == ["fail", "fail"]
    assert rows[0]["detail"].endswith("not set for tm2")
    assert "flink_cdc_jobmanager_restart_command" in rows[1]["detail"] and rows[1]["detail"].endswith("not set for jm")


def test_role_values_are_the_fallback_and_the_jobmanager_is_skipped_without_jars():
    defaults = dict(DEFAULTS, flink_cdc_taskmanager_restart_command="restart-tm")
    rows = _restart.method_rows(HostVars(tm1={}, jm={}), ["tm1"], ["jm"], defaults, deploy_to_jobmanager=False)
    assert [(r["area"], r["status"]) for r in rows] == [("TaskManager", "ok")]


def test_different_methods_per_host_are_listed():
    hostvars = HostVars(tm1={"flink_cdc_taskmanager_restart_command": "a"},
                        tm2={"flink_cdc_taskmanager_service": "b"})
    rows = _restart.method_rows(hostvars, ["tm1", "tm2"], [], DEFAULTS)
    assert rows[0]["detail"] == "rolling restart with tm1: command: a; tm2: systemd unit b"


@pytest.mark.parametrize("batch, sizes", [
    (1, [1] * 10), ("1", [1] * 10), (4, [4, 4, 2]), ("25%", [3, 3, 3, 1]), ("100%", [10]), ("10%", [1] * 10),
    ("1%", [1] * 10), (" 50% ", [5, 5]), (12, [10]), ("33.3%", [4, 4, 2]),
])
def test_batches(batch, sizes):
    got = _restart.batches(HOSTS, batch)
    assert [len(b) for b in got] == sizes
    assert [h for b in got for h in b] == HOSTS  # every host once, in order


def test_batches_are_one_host_while_jobs_keep_running():
    assert _restart.batches(HOSTS[:3], "100%", one_at_a_time=True) == [["tm01"], ["tm02"], ["tm03"]]


def test_batches_of_no_host():
    assert _restart.batches([], "25%") == []


@pytest.mark.parametrize("batch", [0, "0", -1, "0%", "101%", "a quarter", "", None, "%"])
def test_a_batch_it_cannot_read_names_the_variable(batch):
    with pytest.raises(ValueError) as exc:
        _restart.batches(HOSTS, batch)
    assert str(exc.value) == ("flink_cdc_restart_batch is %r; give a number of TaskManagers (4) or a percentage of "
                              "those to restart (25%%), at least 1" % (batch,))


def test_missing_and_records_after_a_batch():
    after = {"host_matches": {"matched": {"tm1": ["127.0.0.2:40011-cccccc"], "tm2": ["127.0.0.3:40002-bbbbbb"]}}}
    old = ["127.0.0.2:40001-aaaaaa", "127.0.0.3:40002-bbbbbb"]
    assert _restart.missing(after, ["tm1", "tm2"], old) == ["tm2"]
    assert _restart.records(["tm1", "tm2"], BEFORE, after) == [
        {"host": "tm1", "old": ["127.0.0.2:40001-aaaaaa"], "new": ["127.0.0.2:40011-cccccc"]},
        {"host": "tm2", "old": ["127.0.0.3:40002-bbbbbb"], "new": []}]


def test_missing_of_a_failed_wait_is_every_host():
    assert _restart.missing({"failed": True, "msg": "timed out"}, ["tm1", "tm2"], []) == ["tm1", "tm2"]


def test_records_in_check_mode_have_no_new_ids():
    after = {"host_matches": {"matched": {"tm1": ["127.0.0.2:40011-cccccc"]}}}
    assert _restart.records(["tm1"], BEFORE, after, check_mode=True) == [
        {"host": "tm1", "old": ["127.0.0.2:40001-aaaaaa"], "new": []}]


# --------------------------------------------------------------------------- what to restart

def test_restart_targets_are_changed_jars_and_processes_older_than_their_lib():
    facts = {
        "tm1": {"__flink_cdc_deploy": {"changed": True}, "__flink_cdc_host_check": {"restart_pending": []}},
        "tm2": {"__flink_cdc_deploy": {"changed": False}, "__flink_cdc_host_check": {"restart_pending": ["taskmanager"]}},
        "tm3": {"__flink_cdc_deploy": {"changed": False}, "__flink_cdc_host_check": {"restart_pending": []}},
        "tm4": {},
        "jm": {"__flink_cdc_deploy": {"changed": False},
               "__flink_cdc_host_check": {"restart_pending": ["jobmanager", "taskmanager"]}},
    }
    got = _restart.to_restart(["jm", "tm1", "tm2", "tm3", "tm4"], lambda h, n: facts[h].get(n),
                              ["tm1", "tm2", "tm3", "tm4"], "jm")
    assert got == {"taskmanagers": ["tm1", "tm2"], "jobmanagers": ["jm"], "jobmanager": True,
                   "why": {"tm1 taskmanager": "its jars changed",
                           "tm2 taskmanager": "it started before lib/ last changed",
                           "jm jobmanager": "it started before lib/ last changed"}}


def test_restart_targets_of_a_host_that_is_both():
    facts = {"h1": {"__flink_cdc_deploy": {"changed": True}}}
    got = _restart.to_restart(["h1"], lambda h, n: facts[h].get(n), ["h1"], "h1")
    assert got["taskmanagers"] == ["h1"] and got["jobmanager"] is True


def test_restart_targets_with_several_jobmanagers_takes_each_whose_lib_changed():
    facts = {"jm1": {"__flink_cdc_deploy": {"changed": True}}, "jm2": {"__flink_cdc_deploy": {"changed": False}},
             "jm3": {"__flink_cdc_host_check": {"restart_pending": ["jobmanager"]}}}
    got = _restart.to_restart(["jm1", "jm2", "jm3"], lambda h, n: facts[h].get(n), [], ["jm1", "jm2", "jm3"])
    assert got["jobmanagers"] == ["jm1", "jm3"] and got["jobmanager"] is True and got["taskmanagers"] == []


# flink_cluster_info's jobmanagers on the bed's HA cluster (tests/bed/bed.py up --ha), the leader 127.0.0.1.
HA_CLUSTER = {"ha_mode": "zookeeper", "leader": "http://127.0.0.1:18081", "jobmanagers": [
    {"url": "http://127.0.0.1:18081", "role": "leader"}, {"url": "http://127.0.2.1:18081", "role": "standby"}]}
HA_URLS = "http://ops:secret@127.0.0.1:18081,http://ops:secret@127.0.2.1:18081"


def test_jobmanagers_restart_standbys_first_and_the_leader_last_each_waited_for_on_its_own_url():
    from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import restart_jobmanager_order
    hostvars = {"jobmanager": {"ansible_host": "127.0.0.1"}, "jobmanager2": {"ansible_host": "127.0.2.1"}}
    order = restart_jobmanager_order(hostvars, ["jobmanager", "jobmanager2"], HA_URLS, HA_CLUSTER)
    assert [(jm["host"], jm["role"], jm["own_url"], jm["ha"]) for jm in order] == [
        ("jobmanager2", "standby", True, True), ("jobmanager", "leader", True, True)]
    # The URLs as given (credentials kept for the module), the host's own first.
    assert order[0]["urls"] == ["http://ops:secret@127.0.2.1:18081", "http://ops:secret@127.0.0.1:18081"]
    assert order[1]["urls"] == ["http://ops:secret@127.0.0.1:18081", "http://ops:secret@127.0.2.1:18081"]


def test_a_jobmanager_no_url_names_keeps_its_place_and_is_marked():
    order = _restart.jobmanager_order(["jm-a", "jm-b"], lambda h: h, ["http://flink-vip:8081"],
                                      {"ha_mode": "zookeeper", "jobmanagers": [{"url": "http://flink-vip:8081",
                                                                                "role": "leader"}]})
    assert [(jm["host"], jm["role"], jm["own_url"], jm["urls"]) for jm in order] == [
        ("jm-a", "unknown", False, ["http://flink-vip:8081"]), ("jm-b", "unknown", False, ["http://flink-vip:8081"])]


def test_jobs_are_at_risk_unless_only_the_jobmanagers_of_an_ha_cluster_restart():
    jobs = [{"name": "orders", "state": "RUNNING"}]
    assert _restart.jobs_at_risk(jobs, "none", []) == jobs  # a JobManager without HA cancels its jobs
    assert _restart.jobs_at_risk(jobs, "zookeeper", ["tm1"]) == jobs  # tasks fail with their TaskManager
    assert _restart.jobs_at_risk(jobs, "zookeeper", []) == []  # the next leader recovers them


def test_launch_sorts_the_batch_into_started_and_failed():
    results = {"tm1": [{"changed": True, "rc": 0}, {"skipped": True}],
               "tm2": [FAILED_COMMAND, {"skipped": True}],
               "tm3": [{"skipped": True}, {"failed": True, "msg": "Unit flink-tm.service not found."}]}
    launched = _restart.launch(["tm1", "tm2", "tm3"], results.get, BEFORE_3)
    assert launched["started"] == ["tm1"]
    assert sorted(launched["failed"]) == ["tm2", "tm3"]
    # The last 20 lines of stdout then stderr; a service restart that failed without output: its message.
    output = launched["failed"]["tm2"]["output"]
    assert len(output) == _restart.TAIL_LINES and output[-1] == "[ERROR] The execution result is empty."
    assert output[-2] == "Caused by: IllegalConfigurationException" and output[0] == "INFO line 12"
    assert launched["failed"]["tm2"]["rc"] == 1
    assert launched["failed"]["tm3"] == {"rc": None, "output": ["Unit flink-tm.service not found."]}
    # The wait counts the TaskManagers that can come back: not tm2's and tm3's.
    assert launched["wait_for"] == 1


def test_launch_of_a_batch_that_started():
    launched = _restart.launch(["tm1", "tm2"], lambda host: [{"changed": True}, {"skipped": True}], BEFORE_3)
    assert launched == {"started": ["tm1", "tm2"], "failed": {}, "wait_for": 3}


def test_failures_name_the_cause_and_keep_the_lines():
    launched = {"started": ["tm1", "tm3"], "failed": {"tm2": {"rc": 1, "output": ["Caused by: x"]}}, "wait_for": 2}
    after = {"failed": True, "msg": "gave up after 45s waiting for the Flink cluster at http://jm:8081: 1 "
                                    "TaskManager(s) registered, 2 wanted"}
    records = _restart.failures(["tm1", "tm2", "tm3", "tm4"], launched, ["tm1", "tm3"], after, logs, BEFORE_3, 45)
    assert [r["host"] for r in records] == ["tm1", "tm2", "tm3"]
    tm1, tm2, tm3 = records
    assert tm1["failed"] == ("its TaskManager did not register with the JobManager again within "
                             "flink_cdc_restart_timeout (45 s) after its restart (%s)" % after["msg"])
    assert tm1["source"] == "/opt/flink/log/flink-flink-taskexecutor-0-tm1.log" and "127.0.0.99" in tm1["lines"][0]
    assert tm1["old"] == ["a"] and tm1["new"] == [] and tm1["kind"] == "TaskManager"
    assert tm2["failed"] == "the restart command of its TaskManager failed (rc 1)"
    assert tm2["source"] == "its output" and tm2["lines"] == ["Caused by: x"]
    assert tm3["source"] == "" and tm3["log_dir"] == "/opt/flink/log"


def test_the_failure_message_says_what_was_done_and_what_to_run():
    failed = _restart.failures(["tm2"], {"started": ["tm2"], "failed": {}}, ["tm2"], {}, lambda h: {
        "dir": "/opt/flink/log", "path": "/opt/flink/log/tm.log", "lines": ["line 1", "line 2"]}, BEFORE_3, 180)
    restarted = [{"host": "tm1", "old": ["a"], "new": ["d"]}] + failed
    message = _restart.failure_message(failed, restarted, ["tm1", "tm2", "tm3"], True, "jm", ["orders"])
    assert message.splitlines()[:3] == [
        "tm2: its TaskManager did not register with the JobManager again within flink_cdc_restart_timeout (180 s) "
        "after its restart. Last 2 lines of /opt/flink/log/tm.log:", "  line 1", "  line 2"]
    summary = message.splitlines()[-1]
    assert summary.startswith("The rolling restart stopped there. Restarted with the new jars: tm1. "
                              "Not restarted: tm3, and the JobManager jm. The pipelines suspended for the restart "
                              "(orders) stay suspended with their savepoints. Fix the cause on tm2 (above)")
    assert summary.endswith("then run the play again: it restarts only the processes that do not run the jars of "
                            "their lib/, and resumes the suspended pipelines.")


def test_the_failure_message_of_a_command_and_of_a_missing_log():
    failed = [{"host": "tm1", "failed": "the restart command of its TaskManager failed (rc 1)",
               "source": "its output", "lines": ["boom"]},
              {"host": "tm2", "failed": "its TaskManager did not register", "source": "", "lines": [],
               "log_dir": "/opt/flink/log"}]
    message = _restart.failure_message(failed, failed, ["tm1", "tm2"], False, "jm")
    assert "tm1: the restart command of its TaskManager failed (rc 1). Last 1 lines of its output:\n  boom" in message
    assert "tm2: its TaskManager did not register. No TaskManager log (flink-*-taskexecutor-*.log) in " \
           "/opt/flink/log." in message
    assert "Restarted with the new jars: none. Nothing else was to be restarted. Fix the cause on tm1, tm2" in message


def test_newest_log():
    files = [{"path": "/l/flink-a-taskexecutor-0-h.log", "mtime": 10.0},
             {"path": "/l/flink-a-taskexecutor-1-h.log", "mtime": 20.0}]
    assert _restart.newest_log(files) == "/l/flink-a-taskexecutor-1-h.log"
    assert _restart.newest_log([]) == ""


# --------------------------------------------------------------------------- why the restart phase stopped

DEPLOYS = {"jm": {"changed": True, "jars": [{"path": "/opt/flink/lib/a.jar"}]},
           "tm1": {"changed": False, "jars": [{"path": "/opt/flink/lib/a.jar"}]},
           "tm2": {"failed": True, "msg": "404"}, "tm3": {"skipped": True}}


def test_jars_in_place():
    assert _restart.jars_in_place(["jm", "tm1", "tm2", "tm3", "tm4"], DEPLOYS.get) == ["jm", "tm1"]


def test_stop_when_the_jobmanager_no_longer_answers_names_it_and_what_was_done():
    # Killed while tm2's batch waited: tm1 was restarted, tm2's process was restarted but could not register.
    unreachable = {"msg": "cannot reach the Flink REST API at http://jm:8081/overview: connection refused"}
    failed = [{"host": "tm2", "kind": "TaskManager", "failed": "its TaskManager did not register", "source": "/l/x.log",
               "lines": ["a"]}]
    restarted = [{"host": "tm1", "old": ["a"], "new": ["b"]}] + failed
    stop = _restart.stop(unreachable, "Restart | Stop when a TaskManager did not come back", "tm2 did not come back",
                         failed, restarted, ["tm1", "tm2", "tm3"], True, "jm", "http://jm:8081",
                         ["jm", "tm1", "tm2", "tm3"], ["orders"])
    assert stop["msg"] == (
        "The JobManager jm (http://jm:8081) stopped answering during the restart phase, at 'Restart | Stop when a "
        "TaskManager did not come back': cannot reach the Flink REST API at http://jm:8081/overview: connection "
        "refused. Done so far: the new jars are in lib/ on jm, tm1, tm2, tm3; restarted with them: tm1, tm2 (tm2 not "
        "registered again: no JobManager to register with). Not restarted: tm3, and the JobManager jm. The pipelines "
        "suspended for the restart (orders) stay suspended with their savepoints. Start the JobManager on jm "
        "(flink_cdc_jobmanager_restart_command or its service) and wait until the TaskManagers have registered with "
        "it again, then run the play again: it installs no jar that is already in place and restarts only the "
        "processes that do not run the jars of their lib/, and resumes the suspended pipelines.")
    (row,) = stop["rows"]
    assert (row["host"], row["area"], row["check"], row["status"]) == ("jm", "JobManager", "reachable", "fail")
    assert row["line"].startswith("jm: JobManager reachable: stopped answering during the restart phase")


def test_stop_when_the_jobmanager_died_before_any_restart():
    stop = _restart.stop({"failed": False, "msg": "connection refused"}, "Restart | Read running jobs", "x", [], [],
                         ["tm1", "tm2"], True, "jm", "http://jm:8081", ["jm", "tm1", "tm2"])
    assert "restarted with them: none. Not restarted: tm1, tm2, and the JobManager jm." in stop["msg"]
    # A restart command that failed did not restart its host.
    failed = [{"host": "tm1", "failed": "the restart command failed", "source": "its output", "lines": []}]
    stop = _restart.stop({}, "t", "x", failed, failed, ["tm1"], False, "jm", "u", [])
    assert "the new jars are in lib/ on none; restarted with them: none. Not restarted: tm1." in stop["msg"]


def test_stop_when_the_jobmanager_answers():
    answering = {"flink_version": "1.20.3"}
    failed = [{"host": "tm1", "failed": "the restart command failed", "source": "its output", "lines": ["boom"]}]
    assert _restart.stop(answering, "t", "x", failed, failed, ["tm1"], False, "jm", "u", [])["msg"] == \
        _restart.failure_message(failed, failed, ["tm1"], False, "jm")
    # Any other failure keeps its own message.
    refused = "Refusing to restart TaskManagers (tm1): 1 job(s) ... run."
    assert _restart.stop(answering, "Restart | Refuse", refused, [], [], ["tm1"], False, "jm", "u", []) == {
        "msg": refused, "rows": []}


def test_a_lone_jobmanager_without_ha_restarts_with_the_row_it_always_had():
    """Without high availability the one JobManager leads itself: its restart row keeps the plain wording."""
    (jm,) = _restart.jobmanager_order(["jobmanager"], lambda h: "127.0.0.1", ["http://127.0.0.1:18081"], {
        "ha_mode": "none", "jobmanagers": [{"url": "http://127.0.0.1:18081", "role": "leader"}]})
    assert jm["role"] == "leader" and jm["ha"] is False
    (row,) = rr.restart_rows([], [{"host": "jobmanager", "kind": "JobManager", "role": jm["role"], "ha": jm["ha"],
                                   "own_url": True, "taskmanagers": 2}], True, "jobmanager", False)
    assert row["detail"] == "restarted; its classpath holds the new jars, 2 TaskManager(s) registered again"


# --------------------------------------------------------------------------- a batch's waits and records, a JobManager's

def test_batch_expected_and_old_ids_are_the_batchs_own():
    expected = {"tm1": "127.0.0.2", "tm2": "127.0.0.3", "tm3": "127.0.0.4"}
    assert _restart.batch_expected(expected, ["tm3", "tm1"]) == {"tm1": "127.0.0.2", "tm3": "127.0.0.4"}
    assert _restart.batch_expected(None, ["tm1"]) == {} and _restart.batch_expected(expected, None) == {}
    before = {"host_matches": {"matched": {"tm1": ["a1", "a2"], "tm2": ["b1"], "tm3": []}}}
    assert _restart.old_ids(before, ["tm1", "tm3"]) == ["a1", "a2"]
    assert _restart.old_ids(before, ["tm2"]) == ["b1"]
    # A skipped read (check mode, an earlier failure) has no matches.
    assert _restart.old_ids({"skipped": True}, ["tm1"]) == [] and _restart.old_ids(None, ["tm1"]) == []


def test_missing_in_check_mode_is_nobody():
    # The wait is skipped in check mode: its skipped result would otherwise make every started host missing.
    assert _restart.missing({"skipped": True}, ["tm1", "tm2"], [], check_mode=True) == []
    assert _restart.missing({"skipped": True}, ["tm1", "tm2"], []) == ["tm1", "tm2"]
    assert _restart.missing({"skipped": True}, [], []) == []


def test_records_put_the_lost_hosts_failure_records_after_the_others():
    after = {"host_matches": {"matched": {"tm1": ["127.0.0.2:40011-cccccc"]}}}
    lost = [{"host": "tm2", "kind": "TaskManager", "old": ["127.0.0.3:40002-bbbbbb"], "new": [],
             "failed": "its TaskManager did not register with the JobManager again"}]
    assert _restart.records(["tm2", "tm1"], BEFORE, after, lost=lost) == [
        {"host": "tm1", "old": ["127.0.0.2:40001-aaaaaa"], "new": ["127.0.0.2:40011-cccccc"]}] + lost
    assert _restart.records(["tm1"], BEFORE, after, True, []) == [
        {"host": "tm1", "old": ["127.0.0.2:40001-aaaaaa"], "new": []}]


def test_jobmanager_jars_are_its_deploys_jars_read_on_its_own_url_only():
    deploy = {"changed": True, "jars": [{"path": "/opt/flink/lib/flink-sql-connector-postgres-cdc-3.5.0.jar"},
                                        {"path": "/opt/flink/lib/flink-connector-starrocks-1.2.10_flink-1.19.jar"},
                                        {"name": "no path"}]}
    assert _restart.jobmanager_jars(deploy, True) == ["flink-sql-connector-postgres-cdc-3.5.0.jar",
                                                      "flink-connector-starrocks-1.2.10_flink-1.19.jar"]
    assert _restart.jobmanager_jars(deploy, False) == []
    assert _restart.jobmanager_jars(None, True) == [] and _restart.jobmanager_jars({"skipped": True}, True) == []


def test_jobmanager_record_of_a_restart_and_of_check_mode():
    jm = {"host": "jobmanager", "role": "leader", "ha": True, "own_url": True, "urls": ["http://127.0.0.1:18081"]}
    after = {"leader": "http://127.0.2.1:18081", "taskmanagers": [{"id": "a"}, {"id": "b"}]}
    assert _restart.jobmanager_record(jm, after) == {
        "host": "jobmanager", "kind": "JobManager", "role": "leader", "ha": True, "own_url": True, "old": [],
        "new": [], "leader": "http://127.0.2.1:18081", "taskmanagers": 2}
    skipped = _restart.jobmanager_record(jm, {"skipped": True, "changed": False})
    assert skipped["leader"] is None and skipped["taskmanagers"] == 0
    assert _restart.jobmanager_record(jm, None)["taskmanagers"] == 0
