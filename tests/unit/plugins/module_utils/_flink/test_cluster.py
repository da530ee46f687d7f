"""Parsing, host matching and waiting, replayed from a real Flink 1.20.3 (tests/bed/record_fixtures.py).

The tests of several JobManagers (high availability) find the leader and fail over against loopback servers that
replay what the two JobManagers of the bed's HA cluster answered (tests/bed/bed.py up --ha, Flink 1.20.3;
tests/unit/fixtures/flink_ha).
"""

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import cluster as fc
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import FlinkRestError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.cluster import (
    ha_mode,
    jobmanagers,
    leader_blob_port,
    parse_config,
    snapshot,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import FlinkRestClient
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.fake_clock import FakeClock

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "flink")


def recorded(path):
    name = "flink-1.20.3%s.json" % path.replace("/", "_")
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)["body"]


class Replay:
    """A client that answers from the recorded bodies."""

    def overview(self):
        return recorded("/overview")

    def taskmanagers(self):
        return recorded("/taskmanagers")["taskmanagers"]

    def jobs(self):
        return recorded("/jobs/overview")["jobs"]

    def jobmanager_config(self):
        return recorded("/jobmanager/config")


@pytest.mark.parametrize("path, host", [
    ("pekko.tcp://flink@127.0.0.2:41321/user/rpc/taskmanager_0", "127.0.0.2"),
    ("akka.tcp://flink@tm-1.example.com:6122/user/rpc/taskmanager_0", "tm-1.example.com"),
    ("pekko.ssl.tcp://flink@10.0.0.7:6122/user/rpc/taskmanager_0", "10.0.0.7"),
    ("pekko.tcp://flink@[fd00::7]:6122/user/rpc/taskmanager_0", "fd00::7"),
    ("akka://flink/user/rpc/taskmanager_0", None),
    ("", None),
    (None, None),
])
def test_taskmanager_host_from_path(path, host):
    assert fc.taskmanager_host(path) == host


def test_snapshot_from_recorded_cluster():
    snap = fc.snapshot(Replay(), now_ms=None)
    assert snap["flink_version"] == "1.20.3"
    assert snap["flink_commit"] == "01e3a6d"
    assert snap["overview"]["taskmanagers"] == 2
    hosts = sorted(tm["host"] for tm in snap["taskmanagers"])
    assert hosts == ["127.0.0.2", "127.0.0.3"]
    for tm in snap["taskmanagers"]:
        assert tm["slots_total"] == 2
        assert tm["id"].startswith(tm["host"] + ":")
        assert tm["data_port"] > 0
        assert tm["cpu_cores"] >= 1
        assert tm["physical_memory"] > 0
    # The recorded job runs with parallelism 1: one slot taken in the whole cluster.
    assert sum(tm["slots_free"] for tm in snap["taskmanagers"]) == 3
    running = [j for j in snap["jobs"] if j["state"] == "RUNNING"]
    assert [j["name"] for j in running] == ["cdcops-fixture-job"]
    assert len(running[0]["id"]) == 32
    assert snap["jobmanager_config"]["rest.port"] == "18081"


def test_heartbeat_is_epoch_ms_not_a_duration():
    tm = recorded("/taskmanagers")["taskmanagers"][0]
    last = tm["timeSinceLastHeartbeat"]
    parsed = fc.parse_taskmanager(tm, now_ms=last + 2500)
    assert parsed["last_heartbeat"] == last
    assert parsed["heartbeat_age_seconds"] == 2.5
    tm = dict(tm, timeSinceLastHeartbeat=0)
    parsed = fc.parse_taskmanager(tm, now_ms=last)
    assert parsed["last_heartbeat"] is None and parsed["heartbeat_age_seconds"] is None


def test_active_jobs():
    jobs = fc.parse_jobs(recorded("/jobs/overview")["jobs"])
    jobs.append({"id": "x", "name": "old", "state": "CANCELED"})
    assert [j["name"] for j in fc.active_jobs(jobs)] == ["cdcops-fixture-job"]


def fake_resolver(table):
    def resolve(name, port):
        if name not in table:
            raise fc.socket.gaierror(-2, "Name or service not known")
        return [(2, 1, 6, "", (ip, 0)) for ip in table[name]]
    return resolve


def tms():
    return [fc.parse_taskmanager(tm) for tm in recorded("/taskmanagers")["taskmanagers"]]


