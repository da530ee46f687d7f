# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Connector jars in Flink's ``lib/``: Maven paths, download, verification,
validation, planning, atomic installation, and the controller cache.

This is the one place for jar handling. Everything is a plain function (or a
small value class) over its inputs, with no ``AnsibleModule``, so that the
module, its action plugin and the unit tests share the same code:

- ``ensure_jars`` brings several jars into (or out of) one ``dest`` under the
  caller's ``dest_lock``: one scan, one plan, every jar verified before any is
  renamed into place (``ensure_present``/``ensure_absent`` are the one-jar
  forms);
- ``cache_jar`` resolves a jar on the controller for ``fetch_mode=controller``,
  and ``pushed_item``/``pushed_request`` carry what the host needs of it.

Flink puts every ``*.jar`` in ``lib/`` on the JVM classpath at start (FACTS.md,
"Flink runtime"), so nothing this code leaves in ``dest`` may end in ``.jar``
unless it is the finished, verified jar: temporary files end in ``.part``,
backups in ``.bak``, and the lock is taken on the directory itself.
"""

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import queue
import re
import stat
import struct
import tempfile
import threading
import time
import typing as t
import zipfile
import zlib
from urllib.parse import unquote, urlsplit

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import call_within, url_secrets

# Nothing that only downloading needs is imported here: ansible.module_utils.urls pulls in http.client, email,
# cookiejar and (where installed) cryptography, a good part of a module execution's CPU. A host that installs
# jars pushed from the controller never downloads, so it never imports them (see _urls()).

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
    # Entry-name fragments of dependencies the SQL jar bundles and the thin jar lacks; a jar that registers
    # the factory without them is the thin jar.
    shaded: t.Tuple[str, ...] = ()
    source: str = ""


# FACTS.md "Flink CDC postgres connector" (apache/flink-cdc pom.xml and the
# connector META-INF/services files at tags 2.4.2, 3.0.1, 3.1.0, 3.5.0, 3.6.0).
_PG_SOURCE = "FACTS.md 'Flink CDC postgres connector': apache/flink-cdc META-INF/services at 2.4.2, 3.0.1, 3.1.0, 3.5.0, 3.6.0"
PG_CDC_FACTORY_2X = "com.ververica.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PG_CDC_FACTORY_3X = "org.apache.flink.cdc.connectors.postgres.table.PostgreSQLTableFactory"
# The SQL jar bundles Debezium (its embedded engine included) and the PostgreSQL JDBC driver without relocating
# them (apache/flink-cdc flink-sql-connector-postgres-cdc/pom.xml, shade includes; confirmed on the published
# 3.3.0 and 3.5.0 jars, tests/unit/fixtures/jars/real_connectors.json). The thin flink-connector-postgres-cdc
# jar carries a few patched io/debezium/connector classes of its own, so only these tell the two apart.
PG_CDC_SHADED = ("io/debezium/embedded/", "org/postgresql/jdbc/")
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
# The thin flink-connector-postgres-cdc jar lacks Debezium's engine and the JDBC driver (apache/flink-cdc
# docs/content/docs/faq/faq.md, General Q2: the SQL jar is the one for lib/).
WRONG_ARTIFACTS = {
    PG_CDC_THIN_ARTIFACT: (
        "flink-connector-postgres-cdc is the thin connector jar: it bundles neither Debezium's engine nor the "
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


def _urls() -> t.Any:
    """``ansible.module_utils.urls``, imported the first time something downloads or masks a URL."""
    from ansible.module_utils import urls
    return urls


def mask_url(url: str) -> str:
    """The URL with its credentials masked by ``ansible.module_utils.urls.mask_url``; one without any (no ``@``)
    comes back as it is, as there, but without importing that module."""
    if "@" not in urlsplit(url).netloc:
        return url
    return _urls().mask_url(url)


def option_url_secrets(params: t.Mapping[str, t.Any]) -> t.Set[str]:
    """``url_secrets`` of every option that takes a URL: ``repository_url``, ``url`` and each ``jars[].url``."""
    urls = [params.get("repository_url"), params.get("url")]
    entries = params.get("jars")
    if isinstance(entries, list):
        urls += [entry.get("url") for entry in entries if isinstance(entry, dict)]
    return url_secrets(*urls)


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


def _hash_file(readinto: t.Callable[[bytearray], int], hasher: _Hasher) -> bytes:
    """Feed a file's ``readinto`` to ``hasher`` in chunks; returns its first bytes, for error messages."""
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    first = b""
    while True:
        n = readinto(buf)
        if not n:
            return first
        if not first:
            first = bytes(view[:min(n, 512)])
        hasher.update(view[:n])


def file_digests(path: str, algorithms: t.Iterable[str] = ()) -> Digests:
    hasher = _Hasher(algorithms)
    with open(path, "rb", buffering=0) as f:
        _hash_file(f.readinto, hasher)
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


_TLS_CONTEXTS = {}  # type: t.Dict[bool, t.Any]


def _tls_context(validate_certs: bool) -> t.Any:
    """One TLS context per process, or None where ``Request.open`` cannot take one (ansible-core < 2.14).

    Building one loads the CA bundle (about 60 ms), and open_url builds one per request, even for http.
    """
    if validate_certs not in _TLS_CONTEXTS:
        import inspect
        urls = _urls()
        reusable = hasattr(urls, "make_context") and "context" in inspect.signature(urls.Request.open).parameters
        _TLS_CONTEXTS[validate_certs] = urls.make_context(validate_certs=validate_certs) if reusable else None
    return _TLS_CONTEXTS[validate_certs]


def _secs(value: float) -> str:
    return "%d" % value if float(value).is_integer() else "%.1f" % value


def _close(resp: t.Any) -> None:
    try:
        resp.close()
    except Exception:
        pass


def _open(url: str, opts: HttpOptions, method: str) -> t.Any:
    urls = _urls()
    kwargs = dict(headers=dict(opts.headers or {}), use_proxy=opts.use_proxy, force=opts.force,
                  timeout=opts.timeout, validate_certs=opts.validate_certs, url_username=opts.url_username,
                  url_password=opts.url_password, http_agent=USER_AGENT, follow_redirects="safe")
    context = _tls_context(opts.validate_certs)
    if context is not None:
        return urls.Request().open(method, url, context=context, **kwargs)
    return urls.open_url(url, method=method, **kwargs)


def http_open(url: str, http_options: HttpOptions, what: str, method: str = "GET",
              read: t.Optional[int] = None) -> t.Any:
    """Open ``url`` within ``timeout`` (connect, status line, headers: see ``call_within``); turn every failure
    into a DownloadError that says where and why.

    With ``read``, also read (up to that many bytes of) the body within the same deadline, and return the bytes.
    """
    import socket
    import urllib.error
    from http.client import HTTPException
    urls = _urls()
    check_http_url(url)
    where = describe_url(url)

    def request() -> t.Any:
        resp = _open(url, http_options, method)
        if read is None:
            return resp
        try:
            return resp.read(read)
        finally:
            _close(resp)

    try:
        return call_within(http_options.timeout, request, on_late=None if read is not None else _close)
    except urllib.error.HTTPError as exc:
        _close(exc)
        advice = {
            401: "the repository wants credentials: set url_username/url_password, or headers for a token.",
            403: "the repository refused these credentials or this host: check url_username/url_password or headers.",
            404: "check repository_url, group_id, artifact_id, version and classifier (or url).",
        }.get(exc.code, "retry later, or check the repository.")
        raise DownloadError("Could not download %s: %s %s answered HTTP %s %s; %s Nothing was changed." % (
            what, method, mask_url(url), exc.code, exc.reason, advice), status=exc.code, url=mask_url(url))
    except urls.SSLValidationError as exc:
        raise DownloadError("Could not download %s from %s: TLS certificate validation failed (%s). Install the "
                            "repository's CA on this host, or (only for testing) set validate_certs: false."
                            % (what, where, exc), url=mask_url(url))
    except (urllib.error.URLError, urls.ConnectionError, OSError, HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, socket.timeout) or "timed out" in str(reason):
            parts = "status line, headers and body" if read is not None else "status line and headers"
            raise DownloadError("Could not download %s: %s gave no complete answer within %s s (timeout: connecting, "
                                "%s). Check that repository_url/url names a repository that answers, or raise "
                                "timeout." % (what, where, _secs(http_options.timeout), parts),
                                url=mask_url(url), timed_out=True)
        raise DownloadError("Could not download %s: cannot reach %s (%s). Check repository_url/url, the "
                            "network path and use_proxy; timeout is %ss." % (what, where, reason, http_options.timeout),
                            url=mask_url(url))


def fetch_sidecar(jar_url: str, http_options: HttpOptions, algorithm: str = "sha1",
                  source: t.Optional["JarSource"] = None) -> Checksum:
    """The repository's checksum file for ``jar_url``. A missing one is an error, never a pass.

    When the jar itself is missing too (``source`` says what it is), that is the error: see ``missing_jar_error``.
    """
    url = jar_url + "." + algorithm
    where = describe_url(url)
    try:
        data = http_open(url, http_options, "the %s checksum file" % algorithm, read=SIDECAR_LIMIT)
    except DownloadError as exc:
        if exc.details.get("status") == 404:
            if source is not None:
                absent = missing_jar_error(source, http_options)
                if absent is not None:
                    raise absent
            raise ChecksumError(
                "The repository has no %s checksum file at %s, so the jar cannot be verified and was not "
                "installed. Pin the expected checksum with checksum: sha256:<hex> (or sha1:/sha512:), or "
                "check repository_url." % (algorithm, where), url=mask_url(url))
        raise
    return parse_sidecar(data, algorithm, where)


# ---------------------------------------------------------------------------
# A jar the repository does not have
# ---------------------------------------------------------------------------

