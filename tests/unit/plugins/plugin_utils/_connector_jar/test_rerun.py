"""The rerun without a module execution: the probe command, the key and when a record is replayed.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import json
import os
import sys

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import dest_state
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import rerun as jar_rerun
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import (
    _item,
    _lib_with_two_jars,
    jars,
)


def test_the_probe_command_prints_dest_state(tmp_path):
    """The controller sends dest_state.py's own source (plugin_utils/_probe.py): run it as the host would."""
    import subprocess
    from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _probe

    def parse_probe(out):
        return jar_rerun.probe_state(_probe.answer(out))

    lib, a = _lib_with_two_jars(tmp_path)
    env = dict(os.environ, CDCOPS_LIB=str(lib))
    command = jar_rerun.probe_command([sys.executable], "$CDCOPS_LIB", ["a-1.jar", "b-1.jar"])
    out = subprocess.run(command, shell=True, env=env, stdout=subprocess.PIPE, check=True).stdout.decode()
    assert parse_probe(out) == dest_state.dest_state(str(lib), ["a-1.jar", "b-1.jar"])
    # dest as the module's path option resolves it: variables and ~ expanded.
    assert parse_probe(out)["dest"] == str(lib)
    # A dest that is not a directory: an error, never a state.
    bad = subprocess.run(jar_rerun.probe_command([sys.executable], str(lib / "nope"), []), shell=True,
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    assert "error" in _probe.answer(bad) and parse_probe(bad) is None
    assert parse_probe("") is None and parse_probe("garbage\n") is None


def test_replay_only_when_dest_is_exactly_as_recorded(tmp_path):
    lib, a = _lib_with_two_jars(tmp_path)
    sha = jars.sha256_file(a)
    items = [_item("a-1.jar", "sha256:" + sha), {"state": "absent", "name": "old-1.jar"}]
    state = dest_state.dest_state(str(lib), ["a-1.jar"])
    record = {"state": state, "result": {"changed": False}}
    assert jar_rerun.replay(record, json.loads(json.dumps(state)), items)  # as stored and parsed: JSON both ways
    assert not jar_rerun.replay(record, None, items)
    assert not jar_rerun.replay({"state": state}, state, items)  # no recorded answer
    assert not jar_rerun.replay(record, dict(state, dest=str(tmp_path)), items)
    os.chmod(a, 0o600)
    assert not jar_rerun.replay(record, dest_state.dest_state(str(lib), ["a-1.jar"]), items)
    # An expected checksum the recorded state does not hold: never replayed, and that jar is the one to push.
    other = [_item("a-1.jar", "sha256:" + "0" * 64)]
    assert not jar_rerun.replay(record, state, other)
    assert jar_rerun.probe_mismatches(state, other) == ["a-1.jar"]
    assert jar_rerun.probe_mismatches(state, items) == []
    assert jar_rerun.probe_mismatches({"sha256": {}}, items) == ["a-1.jar"]


def test_rerun_key_covers_the_task_but_not_the_pushed_copies():
    items = [_item("a-1.jar")]
    key = jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, items, False, "/usr/bin/python3")
    assert key == jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, [dict(items[0], src="/tmp/x/a-1.jar")], False,
                                      "/usr/bin/python3")
    for other in (jar_rerun.rerun_key({"dest": "/lib", "mode": "0640"}, items, False, "/usr/bin/python3"),
                  jar_rerun.rerun_key({"dest": "/lib2", "mode": "0644"}, items, False, "/usr/bin/python3"),
                  jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, [_item("a-1.jar", "sha256:" + "b" * 64)], False,
                                      "/usr/bin/python3"),
                  jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, items, True, "/usr/bin/python3"),
                  jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, items, False, "/usr/bin/python3.11")):
        assert other != key
