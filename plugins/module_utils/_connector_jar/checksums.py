# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Checksums: the ``checksum`` option, Maven's ``.sha1``/``.sha256``/``.sha512`` files, hashing a jar in chunks
while it is copied, and the verdict with both digests and the likely cause."""

from __future__ import annotations

import hashlib
import os
import re
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import ChecksumError

# 1 MiB: large enough that per-call overhead does not matter on loopback,
# small enough that a 200 MB jar never sits in memory.
CHUNK_SIZE = 1024 * 1024

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


class Hasher:
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


def hash_file(readinto: t.Callable[[bytearray], int], hasher: Hasher) -> bytes:
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


# Digests of the files this process installed, by what names a file's content to the kernel: device, inode, size,
# mtime and ctime. ctime cannot be set from user space and moves on every write, rename or attribute change, so a
# file whose identity is unchanged still holds the bytes that were hashed. The rerun answer read right after an
# install (ensure.rerun_record) then does not read every jar it just installed a second time.
_INSTALLED: t.Dict[t.Tuple[int, int, int, int, int], Digests] = {}


def _identity(st: os.stat_result) -> t.Tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def remember_installed(path: str, digests: Digests) -> None:
    """Record the digests of a file this process just put in place (its final attributes already applied)."""
    try:
        st = os.stat(path)
    except OSError:
        return
    if st.st_size == digests.size:
        _INSTALLED[_identity(st)] = digests


def file_digests(path: str, algorithms: t.Iterable[str] = ()) -> Digests:
    algorithms = list(algorithms)
    with open(path, "rb", buffering=0) as f:
        known = _INSTALLED.get(_identity(os.fstat(f.fileno())))
        if known is not None and all(a == "sha256" or a in known.others for a in algorithms):
            return known
        hasher = Hasher(algorithms)
        hash_file(f.readinto, hasher)
    return hasher.digests()


def matches(digests: Digests, expected: Checksum) -> bool:
    return digests.get(expected.algorithm) == expected.hexdigest


def looks_like_html(first_bytes: bytes) -> bool:
    head = first_bytes.lstrip()[:256].lower()
    return head.startswith(b"<!doctype") or head.startswith(b"<html") or b"<html" in head or b"<head" in head


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