METADATA_LIMIT = 1024 * 1024
_METADATA_VERSIONS = re.compile(r"<versions>(.*?)</versions>", re.S)
_METADATA_VERSION = re.compile(r"<version>\s*([^<\s]+)\s*</version>")


def _version_parts(version: str) -> t.List[t.Union[int, str]]:
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\-_+]", version) if p]


def _newness(version: str) -> t.Tuple[t.Tuple[int, t.Any], ...]:
    # Numbers compare as numbers and words as words, never one with the other.
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in _version_parts(version))


def nearest_versions(wanted: str, versions: t.Iterable[str]) -> t.List[str]:
    """``versions``, nearest to ``wanted`` first: the most leading parts in common, then the smallest difference in
    the first part that differs, then the newer one. For 3.4.0 among 2.4.2, 3.3.0, 3.5.0 and 3.6.0-1.20 that is
    3.5.0, 3.3.0, 3.6.0-1.20, 2.4.2."""
    want = _version_parts(wanted)

    def distance(version: str) -> t.Tuple[int, int]:
        have = _version_parts(version)
        common = 0
        while common < min(len(want), len(have)) and want[common] == have[common]:
            common += 1
        w = want[common] if common < len(want) else 0
        h = have[common] if common < len(have) else 0
        gap = abs(w - h) if isinstance(w, int) and isinstance(h, int) else 1 << 30
        return (-common, gap)

    return sorted(sorted(set(versions), key=_newness, reverse=True), key=distance)


def metadata_url(repository_url: str, group_id: str, artifact_id: str) -> str:
    """FACTS.md "Maven repository layout": ``<repo>/<group path>/<artifactId>/maven-metadata.xml`` lists the versions."""
    validate_coordinates(group_id, artifact_id, None)
    return "/".join([repository_url.rstrip("/")] + group_id.split(".") + [artifact_id, "maven-metadata.xml"])


def repository_versions(repository_url: str, group_id: str, artifact_id: str,
                        http_options: HttpOptions) -> t.Optional[t.List[str]]:
    """The versions the repository's ``maven-metadata.xml`` lists, or None when it serves none (or no readable one)."""
    try:
        data = http_open(metadata_url(repository_url, group_id, artifact_id), http_options,
                         "maven-metadata.xml", read=METADATA_LIMIT)
    except JarError:
        return None
    # <metadata><versioning><versions><version>3.5.0</version>...: only that list, not a top-level <version>.
    block = _METADATA_VERSIONS.search(data.decode("utf-8", "replace"))
    found = _METADATA_VERSION.findall(block.group(1)) if block else []
    return [v for v in found if _VERSION.match(v)] or None


def missing_jar_error(source: "JarSource", http_options: HttpOptions,
                      status: t.Optional[int] = None) -> t.Optional[JarError]:
    """The error for a jar the repository does not have: the coordinates, the repository without credentials and
    the HTTP status, and for Maven coordinates the versions it does have, nearest first, from its
    ``maven-metadata.xml``.

    Without ``status``, first asks (HEAD) whether the jar is there: None when it is, or when the server will not say.
    """
    url = source.url or ""
    if status is None:
        try:
            http_open(url, http_options, source.filename, method="HEAD", read=0)
            return None
        except DownloadError as exc:
            status = exc.details.get("status")
        if status not in (404, 410):
            return None
    if source.kind != "maven" or not source.coordinates or not source.repository:
        return DownloadError("The jar %s is not at %s (HTTP %s), so it cannot be verified or installed. Check url. "
                             "Nothing was changed." % (source.filename, mask_url(url), status),
                             status=status, url=mask_url(url))
    group_id, artifact_id, version = source.coordinates.split(":")[:3]
    versions = repository_versions(source.repository, group_id, artifact_id, http_options)
    if versions:
        nearest = nearest_versions(version, versions)
        shown = nearest[:10]
        listed = "It has %d version(s) of %s:%s, nearest first: %s%s." % (
            len(nearest), group_id, artifact_id, ", ".join(shown), ", ..." if len(nearest) > len(shown) else "")
    else:
        listed = "It serves no maven-metadata.xml for %s:%s that lists its versions." % (group_id, artifact_id)
    return DownloadError(
        "%s is not in the repository %s (HTTP %s for %s), so it cannot be verified or installed. %s Set version to "
        "one it has, or point repository_url at a repository that has this one. Nothing was changed." % (
            source.coordinates, mask_url(source.repository), status, describe_url(url), listed),
        status=status, url=mask_url(url), versions=versions or [])


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


def _counting_reader(resp: t.Any, arrived: t.List[int]) -> t.Callable[[bytearray], int]:
    """A ``readinto`` for ``_pump`` that fills a chunk with one socket read at a time (``read1``) and counts in
    ``arrived[0]`` every byte as it arrives, so that a failure mid-chunk says how much had arrived.
    ``HTTPResponse.readinto`` would block until the whole chunk is there and lose the count when it fails."""
    read1 = getattr(resp, "read1", None)
    if read1 is None:
        def whole(buf: bytearray) -> int:
            n = resp.readinto(buf)
            arrived[0] += n
            return n
        return whole

    def readinto(buf: bytearray) -> int:
        view = memoryview(buf)
        filled = 0
        while filled < len(buf):
            data = read1(len(buf) - filled)
            if not data:
                break
            view[filled:filled + len(data)] = data
            filled += len(data)
            arrived[0] += len(data)
        return filled
    return readinto


def stream_to(url: str, http_options: HttpOptions, out: t.BinaryIO, what: str,
              algorithms: t.Iterable[str] = (), space_check_dir: t.Optional[str] = None) -> Download:
    """GET ``url`` into ``out`` in CHUNK_SIZE pieces, hashing as it goes.

    Checks Content-Length (HTTPResponse returns a short body without raising
    when a server closes early) and, when ``space_check_dir`` is given, refuses
    up front a body larger than the free space there. The status line and
    headers must arrive within ``timeout`` (``http_open``); the body may take
    as long as it keeps arriving, but no read waits more than ``timeout``.
    """
    import socket
    from http.client import HTTPException, IncompleteRead
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
        arrived = [0]
        try:
            first = _pump(_counting_reader(resp, arrived), out, hasher)
        except IncompleteRead:
            pass  # reported below with the byte counts
        except (socket.timeout, OSError, HTTPException) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise DownloadError("Ran out of space writing %s into %s after %d bytes. Free some space "
                                    "there; nothing was changed." % (what, space_check_dir, hasher.size))
            of = " of %d" % expected_length if expected_length is not None else ""
            if isinstance(exc, socket.timeout) or "timed out" in str(exc):
                # Each read waits at most timeout seconds (the socket's timeout): a transfer that keeps
                # progressing, however slowly, finishes; one that stops for that long fails here.
                raise DownloadError(
                    "Downloading %s from %s stalled: no data for %s s (timeout) after %d%s bytes had arrived. "
                    "Nothing was changed; retry, or raise timeout if the repository is this slow." % (
                        what, where, _secs(http_options.timeout), arrived[0], of), arrived=arrived[0], stalled=True)
            raise DownloadError("Downloading %s from %s failed after %d%s bytes: %s. Nothing was changed; "
                                "retry, or raise timeout." % (what, where, arrived[0], of, exc), arrived=arrived[0])
        digests = hasher.digests()
        if expected_length is not None and digests.size != expected_length:
            raise DownloadError(
                "Downloading %s from %s stopped early: got %d of %d bytes (Content-Length); the connection "
                "was closed. Nothing was changed; retry." % (what, where, digests.size, expected_length))
        return Download(digests, ctype, first)
    finally:
        resp.close()


def download(source: "JarSource", http_options: HttpOptions, out: t.BinaryIO, algorithms: t.Iterable[str] = (),
             space_check_dir: t.Optional[str] = None) -> Download:
    """``stream_to`` for a jar source: a jar the repository does not have is named as such (``missing_jar_error``)."""
    try:
        return stream_to(source.url or "", http_options, out, source.filename, algorithms, space_check_dir)
    except DownloadError as exc:
        if exc.details.get("status") in (404, 410):
            raise missing_jar_error(source, http_options, exc.details["status"]) or exc
        raise


def copy_to(src: str, out: t.BinaryIO, algorithms: t.Iterable[str] = ()) -> Download:
    """Copy a local file into ``out``, hashing as it goes (the ``src`` source)."""
    hasher = _Hasher(algorithms)
    with open(src, "rb", buffering=0) as f:
        first = _pump(f.readinto, out, hasher)
    return Download(hasher.digests(), "", first)


def adopt_pushed(src: str, temp: str) -> t.Optional[os.stat_result]:
    """Move a jar the action plugin pushed onto ``temp`` (a temp file in dest) instead of copying it.

    Only for the action plugin's own copy in its temp dir (``JarSource.movable``), never a user's ``src``.
    Only a regular file of the user running the module with no other name (whoever held another name, or
    owned it under become, could still change the installed jar), and only within one filesystem. Returns
    what was moved, or None when the caller must copy instead (``EXDEV``, or anything else in the way).
    """
    try:
        st = os.lstat(src)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_uid != os.geteuid():
        return None
    try:
        os.rename(src, temp)  # onto the name open_temp reserved, so nothing else can be there
    except OSError:
        return None
    return st


