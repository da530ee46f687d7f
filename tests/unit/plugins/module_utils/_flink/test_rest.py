"""The REST client against a loopback server that replays bodies recorded from a real Flink."""

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import (
    FlinkRestClient,
    FlinkRestError,
    endpoint,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import redact_url
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import (
    FlinkRestClient,
    FlinkRestError,
    split_urls,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import rest as _flink_rest

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "flink")


def recordings():
    out = {}
    for name in os.listdir(FIXTURES):
        with open(os.path.join(FIXTURES, name)) as f:
            rec = json.load(f)
        out[rec["path"]] = rec
    return out


class ReplayHandler(BaseHTTPRequestHandler):
    routes = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        route = self.routes.get(self.path)
        if route is None:
            rec = self.server.recorded.get(self.path) or self.server.recorded["/no-such-endpoint"]
            status, ctype, body = rec["status"], rec["content_type"], json.dumps(rec["body"]).encode()
        else:
            status, ctype, body = route
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), ReplayHandler)
    srv.recorded = recordings()
    srv.seen = []
    ReplayHandler.routes = {}
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    srv.url = "http://127.0.0.1:%d" % srv.server_address[1]
    yield srv
    srv.shutdown()
    srv.server_close()


def test_reads_recorded_endpoints(server):
    client = FlinkRestClient(server.url + "/")
    assert client.overview()["flink-version"] == "1.20.3"
    assert len(client.taskmanagers()) == 2
    assert "RUNNING" in [j["state"] for j in client.jobs()]
    assert {"key": "rest.port", "value": "18081"} in client.jobmanager_config()
    assert [seen[0] for seen in server.seen] == ["/overview", "/taskmanagers", "/jobs/overview",
                                                 "/jobmanager/config"]


def test_basic_auth_is_sent_and_never_shown(server):
    ReplayHandler.routes["/overview"] = (401, "text/plain", b"denied")
    client = FlinkRestClient(server.url, url_username="ops", url_password="s3cr3t-pw")
    with pytest.raises(FlinkRestError) as err:
        client.overview()
    assert server.seen[0][1].startswith("Basic ")
    assert "HTTP 401" in err.value.message and "url_username/url_password" in err.value.message
    assert "s3cr3t-pw" not in err.value.message
    assert "127.0.0.1:%d" % server.server_address[1] in err.value.message


def test_credentials_in_url_are_redacted(server):
    ReplayHandler.routes["/overview"] = (403, "text/plain", b"no")
    client = FlinkRestClient(server.url.replace("http://", "http://ops:pw-in-url@"))
    with pytest.raises(FlinkRestError) as err:
        client.overview()
    assert "pw-in-url" not in err.value.message and "HTTP 403" in err.value.message


def test_404_is_not_a_flink_api(server):
    client = FlinkRestClient(server.url + "/wrong/prefix")
    with pytest.raises(FlinkRestError) as err:
        client.overview()
    assert err.value.not_flink and err.value.status == 404
    assert "is not a Flink REST API" in err.value.message


def test_html_page_is_not_a_flink_api(server):
    ReplayHandler.routes["/overview"] = (200, "text/html", b"<html><body>Sign in</body></html>")
    with pytest.raises(FlinkRestError) as err:
        FlinkRestClient(server.url).overview()
    assert err.value.not_flink
    assert "text/html" in err.value.message and "not Flink's JSON" in err.value.message


def test_json_without_flink_fields_is_not_flink(server):
    ReplayHandler.routes["/overview"] = (200, "application/json", b'{"status": "ok"}')
    with pytest.raises(FlinkRestError) as err:
        FlinkRestClient(server.url).overview()
    assert "no flink-version" in err.value.message


def test_server_error_shows_flink_errors(server):
    body = json.dumps({"errors": ["Internal server error.", "<Exception on server side:\nboom>"]})
    ReplayHandler.routes["/taskmanagers"] = (500, "application/json", body.encode())
    with pytest.raises(FlinkRestError) as err:
        FlinkRestClient(server.url).taskmanagers()
    assert "HTTP 500" in err.value.message and "Internal server error." in err.value.message


def test_connection_refused_names_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FlinkRestError) as err:
        FlinkRestClient("http://127.0.0.1:%d" % port).overview()
    assert "127.0.0.1:%d" % port in err.value.message
    assert "connection refused" in err.value.message


def test_timeout_is_bounded_and_named():
    # A socket that listens but never answers: connect succeeds, the read times out.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(FlinkRestError) as err:
            FlinkRestClient("http://127.0.0.1:%d" % port, timeout=1).overview()
        assert time.monotonic() - start < 5
    assert "timed out" in err.value.message and "127.0.0.1:%d" % port in err.value.message


@pytest.mark.parametrize("url", ["jobmanager:8081", "ftp://jm/", "", "http://"])
def test_rejects_non_http_urls(url):
    with pytest.raises(FlinkRestError) as err:
        FlinkRestClient(url)
    assert "is not an http(s) URL" in err.value.message


def test_redact_and_endpoint():
    assert redact_url("https://u:p@jm.example:9443/flink") == "https://jm.example:9443/flink"
    assert endpoint("https://jm.example/flink") == "jm.example:443"
    assert endpoint("http://[fd00::1]:8081") == "[fd00::1]:8081"


def test_urls_are_a_list_or_one_string_with_commas():
    assert split_urls("http://a:8081, http://b:8081,") == ["http://a:8081", "http://b:8081"]
    assert split_urls(["http://a:8081", "http://b:8081,http://c:8081"]) == ["http://a:8081", "http://b:8081",
                                                                            "http://c:8081"]
    with pytest.raises(FlinkRestError) as err:
        FlinkRestClient("http://a:8081,b:8081")
    assert "'b:8081' is not an http(s) URL" in err.value.message


def test_rest_timeout_bounds_a_request_whose_headers_trickle(trickling_server):
    start = time.monotonic()
    with pytest.raises(_flink_rest.FlinkRestError) as err:
        _flink_rest.FlinkRestClient(trickling_server, timeout=1).overview()
    assert time.monotonic() - start < 3
    assert "timed out: no complete answer within 1 s (timeout)" in err.value.message


def test_rest_deadline_bounds_every_request_of_a_wait(trickling_server):
    client = _flink_rest.FlinkRestClient(trickling_server, timeout=5)
    client.deadline = time.monotonic() + 1.5
    start = time.monotonic()
    with pytest.raises(_flink_rest.FlinkRestError) as first:
        client.overview()
    assert time.monotonic() - start < 3
    assert "(what was left of the wait)" in first.value.message
    with pytest.raises(_flink_rest.FlinkRestError) as again:
        client.overview()  # past the deadline: at once, with the failure that matters
    assert again.value.message == first.value.message