def test_match_hosts_by_address():
    result = fc.match_hosts({"tm1": "127.0.0.2", "tm2": "127.0.0.3"}, tms(), resolve=fake_resolver({}))
    assert sorted(result["matched"]) == ["tm1", "tm2"]
    assert result["missing"] == [] and result["unexpected"] == []
    assert result["matched"]["tm1"][0].startswith("127.0.0.2:")


def test_match_hosts_resolves_inventory_names():
    resolve = fake_resolver({"tm-a.example.com": ["127.0.0.2"], "tm-b.example.com": ["10.9.9.9"]})
    result = fc.match_hosts({"a": "tm-a.example.com", "b": "tm-b.example.com"}, tms(), resolve=resolve)
    assert list(result["matched"]) == ["a"]
    assert result["missing"] == ["b"]
    assert [u["host"] for u in result["unexpected"]] == ["127.0.0.3"]


def test_match_hosts_resolves_registered_names():
    # A TaskManager that registered with a DNS name matches an inventory IP.
    tm = dict(tms()[0], host="tm-a.internal", id="tm-a.internal:6122-abc")
    resolve = fake_resolver({"tm-a.internal": ["10.1.2.3"]})
    result = fc.match_hosts({"tm1": "10.1.2.3"}, [tm], resolve=resolve)
    assert result["matched"] == {"tm1": ["tm-a.internal:6122-abc"]}


def test_wait_returns_as_soon_as_cluster_is_big_enough():
    clock = FakeClock()
    reads = iter([{"taskmanagers": tms()[:1]}, {"taskmanagers": tms()}])
    snap = fc.wait_for_cluster(lambda: next(reads), want_taskmanagers=2, timeout=30,
                               clock=clock.clock, sleep=clock.sleep)
    assert len(snap["taskmanagers"]) == 2
    assert clock.sleeps == [0.5]


def test_wait_gives_up_at_deadline_with_counts():
    clock = FakeClock()
    with pytest.raises(fc.WaitTimeout) as err:
        fc.wait_for_cluster(lambda: {"taskmanagers": tms()}, want_taskmanagers=3, min_free_slots=1,
                            timeout=10, where="jm:8081", clock=clock.clock, sleep=clock.sleep)
    msg = err.value.message
    assert "gave up after 10s" in msg and "jm:8081" in msg
    assert "2 TaskManager(s) registered, 3 wanted" in msg
    assert "3 free slot(s), 1 wanted" in msg
    # Backoff doubles up to the cap and never oversleeps the deadline.
    assert clock.sleeps[:4] == [0.5, 1.0, 2.0, 4.0]
    assert sum(clock.sleeps) == pytest.approx(10)


def test_wait_ignores_replaced_taskmanagers():
    clock = FakeClock()
    old_id = tms()[0]["id"]
    with pytest.raises(fc.WaitTimeout) as err:
        fc.wait_for_cluster(lambda: {"taskmanagers": tms()}, want_taskmanagers=2, timeout=1,
                            ignore_ids=(old_id,), clock=clock.clock, sleep=clock.sleep)
    assert "1 TaskManager(s) registered, 2 wanted" in err.value.message
    assert "not counting 1" in err.value.message


def test_wait_retries_errors_and_reports_the_last_one():
    clock = FakeClock()

    def read():
        raise FlinkRestError("cannot reach the Flink REST API at http://jm:8081/overview (jm:8081): "
                             "connection refused")
    with pytest.raises(fc.WaitTimeout) as err:
        fc.wait_for_cluster(read, want_taskmanagers=1, timeout=3, where="jm:8081",
                            clock=clock.clock, sleep=clock.sleep)
    assert "connection refused" in err.value.message and len(clock.sleeps) > 1


def raise_down():
    raise FlinkRestError("down")


def test_no_wait_reads_once_and_raises_errors():
    with pytest.raises(FlinkRestError):
        fc.wait_for_cluster(raise_down, timeout=0)
    snap = fc.wait_for_cluster(lambda: {"taskmanagers": []}, want_taskmanagers=5, timeout=0)
    assert snap == {"taskmanagers": []}


