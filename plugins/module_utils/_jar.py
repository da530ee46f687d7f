# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Connector jars in Flink's ``lib/``: Maven paths, download, verification,
validation, planning and atomic installation.

This is the one place for jar handling. Everything is a plain function (or a
small value class) over its inputs, with no ``AnsibleModule``, so that the
module, the unit tests and a controller-side action plugin (which fetches and
verifies once, then pushes ``src`` to hosts) share the same code, and one call
can later handle several jars: build one ``JarSource`` per jar and call
``ensure_present`` for each while holding one ``dest_lock`` (the lock is the
caller's, not ``ensure_present``'s, for exactly that reason).

Flink puts every ``*.jar`` in ``lib/`` on the JVM classpath at start (FACTS.md,
"Flink runtime"), so nothing this code leaves in ``dest`` may end in ``.jar``
unless it is the finished, verified jar: temporary files end in ``.part``,
backups in ``.bak``, and the lock is taken on the directory itself.
"""

import contextlib
import errno
import fcntl
import hashlib
import os
import queue
import re
import socket
import stat
import tempfile
import threading
import time
import typing as t
import urllib.error
import zipfile
from http.client import HTTPException, IncompleteRead
from urllib.parse import unquote, urlsplit

from ansible.module_utils.urls import (
    ConnectionError as UrlsConnectionError,
    SSLValidationError,
    mask_url,
    open_url,
)

DEFAULT_REPOSITORY_URL = "https://repo1.maven.org/maven2"
USER_AGENT = "cdcops.flink_cdc/flink_connector_jar"

# 1 MiB: large enough that per-call overhead does not matter on loopback,
# small enough that a 200 MB jar never sits in memory.
CHUNK_SIZE = 1024 * 1024
# Chunks in flight between reading/hashing and writing: memory use is
# PIPELINE_BUFFERS * CHUNK_SIZE whatever the jar's size.
PIPELINE_BUFFERS = 4
# Ask the kernel to write back every FLUSH_EVERY bytes while downloading, so
# the fsync before the rename finds little left to do.
FLUSH_EVERY = 32 * 1024 * 1024
SIDECAR_LIMIT = 4096
SERVICES_LIMIT = 1024 * 1024
DEFAULT_LOCK_WAIT = 900.0

FACTORY_SERVICE = "META-INF/services/org.apache.flink.table.factories.Factory"
MANIFEST = "META-INF/MANIFEST.MF"
TEMP_SUFFIX = ".part"
BACKUP_SUFFIX = ".bak"

# ---------------------------------------------------------------------------
# Known connectors (data, with sources)
# ---------------------------------------------------------------------------


class Connector(t.NamedTuple):
    """A connector line whose jar we know how to check."""

    identifier: str  # the Flink table factory identifier it registers
    group_id: str
    artifact_id: str
    factories: t.Tuple[str, ...]  # every factory class the jar registers
    required_factory: str  # must be listed in FACTORY_SERVICE
    # Entry-name fragments of shaded dependencies the SQL jar must carry; a jar
    # that registers the factory without them is the thin jar.
    shaded: t.Tuple[str, ...] = ()
    source: str = ""


# FACTS.md "Flink CDC postgres connector" (apache/flink-cdc pom.xml and the
# connector META-INF/services files at tags 2.4.2, 3.0.1, 3.1.0, 3.5.0, 3.6.0).
_PG_SOURCE = "FACTS.md 'Flink CDC postgres connector': apache/flink-cdc META-INF/services at 2.4.2, 3.0.1, 3.1.0, 3.5.0, 3.6.0"
PG_CDC_FACTORY_2X = "com.ververica.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PG_CDC_FACTORY_3X = "org.apache.flink.cdc.connectors.postgres.table.PostgreSQLTableFactory"
# FACTS.md: the SQL jar shades Debezium and the PostgreSQL JDBC driver.
PG_CDC_SHADED = ("io/debezium/", "org/postgresql/")
PG_CDC_SQL_ARTIFACT = "flink-sql-connector-postgres-cdc"
PG_CDC_THIN_ARTIFACT = "flink-connector-postgres-cdc"

# FACTS.md "StarRocks Flink connector" (StarRocks/starrocks-connector-for-apache-flink
# docs/content/connector-sink.md and release notes).
_SR_SOURCE = "FACTS.md 'StarRocks Flink connector': starrocks-connector-for-apache-flink docs/content/connector-sink.md"
STARROCKS_FACTORIES = (
    "com.starrocks.connector.flink.table.sink.StarRocksDynamicTableSinkFactory",
    "com.starrocks.connector.flink.table.source.StarRocksDynamicTableSourceFactory",
    "com.starrocks.connector.flink.catalog.FlinkCatalogFactory",
)

KNOWN_CONNECTORS = (
    Connector("postgres-cdc", "com.ververica", PG_CDC_SQL_ARTIFACT, (PG_CDC_FACTORY_2X,),
              PG_CDC_FACTORY_2X, PG_CDC_SHADED, _PG_SOURCE),
    Connector("postgres-cdc", "org.apache.flink", PG_CDC_SQL_ARTIFACT, (PG_CDC_FACTORY_3X,),
              PG_CDC_FACTORY_3X, PG_CDC_SHADED, _PG_SOURCE),
    Connector("starrocks", "com.starrocks", "flink-connector-starrocks", STARROCKS_FACTORIES,
              STARROCKS_FACTORIES[0], (), _SR_SOURCE),
)

# Artifacts that must never go into Flink's lib/, and what to use instead.
# FACTS.md: the thin flink-connector-postgres-cdc jar lacks Debezium and the JDBC driver.
WRONG_ARTIFACTS = {
    PG_CDC_THIN_ARTIFACT: (
        "flink-connector-postgres-cdc is the thin connector jar: it does not shade Debezium or the "
        "PostgreSQL JDBC driver, so Flink fails at runtime with NoClassDefFoundError. Use the SQL "
        "connector jar instead: artifact_id: flink-sql-connector-postgres-cdc (same group_id and version)."
    ),
}

FACTORY_IDENTIFIERS = {f: c.identifier for c in KNOWN_CONNECTORS for f in c.factories}


def connectors_for(artifact_id: str, group_id: t.Optional[str] = None) -> t.List[Connector]:
    """Known connector lines for an artifact (all groups when ``group_id`` is unknown)."""
    return [c for c in KNOWN_CONNECTORS
            if c.artifact_id == artifact_id and (group_id is None or c.group_id == group_id)]


def identifiers_of(factories: t.Iterable[str]) -> t.Set[str]:
    return {FACTORY_IDENTIFIERS[f] for f in factories if f in FACTORY_IDENTIFIERS}


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class JarError(Exception):
    """A failure with a message fit for the user: what, where, and what to do."""

    def __init__(self, msg: str, **details: t.Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


class UnsafeNameError(JarError):
    pass


class ChecksumError(JarError):
    pass


class DownloadError(JarError):
    pass


class InvalidJarError(JarError):
    pass


# ---------------------------------------------------------------------------
# Maven coordinates and names
# ---------------------------------------------------------------------------

# Maven's own rule for groupId/artifactId is [A-Za-z0-9_\-.]+. We also require a
# leading letter/digit/underscore, so '.', '..' and hidden names are impossible,
# and we never accept '/', so nothing can be written outside dest.
_ID_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
_ARTIFACT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-+]*$")
_JAR_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-+]*\.jar$")
# artifact-version.jar, where the version starts with a digit (1.2.11_flink-1.20, 3.6.0-1.20).
_VERSIONED_NAME = re.compile(r"^(?P<artifact>.+?)-(?P<version>[0-9][A-Za-z0-9_.\-+]*)\.jar$")


def _check(value: str, pattern: t.Pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value) or ".." in value:
        raise UnsafeNameError(
            "%s %r is not a valid Maven name: use letters, digits, '_', '-' and '.', starting with a "
            "letter or digit, without '/' or '..'. Nothing was changed." % (what, value))
    return value


def validate_coordinates(group_id: str, artifact_id: str, version: t.Optional[str],
                         classifier: t.Optional[str] = None) -> None:
    """Refuse anything that is not a plain Maven name (path traversal included)."""
    if not isinstance(group_id, str) or not group_id or not all(
            _ID_PART.match(p) for p in group_id.split(".")):
        raise UnsafeNameError(
            "group_id %r is not a valid Maven groupId: dot-separated parts of letters, digits, '_' "
            "and '-', e.g. org.apache.flink. Nothing was changed." % (group_id,))
    _check(artifact_id, _ARTIFACT, "artifact_id")
    if version is not None:
        _check(version, _VERSION, "version")
    if classifier:
        _check(classifier, _ARTIFACT, "classifier")


def jar_filename(artifact_id: str, version: str, classifier: t.Optional[str] = None) -> str:
    """FACTS.md "Maven repository layout": ``<artifactId>-<version>[-<classifier>].jar``."""
    return "%s-%s%s.jar" % (artifact_id, version, "-" + classifier if classifier else "")


def maven_path(group_id: str, artifact_id: str, version: str,
               classifier: t.Optional[str] = None) -> str:
    """The repository-relative path (FACTS.md "Maven repository layout")."""
    validate_coordinates(group_id, artifact_id, version, classifier)
    return "/".join(group_id.split(".") + [artifact_id, version,
                                           jar_filename(artifact_id, version, classifier)])


def check_http_url(url: str, what: str = "url") -> str:
    parts = urlsplit(url or "")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UnsafeNameError(
            "%s %r is not an http(s) URL; only http:// and https:// are accepted." % (what, mask_url(url or "")))
    return url


def maven_url(repository_url: str, group_id: str, artifact_id: str, version: str,
              classifier: t.Optional[str] = None) -> str:
    check_http_url(repository_url, "repository_url")
    return repository_url.rstrip("/") + "/" + maven_path(group_id, artifact_id, version, classifier)


def split_jar_name(name: str) -> t.Optional[t.Tuple[str, str]]:
    """``(artifact, version)`` from ``artifact-version.jar``, or None."""
    m = _VERSIONED_NAME.match(name)
    return (m.group("artifact"), m.group("version")) if m else None


def check_jar_name(name: str, where: str) -> str:
    if not _JAR_NAME.match(name or "") or ".." in name:
        raise UnsafeNameError(
            "%s must name a file like flink-sql-connector-postgres-cdc-3.1.0.jar (letters, digits, "
            "'_', '-', '.', '+', ending in .jar); got %r. Nothing was changed." % (where, name))
    return name


def url_jar_name(url: str) -> str:
    """The jar's file name: the last path segment of the URL."""
    check_http_url(url)
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return check_jar_name(name, "The last path segment of url %s" % describe_url(url))


