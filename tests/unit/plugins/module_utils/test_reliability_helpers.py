"""Unit tests for the reliability helpers: URL secrets, deadlines, versions nearest first, mount points, hints.

Pure functions, real threads and real loopback sockets; the end-to-end cases on the bed are
tests/integration/test_reliability.py.
"""

import errno
import os
import socket
import threading
import time

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    download,
    errors,
    install,
    maven,
    options,
    sources,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache as jar_cache
from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _http_common
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._postgres import (
    hints as pg_hints,
    readiness as pg_readiness,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import rest as _flink_rest


# --- secrets in URLs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url, secrets", [
    ("http://repo.example.com/maven2", set()),
    ("http://user@repo.example.com/maven2", set()),
    ("http://user:secret@repo.example.com/maven2", {"secret"}),
    ("https://user:p%40ss%3Aw@repo.example.com:8443/", {"p%40ss%3Aw", "p@ss:w"}),
    (None, set()),
])
def test_url_secrets(url, secrets):
    assert _http_common.url_secrets(url) == secrets


def test_option_url_secrets_covers_every_option_that_takes_a_url():
    params = {"repository_url": "http://a:one@r/", "url": "http://b:two@r/x.jar",
              "jars": [{"url": "http://c:three@r/y.jar"}, {"artifact_id": "z"}, "junk"]}
    assert options.option_url_secrets(params) == {"one", "two", "three"}
    assert options.option_url_secrets({"repository_url": "http://r/", "jars": None}) == set()


# --- deadlines -----------------------------------------------------------------------------------------

def test_call_within_returns_raises_or_gives_up():
    call_within = _http_common.call_within
    assert call_within(5, lambda: 42) == 42
    with pytest.raises(ValueError):
        call_within(5, lambda: int("x"))
    release = threading.Event()
    start = time.monotonic()
    with pytest.raises(socket.timeout) as err:
        call_within(0.3, release.wait)
    assert time.monotonic() - start < 2
    assert "no complete answer within 0.3 s" in str(err.value)
    release.set()


def test_a_late_answer_is_handed_over_to_be_closed():
    release, closed = threading.Event(), []

    def slow():
        release.wait()
        return "response"

    with pytest.raises(socket.timeout):
        _http_common.call_within(0.2, slow, on_late=closed.append)
    release.set()
    deadline = time.monotonic() + 5
    while not closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert closed == ["response"]


