"""A Maven-layout HTTP repository on loopback, with a request log and faults.

It serves files from ``--root`` the way Maven Central does (plain GET/HEAD on
``group/as/path/artifact/version/file``). Every request is appended to
``--log`` as one JSON line: method, path, status and body bytes sent, so tests
and the benchmark can count jar-body downloads.

Faults, for the tests of failed downloads, come from ``<root>/.faults.json``,
read on every request: ``{"<url path>": {"mode": ...}}`` where mode is
``truncate`` (announce the full Content-Length, send half, close), ``drop``
(close before any body), ``html`` (serve a proxy login page with 200),
``status`` (answer with ``code``), ``slow`` (sleep ``seconds`` first) or ``chunked`` (a GET's body in chunks,
without Content-Length, which a HEAD still has). Servers that answer slowly:
``trickle_headers`` (the status line, then one header byte every ``interval`` seconds, ``bytes`` of them,
then an empty 200), ``trickle`` (the headers at once, then the body ``piece`` bytes every ``interval``
seconds: slow, but progressing) and ``stall`` (the headers and the first ``after`` body bytes, then nothing
for ``seconds``, then close).
Optional ``auth`` (``user:password``) and ``header`` (``Name: value``) in
``<root>/.access.json`` make the repository require credentials.

``write_metadata`` writes an artifact's ``maven-metadata.xml`` (with its ``.sha1``) listing the versions the
repository holds, as a hosted repository does when a build is deployed to it
(https://maven.apache.org/repositories/metadata.html).
"""

import argparse
import base64
import hashlib
import json
import os
import posixpath
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError
from urllib.parse import unquote, urlsplit
from urllib.request import urlopen

CHUNK = 1024 * 1024
PROXY_PAGE = (b"<!DOCTYPE html><html><head><title>Proxy login</title></head>"
              b"<body><form>Please sign in to continue.</form></body></html>\n")