def describe_url(url: str) -> str:
    """``host:port path`` for messages, never credentials or query strings."""
    parts = urlsplit(mask_url(url))
    host = parts.hostname or "?"
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return "host %s path %s" % (host, parts.path or "/")


def public_url(url: str) -> str:
    return mask_url(url)


# ---------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------

HEX_LENGTHS = {"sha1": 40, "sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[0-9a-f]+$")


class Checksum(t.NamedTuple):
    algorithm: str
    hexdigest: str
    origin: str = "checksum option"

    def __str__(self) -> str:
        return "%s:%s" % (self.algorithm, self.hexdigest)


def parse_checksum(value: str, origin: str = "checksum option") -> Checksum:
    """``sha256:<hex>``, ``sha512:<hex>`` or ``sha1:<hex>``."""
    algo, sep, digest = (value or "").strip().partition(":")
    algo = algo.strip().lower()
    digest = digest.strip().lower()
    if not sep or algo not in HEX_LENGTHS:
        raise ChecksumError(
            "checksum %r must look like sha256:<hex>, sha512:<hex> or sha1:<hex>." % (value,))
    if len(digest) != HEX_LENGTHS[algo] or not _HEX.match(digest):
        raise ChecksumError(
            "checksum %r: a %s digest is %d hexadecimal characters." % (value, algo, HEX_LENGTHS[algo]))
    return Checksum(algo, digest, origin)


