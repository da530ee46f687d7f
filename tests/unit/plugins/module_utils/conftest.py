"""Fixtures shared by the unit tests of plugins/module_utils/."""

import socket
import threading

import pytest


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
