"""The REST client's job endpoints (config, checkpoints, stop with savepoint, savepoint status) against a loopback
server that replays bodies recorded from a real Flink 1.20.3, as test_rest.py does."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import FlinkRestClient, FlinkRestError

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "flink_job", "flink-1.20.3_lifecycle.json")
with open(FIXTURE) as _f:
    RECORDED = json.load(_f)

JID = RECORDED["restored_job"]["job_id"]
TRIGGER = "0" * 32


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": self.path, "body": body,
                                 "content_type": self.headers.get("Content-Type")})
        status, payload = self.server.routes.get((self.command, self.path), (404, {"errors": ["Not found: " + self.path]}))
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer


@pytest.fixture(scope="module")
def loopback():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(loopback):
    """One server for the module (its shutdown waits out a poll); routes and requests seen are each test's own."""
    loopback.routes = {}
    loopback.seen = []
    loopback.client = FlinkRestClient("http://127.0.0.1:%d" % loopback.server_address[1])
    return loopback


def test_job_config_carries_the_fingerprint(server):
    server.routes[("GET", "/jobs/%s/config" % JID)] = (200, RECORDED["restored_job"]["config"])
    config = server.client.job_config(JID)
    assert config["execution-config"]["user-config"] == {"cdcops.flink_job.spec": "9a51a43c89c353df"}
    assert server.seen == [{"method": "GET", "path": "/jobs/%s/config" % JID, "body": b"", "content_type": None}]


def test_job_config_and_checkpoints_of_an_odd_body_are_empty(server):
    server.routes[("GET", "/jobs/%s/config" % JID)] = (200, ["not", "a", "dict"])
    server.routes[("GET", "/jobs/%s/checkpoints" % JID)] = (200, b"")
    server.routes[("GET", "/jobs/%s/savepoints/%s" % (JID, TRIGGER))] = (200, [1])
    assert server.client.job_config(JID) == {}
    assert server.client.checkpoints(JID) == {}
    assert server.client.savepoint_status(JID, TRIGGER) == {}


def test_checkpoints(server):
    server.routes[("GET", "/jobs/%s/checkpoints" % JID)] = (200, RECORDED["restored_job"]["checkpoints"])
    latest = server.client.checkpoints(JID)["latest"]
    assert latest["savepoint"]["external_path"] == "file:/tmp/t1/sp/savepoint-a5fe98-d85c00173061"
    assert latest["restored"]["external_path"] == "file:/tmp/t1/sp/savepoint-bf60e9-cb90c20033dc"
    assert latest["completed"]["id"] == 12


def test_stop_with_savepoint_posts_json_with_the_callers_trigger_id(server):
    server.routes[("POST", "/jobs/%s/stop" % JID)] = (202, {"request-id": TRIGGER})
    assert server.client.stop_with_savepoint(JID, "file:///tmp/t1/sp", TRIGGER) == TRIGGER
    (seen,) = server.seen
    assert seen["method"] == "POST" and seen["path"] == "/jobs/%s/stop" % JID
    assert seen["content_type"] == "application/json"
    assert json.loads(seen["body"]) == {"targetDirectory": "file:///tmp/t1/sp", "drain": False, "triggerId": TRIGGER}


@pytest.mark.parametrize("answer", [{}, b"", {"request-id": None}])
def test_stop_with_savepoint_without_request_id_returns_the_trigger_id(server, answer):
    server.routes[("POST", "/jobs/%s/stop" % JID)] = (202, answer)
    assert server.client.stop_with_savepoint(JID, "file:/sp", "a" * 32) == "a" * 32


def test_cancel_sends_no_body(server):
    server.routes[("PATCH", "/jobs/%s?mode=cancel" % JID)] = (202, b"")
    assert server.client.cancel_job(JID) == {}
    assert server.seen[0]["method"] == "PATCH" and server.seen[0]["body"] == b"" and server.seen[0]["content_type"] is None


@pytest.mark.parametrize("status", [
    {"status": {"id": "IN_PROGRESS"}},
    {"status": {"id": "COMPLETED"}, "operation": {"location": "file:/tmp/t1/sp/savepoint-a5fe98-d85c00173061"}},
    {"status": {"id": "COMPLETED"}, "operation": {"failure-cause": {"class": "x", "stack-trace": "boom"}}},
])
def test_savepoint_status(server, status):
    server.routes[("GET", "/jobs/%s/savepoints/%s" % (JID, TRIGGER))] = (200, status)
    assert server.client.savepoint_status(JID, TRIGGER) == status
    assert server.seen[0]["method"] == "GET"


def test_unknown_savepoint_trigger_is_a_resource_not_found(server):
    rec = RECORDED["savepoint_status_unknown_trigger"]
    server.routes[("GET", "/jobs/%s/savepoints/%s" % (JID, TRIGGER))] = (rec["status"], rec["body"])
    with pytest.raises(FlinkRestError) as err:
        server.client.savepoint_status(JID, TRIGGER)
    assert err.value.status == 404 and err.value.not_flink is False
    assert "answered HTTP 404: There is no savepoint operation with triggerId=%s for job %s." % (TRIGGER, JID) in err.value.message
    assert "is not a Flink REST API" not in err.value.message and "\tat " not in err.value.message
    assert err.value.url.endswith("/jobs/%s/savepoints/%s" % (JID, TRIGGER))


def test_unknown_job_is_a_resource_not_found(server):
    rec = RECORDED["unknown_job"]
    server.routes[("GET", "/jobs/%s/checkpoints" % ("9" * 32))] = (rec["status"], rec["body"])
    with pytest.raises(FlinkRestError) as err:
        server.client.checkpoints("9" * 32)
    assert err.value.status == 404 and err.value.not_flink is False
    assert "answered HTTP 404: Job %s not found" % ("9" * 32) in err.value.message


def test_a_404_without_flinks_error_is_still_not_flink(server):
    with pytest.raises(FlinkRestError) as err:
        server.client.job_config(JID)
    assert err.value.status == 404 and err.value.not_flink is True
    assert "is not a Flink REST API" in err.value.message


def test_stop_of_a_job_that_cannot_stop_shows_flinks_error(server):
    body = {"errors": ["Internal server error.", "<Exception on server side:\njava.lang.IllegalStateException: not running\n>"]}
    server.routes[("POST", "/jobs/%s/stop" % JID)] = (500, body)
    with pytest.raises(FlinkRestError) as err:
        server.client.stop_with_savepoint(JID, "file:/sp", TRIGGER)
    assert err.value.status == 500 and "HTTP 500" in err.value.message and "Internal server error." in err.value.message