def read_adopted(path: str, adopted: os.stat_result, algorithms: t.Iterable[str] = ()) -> Download:
    """Hash the file ``adopt_pushed`` moved to ``path``, reading it once: it is verified like a download."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(f.fileno())
        # What is read here is what gets renamed into place: still the file that was checked and moved.
        if (st.st_dev, st.st_ino) != (adopted.st_dev, adopted.st_ino) or not stat.S_ISREG(st.st_mode) \
                or st.st_nlink != 1 or st.st_uid != adopted.st_uid:
            raise JarError("%s was replaced by another file while it was being installed. Nothing was changed; run "
                           "the task again." % path)
        hasher = _Hasher(algorithms)
        first = _hash_file(f.readinto, hasher)
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


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # central directory file header
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header


def _factories_in_central_directory(f: t.BinaryIO, size: int) -> t.Optional[t.Tuple[str, ...]]:
    """``read_factories`` without turning every entry into an object, as zipfile does: flink-dist has some
    40,000 entries, so every scan of a real lib/ would spend about 0.2 s in zipfile. The service entry is
    found by its name in the raw central directory instead. Returns None whenever the jar is anything but a
    plain, sound zip (zip64, data before it, a duplicate name, encryption, another compression, a bad CRC):
    then zipfile reads it, and reports what is wrong.
    """
    tail_size = min(size, _EOCD.size + 0xFFFF)  # the record, and a comment of at most 64 KiB after it
    f.seek(size - tail_size)
    tail = f.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    dummy, disk, cd_disk, on_disk, entries, cd_size, cd_offset, comment = _EOCD.unpack_from(tail, at)
    if (at + _EOCD.size + comment != len(tail) or disk or cd_disk or on_disk != entries or entries == 0xFFFF
            or 0xFFFFFFFF in (cd_size, cd_offset) or cd_offset + cd_size != size - tail_size + at):
        return None
    f.seek(cd_offset)
    directory = f.read(cd_size)
    if len(directory) != cd_size or (entries and not directory.startswith(b"PK\x01\x02")):
        return None
    name = FACTORY_SERVICE.encode("ascii")
    found = []
    pos = directory.find(name)
    while pos >= 0:  # the name may also occur inside another entry's name, extra field or comment
        start = pos - _CENTRAL.size
        if start >= 0 and directory.startswith(b"PK\x01\x02", start):
            header = _CENTRAL.unpack_from(directory, start)
            if header[10] == len(name):
                found.append(header)
        pos = directory.find(name, pos + 1)
    if not found:
        return ()
    if len(found) > 1:
        return None
    flags, method, crc, packed, unpacked, offset = (found[0][i] for i in (3, 4, 7, 8, 9, 16))
    if flags & 0x1 or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or unpacked > SERVICES_LIMIT \
            or 0xFFFFFFFF in (packed, offset):
        return None
    f.seek(offset)
    local = f.read(_LOCAL.size)
    if len(local) != _LOCAL.size:
        return None
    signature, name_size, extra_size = (_LOCAL.unpack(local)[i] for i in (0, 9, 10))
    if signature != b"PK\x03\x04" or f.read(name_size) != name:
        return None
    f.seek(offset + _LOCAL.size + name_size + extra_size)
    data = f.read(packed)
    if method == zipfile.ZIP_DEFLATED:
        try:
            data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, SERVICES_LIMIT + 1)
        except zlib.error:
            return None
    if len(data) != unpacked or zlib.crc32(data) != crc:
        return None
    return _parse_services(data)


def read_factories(path: str) -> t.Tuple[str, ...]:
    """The Flink table factories a jar registers (cheap: central directory + one entry)."""
    try:
        with open(path, "rb") as f:
            if f.read(4) in _ZIP_MAGIC:  # anything else: _open_zip says what it is
                found = _factories_in_central_directory(f, os.fstat(f.fileno()).st_size)
                if found is not None:
                    return found
    except OSError:
        pass  # _open_zip reports it
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
    check_factories(what, expected_factories, factories)
    for connector in KNOWN_CONNECTORS:
        if connector.shaded and connector.required_factory in factories:
            missing = [m for m in connector.shaded if not any(m in n for n in names)]
            if missing:
                raise InvalidJarError(
                    "%s registers %s but carries no %s classes: it is the thin connector jar. %s" % (
                        what, connector.required_factory, " or ".join(missing),
                        WRONG_ARTIFACTS[PG_CDC_THIN_ARTIFACT]))
    return JarInfo(factories, len(infos))


def check_factories(what: str, expected_factories: t.Sequence[str], factories: t.Sequence[str]) -> None:
    """At least one of ``expected_factories`` (when given) must be registered."""
    if expected_factories and not set(expected_factories) & set(factories):
        raise InvalidJarError(
            "%s does not register %s in %s (it registers: %s). This is not the expected connector jar; check "
            "group_id, artifact_id and version. It was not installed." % (
                what, " or ".join(expected_factories), FACTORY_SERVICE, ", ".join(factories) or "nothing"))


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
    checksum: t.Optional[Checksum] = None  # pinned by the user (for pushed jars: by the controller)
    # What the jar registers, when the controller has already read it (pushed jars).
    factories: t.Optional[t.Tuple[str, ...]] = None
    # Resolved on the controller (fetch_mode=controller): src, once given, is the copy the
    # action plugin transferred, and the checksum is what the controller verified and validated.
    pushed: bool = False
    # src is the action plugin's own copy, in the temp dir it made for this task: it may be moved into dest.
    movable: bool = False
    # Maven coordinates (group:artifact:version[:classifier]) and repository_url, for the error when the
    # repository lacks the jar (missing_jar_error).
    coordinates: t.Optional[str] = None
    repository: t.Optional[str] = None

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
    def planned_factories(self) -> t.Tuple[str, ...]:
        """What the jar registers, for planning before it is here: read on the controller, else our data."""
        return self.factories if self.factories is not None else self.known_factories

    @property
    def what(self) -> str:
        """The jar and where it comes from, for messages."""
        if self.pushed:
            return "%s (pushed from the controller)" % self.filename
        if self.kind == "src":
            return "%s (src %s)" % (self.filename, self.src)
        return "%s from %s" % (self.filename, describe_url(self.url or ""))


def maven_source(repository_url: str, group_id: str, artifact_id: str, version: str,
                 classifier: t.Optional[str] = None, checksum: t.Optional[str] = None) -> JarSource:
    url = maven_url(repository_url, group_id, artifact_id, version, classifier)
    coordinates = ":".join([group_id, artifact_id, version] + ([classifier] if classifier else []))
    return JarSource("maven", jar_filename(artifact_id, version, classifier), artifact_id, group_id, url=url,
                     checksum=parse_checksum(checksum) if checksum else None, coordinates=coordinates,
                     repository=repository_url.rstrip("/"))


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
        return fetch_sidecar(source.url or "", http_options, "sha1", source)
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


def diff_jars(dest: str, before: t.Sequence[str], after: t.Sequence[str],
              replaced: t.Optional[t.Mapping[str, t.Tuple[str, str]]] = None) -> t.Dict[str, str]:
    """Before/after jar lists for --diff.

    ``replaced`` maps a file name that keeps its name but gets new content to
    (old sha256, new sha256, or '' while the new one is not known).
    """
    marked = {n: r for n, r in (replaced or {}).items() if n in before}

    def mark_before(name: str) -> str:
        return name + ("  sha256:%s" % marked[name][0][:16] if name in marked else "")

    def mark_after(name: str) -> str:
        if name not in marked:
            return name
        return name + ("  sha256:%s" % marked[name][1][:16] if marked[name][1] else "  (new content)")

    return {
        "before_header": "%s (jars)" % dest,
        "after_header": "%s (jars)" % dest,
        "before": "".join(mark_before(n) + "\n" for n in before),
        "after": "".join(mark_after(n) + "\n" for n in after),
    }


def diff_of(plan: Plan, replaced: t.Optional[t.Tuple[str, str]] = None) -> t.Dict[str, str]:
    """Before/after jar lists for --diff; ``replaced`` = (old sha256, new sha256) of the target."""
    return diff_jars(plan.dest, plan.before, plan.after, {plan.target: replaced} if replaced else None)


class Want(t.NamedTuple):
    """What one jar of a call wants of dest, as ``plan_jars`` needs it."""

    state: str  # present | absent
    target: str  # file name in dest; '' for state=absent without a version
    target_current: bool = False
    artifact_id: t.Optional[str] = None
    # present: what the new jar registers; absent: the artifact's own factories
    factories: t.Sequence[str] = ()
    reason: str = ""


class BatchPlan(t.NamedTuple):
    dest: str
    plans: t.List[Plan]  # one per Want; each removal is listed under the first jar that causes it
    remove: t.List[str]
    before: t.List[str]
    after: t.List[str]

    @property
    def changes(self) -> bool:
        return bool(self.remove) or any(p.install for p in self.plans)


def _label(want: Want) -> str:
    return want.target or "every version of %s" % want.artifact_id


def _contradiction(first: Want, second: Want, why: str) -> JarError:
    return JarError("The jars of this call contradict each other: %s and %s %s. List each connector once. Nothing "
                    "was changed." % (_label(first), _label(second), why))


def refuse_contradictions(wants: t.Sequence[Want], remove_other_versions: bool) -> None:
    """Refuse a list whose jars would remove or shadow each other (Flink would load both, or neither)."""
    seen = {}  # type: t.Dict[str, Want]
    for want in wants:
        if want.target in seen:
            raise _contradiction(seen[want.target], want, "name the same file")
        if want.target:
            seen[want.target] = want
    present = [w for w in wants if w.state == "present"]
    for index, first in enumerate(present):
        for second in present[index + 1:]:
            if (other_versions([second.target], first.artifact_id, keep=first.target)
                    or other_versions([first.target], second.artifact_id, keep=second.target)):
                raise _contradiction(first, second, "are two versions of one artifact")
            clash = factory_conflicts({second.target: second.factories}, first.factories, keep=first.target)
            if clash:
                raise _contradiction(first, second, "both register the same %s" % ", ".join(clash[second.target]))
    for gone in (w for w in wants if w.state == "absent"):
        for kept in present:
            if other_versions([kept.target], gone.artifact_id) or (
                    remove_other_versions
                    and factory_conflicts({kept.target: kept.factories}, gone.factories, same_identifier=False)):
                raise _contradiction(gone, kept, "ask to remove and to install the same connector")


def plan_jars(dest: str, jars: t.Sequence[str], wants: t.Sequence[Want],
              factories_by_jar: t.Mapping[str, t.Optional[t.Sequence[str]]],
              remove_other_versions: bool) -> BatchPlan:
    """What one call with several jars changes: pure, over one scan of ``dest``.

    ``factories_by_jar`` covers the jars in dest that this call does not
    install. Each removal is attributed to the first jar that causes it, and a
    jar this call installs is never removed by another entry.
    """
    refuse_contradictions(wants, remove_other_versions)
    keep = {w.target for w in wants if w.state == "present"}
    plans = []
    owned = set()  # type: t.Set[str]
    for want in wants:
        if want.state == "present":
            plan = plan_present(dest, jars, want.target, want.target_current, want.artifact_id, factories_by_jar,
                                want.factories, remove_other_versions, want.reason)
        else:
            plan = plan_absent(dest, jars, want.artifact_id, want.target, factories_by_jar, want.factories,
                               remove_other_versions)
        mine = [n for n in plan.remove if n not in owned and n not in keep]
        owned.update(mine)
        plans.append(plan._replace(remove=mine, remove_reasons={n: plan.remove_reasons[n] for n in mine}))
    remove = sorted(owned)
    return BatchPlan(dest, plans, remove, list(jars), sorted((set(jars) - owned) | keep))


# ---------------------------------------------------------------------------
# Locking, temp files, install, removal
# ---------------------------------------------------------------------------


def _flock_wait(fd: int, exclusive: bool, wait: float, timeout_msg: str) -> None:
    """flock with a deadline, polling so that a stuck holder turns into a clear error."""
    deadline = time.monotonic() + wait
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    delay = 0.02
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            if time.monotonic() >= deadline:
                raise JarError(timeout_msg)
            time.sleep(delay)
            # Short naps: the waiters of a run (its first forks) should not oversleep the holder by much.
            delay = min(delay * 2, 0.1)


@contextlib.contextmanager
def dest_lock(dest: str, exclusive: bool = True, wait: float = DEFAULT_LOCK_WAIT) -> t.Iterator[None]:
    """Serialize runs on ``dest`` with flock on the directory itself.

    Locking the directory leaves no lock file in lib/ and works whatever the
    runs' temp directories are.
    """
    fd = os.open(dest, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        _flock_wait(fd, exclusive, wait,
                    "Another run has held the lock on %s for more than %ds; it may be stuck downloading. Check for "
                    "other ansible runs on this host." % (dest, wait))
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


def remove_stale_temps(dest: str) -> None:
    """Remove ``stale_temps``; the caller holds the exclusive lock on ``dest``, so no live run owns them.

    Best effort: a temp file that cannot be removed is no jar, so Flink ignores it, and a later run tries again.
    """
    for name in stale_temps(dest):
        try:
            discard(os.path.join(dest, name))
        except OSError:
            pass


_MOUNTINFO_ESCAPE = re.compile(r"\\([0-7]{3})")


def mount_of(path: str) -> t.Tuple[str, str]:
    """``(mount point, filesystem type)`` of the filesystem holding ``path``.

    From ``/proc/self/mountinfo`` (the longest mount point above the real path; the last one listed of those
    stacked there), which also knows bind mounts; elsewhere the first directory upward that
    ``os.path.ismount``, type unknown.
    """
    real = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if "-" not in fields[6:] or len(fields) < 5:
                    continue
                point = _MOUNTINFO_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, kind = point, fields[fields.index("-", 6) + 1]
    except (OSError, IndexError, ValueError):
        best = ""
    if best:
        return best, kind
    point = real
    while not os.path.ismount(point) and os.path.dirname(point) != point:
        point = os.path.dirname(point)
    return point, ""


def _read_only(where: str) -> str:
    point, kind = mount_of(where)
    return "the filesystem mounted at %s%s is read-only" % (point, " (%s)" % kind if kind else "")


def write_error(where: str, exc: OSError) -> JarError:
    try:
        import pwd
        user = pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        user = str(os.geteuid())
    if exc.errno == errno.EROFS:
        # No user may write there, so become cannot help.
        return JarError("Cannot write in %s: %s. Remount it read-write, or point dest at a directory on a writable "
                        "filesystem. Nothing was changed." % (where, _read_only(where)), errno=exc.errno)
    if exc.errno in (errno.EACCES, errno.EPERM) and os.geteuid() == 0:
        return JarError("Cannot write in %s as user root: %s. Root itself is refused, so become cannot help: check for "
                        "the immutable attribute (lsattr -d %s; chattr -i), a network filesystem that maps root to "
                        "nobody (root_squash), or a security policy (SELinux, AppArmor). Nothing was changed." % (
                            where, exc.strerror, where), errno=exc.errno)
    if exc.errno in (errno.EACCES, errno.EPERM):
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
    return install_temps(dest, [(temp, filename)], mode, uid, gid, backup).get(filename)


def _keep_copy(final: str, keep: str) -> str:
    """A second name ``keep`` for the file at ``final``: a hard link, else a copy."""
    try:
        os.link(final, keep)
    except OSError:  # no hard links on this filesystem, or an immutable file: copy it instead
        try:
            with open(final, "rb", buffering=0) as src, open(keep, "xb", buffering=0) as out:
                _pump(src.readinto, out, _Hasher())
            os.chmod(keep, stat.S_IMODE(os.stat(final).st_mode))
        except OSError:
            discard(keep)
            raise
    return keep


def install_temps(dest: str, installs: t.Sequence[t.Tuple[str, str]], mode: int, uid: t.Optional[int],
                  gid: t.Optional[int], backup: bool) -> t.Dict[str, str]:
    """Rename verified temp files into place: all of them, or none.

    ``installs`` is ``[(temp path, file name in dest)]``. Every temp is fsynced
    and given its mode and owner first (where permission problems show up),
    while dest is still untouched. One rename is atomic but several are not, so
    the files they replace are kept under a second name until the last rename
    has succeeded, and a failed rename puts back the ones before it. The second
    name is the backup (``*.bak``) with ``backup``, else a temp name that the
    next run removes if this one is killed; neither ends in ``.jar``.
    Returns ``{file name: backup path}``.
    """
    finals = [target_path(dest, filename) for dummy, filename in installs]
    for temp, dummy in installs:
        try:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise write_error(dest, exc)
        apply_attributes(temp, mode, uid, gid)
    # A single rename cannot half-fail: it needs a second name only for a backup.
    need_keep = backup or len(installs) > 1
    keeps = []  # type: t.List[t.Optional[str]]
    renamed = 0
    try:
        for final, (dummy, filename) in zip(finals, installs):
            if need_keep and os.path.lexists(final):
                keep = os.path.join(dest, backup_name(filename) if backup else "%s%s%s" % (
                    _temp_prefix(filename), os.urandom(6).hex(), TEMP_SUFFIX))
                keeps.append(_keep_copy(final, keep))
            else:
                keeps.append(None)
        for final, (temp, dummy) in zip(finals, installs):
            os.replace(temp, final)
            renamed += 1
    except OSError as exc:
        failed = write_error(dest, exc)
        for keep in keeps[renamed:]:
            discard(keep)  # their files were never replaced
        try:
            for final, keep in zip(finals[:renamed], keeps[:renamed]):
                if keep:
                    os.replace(keep, final)
                else:
                    os.unlink(final)
        except OSError as undo:
            # Whatever keep is left is the only copy of a replaced jar: leave it for the user.
            left = [k for k in keeps[:renamed] if k and os.path.exists(k)]
            raise JarError("%s Putting back the jars renamed into place before it failed too (%s): check %s by "
                           "hand%s." % (failed.msg.replace(" Nothing was changed.", ""), undo,
                                        ", ".join(finals[:renamed]),
                                        "; the replaced files are kept as %s" % ", ".join(left) if left else ""),
                           changed=True)
        if renamed:
            raise JarError("%s (%d jar(s) of this call had already been renamed into place; they were put back.)" % (
                failed.msg, renamed), **failed.details)
        raise failed
    saved = {}  # type: t.Dict[str, str]
    for keep, (dummy, filename) in zip(keeps, installs):
        if keep and backup:
            saved[filename] = keep
        else:
            discard(keep)
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
# Jars in dest: several per call, one lock and one scan (the caller holds dest_lock)
# ---------------------------------------------------------------------------


class InstallOptions(t.NamedTuple):
    validate: bool = True
    remove_other_versions: bool = True
    mode: int = 0o644
    uid: t.Optional[int] = None
    gid: t.Optional[int] = None
    backup: bool = False
    force: bool = False


class JarRequest(t.NamedTuple):
    """One jar of a call, and whether it should be in dest."""

    source: JarSource
    state: str = "present"


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


class _Jar:
    """One request while ``ensure_jars`` works on it; filled in phase by phase."""

    def __init__(self, request: JarRequest, dest: str) -> None:
        self.source = request.source
        self.state = request.state
        if self.state == "present":
            self.final = target_path(dest, self.source.filename)
        else:
            self.final = os.path.join(dest, self.source.filename) if self.source.filename else ""
        self.expected = None  # type: t.Optional[Checksum]
        self.src_digests = None  # type: t.Optional[Digests]
        self.current = None  # type: t.Optional[Digests]
        self.target_current = False
        self.reason = ""
        self.new_factories = self.source.planned_factories
        if self.state == "present" and self.source.kind == "src" and self.source.src:
            # A local file can tell now what it registers, so a list that contradicts itself
            # is refused before any request.
            self.new_factories = _safe_factories(self.source.src) or self.new_factories
        self.plan = None  # type: t.Optional[Plan]
        self.attrs = False
        self.temp = None  # type: t.Optional[str]
        self.got = None  # type: t.Optional[Download]
        self.replaced = None  # type: t.Optional[t.Tuple[str, str]]
        self.downloaded = False
        self.removed = []  # type: t.List[str]

    def want(self) -> Want:
        if self.state == "absent":
            return Want("absent", self.source.filename, artifact_id=self.source.artifact_id,
                        factories=self.source.known_factories)
        return Want("present", self.source.filename, self.target_current and self.got is None,
                    self.source.artifact_id, self.new_factories, self.reason)


def _expect(jar: _Jar, http_options: HttpOptions, opts: InstallOptions, check_mode: bool) -> None:
    """The expected checksum, and whether dest already has it (so that a current jar is never downloaded)."""
    source = jar.source
    expected = expected_checksum(source, http_options)
    if source.kind == "src" and source.src and not source.pushed:
        jar.src_digests = file_digests(source.src, [expected.algorithm] if expected else [])
        if expected is not None:
            verify_checksum(jar.src_digests, expected, source.what)
        if opts.validate and check_mode:
            # A real run validates the copy it installs; check mode has only the source.
            validate_jar(source.src, source.what, source.expected_factories)
        # From here on the file itself is the expectation.
        expected = Checksum("sha256", jar.src_digests.sha256, "src file %s" % source.src)
    jar.expected = expected
    if os.path.isfile(jar.final) and expected is not None:
        jar.current = file_digests(jar.final, [expected.algorithm])
    jar.target_current = jar.current is not None and expected is not None and matches(jar.current, expected)
    if not os.path.lexists(jar.final):
        jar.reason = "not present"
    elif jar.target_current:
        jar.reason = "up to date"
    else:
        jar.reason = "replaces a file with other content"
    # The factories the new jar registers: exact when we can read the jar
    # without downloading it, else what the controller or our data says.
    if source.kind == "src" and source.src:
        jar.new_factories = _safe_factories(source.src) or source.planned_factories
    elif jar.target_current:
        jar.new_factories = _safe_factories(jar.final) or source.planned_factories


def _fetch(jar: _Jar, dest: str, http_options: HttpOptions, opts: InstallOptions) -> None:
    """Stream or copy one jar into a temp file in dest, then verify and validate it there."""
    source = jar.source
    out, jar.temp = open_temp(dest, source.filename)
    algorithms = [jar.expected.algorithm] if jar.expected else []
    try:
        with out:
            # The action plugin's pushed copy is moved into dest rather than copied: one write of the jar on
            # the host (the transfer), one read (the checksum).
            adopted = adopt_pushed(source.src, jar.temp) if source.movable and source.src else None
            if adopted is not None:
                got = read_adopted(jar.temp, adopted, algorithms)
            elif source.kind == "src":
                got = copy_to(source.src or "", out, algorithms)
            else:
                got = download(source, http_options, out, algorithms, space_check_dir=dest)
                jar.downloaded = True
    except OSError as exc:
        raise write_error(dest, exc)
    if jar.expected is not None:
        verify_checksum(got.digests, jar.expected, source.what, got.first_bytes, got.content_type)
    if opts.validate and not source.pushed:
        jar.new_factories = validate_jar(jar.temp, source.what, source.expected_factories).factories
    else:
        # A pushed jar was validated on the controller, and its checksum just proved these are those bytes.
        jar.new_factories = _safe_factories(jar.temp)
    if jar.current is not None and got.digests.sha256 == jar.current.sha256:
        # force fetched the same bytes again: nothing to replace.
        discard(jar.temp)
        jar.temp = None
    else:
        jar.got = got


def _jar_result(jar: _Jar, check_mode: bool) -> t.Dict[str, t.Any]:
    plan = jar.plan or Plan("", jar.source.filename, False, "", [], {}, [], [])
    result = {"removed": jar.removed, "downloaded": jar.downloaded}  # type: t.Dict[str, t.Any]
    if jar.final:
        result["path"] = jar.final
    if jar.source.url:
        result["url"] = public_url(jar.source.url)
    if jar.state == "present":
        if jar.replaced and jar.got is not None:
            result.update(checksum=jar.got.digests.sha256, size=jar.got.digests.size)
        elif jar.target_current and jar.current is not None:
            result.update(checksum=jar.current.sha256, size=jar.current.size)
        elif jar.src_digests is not None:
            result.update(checksum=jar.src_digests.sha256, size=jar.src_digests.size)
        elif jar.expected is not None and jar.expected.algorithm == "sha256":
            result["checksum"] = jar.expected.hexdigest
    if check_mode:
        result.update(changed=plan.install or jar.attrs or bool(plan.remove),
                      msg=_plan_message(plan, jar.attrs, True))
    else:
        result.update(changed=bool(jar.replaced) or jar.attrs or bool(jar.removed),
                      msg=_plan_message(plan._replace(install=bool(jar.replaced)), jar.attrs, False))
    if jar.source.pushed:
        result["transferred"] = bool(jar.source.src)
    return result


def _batch_result(work: t.Sequence[_Jar], plan: BatchPlan, check_mode: bool, removed: t.Sequence[str],
                  opts: InstallOptions, backups: t.Sequence[str]) -> t.Dict[str, t.Any]:
    if check_mode:
        replaced = {j.source.filename: (j.current.sha256, "") for j in work
                    if j.plan is not None and j.plan.install and j.current is not None}
    else:
        replaced = {j.source.filename: j.replaced for j in work if j.replaced and j.replaced[0]}
    jars = [_jar_result(j, check_mode) for j in work]
    result = {
        "changed": any(r["changed"] for r in jars),
        "jars": jars,
        "removed": list(removed),
        "msg": "; ".join(r["msg"] for r in jars) or "no jars given",
        "diff": diff_jars(plan.dest, plan.before, plan.after, replaced),
    }  # type: t.Dict[str, t.Any]
    if opts.backup and not check_mode:
        result["backup_files"] = list(backups)
    return result


def ensure_jars(requests: t.Sequence[JarRequest], dest: str, http_options: HttpOptions, opts: InstallOptions,
                check_mode: bool) -> t.Dict[str, t.Any]:
    """Bring several jars into (or out of) ``dest`` at once (see the module documentation for the contract).

    One scan of dest and one plan for all of them. Order matters: refuse a
    list that contradicts itself before any request; verify each expected
    checksum against what is on disk (so a current jar is never downloaded);
    then fetch, verify and validate every jar that must change into temp files
    in dest; only when all of them are good, rename them all into place (or
    none: ``install_temps``); only then remove the jars they replace.

    A pushed jar (fetch_mode=controller) without ``src`` that must be
    installed makes the call change nothing and answer ``_needed`` instead:
    the file names the controller has to transfer before calling again.
    """
    check_dest(dest)
    work = [_Jar(r, dest) for r in requests]
    present = [j for j in work if j.state == "present"]
    for jar in present:
        if opts.validate:
            refuse_wrong_artifact(jar.source.artifact_id)
        if jar.source.kind == "src" and jar.source.src is not None and not os.path.isfile(jar.source.src):
            raise JarError("src %s is not a file on this host. src names a jar already on the managed host; use url "
                           "or Maven coordinates to download one." % jar.source.src)
    # Refuse a self-contradicting list before any request, on what our data says of each jar.
    refuse_contradictions([j.want() for j in work], opts.remove_other_versions)

    for jar in present:
        _expect(jar, http_options, opts, check_mode)
    jars = list_jars(dest)
    keep = {j.source.filename for j in present}
    scan = opts.remove_other_versions and (present or any(j.source.known_factories for j in work))
    factories_by_jar = scan_factories(dest, [n for n in jars if n not in keep]) if scan else {}
    plan = plan_jars(dest, jars, [j.want() for j in work], factories_by_jar, opts.remove_other_versions)
    for jar, jar_plan in zip(work, plan.plans):
        jar.plan = jar_plan
        jar.removed = [os.path.join(dest, n) for n in jar_plan.remove]
        jar.attrs = jar.target_current and attributes_differ(jar.final, opts.mode, opts.uid, opts.gid)
    if check_mode:
        return _batch_result(work, plan, True, [os.path.join(dest, n) for n in plan.remove], opts, [])

    # What a killed run left (its temp files, and the second names of a half-done install_temps) goes now,
    # under the exclusive lock, whether or not this run has anything to fetch.
    remove_stale_temps(dest)
    fetch = [j for j in present if j.plan is not None and (j.plan.install or (opts.force and j.source.kind != "src"))]
    needed = [j.source.filename for j in fetch if j.source.pushed and not j.source.src]
    if needed:
        return {"changed": False, "_needed": needed,
                "msg": "the controller must push %s before anything is installed" % ", ".join(needed)}

    backups = []  # type: t.List[str]
    try:
        for jar in fetch:
            _fetch(jar, dest, http_options, opts)
        installs = [j for j in fetch if j.temp]
        if installs:
            # Plan again on what the jars really register, now that they are here.
            plan = plan_jars(dest, jars, [j.want() for j in work], factories_by_jar, opts.remove_other_versions)
            saved = install_temps(dest, [(j.temp or "", j.source.filename) for j in installs],
                                  opts.mode, opts.uid, opts.gid, opts.backup)
            backups += [saved[j.source.filename] for j in installs if j.source.filename in saved]
            for jar in installs:
                jar.temp = None
                jar.replaced = (jar.current.sha256 if jar.current else "", jar.got.digests.sha256 if jar.got else "")
    finally:
        for jar in fetch:
            discard(jar.temp)
    for jar, jar_plan in zip(work, plan.plans):
        jar.plan = jar_plan

    installed = [j.source.filename for j in present if j.replaced]
    fixed = []  # type: t.List[str]
    try:
        for jar in present:
            if jar.attrs and not jar.replaced:
                apply_attributes(jar.final, opts.mode, opts.uid, opts.gid)
                fixed.append(jar.source.filename)
    except JarError as exc:
        if installed or fixed:
            raise JarError("%s Already done in %s: %s." % (exc.msg, dest, ", ".join(
                ["installed %s" % n for n in installed] + ["fixed mode/owner of %s" % n for n in fixed])),
                changed=True)
        raise
    try:
        removed, saved_removed = remove_jars(dest, plan.remove, opts.backup)
    except JarError as exc:
        if installed:
            raise JarError("%s %s installed, but removing the jars %s replace%s failed: %s Flink will load both; "
                           "remove %s by hand." % (", ".join(installed), "was" if len(installed) == 1 else "were",
                                                   "it" if len(installed) == 1 else "they",
                                                   "s" if len(installed) == 1 else "", exc.msg,
                                                   ", ".join(plan.remove)), changed=True)
        if fixed:
            exc.details["changed"] = True
        raise
    backups += saved_removed
    for jar in work:
        mine = {os.path.join(dest, n) for n in (jar.plan.remove if jar.plan else [])}
        jar.removed = [p for p in removed if p in mine]
    return _batch_result(work, plan, False, removed, opts, backups)


def single_result(batch: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """The result of a one-jar call, in the single-jar form (the module without ``jars``)."""
    if "_needed" in batch:
        return batch
    result = dict(batch["jars"][0])
    result.update(changed=batch["changed"], diff=batch["diff"])
    if "backup_files" in batch:
        result["backup_files"] = batch["backup_files"]
    return result


def final_result(batch: t.Dict[str, t.Any], single: bool, diff: bool) -> t.Dict[str, t.Any]:
    """The module's answer from ``ensure_jars``'s: in the single-jar form when asked, with the diff in diff mode."""
    result = single_result(batch) if single else batch
    if not diff:
        result.pop("diff", None)
    return result


def ensure_present(source: JarSource, dest: str, http_options: HttpOptions, opts: InstallOptions,
                   check_mode: bool) -> t.Dict[str, t.Any]:
    """Install one jar into ``dest``: ``ensure_jars`` with one request."""
    return single_result(ensure_jars([JarRequest(source, "present")], dest, http_options, opts, check_mode))


def ensure_absent(source: JarSource, dest: str, opts: InstallOptions, check_mode: bool) -> t.Dict[str, t.Any]:
    """Remove every version of the artifact (and, with remove_other_versions, renamed copies)."""
    return single_result(ensure_jars([JarRequest(source, "absent")], dest, HttpOptions(), opts, check_mode))


def _safe_factories(path: str) -> t.Tuple[str, ...]:
    try:
        return read_factories(path)
    except (JarError, OSError):
        return ()


# ---------------------------------------------------------------------------
# Requests from module options (one entry of ``jars``, or the single-jar options)
# ---------------------------------------------------------------------------


def jar_request(spec: t.Mapping[str, t.Any], repository_url: str, default_state: str = "present",
                where: str = "") -> JarRequest:
    """A request from one jar's options; ``where`` prefixes messages (``jars[1]: ``)."""
    state = spec.get("state") or default_state
    group_id, artifact_id, version = spec.get("group_id"), spec.get("artifact_id"), spec.get("version")
    classifier, checksum = spec.get("classifier"), spec.get("checksum")
    try:
        if artifact_id:
            if state == "absent":
                source = maven_artifact(group_id, artifact_id)
                if version:
                    validate_coordinates(group_id, artifact_id, version, classifier)
                    source = source._replace(filename=jar_filename(artifact_id, version, classifier))
                return JarRequest(source, state)
            if not version:
                raise JarError("version is required to install %s:%s (state=present)." % (group_id, artifact_id))
            return JarRequest(maven_source(repository_url, group_id, artifact_id, version, classifier, checksum), state)
        if spec.get("url"):
            return JarRequest(url_source(spec["url"], checksum), state)
        return JarRequest(src_source(spec.get("src") or "", checksum), state)
    except JarError as exc:
        if where:
            exc.msg = where + exc.msg
            exc.args = (exc.msg,)
        raise