@pytest.fixture
def trickling_server():
    """Answers every connection with a status line, then one header byte every 0.2 s, for 30 s."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve(conn):
        with conn:
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Trickle: ")
                for dummy in range(150):
                    if stop.wait(0.2):
                        return
                    conn.sendall(b"a")
            except OSError:
                pass

    def accept():
        while not stop.is_set():
            try:
                conn, dummy = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.getsockname()[1]
    stop.set()
    srv.close()


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


def test_jar_headers_that_trickle_time_out(trickling_server):
    start = time.monotonic()
    with pytest.raises(errors.DownloadError) as err:
        download.http_open(trickling_server + "/x.jar", options.HttpOptions(timeout=1), "x.jar")
    assert time.monotonic() - start < 3
    assert "gave no complete answer within 1 s" in err.value.msg and err.value.details["timed_out"]


# --- versions ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("wanted, versions, nearest", [
    ("9.9.9", ["3.3.0", "3.5.0"], ["3.5.0", "3.3.0"]),
    ("3.4.0", ["2.4.2", "3.3.0", "3.5.0", "3.6.0-1.20"], ["3.5.0", "3.3.0", "3.6.0-1.20", "2.4.2"]),
    ("3.3.1", ["3.3.0", "3.5.0", "3.3.0"], ["3.3.0", "3.5.0"]),
    ("1.2.11_flink-1.20", ["1.2.10_flink-1.19", "1.2.11_flink-1.19", "1.2.12_flink-1.20"],
     ["1.2.11_flink-1.19", "1.2.12_flink-1.20", "1.2.10_flink-1.19"]),
    ("3.0.1", ["3.0.0-SNAPSHOT", "3.0.0"], ["3.0.0-SNAPSHOT", "3.0.0"]),
])
def test_nearest_versions(wanted, versions, nearest):
    assert maven.nearest_versions(wanted, versions) == nearest


def test_metadata_url_is_maven_centrals_layout():
    assert maven.metadata_url("https://repo1.maven.org/maven2/", "org.apache.flink", "flink-sql-connector-postgres-cdc") \
        == "https://repo1.maven.org/maven2/org/apache/flink/flink-sql-connector-postgres-cdc/maven-metadata.xml"


def test_maven_source_keeps_coordinates_and_repository():
    source = sources.maven_source("http://u:p@r/m2/", "org.apache.flink", "a", "1.0", classifier="tests")
    assert source.coordinates == "org.apache.flink:a:1.0:tests" and source.repository == "http://u:p@r/m2"


# --- filesystems and users -----------------------------------------------------------------------------

def test_mount_of_names_the_mount_point():
    point, kind = install.mount_of("/proc/self")
    assert point == "/proc" and kind == "proc"
    point, dummy = install.mount_of(os.path.join(os.getcwd(), "no", "such", "dir"))
    assert os.path.ismount(point) or point == "/"


def test_read_only_is_never_told_to_become(tmp_path):
    err = install.write_error(str(tmp_path), OSError(errno.EROFS, "Read-only file system"))
    assert "is read-only" in err.msg and "mounted at " in err.msg and "become" not in err.msg
    cache = jar_cache.cache_error(str(tmp_path), OSError(errno.EROFS, "Read-only file system"))
    assert "is read-only" in cache.msg and "controller_cache_dir" in cache.msg


def test_root_refused_is_told_what_refuses_it(tmp_path, monkeypatch):
    monkeypatch.setattr(install.os, "geteuid", lambda: 0)
    err = install.write_error(str(tmp_path), OSError(errno.EPERM, "Operation not permitted"))
    assert "Run the task with become" not in err.msg and "lsattr -d %s" % tmp_path in err.msg


def test_a_user_refused_is_told_to_become(tmp_path, monkeypatch):
    monkeypatch.setattr(install.os, "geteuid", lambda: 4242)
    err = install.write_error(str(tmp_path), OSError(errno.EACCES, "Permission denied"))
    assert "become" in err.msg and "lsattr" not in err.msg


# --- PostgreSQL hints ----------------------------------------------------------------------------------

NO_ENCRYPTION = 'no pg_hba.conf entry for host "10.0.0.1", user "flink_cdc", database "shop", no encryption'
SSL_ENCRYPTION = 'no pg_hba.conf entry for host "10.0.0.1", user "flink_cdc", database "shop", SSL encryption'


def test_pg_hba_hint_follows_how_the_attempt_was_made():
    unencrypted = pg_hints.connect_hint("pg_hba", "db:5432", "flink_cdc", "shop", reason=NO_ENCRYPTION)
    assert unencrypted.index("ssl_mode: require") < unencrypted.index("'host shop flink_cdc")
    assert "verify-full with ca_cert" in unencrypted
    over_ssl = pg_hints.connect_hint("pg_hba", "db:5432", "flink_cdc", "shop", reason=SSL_ENCRYPTION)
    assert "'hostssl shop flink_cdc <client address>/32 scram-sha-256'" in over_ssl and "ssl_mode: require" not in over_ssl
    # ssl_mode=prefer tried both ways and both were refused: a line is missing either way.
    both = pg_hints.connect_hint("pg_hba", "db:5432", "flink_cdc", "shop", reason=SSL_ENCRYPTION + " " + NO_ENCRYPTION)
    assert both.startswith("Add a pg_hba.conf line") and "ssl_mode" not in both
    check = pg_readiness.check_connect("db:5432", "cannot connect: " + NO_ENCRYPTION, "pg_hba", "flink_cdc", "shop")
    assert "ssl_mode: require" in check["hint"]
