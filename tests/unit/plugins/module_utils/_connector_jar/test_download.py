"""Fetching a jar: hashing while copying, pushed copies adopted on the host, slow headers.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
Real threads and real loopback sockets; the end-to-end cases on the bed are tests/integration/test_reliability.py.
"""

import hashlib
import io
import os
import time

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    checksums,
    download,
    errors,
    options,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError


def test_copy_to_hashes_while_copying(tmp_path):
    src = tmp_path / "s.bin"
    src.write_bytes(os.urandom(2 * checksums.CHUNK_SIZE + 5))
    out = io.BytesIO()
    got = download.copy_to(str(src), out, ["sha1"])
    assert out.getvalue() == src.read_bytes()
    assert got.digests.get("sha1") == hashlib.sha1(src.read_bytes()).hexdigest()
    assert got.first_bytes == src.read_bytes()[:512]


def test_space_needed_says_at_least_what_arrived_when_the_size_is_unknown():
    assert download.space_needed(2097152, 0, 1048576) == \
        "it needs 2097152 bytes (2.0 MiB), and the filesystem there has 1048576 bytes (1.0 MiB) free"
    assert download.space_needed(None, 1048576, None) == \
        "it needs at least 1048576 bytes (1.0 MiB) (what had arrived when the filesystem filled up; the " \
        "repository did not give the jar's size)"


def test_adopt_pushed_refuses_anything_but_a_private_regular_file(tmp_path):
    target = tmp_path / "lib" / ".a-1.jar.x.part"
    target.parent.mkdir()
    own = tmp_path / "tmp" / "own.jar"
    own.parent.mkdir()
    own.write_bytes(b"jar")
    linked = tmp_path / "tmp" / "linked.jar"
    linked.write_bytes(b"jar")
    os.link(str(linked), str(tmp_path / "elsewhere.jar"))  # someone else keeps a name for it
    symlink = tmp_path / "tmp" / "symlink.jar"
    symlink.symlink_to(own)
    for refused in (linked, symlink, tmp_path / "tmp", tmp_path / "tmp" / "missing.jar"):
        assert download.adopt_pushed(str(refused), str(target)) is None
        assert not target.exists()
    if os.geteuid() == 0:
        foreign = tmp_path / "tmp" / "foreign.jar"
        foreign.write_bytes(b"jar")
        os.chown(str(foreign), 12345, 12345)  # pushed for another user (become): theirs to change
        assert download.adopt_pushed(str(foreign), str(target)) is None and foreign.exists()
    moved = download.adopt_pushed(str(own), str(target))
    assert moved is not None and not own.exists() and target.read_bytes() == b"jar"
    assert download.read_adopted(str(target), moved, ["sha1"]).digests.size == 3


def test_read_adopted_refuses_a_file_replaced_or_linked_after_the_move(tmp_path):
    own, target, other = tmp_path / "own.jar", tmp_path / "target.part", tmp_path / "other.jar"
    own.write_bytes(b"jar")
    moved = download.adopt_pushed(str(own), str(target))
    os.link(str(target), str(tmp_path / "second-name"))
    with pytest.raises(JarError) as err:
        download.read_adopted(str(target), moved)
    assert "replaced by another file" in err.value.msg
    os.unlink(str(tmp_path / "second-name"))
    other.write_bytes(b"other")
    os.replace(str(other), str(target))
    with pytest.raises(JarError) as err:
        download.read_adopted(str(target), moved)
    assert "replaced by another file" in err.value.msg


def test_jar_headers_that_trickle_time_out(trickling_server):
    start = time.monotonic()
    with pytest.raises(errors.DownloadError) as err:
        download.http_open(trickling_server + "/x.jar", options.HttpOptions(timeout=1), "x.jar")
    assert time.monotonic() - start < 3
    assert "gave no complete answer within 1 s" in err.value.msg and err.value.details["timed_out"]
