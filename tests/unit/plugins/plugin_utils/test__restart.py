"""The restart phase's rules: each host's restart method, and the batches TaskManagers restart in."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import FilterModule, restart_batches
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _restart


class HostVars(dict):
    """Like Ansible's HostVars: raw_get gives a host's variables untemplated."""

    def raw_get(self, host):
        return self[host]


DEFAULTS = {name: "" for kind in _restart.KINDS.values() for name in kind}


def test_per_host_restart_commands_satisfy_the_check():
    hostvars = HostVars(tm1={"flink_cdc_taskmanager_restart_command": "{{ flink_cdc_flink_home }}/bin/tm restart"},
                        tm2={"flink_cdc_taskmanager_restart_command": "{{ flink_cdc_flink_home }}/bin/tm restart"},
                        jm={"flink_cdc_jobmanager_service": "flink-jobmanager"})
    rows = _restart.method_rows(hostvars, ["tm1", "tm2"], ["jm"], DEFAULTS)
    assert [(r["area"], r["status"]) for r in rows] == [("TaskManager", "ok"), ("JobManager", "ok")]
    assert rows[0]["detail"] == "rolling restart with command: {{ flink_cdc_flink_home }}/bin/tm restart"
    assert rows[1]["detail"] == "rolling restart with systemd unit flink-jobmanager"


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


# --------------------------------------------------------------------------- batches

HOSTS = ["tm%02d" % i for i in range(1, 11)]


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


def test_the_filters():
    assert FilterModule().filters()["restart_batches"] is restart_batches
    assert restart_batches(["a", "b", "c"], 2) == [["a", "b"], ["c"]]
    assert restart_batches(None, 2) == []
    with pytest.raises(AnsibleFilterError, match="flink_cdc_restart_batch is 'x'"):
        restart_batches(["a"], "x")


# --------------------------------------------------------------------------- registration after a batch

BEFORE = {"host_matches": {"matched": {"tm1": ["127.0.0.2:40001-aaaaaa"], "tm2": ["127.0.0.3:40002-bbbbbb"]}}}


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


def test_the_registration_filters():
    from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import restart_missing, restart_records
    filters = FilterModule().filters()
    assert filters["restart_missing"] is restart_missing and filters["restart_records"] is restart_records
    assert restart_missing(None, ["tm1"], None) == ["tm1"]
    assert restart_records(["tm1"], BEFORE, None) == [{"host": "tm1", "old": ["127.0.0.2:40001-aaaaaa"], "new": []}]


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


def test_restart_targets_filter_reads_hostvars():
    from ansible_collections.cdcops.flink_cdc.plugins.filter.restart import restart_targets
    assert FilterModule().filters()["restart_targets"] is restart_targets
    hostvars = {"tm1": {"__flink_cdc_deploy": {"changed": True}}}
    assert restart_targets(hostvars, ["tm1", "gone"], ["tm1", "gone"], "")["taskmanagers"] == ["tm1"]
    assert restart_targets(hostvars, None, None, None) == {"taskmanagers": [], "jobmanagers": [], "jobmanager": False,
                                                           "why": {}}


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
    assert [(jm["host"], jm["role"], jm["own_url"]) for jm in order] == [
        ("jobmanager2", "standby", True), ("jobmanager", "leader", True)]
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
