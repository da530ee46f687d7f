"""Several JobManagers (high availability): failover of the REST client and finding the leader, against loopback
servers that replay what the two JobManagers of the bed's HA cluster answered (tests/bed/bed.py up --ha,
Flink 1.20.3; tests/unit/fixtures/flink_ha)."""

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.cluster import (
    ha_mode,
    jobmanagers,
    leader_blob_port,
    parse_config,
    snapshot,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import (
    FlinkRestClient,
    FlinkRestError,
    split_urls,
)

HA = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "flink_ha")
FLINK = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "flink")


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


def test_urls_are_a_list_or_one_string_with_commas():
    assert split_urls("http://a:8081, http://b:8081,") == ["http://a:8081", "http://b:8081"]
    assert split_urls(["http://a:8081", "http://b:8081,http://c:8081"]) == ["http://a:8081", "http://b:8081",
                                                                            "http://c:8081"]
    with pytest.raises(FlinkRestError) as err:
        FlinkRestClient("http://a:8081,b:8081")
    assert "'b:8081' is not an http(s) URL" in err.value.message


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
