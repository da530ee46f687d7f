# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Getting a jar's bytes into a temp file, hashed on the way: over HTTP (``ansible.module_utils.urls``, so the
hosts need no extra Python packages), as a copy of a local file, or by adopting the copy the action plugin
pushed. The threaded pump overlaps hashing with writing and the kernel's writeback."""

from __future__ import annotations

import errno
import os
import queue
import stat
import threading
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import call_within, secs
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import (
    CHUNK_SIZE,
    Checksum,
    Digests,
    Hasher,
    hash_file,
    parse_sidecar,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import (
    ChecksumError,
    DownloadError,
    JarError,
    NoSpaceError,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import (
    METADATA_LIMIT,
    metadata_url,
    metadata_versions,
    nearest_versions,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.options import HttpOptions
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.urls import (
    ansible_urls,
    check_http_url,
    describe_url,
    mask_url,
)

if t.TYPE_CHECKING:
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarSource

USER_AGENT = "cdcops.flink_cdc/flink_connector_jar"
# Chunks in flight between reading/hashing and writing: memory use is
# PIPELINE_BUFFERS * CHUNK_SIZE whatever the jar's size.
PIPELINE_BUFFERS = 4
# Ask the kernel to write back every FLUSH_EVERY bytes while downloading, so
# the fsync before the rename finds little left to do.
FLUSH_EVERY = 32 * 1024 * 1024
SIDECAR_LIMIT = 4096

_TLS_CONTEXTS: t.Dict[bool, t.Any] = {}


def _write_all(out: t.BinaryIO, data: memoryview) -> None:
    """Raw file writes may be short; loop until every byte is written."""
    while len(data):
        written = out.write(data)
        if not written:  # regular files raise (ENOSPC, EIO) rather than write nothing; never spin
            raise OSError(errno.EIO, "write made no progress")
        data = data[written:]


def datasync(fd: int) -> None:
    getattr(os, "fdatasync", os.fsync)(fd)


def pump(readinto: t.Callable[[bytearray], int], out: t.BinaryIO, hasher: Hasher) -> bytes:
    """Copy from ``readinto`` to ``out`` in chunks: hash here, write and flush in helper threads.

    Hashing, writing to the page cache and the kernel's writeback release the
    GIL, so they overlap instead of taking turns. At most PIPELINE_BUFFERS
    chunks are ever allocated. Returns the first bytes, for error messages.
    """
    free: queue.Queue = queue.Queue()
    for dummy in range(PIPELINE_BUFFERS):
        free.put(bytearray(CHUNK_SIZE))
    todo: queue.Queue = queue.Queue()
    failure: t.List[BaseException] = []
    kick = threading.Event()
    done = threading.Event()
    try:
        fd: t.Optional[int] = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both OSError and ValueError
        fd = None

    def flusher() -> None:
        while True:
            kick.wait()
            kick.clear()
            if done.is_set() or fd is None:
                return
            try:
                datasync(fd)
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


def _tls_context(validate_certs: bool) -> t.Any:
    """One TLS context per process, or None where ``Request.open`` cannot take one (ansible-core < 2.14).

    Building one loads the CA bundle (about 60 ms), and open_url builds one per request, even for http.
    """
    if validate_certs not in _TLS_CONTEXTS:
        import inspect
        urls = ansible_urls()
        reusable = hasattr(urls, "make_context") and "context" in inspect.signature(urls.Request.open).parameters
        _TLS_CONTEXTS[validate_certs] = urls.make_context(validate_certs=validate_certs) if reusable else None
    return _TLS_CONTEXTS[validate_certs]


def _close(resp: t.Any) -> None:
    try:
        resp.close()
    except Exception:
        pass


def _open(url: str, opts: HttpOptions, method: str) -> t.Any:
    urls = ansible_urls()
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
    urls = ansible_urls()
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
                                "timeout." % (what, where, secs(http_options.timeout), parts),
                                url=mask_url(url), timed_out=True)
        raise DownloadError("Could not download %s: cannot reach %s (%s). Check repository_url/url, the "
                            "network path and use_proxy; timeout is %ss." % (what, where, reason, http_options.timeout),
                            url=mask_url(url))


def fetch_sidecar(jar_url: str, http_options: HttpOptions, algorithm: str = "sha1",
                  source: t.Optional[JarSource] = None) -> Checksum:
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


def repository_versions(repository_url: str, group_id: str, artifact_id: str,
                        http_options: HttpOptions) -> t.Optional[t.List[str]]:
    """The versions the repository's ``maven-metadata.xml`` lists, or None when it serves none (or no readable one)."""
    try:
        data = http_open(metadata_url(repository_url, group_id, artifact_id), http_options,
                         "maven-metadata.xml", read=METADATA_LIMIT)
    except JarError:
        return None
    return metadata_versions(data) or None


def missing_jar_error(source: JarSource, http_options: HttpOptions,
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


class Download(t.NamedTuple):
    digests: Digests
    content_type: str
    first_bytes: bytes


def free_bytes(path: str) -> int:
    st = os.statvfs(path)
    # Root may use the reserved blocks; others may not.
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize


def free_bytes_or_none(path: str) -> t.Optional[int]:
    """``free_bytes``, or None where statvfs fails (only for a check that can go without, or a message)."""
    try:
        return free_bytes(path)
    except OSError:
        return None


def _bytes(n: int) -> str:
    return "%d bytes (%.1f MiB)" % (n, n / 1048576.0)


def space_needed(needed: t.Optional[int], written: int, free: t.Optional[int]) -> str:
    """What a jar needs and what the filesystem has, for every "not enough space" message: the jar's size when
    known (Content-Length, the size the repository reports, or a local file's), else at least what had arrived
    when the filesystem filled up."""
    if needed is not None:
        text = "it needs %s" % _bytes(needed)
    else:
        text = "it needs at least %s (what had arrived when the filesystem filled up; the repository did not " \
               "give the jar's size)" % _bytes(written)
    if free is not None:
        text += ", and the filesystem there has %s free" % _bytes(free)
    return text


def no_space_error(what: str, directory: str, needed: t.Optional[int], written: int = 0) -> NoSpaceError:
    """The one error for a jar that does not fit in ``directory``: refused up front (``needed`` larger than the
    free space) or out of space while writing (ENOSPC), whichever found it."""
    free = free_bytes_or_none(directory)
    return NoSpaceError("Not enough space for %s in %s: %s. Free some space there; nothing was changed." % (
        what, directory, space_needed(needed, written, free)),
        directory=directory, needed_bytes=needed, written_bytes=written, free_bytes=free)


def refuse_without_room(what: str, directory: str, needed: int) -> None:
    """Check up front (statvfs) that ``needed`` bytes fit in ``directory``; a write can still run out of space
    (another writer, a filesystem that reports free space loosely), which ``no_space_error`` reports alike."""
    free = free_bytes_or_none(directory)
    if free is not None and needed > free:
        raise no_space_error(what, directory, needed)


def reported_size(url: str, http_options: HttpOptions) -> t.Optional[int]:
    """The size the repository reports for ``url`` when asked with HEAD (its Content-Length), or None.

    Only for a message: a GET answered without Content-Length (chunked, RFC 9112 section 7.1) ran out of space,
    and a HEAD of the same file often has it: HEAD answers with the headers a GET would have (RFC 9110 section
    9.3.2), and a server may send Content-Length in the answer to a HEAD (RFC 9110 section 8.6).
    """
    try:
        resp = http_open(url, http_options, "the size of %s" % describe_url(url), method="HEAD")
    except JarError:
        return None
    try:
        if (resp.headers.get("Content-Encoding", "") or "").lower() == "gzip":
            return None
        return int(resp.headers.get("Content-Length"))
    except (TypeError, ValueError):
        return None
    finally:
        _close(resp)


def _counting_reader(resp: t.Any, arrived: t.List[int]) -> t.Callable[[bytearray], int]:
    """A ``readinto`` for ``pump`` that fills a chunk with one socket read at a time (``read1``) and counts in
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
            refuse_without_room(what, space_check_dir, expected_length)
        hasher = Hasher(algorithms)
        first = b""
        arrived = [0]
        try:
            first = pump(_counting_reader(resp, arrived), out, hasher)
        except IncompleteRead:
            pass  # reported below with the byte counts
        except (socket.timeout, OSError, HTTPException) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                needed = expected_length if expected_length is not None else reported_size(url, http_options)
                raise no_space_error(what, space_check_dir or "the destination directory", needed, arrived[0])
            of = " of %d" % expected_length if expected_length is not None else ""
            if isinstance(exc, socket.timeout) or "timed out" in str(exc):
                # Each read waits at most timeout seconds (the socket's timeout): a transfer that keeps
                # progressing, however slowly, finishes; one that stops for that long fails here.
                raise DownloadError(
                    "Downloading %s from %s stalled: no data for %s s (timeout) after %d%s bytes had arrived. "
                    "Nothing was changed; retry, or raise timeout if the repository is this slow." % (
                        what, where, secs(http_options.timeout), arrived[0], of), arrived=arrived[0], stalled=True)
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


def download(source: JarSource, http_options: HttpOptions, out: t.BinaryIO, algorithms: t.Iterable[str] = (),
             space_check_dir: t.Optional[str] = None) -> Download:
    """``stream_to`` for a jar source: a jar the repository does not have is named as such (``missing_jar_error``)."""
    try:
        return stream_to(source.url or "", http_options, out, source.filename, algorithms, space_check_dir)
    except DownloadError as exc:
        if exc.details.get("status") in (404, 410):
            raise missing_jar_error(source, http_options, exc.details["status"]) or exc
        raise


def copy_to(src: str, out: t.BinaryIO, algorithms: t.Iterable[str] = (),
            space_check_dir: t.Optional[str] = None) -> Download:
    """Copy a local file into ``out``, hashing as it goes (the ``src`` source).

    With ``space_check_dir``, a file larger than the free space there is refused up front and running out of
    space while writing is a NoSpaceError too; without it, the OSError is the caller's to report.
    """
    hasher = Hasher(algorithms)
    with open(src, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if space_check_dir is not None:
            refuse_without_room(os.path.basename(src), space_check_dir, size)
        try:
            first = pump(f.readinto, out, hasher)
        except OSError as exc:
            if space_check_dir is None or exc.errno != errno.ENOSPC:
                raise
            raise no_space_error(os.path.basename(src), space_check_dir, size, hasher.size)
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
        hasher = Hasher(algorithms)
        first = hash_file(f.readinto, hasher)
    return Download(hasher.digests(), "", first)
