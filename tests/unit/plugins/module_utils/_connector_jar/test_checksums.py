"""Checksums: parsing, sidecars, digests of files and of installed jars.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import hashlib
import os
import time

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import checksums
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import Checksum
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import ChecksumError


# --- checksums ------------------------------------------------------------------------------------

def test_parse_checksum_accepts_the_three_algorithms():
    assert checksums.parse_checksum("sha256:" + "A" * 64) == Checksum("sha256", "a" * 64)
    assert checksums.parse_checksum(" sha512:" + "0" * 128).algorithm == "sha512"
    assert checksums.parse_checksum("SHA1:" + "f" * 40).hexdigest == "f" * 40


@pytest.mark.parametrize("value", ["md5:" + "0" * 32, "sha256:" + "0" * 63, "sha256:" + "g" * 64,
                                   "0" * 64, "sha1:", "", "sha256 " + "0" * 64])
def test_parse_checksum_refuses_anything_else(value):
    with pytest.raises(ChecksumError):
        checksums.parse_checksum(value)


def test_parse_sidecar_forms():
    digest = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    assert checksums.parse_sidecar(digest + "\n").hexdigest == digest
    assert checksums.parse_sidecar((digest.upper() + "  flink.jar\n").encode()).hexdigest == digest
    with pytest.raises(ChecksumError) as err:
        checksums.parse_sidecar(b"<!DOCTYPE html><html>login</html>", where="host h path /x.jar.sha1")
    assert "host h path /x.jar.sha1" in err.value.msg and "pin" in err.value.msg
    with pytest.raises(ChecksumError):
        checksums.parse_sidecar("")


def test_file_digests_and_verify(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * (3 * checksums.CHUNK_SIZE + 17))
    data = path.read_bytes()
    d = checksums.file_digests(str(path), ["sha1", "sha512"])
    assert d.size == len(data)
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    assert d.get("sha1") == hashlib.sha1(data).hexdigest()
    assert d.get("sha512") == hashlib.sha512(data).hexdigest()
    checksums.verify_checksum(d, Checksum("sha1", hashlib.sha1(data).hexdigest()), "f.bin")
    with pytest.raises(ChecksumError) as err:
        checksums.verify_checksum(d, Checksum("sha256", "0" * 64, "sha1 file at somewhere"), "f.bin")
    assert "expected sha256:" + "0" * 64 in err.value.msg and d.sha256 in err.value.msg
    with pytest.raises(ChecksumError) as err:
        checksums.verify_checksum(d, Checksum("sha256", "0" * 64), "f.bin", b"<!DOCTYPE html>", "text/html")
    assert "HTML page" in err.value.msg


def test_installed_digests_are_not_read_again_until_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "a-1.jar"
    path.write_bytes(b"a" * 1000)
    installed = checksums.file_digests(str(path), ["sha1"])
    checksums.remember_installed(str(path), installed)
    reads = []
    real = checksums.hash_file
    monkeypatch.setattr(checksums, "hash_file", lambda readinto, hasher: reads.append(1) or real(readinto, hasher))
    assert checksums.file_digests(str(path), ["sha1"]) == installed and reads == []
    # An algorithm that was not computed is read for.
    assert checksums.file_digests(str(path), ["sha512"]).get("sha512") == hashlib.sha512(b"a" * 1000).hexdigest()
    assert reads == [1]
    # Same size and mtime put back: the ctime moved, so the new bytes are read.
    st = os.stat(str(path))
    time.sleep(0.01)
    path.write_bytes(b"b" * 1000)
    os.utime(str(path), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert checksums.file_digests(str(path), ["sha1"]).sha256 == hashlib.sha256(b"b" * 1000).hexdigest()
    assert reads == [1, 1]
    # A size that does not match what was hashed is never remembered.
    other = tmp_path / "b-1.jar"
    other.write_bytes(b"c" * 10)
    checksums.remember_installed(str(other), installed)
    assert checksums.file_digests(str(other)).size == 10