def parse_sidecar(text: t.Union[str, bytes], algorithm: str = "sha1", where: str = "") -> Checksum:
    """A Maven ``.sha1``/``.sha256``/``.sha512`` file: the digest, optionally followed by a name."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    token = text.strip().split()[0].lower() if text.strip() else ""
    if len(token) != HEX_LENGTHS[algorithm] or not _HEX.match(token):
        shown = text.strip()[:60]
        raise ChecksumError(
            "The %s checksum file at %s does not hold a %s digest (it starts with %r); a proxy may have "
            "answered instead of the repository. The jar was not installed. Check repository_url, or pin "
            "checksum: sha256:<hex>." % (algorithm, where or "the repository", algorithm, shown))
    return Checksum(algorithm, token, "%s file at %s" % (algorithm, where))


class Digests(t.NamedTuple):
    sha256: str
    size: int
    others: t.Dict[str, str]

    def get(self, algorithm: str) -> str:
        return self.sha256 if algorithm == "sha256" else self.others[algorithm]


class _Hasher:
    """sha256 (always: it is what we report) plus the algorithm being verified."""

    def __init__(self, algorithms: t.Iterable[str] = ()) -> None:
        self._hashes = {"sha256": hashlib.sha256()}
        for algo in algorithms:
            if algo not in self._hashes:
                self._hashes[algo] = hashlib.new(algo)
        self.size = 0

    def update(self, data: t.Union[bytes, memoryview]) -> None:
        for h in self._hashes.values():
            h.update(data)
        self.size += len(data)

    def digests(self) -> Digests:
        others = {a: h.hexdigest() for a, h in self._hashes.items() if a != "sha256"}
        return Digests(self._hashes["sha256"].hexdigest(), self.size, others)


def _write_all(out: t.BinaryIO, data: memoryview) -> None:
    """Raw file writes may be short; loop until every byte is written."""
    while len(data):
        written = out.write(data)
        if not written:  # regular files raise (ENOSPC, EIO) rather than write nothing; never spin
            raise OSError(errno.EIO, "write made no progress")
        data = data[written:]


def _datasync(fd: int) -> None:
    getattr(os, "fdatasync", os.fsync)(fd)


def _pump(readinto: t.Callable[[bytearray], int], out: t.BinaryIO, hasher: "_Hasher") -> bytes:
    """Copy from ``readinto`` to ``out`` in chunks: hash here, write and flush in helper threads.

    Hashing, writing to the page cache and the kernel's writeback release the
    GIL, so they overlap instead of taking turns. At most PIPELINE_BUFFERS
    chunks are ever allocated. Returns the first bytes, for error messages.
    """
    free = queue.Queue()  # type: queue.Queue
    for dummy in range(PIPELINE_BUFFERS):
        free.put(bytearray(CHUNK_SIZE))
    todo = queue.Queue()  # type: queue.Queue
    failure = []  # type: t.List[BaseException]
    kick = threading.Event()
    done = threading.Event()
    try:
        fd = out.fileno()  # type: t.Optional[int]
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both OSError and ValueError
        fd = None

    def flusher() -> None:
        while True:
            kick.wait()
            kick.clear()
            if done.is_set() or fd is None:
                return
            try:
                _datasync(fd)
            except OSError:
                pass  # only an early flush: the fsync before the rename reports for real

    def writer() -> None:
        since_flush = 0
        while True:
            item = todo.get()
            if item is None:
                return
            buf, n = item
            if not failure:
                try:
                    _write_all(out, memoryview(buf)[:n])
                    since_flush += n
                    if since_flush >= FLUSH_EVERY:
                        since_flush = 0
                        kick.set()
                except BaseException as exc:  # handed to the reading thread, which raises it
                    failure.append(exc)
            free.put(buf)

    threads = [threading.Thread(target=writer, name="jar-writer"),
               threading.Thread(target=flusher, name="jar-flusher")]
    for th in threads:
        th.daemon = True
        th.start()
    first = b""
    try:
        while not failure:
            buf = free.get()
            n = readinto(buf)
            if not n:
                break
            view = memoryview(buf)[:n]
            if not first:
                first = bytes(view[:512])
            hasher.update(view)
            todo.put((buf, n))
    finally:
        todo.put(None)
        threads[0].join()
        done.set()
        kick.set()
        threads[1].join()
    if failure:
        raise failure[0]
    return first


def file_digests(path: str, algorithms: t.Iterable[str] = ()) -> Digests:
    hasher = _Hasher(algorithms)
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            hasher.update(view[:n])
    return hasher.digests()


def matches(digests: Digests, expected: Checksum) -> bool:
    return digests.get(expected.algorithm) == expected.hexdigest


def verify_checksum(digests: Digests, expected: Checksum, what: str, first_bytes: bytes = b"",
                    content_type: str = "") -> None:
    """Raise ChecksumError naming both digests and the likely cause."""
    if matches(digests, expected):
        return
    hint = ""
    if looks_like_html(first_bytes) or "html" in (content_type or "").lower():
        hint = (" The body is an HTML page (Content-Type %s), not a jar: a proxy or login page answered "
                "instead of the repository. Check repository_url and credentials." % (content_type or "?"))
    raise ChecksumError(
        "Checksum mismatch for %s: expected %s (from the %s), got %s:%s (%d bytes).%s The jar was not "
        "installed." % (what, expected, expected.origin, expected.algorithm,
                        digests.get(expected.algorithm), digests.size, hint),
        expected=str(expected), actual="%s:%s" % (expected.algorithm, digests.get(expected.algorithm)))


# ---------------------------------------------------------------------------
# HTTP (ansible.module_utils.urls: no extra Python packages on TaskManagers)
# ---------------------------------------------------------------------------


class HttpOptions(t.NamedTuple):
    timeout: float = 30
    validate_certs: bool = True
    url_username: t.Optional[str] = None
    url_password: t.Optional[str] = None
    headers: t.Optional[t.Dict[str, str]] = None
    use_proxy: bool = True
    force: bool = False  # send Cache-Control: no-cache, so proxies do not answer from cache


def http_open(url: str, http_options: HttpOptions, what: str, method: str = "GET") -> t.Any:
    """Open ``url``; turn every failure into a DownloadError that says where and why."""
    check_http_url(url)
    where = describe_url(url)
    try:
        opts = http_options
        return open_url(url, method=method, headers=dict(opts.headers or {}), use_proxy=opts.use_proxy,
                        force=opts.force, timeout=opts.timeout, validate_certs=opts.validate_certs,
                        url_username=opts.url_username, url_password=opts.url_password,
                        http_agent=USER_AGENT, follow_redirects="safe")
    except urllib.error.HTTPError as exc:
        try:
            exc.close()
        except Exception:
            pass
        advice = {
            401: "the repository wants credentials: set url_username/url_password, or headers for a token.",
            403: "the repository refused these credentials or this host: check url_username/url_password or headers.",
            404: "check repository_url, group_id, artifact_id, version and classifier (or url).",
        }.get(exc.code, "retry later, or check the repository.")
        raise DownloadError("Could not download %s: %s %s answered HTTP %s %s; %s Nothing was changed." % (
            what, method, mask_url(url), exc.code, exc.reason, advice), status=exc.code, url=mask_url(url))
    except SSLValidationError as exc:
        raise DownloadError("Could not download %s from %s: TLS certificate validation failed (%s). Install the "
                            "repository's CA on this host, or (only for testing) set validate_certs: false."
                            % (what, where, exc), url=mask_url(url))
    except (urllib.error.URLError, UrlsConnectionError, OSError, HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError("Could not download %s: cannot reach %s (%s). Check repository_url/url, the "
                            "network path and use_proxy; timeout is %ss." % (what, where, reason, http_options.timeout),
                            url=mask_url(url))


def fetch_sidecar(jar_url: str, http_options: HttpOptions, algorithm: str = "sha1") -> Checksum:
    """The repository's checksum file for ``jar_url``. A missing one is an error, never a pass."""
    url = jar_url + "." + algorithm
    where = describe_url(url)
    try:
        resp = http_open(url, http_options, "the %s checksum file" % algorithm)
    except DownloadError as exc:
        if exc.details.get("status") == 404:
            raise ChecksumError(
                "The repository has no %s checksum file at %s, so the jar cannot be verified and was not "
                "installed. Pin the expected checksum with checksum: sha256:<hex> (or sha1:/sha512:), or "
                "check repository_url." % (algorithm, where), url=mask_url(url))
        raise
    try:
        data = resp.read(SIDECAR_LIMIT)
    except (OSError, HTTPException) as exc:
        raise DownloadError("Reading the %s checksum file from %s failed: %s" % (algorithm, where, exc))
    finally:
        resp.close()
    return parse_sidecar(data, algorithm, where)