def test_missing_jars_compares_file_names_of_the_classpath():
    classpath = ["/opt/flink/lib/flink-dist-1.20.3.jar", "/opt/flink/lib/flink-sql-connector-postgres-cdc-3.3.0.jar"]
    assert fc.missing_jars(classpath, ["flink-sql-connector-postgres-cdc-3.5.0.jar", "flink-dist-1.20.3.jar"]) == \
        ["flink-sql-connector-postgres-cdc-3.5.0.jar"]
    assert fc.missing_jars(None, ["a.jar"]) == ["a.jar"]


def test_wait_for_jobmanager_jars_until_the_restarted_classpath_has_them():
    clock = FakeClock()
    old = ["/opt/flink/lib/flink-dist-1.20.3.jar"]
    new = old + ["/opt/flink/lib/flink-sql-connector-postgres-cdc-3.5.0.jar"]
    reads = iter([{"taskmanagers": tms(), "jobmanager_classpath": old}] * 2
                 + [{"taskmanagers": tms(), "jobmanager_classpath": new}])
    snap = fc.wait_for_cluster(lambda: next(reads), want_taskmanagers=2, timeout=30, clock=clock.clock,
                               sleep=clock.sleep, want_jars=("flink-sql-connector-postgres-cdc-3.5.0.jar",))
    assert snap["jobmanager_classpath"] == new and len(clock.sleeps) == 2


def test_wait_for_jobmanager_jars_names_what_the_classpath_lacks():
    clock = FakeClock()
    with pytest.raises(fc.WaitTimeout) as err:
        fc.wait_for_cluster(lambda: {"taskmanagers": tms(), "jobmanager_classpath": []}, want_taskmanagers=2,
                            timeout=5, where="jm:8081", clock=clock.clock, sleep=clock.sleep,
                            want_jars=("flink-sql-connector-postgres-cdc-3.5.0.jar",))
    assert err.value.message.endswith("the JobManager's classpath lacks flink-sql-connector-postgres-cdc-3.5.0.jar: "
                                      "it has not been restarted since they landed in its lib/")


def test_snapshot_reads_the_classpath_when_asked():
    class WithEnvironment(Replay):
        def jobmanager_classpath(self):
            return ["/opt/flink/lib/flink-dist-1.20.3.jar"]
    assert "jobmanager_classpath" not in fc.snapshot(WithEnvironment())
    assert fc.snapshot(WithEnvironment(), classpath=True)["jobmanager_classpath"] == ["/opt/flink/lib/flink-dist-1.20.3.jar"]


HA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "flink_ha")
FLINK = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "flink")


def load(directory, name):
    with open(os.path.join(directory, name)) as f:
        return json.load(f)


class JobManager(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.seen.append(self.path)
        rec = self.server.routes.get(self.path)
        if rec is None:
            status, body = 404, {"errors": ["Unable to load requested file %s." % self.path]}
        else:
            status, body = rec["status"], rec["body"]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(routes):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), JobManager)
    srv.routes, srv.seen = routes, []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.url = "http://127.0.0.1:%d" % srv.server_address[1]
    return srv


def routes(role):
    """What the ``role`` JobManager answered: its own config and version, the leader's cluster state."""
    out = {rec["path"]: rec for rec in (load(HA, "%s_jobmanager_config.json" % role), load(HA, "%s_config.json" % role),
                                        load(HA, "standby_thread_dump.json"))}
    for name in ("flink-1.20.3_overview.json", "flink-1.20.3_taskmanagers.json", "flink-1.20.3_jobs_overview.json"):
        rec = load(FLINK, name)
        out[rec["path"]] = rec
    return out


@pytest.fixture
def cluster():
    servers = {role: serve(routes(role)) for role in ("leader", "standby")}
    yield servers
    for srv in servers.values():
        srv.shutdown()
        srv.server_close()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % s.getsockname()[1]


def test_the_recorded_leader_is_the_jobmanager_with_the_blob_port_of_the_thread_dump():
    leader, standby = (parse_config(load(HA, "%s_jobmanager_config.json" % r)["body"]) for r in ("leader", "standby"))
    port = leader_blob_port(t["threadName"] for t in load(HA, "standby_thread_dump.json")["body"]["threadInfos"])
    assert port == leader["blob.server.port"] != standby["blob.server.port"]
    assert ha_mode(leader) == ha_mode(standby) == "zookeeper"
    assert ha_mode({}) == "none" and ha_mode({"high-availability": "ZOOKEEPER"}) == "zookeeper"
    assert ha_mode({"high-availability.type": "org.example.MyHaFactory"}) == "org.example.MyHaFactory"


