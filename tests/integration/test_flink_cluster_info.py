"""flink_cluster_info against the real bed: a Flink 1.20.3 JobManager and two TaskManagers."""

import socket

import bed as bed_mod

MODULE = "flink_cluster_info"


def test_returns_live_cluster(bed, ansible):
    bed_mod.job_start("cdcops-info-test")
    try:
        run = ansible.module(MODULE, {"url": bed["rest_url"],
                                      "expected_taskmanagers": {"tm1": "127.0.0.2", "tm2": "127.0.0.3",
                                                                "ghost": "127.0.0.9"}})
    finally:
        bed_mod.jobs_cancel()
    assert run.rc == 0, run
    res = run.result
    assert res["changed"] is False
    assert res["flink_version"] == "1.20.3" and res["flink_commit"]
    assert res["overview"]["taskmanagers"] == 2 and res["overview"]["slots-total"] == 4
    assert sorted(tm["host"] for tm in res["taskmanagers"]) == ["127.0.0.2", "127.0.0.3"]
    for tm in res["taskmanagers"]:
        assert tm["slots_total"] == 2 and tm["data_port"] > 0 and tm["last_heartbeat"] > 0
        assert tm["path"].startswith("pekko.tcp://flink@" + tm["host"] + ":")
    running = [j for j in res["jobs"] if j["state"] == "RUNNING"]
    assert [j["name"] for j in running] == ["cdcops-info-test"]
    assert sum(tm["slots_free"] for tm in res["taskmanagers"]) == 3
    assert res["jobmanager_config"]["rest.port"] == bed["rest_url"].rsplit(":", 1)[1]
    matches = res["host_matches"]
    assert sorted(matches["matched"]) == ["tm1", "tm2"]
    assert matches["missing"] == ["ghost"] and matches["unexpected"] == []


def test_check_mode_reads_the_same(bed, ansible):
    run = ansible.module(MODULE, {"url": bed["rest_url"]}, check=True)
    assert run.rc == 0, run
    assert run.result["changed"] is False
    assert run.result["overview"]["taskmanagers"] == 2


def test_unreachable_url_fails_clearly(ansible):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = ansible.module(MODULE, {"url": "http://127.0.0.1:%d" % port})
    assert run.rc != 0
    msg = run.result["msg"]
    assert "127.0.0.1:%d" % port in msg and "connection refused" in msg
    assert "Traceback" not in run.output


def test_unanswered_request_times_out_with_endpoint(ansible):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        run = ansible.module(MODULE, {"url": "http://127.0.0.1:%d" % port, "timeout": 2})
    assert run.rc != 0
    assert "timed out" in run.result["msg"] and "127.0.0.1:%d" % port in run.result["msg"]


def test_waiting_for_more_taskmanagers_gives_up_with_counts(bed, ansible):
    run = ansible.module(MODULE, {"url": bed["rest_url"], "wait_for_taskmanagers": 3,
                                  "wait_timeout": 4})
    assert run.rc != 0
    msg = run.result["msg"]
    assert "gave up after 4s" in msg
    assert "2 TaskManager(s) registered, 3 wanted" in msg
    assert len(run.result["taskmanagers"]) == 2


def test_waiting_for_free_slots_passes_when_met(bed, ansible):
    run = ansible.module(MODULE, {"url": bed["rest_url"], "wait_for_taskmanagers": 2,
                                  "min_free_slots": 4, "wait_timeout": 30})
    assert run.rc == 0, run
    assert sum(tm["slots_free"] for tm in run.result["taskmanagers"]) >= 4


def test_stopped_taskmanager_is_noticed(bed, ansible):
    expected = {"tm1": "127.0.0.2", "tm2": "127.0.0.3"}
    bed_mod.stop_taskmanager("127.0.0.3")
    try:
        run = ansible.module(MODULE, {"url": bed["rest_url"], "expected_taskmanagers": expected})
        assert run.rc == 0, run
        assert [tm["host"] for tm in run.result["taskmanagers"]] == ["127.0.0.2"]
        assert run.result["host_matches"]["missing"] == ["tm2"]
        waited = ansible.module(MODULE, {"url": bed["rest_url"], "wait_for_taskmanagers": 2,
                                         "wait_timeout": 3})
        assert waited.rc != 0 and "1 TaskManager(s) registered, 2 wanted" in waited.result["msg"]
    finally:
        bed_mod.start_taskmanager("127.0.0.3")
    run = ansible.module(MODULE, {"url": bed["rest_url"], "wait_for_taskmanagers": 2,
                                  "wait_timeout": 60, "expected_taskmanagers": expected})
    assert run.rc == 0, run
    assert run.result["host_matches"]["missing"] == []


def test_non_flink_endpoints_are_named(ansible, maven_repo):
    run = ansible.module(MODULE, {"url": maven_repo.url})
    assert run.rc != 0
    assert "is not a Flink REST API" in run.result["msg"] and "404" in run.result["msg"]
    maven_repo.set_fault("/overview", mode="html")
    run = ansible.module(MODULE, {"url": maven_repo.url})
    assert run.rc != 0
    assert "is not a Flink REST API" in run.result["msg"] and "text/html" in run.result["msg"]


def test_password_never_in_output(ansible, maven_repo):
    maven_repo.require(auth="ops:Right-Pass")
    secret = "Wr0ng-Pa55-x9"
    run = ansible.module(MODULE, {"url": maven_repo.url, "url_username": "ops",
                                  "url_password": secret}, verbosity=3)
    assert run.rc != 0
    assert "HTTP 401" in run.result["msg"]
    assert secret not in run.output