class Handler(BaseHTTPRequestHandler):
    server_version = "cdcops-maven-repo/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - http.server's name
        pass

    def _record(self, status, sent):
        entry = {"t": time.time(), "method": self.command, "path": self._path(),
                 "status": status, "bytes": sent}
        with self.server.log_lock, open(self.server.log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")

    def _path(self):
        return unquote(urlsplit(self.path).path)

    def _json(self, name):
        try:
            with open(os.path.join(self.server.root, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _authorized(self):
        access = self._json(".access.json")
        if "auth" in access:
            want = "Basic " + base64.b64encode(access["auth"].encode()).decode()
            if self.headers.get("Authorization") != want:
                return False
        if "header" in access:
            name, value = [p.strip() for p in access["header"].split(":", 1)]
            if self.headers.get(name) != value:
                return False
        return True

    def _send_status(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if code == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="repo"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._record(code, len(body) if self.command != "HEAD" else 0)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self._path()
        if not self._authorized():
            return self._send_status(401, b"unauthorized\n")
        fault = self._json(".faults.json").get(path, {})
        mode = fault.get("mode")
        if mode == "slow":
            time.sleep(float(fault.get("seconds", 5)))
        if mode == "trickle_headers":
            return self._trickle_headers(float(fault.get("interval", 1)), int(fault.get("bytes", 120)))
        if mode == "status":
            return self._send_status(int(fault.get("code", 500)), b"injected\n")
        if mode == "html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PROXY_PAGE)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(PROXY_PAGE)
            return self._record(200, len(PROXY_PAGE))
        rel = posixpath.normpath(path).lstrip("/")
        if rel.startswith("..") or rel.startswith("."):
            return self._send_status(404, b"not found\n")
        full = os.path.join(self.server.root, rel)
        if not os.path.isfile(full):
            return self._send_status(404, b"not found\n")
        size = os.path.getsize(full)
        self.send_response(200)
        self.send_header("Content-Type", "application/java-archive"
                         if full.endswith(".jar") else "text/plain")
        if mode == "chunked" and self.command != "HEAD":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return self._record(200, 0)
        if mode == "chunked":
            return self._send_chunked(full)
        limit = size
        if mode == "truncate":
            limit = size // 2
        elif mode == "drop":
            limit = 0
        elif mode == "stall":
            limit = min(size, int(fault.get("after", 0)))
        piece, interval = CHUNK, 0.0
        if mode == "trickle":
            piece, interval = int(fault.get("piece", 65536)), float(fault.get("interval", 0.5))
        sent = 0
        try:
            with open(full, "rb") as f:
                while sent < limit:
                    data = f.read(min(piece, limit - sent))
                    if not data:
                        break
                    self.wfile.write(data)
                    self.wfile.flush()
                    sent += len(data)
                    if interval and sent < limit:
                        time.sleep(interval)
            if mode == "stall":
                time.sleep(float(fault.get("seconds", 60)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._record(200, sent)
        if mode in ("truncate", "drop", "stall"):
            self.close_connection = True

    def _send_chunked(self, full):
        """The body in HTTP/1.1 chunks (RFC 9112 section 7.1), as a repository or proxy that streams does: the
        client learns the size only at the end."""
        sent = 0
        try:
            with open(full, "rb") as f:
                while True:
                    data = f.read(CHUNK)
                    if not data:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    sent += len(data)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        self._record(200, sent)

    def _trickle_headers(self, interval, count):
        """A status line at once, then a header one byte at a time: every read finds a byte, none finds the end."""
        sent = 0
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Trickle: ")
            self.wfile.flush()
            for dummy in range(count):
                time.sleep(interval)
                self.wfile.write(b"a")
                self.wfile.flush()
                sent += 1
            self.wfile.write(b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._record(200, sent)
        self.close_connection = True


def _newness(version):
    return [int(p) if p.isdigit() else p for p in re.split(r"[._-]", version)]


def write_metadata(root, group_id, artifact_id, versions=None):
    """``<group path>/<artifact>/maven-metadata.xml`` listing ``versions`` (by default every version directory
    under it that holds its jar), oldest first, with ``latest``/``release`` the newest; plus its ``.sha1``.
    Returns the versions listed."""
    base = os.path.join(root, *(group_id.split(".") + [artifact_id]))
    if versions is None:
        versions = [v for v in (os.listdir(base) if os.path.isdir(base) else ())
                    if os.path.isfile(os.path.join(base, v, "%s-%s.jar" % (artifact_id, v)))]
    versions = sorted(set(versions), key=_newness)
    os.makedirs(base, exist_ok=True)
    newest = versions[-1] if versions else ""
    xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>%s</groupId>\n"
           "  <artifactId>%s</artifactId>\n  <versioning>\n    <latest>%s</latest>\n    <release>%s</release>\n"
           "    <versions>\n%s    </versions>\n    <lastUpdated>%s</lastUpdated>\n  </versioning>\n</metadata>\n" % (
               group_id, artifact_id, newest, newest,
               "".join("      <version>%s</version>\n" % v for v in versions),
               time.strftime("%Y%m%d%H%M%S", time.gmtime()))).encode("utf-8")
    path = os.path.join(base, "maven-metadata.xml")
    for target, data in ((path, xml), (path + ".sha1", hashlib.sha1(xml).hexdigest().encode("ascii"))):
        tmp = "%s.%d.tmp" % (target, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    return versions


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root, log_path, port=None, timeout=15.0):
    """Start this server in a child process; return (process, port) once it answers.

    It returns only when the readiness probe (``GET /``) is in the request log:
    the server logs a request after answering it, so request-log counts taken
    afterwards include only the caller's requests.
    """
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--root", root, "--port", str(port),
                             "--log", log_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            urlopen("http://127.0.0.1:%d/" % port, timeout=1).close()
        except HTTPError:
            pass  # answered (404 for /): it is up
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the Maven repository server did not start on port %d" % port)
            time.sleep(0.05)
            continue
        break
    while True:
        try:
            with open(log_path) as log:
                if any(json.loads(line)["path"] == "/" for line in log if line.strip()):
                    return proc, port
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the Maven repository's readiness probe never reached %s" % log_path)
        time.sleep(0.02)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.root = os.path.abspath(args.root)
    server.log_path = args.log
    server.log_lock = threading.Lock()
    sys.stdout.write("serving %s on http://%s:%d\n" % (server.root, args.host, args.port))
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
