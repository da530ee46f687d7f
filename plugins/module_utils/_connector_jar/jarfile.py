# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What a jar is: a sound zip with a manifest, the Flink table factories it registers (Flink's
``META-INF/services/org.apache.flink.table.factories.Factory``, read cheaply from the central directory), and
whether it is the thin connector jar that lacks what the SQL jar bundles."""

from __future__ import annotations

import os
import struct
import typing as t
import zipfile
import zlib

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import (
    CHUNK_SIZE,
    looks_like_html,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.connectors import (
    KNOWN_CONNECTORS,
    PG_CDC_THIN_ARTIFACT,
    WRONG_ARTIFACTS,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import InvalidJarError, JarError

FACTORY_SERVICE = "META-INF/services/org.apache.flink.table.factories.Factory"
MANIFEST = "META-INF/MANIFEST.MF"
SERVICES_LIMIT = 1024 * 1024

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # central directory file header
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header


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


def safe_factories(path: str) -> t.Tuple[str, ...]:
    try:
        return read_factories(path)
    except (JarError, OSError):
        return ()


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