def looks_like_html(first_bytes: bytes) -> bool:
    head = first_bytes.lstrip()[:256].lower()
    return head.startswith(b"<!doctype") or head.startswith(b"<html") or b"<html" in head or b"<head" in head


class Download(t.NamedTuple):
    digests: Digests
    content_type: str
    first_bytes: bytes


def free_bytes(path: str) -> int:
    st = os.statvfs(path)
    # Root may use the reserved blocks; others may not.
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize


def stream_to(url: str, http_options: HttpOptions, out: t.BinaryIO, what: str,
              algorithms: t.Iterable[str] = (), space_check_dir: t.Optional[str] = None) -> Download:
    """GET ``url`` into ``out`` in CHUNK_SIZE pieces, hashing as it goes.

    Checks Content-Length (HTTPResponse returns a short body without raising
    when a server closes early) and, when ``space_check_dir`` is given, refuses
    up front a body larger than the free space there.
    """
    where = describe_url(url)
    resp = http_open(url, http_options, what)
    try:
        ctype = resp.headers.get("Content-Type", "") or ""
        gzipped = (resp.headers.get("Content-Encoding", "") or "").lower() == "gzip"
        length_header = resp.headers.get("Content-Length")
        expected_length = None
        if length_header is not None and not gzipped:
            try:
                expected_length = int(length_header)
            except ValueError:
                expected_length = None
        if expected_length is not None and space_check_dir is not None:
            free = free_bytes(space_check_dir)
            if expected_length > free:
                raise DownloadError(
                    "Not enough space for %s in %s: it is %d bytes, the filesystem has %d bytes free. Free "
                    "some space there; nothing was changed." % (what, space_check_dir, expected_length, free))
        hasher = _Hasher(algorithms)
        first = b""
        try:
            first = _pump(resp.readinto, out, hasher)
        except IncompleteRead:
            pass  # reported below with the byte counts
        except (socket.timeout, OSError, HTTPException) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise DownloadError("Ran out of space writing %s into %s after %d bytes. Free some space "
                                    "there; nothing was changed." % (what, space_check_dir, hasher.size))
            raise DownloadError("Downloading %s from %s failed after %d bytes: %s. Nothing was changed; "
                                "retry, or raise timeout." % (what, where, hasher.size, exc))
        digests = hasher.digests()
        if expected_length is not None and digests.size != expected_length:
            raise DownloadError(
                "Downloading %s from %s stopped early: got %d of %d bytes (Content-Length); the connection "
                "was closed. Nothing was changed; retry." % (what, where, digests.size, expected_length))
        return Download(digests, ctype, first)
    finally:
        resp.close()


def copy_to(src: str, out: t.BinaryIO, algorithms: t.Iterable[str] = ()) -> Download:
    """Copy a local file into ``out``, hashing as it goes (the ``src`` source)."""
    hasher = _Hasher(algorithms)
    with open(src, "rb", buffering=0) as f:
        first = _pump(f.readinto, out, hasher)
    return Download(hasher.digests(), "", first)


# ---------------------------------------------------------------------------
# Jar validation
# ---------------------------------------------------------------------------

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _open_zip(path: str, what: str) -> zipfile.ZipFile:
    with open(path, "rb") as f:
        head = f.read(512)
    if not head.startswith(_ZIP_MAGIC):
        if looks_like_html(head):
            raise InvalidJarError(
                "%s is an HTML page, not a jar: a proxy or login page answered instead of the repository. "
                "Check the URL and credentials." % what)
        raise InvalidJarError("%s is not a jar (no zip header; it starts with %r)." % (what, head[:16]))
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise InvalidJarError("%s is not a readable jar: %s (truncated or corrupt)." % (what, exc))


def _parse_services(data: bytes) -> t.Tuple[str, ...]:
    names = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and line not in names:
            names.append(line)
    return tuple(names)


def _services_of(jar: zipfile.ZipFile) -> t.Tuple[str, ...]:
    try:
        info = jar.getinfo(FACTORY_SERVICE)
    except KeyError:
        return ()
    with jar.open(info) as f:
        return _parse_services(f.read(SERVICES_LIMIT))


def read_factories(path: str) -> t.Tuple[str, ...]:
    """The Flink table factories a jar registers (cheap: central directory + one entry)."""
    with _open_zip(path, path) as jar:
        try:
            return _services_of(jar)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise InvalidJarError("%s: cannot read %s: %s" % (path, FACTORY_SERVICE, exc))


class JarInfo(t.NamedTuple):
    factories: t.Tuple[str, ...]
    entries: int