# ---------------------------------------------------------------------------
# fetch_mode=controller: the controller cache, and what it tells the host
# ---------------------------------------------------------------------------

DEFAULT_CACHE_DIR = "~/.cache/cdcops-flink-cdc/jars"
CACHE_META_SUFFIX = ".json"
CACHE_LOCK = ".lock"
CACHE_FAILURE = ".failed.json"


class CachedJar(t.NamedTuple):
    """One jar as the controller resolved it."""

    path: t.Optional[str]  # the verified file in the cache; None in check mode before it is fetched
    checksum: Checksum  # sha256 once in the cache; before that, the expected checksum (pinned or sidecar)
    size: t.Optional[int] = None
    factories: t.Optional[t.Tuple[str, ...]] = None  # read from the jar, when we have it
    downloaded: bool = False  # the body was downloaded by this call


def cache_error(where: str, exc: OSError) -> JarError:
    if exc.errno == errno.EROFS:
        return JarError("Cannot use the controller cache %s: %s. Set controller_cache_dir to a directory on a writable "
                        "filesystem. Nothing was changed on the hosts." % (where, _read_only(where)), errno=exc.errno)
    return JarError("Cannot use the controller cache %s: %s. Set controller_cache_dir to a directory that the user "
                    "running ansible-playbook can write. Nothing was changed on the hosts." % (
                        where, exc.strerror or exc), errno=exc.errno)


