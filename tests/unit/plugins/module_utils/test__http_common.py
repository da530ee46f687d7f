"""URL secrets and deadlines shared by the REST client and the jar downloads.

Real threads and real loopback sockets; the end-to-end cases on the bed are tests/integration/test_reliability.py.
"""

import socket
import threading
import time
import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _http_common
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import secs


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


@pytest.mark.parametrize("value, tenths, text", [
    (30, True, "30"), (30.0, True, "30"), (0.3, True, "0.3"), (2.25, True, "2.2"), (7.96, True, "8.0"),
    # The waits of _flink/cluster.py and _flink/sql_job.py write the number as Python does.
    (30, False, "30"), (30.0, False, "30"), (0.3, False, "0.3"), (2.25, False, "2.25"), (7.96, False, "7.96"),
])
def test_secs(value, tenths, text):
    assert secs(value, tenths=tenths) == text


def test_the_waits_write_what_they_wrote_before():
    """Before ``secs``, cluster.py and sql_job.py wrote ``int(v) if v is whole else v`` with ``%s``."""
    for value in (1, 1.0, 0.5, 12.75, 1e3, 3.3333):
        assert secs(value, tenths=False) == "%s" % (int(value) if float(value).is_integer() else value)