def validate_jar(path: str, what: str, expected_factories: t.Sequence[str] = (),
                 check_entries: bool = True) -> JarInfo:
    """Every entry's CRC, a manifest, the expected factory, and no thin connector jar.

    ``expected_factories``: when given, at least one must be registered (both
    postgres-cdc lines when the group is not known).
    """
    with _open_zip(path, what) as jar:
        infos = jar.infolist()
        names = [i.filename for i in infos]
        if check_entries:
            try:
                # ZipFile.open checks each entry's CRC when it reaches the end;
                # read in chunks so a 200 MB entry never sits in memory.
                for info in infos:
                    if info.is_dir():
                        continue
                    with jar.open(info) as entry:
                        while entry.read(CHUNK_SIZE):
                            pass
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError,
                    NotImplementedError) as exc:
                raise InvalidJarError("%s is corrupt: %s. It was not installed." % (what, exc))
            except Exception as exc:  # zlib.error and friends from a damaged deflate stream
                raise InvalidJarError("%s is corrupt: %s. It was not installed." % (what, exc))
        if not any(n.upper() == MANIFEST for n in names):
            raise InvalidJarError("%s has no %s, so it is not a usable jar. It was not installed." % (what, MANIFEST))
        try:
            factories = _services_of(jar)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise InvalidJarError("%s: cannot read %s: %s" % (what, FACTORY_SERVICE, exc))
    if expected_factories and not set(expected_factories) & set(factories):
        raise InvalidJarError(
            "%s does not register %s in %s (it registers: %s). This is not the expected connector jar; check "
            "group_id, artifact_id and version. It was not installed." % (
                what, " or ".join(expected_factories), FACTORY_SERVICE, ", ".join(factories) or "nothing"))
    for connector in KNOWN_CONNECTORS:
        if connector.shaded and connector.required_factory in factories:
            missing = [m for m in connector.shaded if not any(m in n for n in names)]
            if missing:
                raise InvalidJarError(
                    "%s registers %s but carries no %s classes: it is the thin connector jar. %s" % (
                        what, connector.required_factory, " or ".join(missing),
                        WRONG_ARTIFACTS[PG_CDC_THIN_ARTIFACT]))
    return JarInfo(factories, len(infos))


def refuse_wrong_artifact(artifact_id: t.Optional[str]) -> None:
    """Refuse, before any download, an artifact that never belongs in lib/."""
    if artifact_id in WRONG_ARTIFACTS:
        raise InvalidJarError("Refusing %s: %s" % (artifact_id, WRONG_ARTIFACTS[artifact_id]))


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------


class JarSource(t.NamedTuple):
    """Where one jar comes from and what it should be."""

    kind: str  # maven | url | src
    filename: str  # the name it gets in dest
    artifact_id: t.Optional[str]  # for "other versions"; None when the name has no version
    group_id: t.Optional[str] = None
    url: t.Optional[str] = None
    src: t.Optional[str] = None
    checksum: t.Optional[Checksum] = None  # pinned by the user

    @property
    def connectors(self) -> t.List[Connector]:
        return connectors_for(self.artifact_id, self.group_id) if self.artifact_id else []

    @property
    def expected_factories(self) -> t.Tuple[str, ...]:
        return tuple(c.required_factory for c in self.connectors)

    @property
    def known_factories(self) -> t.Tuple[str, ...]:
        """Every factory the jar should register, as far as our data knows."""
        return tuple(f for c in self.connectors for f in c.factories)

    @property
    def what(self) -> str:
        """The jar and where it comes from, for messages."""
        if self.kind == "src":
            return "%s (src %s)" % (self.filename, self.src)
        return "%s from %s" % (self.filename, describe_url(self.url or ""))


def maven_source(repository_url: str, group_id: str, artifact_id: str, version: str,
                 classifier: t.Optional[str] = None, checksum: t.Optional[str] = None) -> JarSource:
    url = maven_url(repository_url, group_id, artifact_id, version, classifier)
    return JarSource("maven", jar_filename(artifact_id, version, classifier), artifact_id, group_id, url=url,
                     checksum=parse_checksum(checksum) if checksum else None)


def maven_artifact(group_id: str, artifact_id: str) -> JarSource:
    """The artifact without a version: for removing every version of it."""
    validate_coordinates(group_id, artifact_id, None)
    return JarSource("maven", "", artifact_id, group_id)


def url_source(url: str, checksum: t.Optional[str] = None) -> JarSource:
    name = url_jar_name(url)
    split = split_jar_name(name)
    return JarSource("url", name, split[0] if split else None, url=url,
                     checksum=parse_checksum(checksum) if checksum else None)


def src_source(src: str, checksum: t.Optional[str] = None) -> JarSource:
    name = check_jar_name(os.path.basename(src), "The file name of src")
    split = split_jar_name(name)
    return JarSource("src", name, split[0] if split else None, src=src,
                     checksum=parse_checksum(checksum) if checksum else None)


def expected_checksum(source: JarSource, http_options: HttpOptions) -> t.Optional[Checksum]:
    """The checksum the jar must have: pinned, else the repository's ``.sha1``.

    ``src`` without a pinned checksum has none: the file on the host is the truth.
    """
    if source.checksum is not None:
        return source.checksum
    if source.kind in ("maven", "url"):
        # FACTS.md "Maven repository layout": Central guarantees .sha1 (and .md5) sidecars.
        return fetch_sidecar(source.url or "", http_options, "sha1")
    return None


# ---------------------------------------------------------------------------
# The destination directory: scan and plan
# ---------------------------------------------------------------------------


def check_dest(dest: str) -> str:
    if not os.path.isdir(dest):
        raise JarError("dest %s is not a directory. Point dest at Flink's lib directory (FLINK_HOME/lib); it is "
                       "not created, so a typo cannot scatter jars." % dest)
    return dest


def target_path(dest: str, filename: str) -> str:
    """``dest/filename``, proven to be directly inside ``dest``."""
    check_jar_name(filename, "The jar file name")
    path = os.path.join(dest, filename)
    if os.path.dirname(os.path.abspath(path)) != os.path.abspath(dest):
        raise UnsafeNameError("Refusing %s: it is not directly inside dest %s." % (path, dest))
    return path