def cache_path(cache_dir: str, expected: Checksum, filename: str) -> str:
    """Content-addressed: ``<cache_dir>/<algorithm>/<hex>/<file name>``."""
    check_jar_name(filename, "The jar file name")
    return os.path.join(cache_dir, expected.algorithm, expected.hexdigest, filename)


def _read_cache(path: str, expected: Checksum) -> t.Optional[t.Dict[str, t.Any]]:
    """The metadata of a complete entry that still is what it was when verified, else None.

    An entry is renamed into place only after verification and gets its
    metadata after that, so no lock is needed to read it. Size and mtime must
    still match, so a file changed behind our back is fetched again.
    """
    try:
        with open(path + CACHE_META_SUFFIX) as f:
            meta = json.load(f)
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if (not isinstance(meta, dict) or meta.get("size") != st.st_size or meta.get("mtime_ns") != st.st_mtime_ns
            or meta.get(expected.algorithm) != expected.hexdigest or not meta.get("sha256")):
        return None
    return meta


def _write_json(path: str, data: t.Mapping[str, t.Any]) -> None:
    temp = "%s.%d.tmp" % (path, os.getpid())
    with open(temp, "w") as f:
        json.dump(data, f, sort_keys=True)
    os.replace(temp, path)


def _write_cache_meta(path: str, meta: t.Dict[str, t.Any]) -> None:
    st = os.stat(path)
    meta.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
    _write_json(path + CACHE_META_SUFFIX, meta)