def test_each_jobmanager_gets_its_role_whatever_the_order_of_the_urls(cluster):
    client = FlinkRestClient([cluster["standby"].url, cluster["leader"].url])
    found = jobmanagers(client)
    assert found["leader"] == cluster["leader"].url and found["ha_mode"] == "zookeeper" and not found["leader_note"]
    assert [(j["url"], j["role"], j["flink_version"]) for j in found["jobmanagers"]] == [
        (cluster["standby"].url, "standby", "1.20.3"), (cluster["leader"].url, "leader", "1.20.3")]
    # Each JobManager was asked for its own configuration.
    assert "/jobmanager/config" in cluster["leader"].seen and "/jobmanager/config" in cluster["standby"].seen


def test_a_jobmanager_that_is_down_is_named_and_passed_over(cluster):
    down = closed_port_url()
    client = FlinkRestClient([down, cluster["standby"].url, cluster["leader"].url])
    snap = snapshot(client)
    assert snap["flink_version"] == "1.20.3" and len(snap["taskmanagers"]) == 2
    assert client.base_url == cluster["standby"].url  # the client keeps the one that answered
    found = jobmanagers(client)
    assert found["leader"] == cluster["leader"].url
    assert found["jobmanagers"][0]["role"] == "unreachable"
    assert "connection refused" in found["jobmanagers"][0]["error"]


def test_a_jobmanager_without_a_leader_is_passed_over(cluster):
    cluster["standby"].routes["/overview"] = load(HA, "standby_overview_leader_gone.json")
    client = FlinkRestClient([cluster["standby"].url, cluster["leader"].url])
    assert client.overview()["flink-version"] == "1.20.3"
    assert client.base_url == cluster["leader"].url


def test_when_no_jobmanager_answers_the_error_names_each_one(cluster):
    cluster["standby"].routes["/overview"] = load(HA, "standby_overview_leader_gone.json")
    down = closed_port_url()
    with pytest.raises(FlinkRestError) as err:
        FlinkRestClient([down, cluster["standby"].url]).overview()
    message = err.value.message
    assert message.startswith("no JobManager of the cluster answered /overview: ")
    assert "%s/overview" % down in message and "connection refused" in message
    assert "HTTP 500" in message and "RecipientUnreachableException: Could not send message" in message
    assert "has no leader to ask" in message


def test_an_answer_that_is_not_about_the_leader_is_not_passed_over(cluster):
    # A job the cluster does not know is the same answer on every JobManager: no failover, the first one's error.
    cluster["standby"].routes["/overview"] = {"status": 500, "body": {
        "errors": ["Internal server error.", "<Exception on server side:\njava.lang.IllegalStateException: boom\n>"]}}
    client = FlinkRestClient([cluster["standby"].url, cluster["leader"].url])
    with pytest.raises(FlinkRestError) as err:
        client.overview()
    assert "IllegalStateException: boom" in err.value.message and not err.value.failover
    assert "/overview" not in cluster["leader"].seen


def test_jobmanagers_that_share_a_fixed_blob_port_are_not_guessed(cluster):
    leader_port = parse_config(load(HA, "leader_jobmanager_config.json")["body"])["blob.server.port"]
    standby = load(HA, "standby_jobmanager_config.json")
    standby["body"] = [dict(e, value=leader_port) if e["key"] == "blob.server.port" else e for e in standby["body"]]
    cluster["standby"].routes["/jobmanager/config"] = standby
    found = jobmanagers(FlinkRestClient([cluster["leader"].url, cluster["standby"].url]))
    assert found["leader"] is None and {j["role"] for j in found["jobmanagers"]} == {"unknown"}
    assert "blob.server.port %s" % leader_port in found["leader_note"]


def test_one_jobmanager_without_ha_is_its_own_leader(cluster):
    config = load(HA, "leader_jobmanager_config.json")
    config["body"] = [e for e in config["body"] if not e["key"].startswith("high-availability")]
    cluster["leader"].routes["/jobmanager/config"] = config
    found = jobmanagers(FlinkRestClient(cluster["leader"].url))
    assert found["ha_mode"] == "none" and found["leader"] == cluster["leader"].url
    assert "/jobmanager/thread-dump" not in cluster["leader"].seen  # nothing to find out