def list_jars(dest: str) -> t.List[str]:
    """Names of the files (or links) Flink would load from ``dest``."""
    names = []
    for entry in os.scandir(dest):
        if entry.name.endswith(".jar") and not entry.is_dir():
            names.append(entry.name)
    return sorted(names)


def scan_factories(dest: str, names: t.Iterable[str]) -> t.Dict[str, t.Optional[t.Tuple[str, ...]]]:
    """Factories registered by each jar; None for a jar that cannot be read."""
    found = {}  # type: t.Dict[str, t.Optional[t.Tuple[str, ...]]]
    for name in names:
        try:
            found[name] = read_factories(os.path.join(dest, name))
        except (JarError, OSError):
            found[name] = None
    return found


_VERSION_TAIL = re.compile(r"^[0-9][A-Za-z0-9_.\-+]*\.jar$")


def other_versions(names: t.Iterable[str], artifact_id: t.Optional[str], keep: str = "") -> t.List[str]:
    """Jars named ``<artifact_id>-<version>[-<classifier>].jar`` other than ``keep``.

    The version must start with a digit, so ``flink-sql-connector-postgres-cdc``
    never matches ``flink-sql-connector-postgres-cdc-pipeline-1.0.jar``.
    """
    if not artifact_id:
        return []
    prefix = artifact_id + "-"
    return [n for n in names if n != keep and n.startswith(prefix) and _VERSION_TAIL.match(n[len(prefix):])]


def factory_conflicts(factories_by_jar: t.Mapping[str, t.Optional[t.Sequence[str]]],
                      new_factories: t.Sequence[str], keep: str = "",
                      same_identifier: bool = True) -> t.Dict[str, t.List[str]]:
    """Jars that register one of ``new_factories``, or (``same_identifier``) the same identifier.

    Two jars registering one identifier make Flink fail with "Multiple factories
    for identifier" (FACTS.md), whatever the jars are called.
    Returns ``{jar name: [reasons]}``.
    """
    new = set(new_factories)
    new_ids = identifiers_of(new) if same_identifier else set()
    out = {}  # type: t.Dict[str, t.List[str]]
    for name, factories in factories_by_jar.items():
        if name == keep or not factories:
            continue
        reasons = sorted(["factory %s" % f for f in set(factories) & new]
                         + ["identifier '%s'" % i for i in identifiers_of(factories) & new_ids])
        if reasons:
            out[name] = reasons
    return out


class Plan(t.NamedTuple):
    dest: str
    target: str  # file name in dest ('' for state=absent)
    install: bool
    reason: str
    remove: t.List[str]  # file names in dest
    remove_reasons: t.Dict[str, str]
    before: t.List[str]
    after: t.List[str]

    @property
    def changes(self) -> bool:
        return self.install or bool(self.remove)


def plan_present(dest: str, jars: t.Sequence[str], target: str, target_current: bool,
                 artifact_id: t.Optional[str], factories_by_jar: t.Mapping[str, t.Optional[t.Sequence[str]]],
                 new_factories: t.Sequence[str], remove_other_versions: bool, reason: str = "") -> Plan:
    """What installing ``target`` changes: pure, over a scan of ``dest``."""
    remove_reasons = {}  # type: t.Dict[str, str]
    if remove_other_versions:
        for name in other_versions(jars, artifact_id, keep=target):
            remove_reasons[name] = "another version of %s" % artifact_id
        for name, reasons in factory_conflicts(factories_by_jar, new_factories, keep=target).items():
            remove_reasons.setdefault(name, "registers the same %s" % ", ".join(reasons))
    remove = sorted(remove_reasons)
    after = sorted((set(jars) - set(remove)) | {target})
    return Plan(dest, target, not target_current, reason, remove, remove_reasons, list(jars), after)


def plan_absent(dest: str, jars: t.Sequence[str], artifact_id: t.Optional[str], filename: str,
                factories_by_jar: t.Mapping[str, t.Optional[t.Sequence[str]]], own_factories: t.Sequence[str],
                remove_other_versions: bool) -> Plan:
    """What removing every version of an artifact changes.

    With ``remove_other_versions``, renamed copies (jars registering this
    artifact's own factory classes) go too; other connector lines sharing the
    identifier stay, because removing them is not what "absent" asked for.
    """
    remove_reasons = {}  # type: t.Dict[str, str]
    if filename and filename in jars:
        remove_reasons[filename] = "the requested file"
    for name in other_versions(jars, artifact_id):
        remove_reasons.setdefault(name, "a version of %s" % artifact_id)
    if remove_other_versions:
        for name, reasons in factory_conflicts(factories_by_jar, own_factories, same_identifier=False).items():
            remove_reasons.setdefault(name, "registers %s" % ", ".join(reasons))
    remove = sorted(remove_reasons)
    return Plan(dest, "", False, "", remove, remove_reasons, list(jars), sorted(set(jars) - set(remove)))


def diff_of(plan: Plan, replaced: t.Optional[t.Tuple[str, str]] = None) -> t.Dict[str, str]:
    """Before/after jar lists for --diff; ``replaced`` = (old sha256, new sha256) of the target."""
    before = list(plan.before)
    after = list(plan.after)
    if replaced and plan.target in before:
        before = [n + ("  sha256:%s" % replaced[0][:16] if n == plan.target else "") for n in before]
        after = [n + ("  sha256:%s" % replaced[1][:16] if n == plan.target and replaced[1] else
                      "  (new content)" if n == plan.target else "") for n in after]
    return {
        "before_header": "%s (jars)" % plan.dest,
        "after_header": "%s (jars)" % plan.dest,
        "before": "".join(n + "\n" for n in before),
        "after": "".join(n + "\n" for n in after),
    }