def _from_cache(path: str, meta: t.Mapping[str, t.Any], source: JarSource, validate: bool) -> CachedJar:
    factories = tuple(meta.get("factories") or ())
    if validate:
        check_factories(source.what, source.expected_factories, factories)
    return CachedJar(path, Checksum("sha256", meta["sha256"], "controller cache %s" % path), meta["size"], factories)


def _reusable(meta: t.Optional[t.Mapping[str, t.Any]], force: bool, run_id: str) -> bool:
    # force fetches again, but only once per run: later hosts of the same run reuse that fresh copy.
    return meta is not None and not (force and (not run_id or meta.get("run") != run_id))


@contextlib.contextmanager
def file_lock(path: str, what: str, wait: float = DEFAULT_LOCK_WAIT) -> t.Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise cache_error(os.path.dirname(path), exc)
    try:
        _flock_wait(fd, True, wait, "Another run has held the lock on %s for more than %ds; it may be stuck "
                                    "downloading. Check for other ansible runs on this controller." % (what, wait))
        yield
    finally:
        os.close(fd)


def _earlier_failure(entry: str, run_id: str) -> t.Optional[str]:
    if not run_id:
        return None
    try:
        with open(os.path.join(entry, CACHE_FAILURE)) as f:
            failure = json.load(f)
    except (OSError, ValueError):
        return None
    if isinstance(failure, dict) and failure.get("run") == run_id:
        return "%s (This failed earlier in this run for another host; it is not fetched again before the next " \
               "run.)" % failure.get("msg")
    return None


def _sidecar_once(source: JarSource, http_options: HttpOptions, cache_dir: str, run_id: str) -> Checksum:
    """The repository's ``.sha1`` for this jar, fetched once per run (without ``run_id``: every time).

    The first host of a run fetches it under a lock and notes it in the cache;
    the other hosts of that run read the note. A new run fetches it again, so
    a jar republished under the same name is noticed.
    """
    if not run_id:
        return fetch_sidecar(source.url or "", http_options, "sha1", source)
    memo = os.path.join(cache_dir, "sidecars", hashlib.sha256((source.url or "").encode("utf-8")).hexdigest())

    def noted() -> t.Optional[Checksum]:
        try:
            with open(memo + ".json") as f:
                note = json.load(f)
            if note.get("run") == run_id and note.get("url") == public_url(source.url or ""):
                return parse_checksum(note["checksum"], note["origin"])
        except (OSError, ValueError, KeyError, AttributeError, JarError):
            pass
        return None

    found = noted()
    if found is not None:
        return found
    try:
        os.makedirs(os.path.dirname(memo), exist_ok=True)
    except OSError as exc:
        raise cache_error(cache_dir, exc)
    with file_lock(memo + ".lock", "the controller cache %s" % os.path.dirname(memo)):
        found = noted()
        if found is not None:
            return found
        checksum = fetch_sidecar(source.url or "", http_options, "sha1", source)
        try:
            _write_json(memo + ".json", {"run": run_id, "url": public_url(source.url or ""),
                                         "checksum": str(checksum), "origin": checksum.origin})
        except OSError as exc:
            raise cache_error(cache_dir, exc)
        return checksum


