"""The state of dest that a rerun depends on.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import os

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import dest_state
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import (
    _lib_with_two_jars,
    jars,
)


def test_dest_state_sees_every_change_a_rerun_depends_on(tmp_path):
    lib, a = _lib_with_two_jars(tmp_path)
    names = ["a-1.jar", "missing-1.jar"]
    first = dest_state.dest_state(str(lib), names)
    assert sorted(first["entries"]) == ["a-1.jar", "b-1.jar"]
    assert first["sha256"] == {"a-1.jar": [jars.sha256_file(a), os.path.getsize(a)]}  # a missing name: absent
    assert dest_state.dest_state(str(lib), names) == first
    (lib / "notes.txt").write_text("changed")
    assert dest_state.dest_state(str(lib), names) == first  # only *.jar entries count

    def changed(change):
        before = dest_state.dest_state(str(lib), names)
        change()
        after = dest_state.dest_state(str(lib), names)
        return after != before and after["entries"] != before["entries"]

    b = str(lib / "b-1.jar")

    def rewrite_in_place():  # same size, same mtime: only the ctime tells
        st = os.stat(b)
        data = bytearray(open(b, "rb").read())
        data[-1] ^= 0xFF
        with open(b, "r+b") as f:
            f.write(bytes(data))
        os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.path.getsize(b) == st.st_size and os.stat(b).st_mtime_ns == st.st_mtime_ns

    assert changed(rewrite_in_place)
    assert changed(lambda: os.chmod(b, 0o600))
    assert changed(lambda: os.symlink(b, str(lib / "c-1.jar")))
    c = jars.build_jar(str(tmp_path / "other.jar"), factories=("c.Factory",), title="c", version="2")
    assert changed(lambda: os.replace(c, b))  # the link now leads to another file
    assert changed(lambda: os.unlink(str(lib / "c-1.jar")))