# ---------------------------------------------------------------------------
# Locking, temp files, install, removal
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def dest_lock(dest: str, exclusive: bool = True, wait: float = DEFAULT_LOCK_WAIT) -> t.Iterator[None]:
    """Serialize runs on ``dest`` with flock on the directory itself.

    Locking the directory leaves no lock file in lib/ and works whatever the
    runs' temp directories are.
    """
    fd = os.open(dest, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        deadline = time.monotonic() + wait
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        delay = 0.02
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.monotonic() >= deadline:
                    raise JarError("Another run has held the lock on %s for more than %ds; it may be stuck "
                                   "downloading. Check for other ansible runs on this host." % (dest, wait))
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        yield
    finally:
        os.close(fd)


def _temp_prefix(filename: str) -> str:
    return ".%s." % filename


def open_temp(dest: str, filename: str) -> t.Tuple[t.BinaryIO, str]:
    """A new temp file in ``dest`` (same filesystem, so the rename is atomic); never ``*.jar``."""
    try:
        fd, path = tempfile.mkstemp(prefix=_temp_prefix(filename), suffix=TEMP_SUFFIX, dir=dest)
    except OSError as exc:
        raise write_error(dest, exc)
    return os.fdopen(fd, "wb", buffering=0), path


_TEMP_NAME = re.compile(r"^\..+\.jar\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$")


def stale_temps(dest: str) -> t.List[str]:
    """Temp files left by a run that was killed (only ever removed under the lock)."""
    return sorted(n for n in os.listdir(dest) if _TEMP_NAME.match(n))


def write_error(where: str, exc: OSError) -> JarError:
    try:
        import pwd
        user = pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        user = str(os.geteuid())
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return JarError("Cannot write in %s as user %s: %s. Run the task with become: true, or give %s write "
                        "access to %s. Nothing was changed." % (where, user, exc.strerror, user, where),
                        errno=exc.errno)
    if exc.errno == errno.ENOSPC:
        return JarError("No space left in %s: %s. Free some space there; nothing was changed." % (where, exc.strerror),
                        errno=exc.errno)
    return JarError("Cannot write in %s as user %s: %s." % (where, user, exc), errno=exc.errno)


def parse_mode(mode: t.Any) -> int:
    """An octal mode: '0644', '644', 0o644 (YAML 0644 arrives as 420)."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        value = mode
    elif isinstance(mode, str) and re.match(r"^0?[0-7]{3,4}$", mode.strip()):
        value = int(mode.strip(), 8)
    else:
        raise JarError("mode %r must be an octal mode such as '0644' (symbolic modes are not supported)." % (mode,))
    if not 0 <= value <= 0o7777:
        raise JarError("mode %r is out of range." % (mode,))
    return value


def resolve_owner(owner: t.Optional[t.Union[str, int]], group: t.Optional[t.Union[str, int]]
                  ) -> t.Tuple[t.Optional[int], t.Optional[int]]:
    import grp
    import pwd
    uid = gid = None
    if owner not in (None, ""):
        try:
            uid = int(owner) if str(owner).isdigit() else pwd.getpwnam(str(owner)).pw_uid
        except KeyError:
            raise JarError("owner %s does not exist on this host." % owner)
    if group not in (None, ""):
        try:
            gid = int(group) if str(group).isdigit() else grp.getgrnam(str(group)).gr_gid
        except KeyError:
            raise JarError("group %s does not exist on this host." % group)
    return uid, gid


def attributes_differ(path: str, mode: int, uid: t.Optional[int], gid: t.Optional[int]) -> bool:
    st = os.stat(path)
    return (stat.S_IMODE(st.st_mode) != mode or (uid is not None and st.st_uid != uid)
            or (gid is not None and st.st_gid != gid))


def apply_attributes(path: str, mode: int, uid: t.Optional[int], gid: t.Optional[int]) -> None:
    try:
        if uid is not None or gid is not None:
            os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
        os.chmod(path, mode)
    except OSError as exc:
        raise write_error(path, exc)


def _fsync_dir(dest: str) -> None:
    fd = os.open(dest, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def backup_name(filename: str) -> str:
    """``<name>.<pid>.<timestamp>.bak``: beside the jar, but never loaded by Flink."""
    return "%s.%d.%s%s" % (filename, os.getpid(), time.strftime("%Y%m%dT%H%M%S"), BACKUP_SUFFIX)


def install_temp(temp: str, dest: str, filename: str, mode: int, uid: t.Optional[int], gid: t.Optional[int],
                 backup: bool) -> t.Optional[str]:
    """fsync, set attributes, optionally back up the current file, rename into place.

    Returns the backup path, if one was made.
    """
    final = target_path(dest, filename)
    try:
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise write_error(dest, exc)
    apply_attributes(temp, mode, uid, gid)
    saved = None
    if backup and os.path.lexists(final):
        saved = os.path.join(dest, backup_name(filename))
        try:
            os.link(final, saved)
        except OSError as exc:
            raise write_error(dest, exc)
    try:
        os.replace(temp, final)
    except OSError as exc:
        raise write_error(dest, exc)
    _fsync_dir(dest)
    return saved


def remove_jars(dest: str, names: t.Iterable[str], backup: bool) -> t.Tuple[t.List[str], t.List[str]]:
    """Remove (or, with ``backup``, rename to ``*.bak``) jars in ``dest``. Returns (removed, backups)."""
    removed, saved = [], []
    for name in names:
        path = os.path.join(dest, name)
        try:
            if backup:
                keep = os.path.join(dest, backup_name(name))
                os.rename(path, keep)
                saved.append(keep)
            else:
                os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise write_error(dest, exc)
        removed.append(path)
    if removed:
        _fsync_dir(dest)
    return removed, saved


def discard(path: t.Optional[str]) -> None:
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------------------
# One jar, end to end (the caller holds dest_lock, so several jars can share it)
# ---------------------------------------------------------------------------


class InstallOptions(t.NamedTuple):
    validate: bool = True
    remove_other_versions: bool = True
    mode: int = 0o644
    uid: t.Optional[int] = None
    gid: t.Optional[int] = None
    backup: bool = False
    force: bool = False


def _plan_message(plan: Plan, attrs: bool, check_mode: bool) -> str:
    would = "would " if check_mode else ""
    parts = []
    if plan.target:
        if plan.install:
            parts.append("%sinstall %s (%s)" % (would, plan.target, plan.reason))
        elif attrs:
            parts.append("%sfix mode/owner of %s" % (would, plan.target))
        else:
            parts.append("%s is up to date" % plan.target)
    for name in plan.remove:
        parts.append("%sremove %s (%s)" % (would, name, plan.remove_reasons[name]))
    if not parts:
        parts.append("nothing to remove")
    return "; ".join(parts)


def ensure_present(source: JarSource, dest: str, http_options: HttpOptions, opts: InstallOptions,
                   check_mode: bool) -> t.Dict[str, t.Any]:
    """Install one jar into ``dest`` (see the module documentation for the contract).

    Order matters: verify the expected checksum against what is on disk first
    (so an up-to-date jar is never downloaded), open the temp file before any
    download (so a read-only dest fails fast), verify and validate the temp
    file, rename it into place, and only then remove the jars it replaces.
    """
    check_dest(dest)
    final = target_path(dest, source.filename)
    if opts.validate:
        refuse_wrong_artifact(source.artifact_id)
    if source.kind == "src" and not os.path.isfile(source.src or ""):
        raise JarError("src %s is not a file on this host. src names a jar already on the managed host; use url "
                       "or Maven coordinates to download one." % source.src)

    expected = expected_checksum(source, http_options)
    src_digests = None
    if source.kind == "src":
        src_digests = file_digests(source.src or "", [expected.algorithm] if expected else [])
        if expected is not None:
            verify_checksum(src_digests, expected, source.what)
        if opts.validate and check_mode:
            # A real run validates the copy it installs; check mode has only the source.
            validate_jar(source.src or "", source.what, source.expected_factories)
        # From here on the file itself is the expectation.
        expected = Checksum("sha256", src_digests.sha256, "src file %s" % source.src)

    current = None  # type: t.Optional[Digests]
    if os.path.isfile(final) and expected is not None:
        current = file_digests(final, [expected.algorithm])
    target_current = current is not None and expected is not None and matches(current, expected)
    if not os.path.lexists(final):
        reason = "not present"
    elif target_current:
        reason = "up to date"
    else:
        reason = "replaces a file with other content"

    # The factories the new jar registers: exact when we can read the jar
    # without downloading it, else what our connector data says it registers.
    if source.kind == "src":
        new_factories = _safe_factories(source.src or "") or source.known_factories
    elif target_current:
        new_factories = _safe_factories(final) or source.known_factories
    else:
        new_factories = source.known_factories

    jars = list_jars(dest)
    others = [j for j in jars if j != source.filename]
    factories_by_jar = scan_factories(dest, others) if opts.remove_other_versions else {}
    plan = plan_present(dest, jars, source.filename, target_current, source.artifact_id, factories_by_jar,
                        new_factories, opts.remove_other_versions, reason)
    attrs = target_current and attributes_differ(final, opts.mode, opts.uid, opts.gid)

    result = {
        "path": final,
        "removed": [os.path.join(dest, n) for n in plan.remove],
        "downloaded": False,
    }  # type: t.Dict[str, t.Any]
    if source.url:
        result["url"] = public_url(source.url)
    if target_current and current is not None:
        result.update(checksum=current.sha256, size=current.size)
    elif src_digests is not None:
        result.update(checksum=src_digests.sha256, size=src_digests.size)
    elif expected is not None and expected.algorithm == "sha256":
        result["checksum"] = expected.hexdigest

    if check_mode:
        result.update(changed=plan.changes or attrs, msg=_plan_message(plan, attrs, True),
                      diff=diff_of(plan, (current.sha256, "") if plan.install and current else None))
        return result

    backups = []  # type: t.List[str]
    replaced = None
    fetch = plan.install or (opts.force and source.kind != "src")
    if fetch:
        for name in stale_temps(dest):
            discard(os.path.join(dest, name))
        out, temp = open_temp(dest, source.filename)
        try:
            algorithms = [expected.algorithm] if expected else []
            try:
                with out:
                    if source.kind == "src":
                        got = copy_to(source.src or "", out, algorithms)
                    else:
                        got = stream_to(source.url or "", http_options, out, source.filename, algorithms,
                                        space_check_dir=dest)
                        result["downloaded"] = True
            except OSError as exc:
                raise write_error(dest, exc)
            if expected is not None:
                verify_checksum(got.digests, expected, source.what, got.first_bytes, got.content_type)
            if opts.validate:
                new_factories = validate_jar(temp, source.what, source.expected_factories).factories
            else:
                new_factories = _safe_factories(temp)
            if current is not None and got.digests.sha256 == current.sha256:
                # force re-fetched the same bytes: nothing to replace.
                discard(temp)
                temp = None
            else:
                plan = plan_present(dest, jars, source.filename, False, source.artifact_id, factories_by_jar,
                                    new_factories, opts.remove_other_versions, reason)
                saved = install_temp(temp, dest, source.filename, opts.mode, opts.uid, opts.gid, opts.backup)
                temp = None
                backups += [saved] if saved else []
                replaced = (current.sha256 if current else "", got.digests.sha256)
                result.update(checksum=got.digests.sha256, size=got.digests.size)
        finally:
            discard(temp)
    if attrs and not replaced:
        apply_attributes(final, opts.mode, opts.uid, opts.gid)

    try:
        removed, saved_removed = remove_jars(dest, plan.remove, opts.backup)
    except JarError as exc:
        if replaced:
            raise JarError("%s was installed, but removing the jars it replaces failed: %s Flink will load both; "
                           "remove %s by hand." % (source.filename, exc.msg, ", ".join(plan.remove)), changed=True)
        raise
    backups += saved_removed
    result.update(
        changed=bool(replaced) or attrs or bool(removed),
        removed=removed,
        msg=_plan_message(plan._replace(install=bool(replaced)), attrs, False),
        diff=diff_of(plan._replace(install=bool(replaced)),
                     replaced if replaced and replaced[0] else None),
    )
    if opts.backup:
        result["backup_files"] = backups
    return result


def ensure_absent(source: JarSource, dest: str, opts: InstallOptions, check_mode: bool) -> t.Dict[str, t.Any]:
    """Remove every version of the artifact (and, with remove_other_versions, renamed copies)."""
    check_dest(dest)
    jars = list_jars(dest)
    own = source.known_factories
    factories_by_jar = scan_factories(dest, jars) if (opts.remove_other_versions and own) else {}
    plan = plan_absent(dest, jars, source.artifact_id, source.filename, factories_by_jar, own,
                       opts.remove_other_versions)
    result = {"removed": [os.path.join(dest, n) for n in plan.remove], "downloaded": False,
              "changed": plan.changes, "msg": _plan_message(plan, False, check_mode), "diff": diff_of(plan)}
    if source.filename:
        result["path"] = os.path.join(dest, source.filename)
    if check_mode:
        return result
    removed, saved = remove_jars(dest, plan.remove, opts.backup)
    result.update(removed=removed, changed=bool(removed))
    if opts.backup:
        result["backup_files"] = saved
    return result


def _safe_factories(path: str) -> t.Tuple[str, ...]:
    try:
        return read_factories(path)
    except (JarError, OSError):
        return ()