def _src_digests_once(src: str, algorithms: t.Sequence[str], cache_dir: str, run_id: str) -> Digests:
    """The digests of a ``src`` jar on the controller, computed once per run (without ``run_id``: every time).

    Every host's task needs them to find the jar in the cache; the first host of a run hashes the file and
    notes the result with the file's identity (inode, size, mtime), and the other hosts read the note.
    """
    if not run_id:
        return file_digests(src, algorithms)
    src = os.path.abspath(src)
    memo = os.path.join(cache_dir, "sources", hashlib.sha256(src.encode("utf-8")).hexdigest() + CACHE_META_SUFFIX)
    st = os.stat(src)
    identity = [run_id, src, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]
    try:
        with open(memo) as f:
            note = json.load(f)
        if note["identity"] == identity and all(a in note["others"] for a in algorithms if a != "sha256"):
            return Digests(str(note["sha256"]), int(note["size"]), {str(a): str(h) for a, h in note["others"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    digests = file_digests(src, algorithms)
    try:
        os.makedirs(os.path.dirname(memo), exist_ok=True)
        _write_json(memo, {"identity": identity, "sha256": digests.sha256, "size": digests.size,
                           "others": digests.others})
    except OSError:
        pass  # only spares the other hosts a hash; the cache itself reports a directory it cannot write
    return digests


def _fill_cache(source: JarSource, path: str, expected: Checksum, http_options: HttpOptions, validate: bool,
                run_id: str) -> CachedJar:
    entry = os.path.dirname(path)
    remove_stale_temps(entry)
    try:
        fd, temp = tempfile.mkstemp(prefix=_temp_prefix(source.filename), suffix=TEMP_SUFFIX, dir=entry)
    except OSError as exc:
        raise cache_error(entry, exc)
    algorithms = sorted({"sha1", expected.algorithm} - {"sha256"})
    downloaded = False
    try:
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                if source.kind == "src":
                    got = copy_to(source.src or "", out, algorithms)
                else:
                    got = download(source, http_options, out, algorithms, space_check_dir=entry)
                    downloaded = True
                _datasync(out.fileno())
        except OSError as exc:
            raise cache_error(entry, exc)
        verify_checksum(got.digests, expected, source.what, got.first_bytes, got.content_type)
        if validate:
            factories = validate_jar(temp, source.what, source.expected_factories).factories
        else:
            factories = _safe_factories(temp)
        try:
            os.replace(temp, path)
        except OSError as exc:
            raise cache_error(entry, exc)
        temp = ""
    finally:
        discard(temp)
    meta = dict(got.digests.others, sha256=got.digests.sha256, validated=validate, factories=list(factories),
                run=run_id, source=public_url(source.url) if source.url else "src on the controller")
    try:
        _write_cache_meta(path, meta)
    except OSError as exc:
        raise cache_error(entry, exc)
    return CachedJar(path, Checksum("sha256", got.digests.sha256, "controller cache %s" % path), got.digests.size,
                     factories, downloaded)


def cache_jar(source: JarSource, cache_dir: str, http_options: HttpOptions, validate: bool = True,
              force: bool = False, check_mode: bool = False, run_id: str = "",
              wait: float = DEFAULT_LOCK_WAIT) -> CachedJar:
    """Resolve one jar on the controller: fetched, verified and validated into ``cache_dir`` once.

    The cache is content-addressed by the expected checksum, so only that
    (pinned, or the small ``.sha1`` sidecar) is needed to find a verified
    copy: a warm cache never fetches a body. Forks and concurrent runs that
    miss serialize on a lock in the entry and find the jar there once the
    first one has fetched it, so each body is fetched at most once whatever
    the host count. ``run_id`` identifies one ansible-playbook run: a failure
    is not retried by the other hosts of that run, and ``force`` fetches again
    only once in it. Check mode never fetches a body and writes nothing.
    """
    if validate:
        refuse_wrong_artifact(source.artifact_id)
    src_digests = None
    if source.kind == "src":
        if not os.path.isfile(source.src or ""):
            raise JarError("src %s is not a file on the controller. With fetch_mode=controller, src names a jar on "
                           "the controller, which pushes it to the hosts." % source.src)
        src_digests = _src_digests_once(source.src or "", [source.checksum.algorithm] if source.checksum else [],
                                        cache_dir, "" if check_mode else run_id)
        if source.checksum is not None:
            verify_checksum(src_digests, source.checksum, source.what)
        expected = Checksum("sha256", src_digests.sha256, "src file %s on the controller" % source.src)
    elif source.checksum is not None:
        expected = source.checksum
    else:
        expected = _sidecar_once(source, http_options, cache_dir, "" if check_mode else run_id)
    path = cache_path(cache_dir, expected, source.filename)
    meta = _read_cache(path, expected)
    if _reusable(meta, force, run_id) and meta is not None and (meta.get("validated") or not validate):
        return _from_cache(path, meta, source, validate)
    if check_mode:
        if src_digests is not None:
            factories = (validate_jar(source.src or "", source.what, source.expected_factories).factories
                         if validate else _safe_factories(source.src or ""))
            return CachedJar(None, expected, src_digests.size, factories)
        return CachedJar(None, expected)
    entry = os.path.dirname(path)
    try:
        os.makedirs(entry, exist_ok=True)
    except OSError as exc:
        raise cache_error(cache_dir, exc)
    with file_lock(os.path.join(entry, CACHE_LOCK), "the controller cache entry %s" % entry, wait):
        meta = _read_cache(path, expected)  # another fork or run may have fetched it while we waited
        if _reusable(meta, force, run_id) and meta is not None:
            if validate and not meta.get("validated"):
                meta.update(validated=True, factories=list(
                    validate_jar(path, source.what, source.expected_factories).factories))
                try:
                    _write_cache_meta(path, meta)
                except OSError as exc:
                    raise cache_error(entry, exc)
            return _from_cache(path, meta, source, validate)
        failure = _earlier_failure(entry, run_id)
        if failure:
            raise JarError(failure)
        try:
            cached = _fill_cache(source, path, expected, http_options, validate, run_id)
        except JarError as exc:
            if run_id:
                try:
                    _write_json(os.path.join(entry, CACHE_FAILURE), {"run": run_id, "msg": exc.msg})
                except OSError:
                    pass  # only spares the other hosts a retry
            raise
        discard(os.path.join(entry, CACHE_FAILURE))
        return cached


def pushed_item(request: JarRequest, cached: t.Optional[CachedJar]) -> t.Dict[str, t.Any]:
    """What the host needs of one jar resolved on the controller (no repository, no credentials)."""
    source = request.source
    item = {"state": request.state, "name": source.filename, "artifact_id": source.artifact_id,
            "group_id": source.group_id}  # type: t.Dict[str, t.Any]
    if source.url:
        item["url"] = public_url(source.url)
    if cached is not None:
        item["checksum"] = str(cached.checksum)
        if cached.factories is not None:
            item["factories"] = list(cached.factories)
    return item


def pushed_request(item: t.Mapping[str, t.Any], tmpdir: t.Optional[str] = None) -> JarRequest:
    """The host's side of ``pushed_item``: checked again, as it arrives over the wire.

    ``tmpdir`` is the temp dir the action plugin made for this task: a ``src`` directly inside it is the
    plugin's own copy, which the module may move into dest instead of copying it.
    """
    state = item.get("state") or "present"
    if state not in ("present", "absent"):
        raise JarError("_pushed: state %r is neither present nor absent." % (state,))
    name = item.get("name") or ""
    if name or state == "present":
        check_jar_name(name, "_pushed: name")
    group_id, artifact_id = item.get("group_id"), item.get("artifact_id")
    if group_id:
        validate_coordinates(group_id, artifact_id, None)
    elif artifact_id:
        _check(artifact_id, _ARTIFACT, "artifact_id")
    checksum = None
    if item.get("checksum"):
        checksum = parse_checksum(item["checksum"], "the controller, which verified it")
    elif state == "present":
        raise JarError("_pushed: %s has no checksum; fetch_mode=controller always sends one." % name)
    factories = item.get("factories")
    src = item.get("src")
    movable = bool(src and tmpdir and os.path.dirname(os.path.normpath(src)) == os.path.normpath(tmpdir))
    return JarRequest(JarSource("src", name, artifact_id, group_id, url=item.get("url"), src=src,
                                checksum=checksum, pushed=True,
                                factories=tuple(str(f) for f in factories) if factories is not None else None,
                                movable=movable),
                      state)


# ---------------------------------------------------------------------------
# fetch_mode=controller: what the controller remembers of each host's dest
# ---------------------------------------------------------------------------

HOSTS_DIR = "hosts"


def host_memory_path(cache_dir: str, host: str, dest: str) -> str:
    """``<cache_dir>/hosts/<sha256 of host and dest>.json``: any host name or path makes a safe file name."""
    key = json.dumps([host, dest]).encode("utf-8")
    return os.path.join(cache_dir, HOSTS_DIR, hashlib.sha256(key).hexdigest() + CACHE_META_SUFFIX)


def load_host_memory(cache_dir: str, host: str, dest: str) -> t.Dict[str, t.Any]:
    """What the controller remembers of ``dest`` on ``host``: ``jars`` (file name: checksum) that the last
    successful run left there, and ``rerun`` (see ``rerun_record``) or None. Unknown: ``{"jars": {}, "rerun": None}``.

    ``jars`` only decides whether the controller pushes jars before the first module execution or after it:
    the host still verifies every checksum, and answers ``_needed`` when a jar it was said to have is missing.
    """
    try:
        with open(host_memory_path(cache_dir, host, dest)) as f:
            memory = json.load(f)
    except (OSError, ValueError):
        return {"jars": {}, "rerun": None}
    jars = memory.get("jars") if isinstance(memory, dict) else None
    if not isinstance(jars, dict) or memory.get("host") != host or memory.get("dest") != dest:
        return {"jars": {}, "rerun": None}
    rerun = memory.get("rerun")
    return {"jars": {str(name): str(checksum) for name, checksum in jars.items()},
            "rerun": rerun if isinstance(rerun, dict) else None}


def write_host_memory(cache_dir: str, host: str, dest: str, jars: t.Mapping[str, str],
                      rerun: t.Optional[t.Mapping[str, t.Any]] = None) -> None:
    """Replace the memory of ``dest`` on ``host`` atomically. A failure is ignored: it only costs a later run a
    second execution or a needless transfer."""
    path = host_memory_path(cache_dir, host, dest)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_json(path, {"host": host, "dest": dest, "jars": dict(jars), "rerun": rerun})
    except OSError:
        try:
            os.unlink("%s.%d.tmp" % (path, os.getpid()))  # _write_json's temp, if it got that far
        except OSError:
            pass


def jars_to_push(items: t.Sequence[t.Mapping[str, t.Any]], memory: t.Mapping[str, str]) -> t.List[str]:
    """The jars to push before the first execution: those to install that ``memory`` does not vouch for."""
    return [item["name"] for item in items if item.get("state") == "present" and item.get("checksum")
            and memory.get(item["name"]) != item["checksum"]]


def remembered(memory: t.Mapping[str, str], items: t.Sequence[t.Mapping[str, t.Any]], result: t.Mapping[str, t.Any],
               single: bool) -> t.Dict[str, str]:
    """``memory`` after a successful run that returned ``result``: less what it removed, plus every jar it
    installed or found current, with the SHA-256 the host computed."""
    jars = dict(memory)
    for path in result.get("removed") or []:
        jars.pop(os.path.basename(path), None)
    for item, entry in zip(items, [result] if single else result.get("jars") or []):
        if item.get("state") == "present" and item.get("name") and entry.get("checksum"):
            jars[item["name"]] = "sha256:%s" % entry["checksum"]
    return jars


# The rerun without a module execution. After a successful run the module also answers what a rerun would
# answer (``ensure_jars`` in check mode, which reads only), with ``dest_state``: what that answer depends on.
# The next run with the same arguments runs ``dest_state`` alone on the host (a short ``python -c``, no
# module payload); when dest is as it was, with every jar's SHA-256 as expected, that answer is the result.
# Anything else, or any doubt, and the module runs as usual.


def dest_state(dest, names):
    """The identity of every ``*.jar`` entry in ``dest`` (lstat, and stat through a link), and the SHA-256 and
    size of each of ``names`` that is a file: all a rerun's answer depends on. Any write to a file changes its
    ctime, which no user can set, so an unchanged state means unchanged jars. A temp file a killed run left
    (``.<name>.jar.<random>.part``) counts too, so that the rerun runs the module, which removes it.

    Stdlib only, self-contained and Python 3.8: the controller sends this function's source as its probe.
    """
    import hashlib
    import os

    def ident(st):
        return [st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_uid, st.st_gid]

    entries = {}
    for entry in os.scandir(dest):
        if entry.name.endswith(".jar") or (entry.name.startswith(".") and ".jar." in entry.name
                                           and entry.name.endswith(".part")):
            st = entry.stat(follow_symlinks=False)
            through = None
            if entry.is_symlink():
                try:
                    through = ident(os.stat(entry.path))
                except OSError:
                    through = "broken"
            entries[entry.name] = [ident(st), through]
    digests = {}
    for name in names:
        path = os.path.join(dest, name)
        if os.path.isfile(path):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            digests[name] = [h.hexdigest(), os.path.getsize(path)]
    return {"dest": dest, "entries": entries, "sha256": digests}


_PROBE_MAIN = """
import json, os, sys
args = json.loads(sys.argv[1])
# dest as the module's type=path option resolves it.
dest = os.path.expanduser(os.path.expandvars(args["dest"]))
try:
    state = dest_state(dest, args["names"])
except (OSError, ValueError) as exc:
    state = {"error": str(exc)}
print(json.dumps(state))
"""


def probe_command(interpreter: t.Sequence[str], dest: str, names: t.Sequence[str]) -> str:
    """The shell command that prints ``dest_state`` for ``dest`` (as the task gave it) as JSON."""
    import inspect  # pylint: disable=import-outside-toplevel  # the controller only
    import shlex  # pylint: disable=import-outside-toplevel
    source = inspect.getsource(dest_state) + _PROBE_MAIN
    return " ".join(shlex.quote(part) for part in list(interpreter) + ["-c", source, json.dumps(
        {"dest": dest, "names": list(names)})])


def parse_probe(stdout: str) -> t.Optional[t.Dict[str, t.Any]]:
    """The probe's answer, or None when it is not one (then the module runs)."""
    for line in reversed((stdout or "").strip().splitlines()):
        try:
            state = json.loads(line)
        except ValueError:
            continue
        if isinstance(state, dict) and isinstance(state.get("entries"), dict) and isinstance(state.get("sha256"), dict):
            return state
        return None
    return None


def rerun_key(host_args: t.Mapping[str, t.Any], items: t.Sequence[t.Mapping[str, t.Any]], single: bool,
              interpreter: t.Any) -> str:
    """Everything of the task that the recorded answer depends on: another value and the module runs."""
    wanted = [{k: v for k, v in item.items() if k != "src"} for item in items]
    return hashlib.sha256(json.dumps([host_args, wanted, single, interpreter], sort_keys=True,
                                     default=str).encode("utf-8")).hexdigest()


def rerun_record(requests: t.Sequence[JarRequest], dest: str, http_options: HttpOptions,
                 opts: InstallOptions) -> t.Optional[t.Dict[str, t.Any]]:
    """After a successful run (under its ``dest_lock``): what a rerun would answer, and ``dest_state``.

    None when a rerun would change something: then there is nothing to replay.
    """
    again = [JarRequest(r.source._replace(src=None, movable=False), r.state) for r in requests]
    result = ensure_jars(again, dest, http_options, opts, True)
    if result["changed"]:
        return None
    # Every jar to install is current, so the answer holds its SHA-256 and size, just read: not read again.
    state = dest_state(dest, [])
    state["sha256"] = {r.source.filename: [entry["checksum"], entry["size"]]
                       for r, entry in zip(again, result["jars"]) if r.state == "present"}
    return {"state": state, "result": result}


def replay(record: t.Mapping[str, t.Any], probe: t.Optional[t.Mapping[str, t.Any]],
           items: t.Sequence[t.Mapping[str, t.Any]]) -> bool:
    """Whether the probe shows dest exactly as recorded, every jar to install present with its checksum."""
    state = record.get("state") if isinstance(record, dict) else None
    if not probe or not isinstance(state, dict) or not isinstance(record.get("result"), dict):
        return False
    if probe.get("dest") != state.get("dest") or probe.get("entries") != state.get("entries") \
            or probe.get("sha256") != state.get("sha256"):
        return False
    return not probe_mismatches(probe, items)


def probe_mismatches(probe: t.Mapping[str, t.Any], items: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[str]:
    """The jars to install that the probe did not find in dest with the expected SHA-256."""
    found = probe.get("sha256") or {}
    wrong = []
    for item in items:
        if item.get("state") != "present" or not item.get("checksum"):
            continue
        got = found.get(item["name"])
        if not isinstance(got, list) or "sha256:%s" % got[0] != item["checksum"]:
            wrong.append(item["name"])
    return wrong


# ---------------------------------------------------------------------------
# The module's interface, shared by the module and its action plugin
# ---------------------------------------------------------------------------

SOURCE_OPTIONS = ("artifact_id", "url", "src")

JAR_OPTIONS = dict(
    group_id=dict(type="str"),
    artifact_id=dict(type="str"),
    version=dict(type="str"),
    classifier=dict(type="str"),
    url=dict(type="str"),
    src=dict(type="path"),
    checksum=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"]),
)

_SOURCE_RULES = dict(
    mutually_exclusive=[SOURCE_OPTIONS, ("group_id", "url", "src"), ("version", "url", "src"),
                        ("classifier", "url", "src")],
    required_together=[("group_id", "artifact_id")],
)


def argument_spec(internal: bool = True) -> t.Dict[str, t.Any]:
    """The module's options; ``internal`` adds the one the action plugin passes to hosts."""
    spec = dict(
        repository_url=dict(type="str", default=DEFAULT_REPOSITORY_URL),
        group_id=dict(type="str"),
        artifact_id=dict(type="str"),
        version=dict(type="str"),
        classifier=dict(type="str"),
        url=dict(type="str"),
        src=dict(type="path"),
        jars=dict(type="list", elements="dict", options=JAR_OPTIONS, required_one_of=[SOURCE_OPTIONS],
                  **_SOURCE_RULES),
        dest=dict(type="path", required=True),
        checksum=dict(type="str"),
        validate=dict(type="bool", default=True),
        remove_other_versions=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        owner=dict(type="str"),
        group=dict(type="str"),
        mode=dict(type="raw", default="0644"),
        backup=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        timeout=dict(type="int", default=30),
        validate_certs=dict(type="bool", default=True),
        url_username=dict(type="str"),
        url_password=dict(type="str", no_log=True),
        headers=dict(type="dict", no_log=True),
        use_proxy=dict(type="bool", default=True),
        fetch_mode=dict(type="str", choices=["remote", "controller"], default="remote"),
        controller_cache_dir=dict(type="path", default=DEFAULT_CACHE_DIR),
    )  # type: t.Dict[str, t.Any]
    if internal:
        spec["_pushed"] = dict(type="dict")
    return spec


def argument_rules(internal: bool = True) -> t.Dict[str, t.Any]:
    """mutually_exclusive, required_one_of and required_together for ``argument_spec``."""
    sources = SOURCE_OPTIONS + ("jars",) + (("_pushed",) if internal else ())
    jars_only = ("jars", "_pushed") if internal else ("jars",)
    return dict(
        required_one_of=[sources],
        mutually_exclusive=list(_SOURCE_RULES["mutually_exclusive"]) + [sources] + [
            (option,) + jars_only for option in ("group_id", "version", "classifier", "checksum")],
        required_together=list(_SOURCE_RULES["required_together"]),
    )
