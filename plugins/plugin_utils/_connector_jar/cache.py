# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The controller cache of ``fetch_mode=controller`` (controller only: never part of a module's payload).

Each jar is fetched, verified and validated once into a content-addressed cache; the other forks, hosts and
runs find it there. What is only worth doing once per ansible-playbook run (the repository's ``.sha1``, the
digest of a ``src`` jar, a failure) is noted in the cache under the run's id.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import tempfile
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import checksums
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import (
    Checksum,
    Digests,
    parse_checksum,
    verify_checksum,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.download import (
    copy_to,
    datasync,
    download,
    fetch_sidecar,
    free_bytes_or_none,
    space_needed,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError, NoSpaceError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.install import (
    DEFAULT_LOCK_WAIT,
    TEMP_SUFFIX,
    discard,
    flock_wait,
    read_only_reason,
    remove_stale_temps,
    temp_prefix,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.jarfile import (
    check_factories,
    refuse_wrong_artifact,
    safe_factories,
    validate_jar,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import check_jar_name
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.options import HttpOptions
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarSource
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.urls import mask_url

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


CACHE_FULL_ADVICE = ("Free space there, or set controller_cache_dir to a directory on a filesystem with room. Nothing "
                     "was changed on the hosts, and nothing of the jar was left in the cache.")


def cache_full_error(cache_dir: str, filename: str, needed: t.Optional[int], written: int = 0) -> JarError:
    """The one error for a jar that does not fit in the controller cache, whether the free space was checked up
    front (``needed`` known: Content-Length or a local file's size) or the filesystem filled up while writing."""
    free = free_bytes_or_none(cache_dir)
    return JarError("Not enough space in the controller cache %s for %s: %s. %s" % (
        cache_dir, filename, space_needed(needed, written, free), CACHE_FULL_ADVICE),
        cache_dir=cache_dir, needed_bytes=needed, free_bytes=free)


def cache_error(where: str, exc: OSError) -> JarError:
    if exc.errno == errno.ENOSPC:
        return JarError("The controller cache %s is full: %s. %s" % (where, exc.strerror or exc, CACHE_FULL_ADVICE),
                        errno=exc.errno)
    if exc.errno == errno.EROFS:
        return JarError("Cannot use the controller cache %s: %s. Set controller_cache_dir to a directory on a writable "
                        "filesystem. Nothing was changed on the hosts." % (where, read_only_reason(where)),
                        errno=exc.errno)
    return JarError("Cannot use the controller cache %s: %s. Set controller_cache_dir to a directory that the user "
                    "running ansible-playbook can write. Nothing was changed on the hosts." % (
                        where, exc.strerror or exc), errno=exc.errno)


def _size_or_none(path: str) -> t.Optional[int]:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def cache_path(cache_dir: str, expected: Checksum, filename: str) -> str:
    """Content-addressed: ``<cache_dir>/<algorithm>/<hex>/<file name>``."""
    check_jar_name(filename, "The jar file name")
    return os.path.join(cache_dir, expected.algorithm, expected.hexdigest, filename)


def cached_copies(cache_dir: str, filename: str) -> t.List[str]:
    """Every file named ``filename`` in the cache, whatever its checksum (the layout of ``cache_path``)."""
    return glob.glob(os.path.join(glob.escape(cache_dir), "*", "*", glob.escape(filename)))


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


def write_json(path: str, data: t.Mapping[str, t.Any]) -> None:
    """Replace ``path`` atomically; a write that fails (a full filesystem) leaves no temp file behind."""
    temp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(temp, "w") as f:
            json.dump(data, f, sort_keys=True)
        os.replace(temp, path)
    except BaseException:
        discard(temp)
        raise


def _write_cache_meta(path: str, meta: t.Dict[str, t.Any]) -> None:
    st = os.stat(path)
    meta.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
    write_json(path + CACHE_META_SUFFIX, meta)


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
        flock_wait(fd, True, wait, "Another run has held the lock on %s for more than %ds; it may be stuck "
                   "downloading. Check for other ansible runs on this controller." % (what, wait))
        yield
    finally:
        os.close(fd)


def _earlier_failure(entry: str, run_id: str) -> t.Optional[JarError]:
    """The failure of this entry's fetch earlier in this run (for another host), with its details, or None."""
    if not run_id:
        return None
    try:
        with open(os.path.join(entry, CACHE_FAILURE)) as f:
            failure = json.load(f)
    except (OSError, ValueError):
        return None
    if isinstance(failure, dict) and failure.get("run") == run_id:
        details = failure.get("details")
        return JarError("%s (This failed earlier in this run for another host; it is not fetched again before the "
                        "next run.)" % failure.get("msg"), **(details if isinstance(details, dict) else {}))
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
            if note.get("run") == run_id and note.get("url") == mask_url(source.url or ""):
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
            write_json(memo + ".json", {"run": run_id, "url": mask_url(source.url or ""),
                                        "checksum": str(checksum), "origin": checksum.origin})
        except OSError:
            pass  # only spares the other hosts of the run a request; a full cache is reported with the jar's size
        return checksum


def _src_digests_once(src: str, algorithms: t.Sequence[str], cache_dir: str, run_id: str) -> Digests:
    """The digests of a ``src`` jar on the controller, computed once per run (without ``run_id``: every time).

    Every host's task needs them to find the jar in the cache; the first host of a run hashes the file and
    notes the result with the file's identity (inode, size, mtime), and the other hosts read the note.
    """
    if not run_id:
        return checksums.file_digests(src, algorithms)
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
    digests = checksums.file_digests(src, algorithms)
    try:
        os.makedirs(os.path.dirname(memo), exist_ok=True)
        write_json(memo, {"identity": identity, "sha256": digests.sha256, "size": digests.size,
                          "others": digests.others})
    except OSError:
        pass  # only spares the other hosts a hash; the cache itself reports a directory it cannot write
    return digests


def _fill_cache(source: JarSource, cache_dir: str, path: str, expected: Checksum, http_options: HttpOptions,
                validate: bool, run_id: str) -> CachedJar:
    """Fetch, verify and validate one jar into its entry. Whatever fails, nothing of the jar stays: the temp file
    goes, and so does a jar whose metadata could not be written (without it the entry is never read)."""
    entry = os.path.dirname(path)
    remove_stale_temps(entry)
    try:
        fd, temp = tempfile.mkstemp(prefix=temp_prefix(source.filename), suffix=TEMP_SUFFIX, dir=entry)
    except OSError as exc:
        raise cache_error(entry, exc)
    algorithms = sorted({"sha1", expected.algorithm} - {"sha256"})
    downloaded = False
    try:
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                if source.kind == "src":
                    got = copy_to(source.src or "", out, algorithms, space_check_dir=entry)
                else:
                    got = download(source, http_options, out, algorithms, space_check_dir=entry)
                    downloaded = True
                datasync(out.fileno())
        except NoSpaceError as exc:
            raise cache_full_error(cache_dir, source.filename, exc.details.get("needed_bytes"),
                                   exc.details.get("written_bytes") or 0)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # the final flush (datasync) of a filesystem that allocates late
                raise cache_full_error(cache_dir, source.filename, _size_or_none(temp))
            raise cache_error(entry, exc)
        verify_checksum(got.digests, expected, source.what, got.first_bytes, got.content_type)
        if validate:
            factories = validate_jar(temp, source.what, source.expected_factories).factories
        else:
            factories = safe_factories(temp)
        try:
            os.replace(temp, path)
        except OSError as exc:
            raise cache_error(entry, exc)
        temp = ""
        meta = dict(got.digests.others, sha256=got.digests.sha256, validated=validate, factories=list(factories),
                    run=run_id, source=mask_url(source.url) if source.url else "src on the controller")
        try:
            _write_cache_meta(path, meta)
        except OSError as exc:
            discard(path)
            if exc.errno == errno.ENOSPC:
                raise cache_full_error(cache_dir, source.filename, got.digests.size)
            raise cache_error(entry, exc)
    finally:
        discard(temp)
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
                         if validate else safe_factories(source.src or ""))
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
        if failure is not None:
            raise failure
        try:
            cached = _fill_cache(source, cache_dir, path, expected, http_options, validate, run_id)
        except JarError as exc:
            if run_id:
                try:
                    write_json(os.path.join(entry, CACHE_FAILURE), {"run": run_id, "msg": exc.msg,
                                                                    "details": exc.details})
                except (OSError, TypeError, ValueError):
                    pass  # only spares the other hosts a retry (a full cache may not even hold this note)
            raise
        discard(os.path.join(entry, CACHE_FAILURE))
        return cached
