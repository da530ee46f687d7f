"""What the controller remembers of each host's jars.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import os

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import host_records
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import _item


def test_host_memory_round_trip(tmp_path):
    cache = str(tmp_path / "cache")
    assert host_records.load_host_memory(cache, "tm1 10.0.0.1", "/opt/flink/lib")["jars"] == {}  # cold: nothing known
    host_records.write_host_memory(cache, "tm1 10.0.0.1", "/opt/flink/lib", {"a-1.jar": "sha256:" + "a" * 64})
    assert host_records.load_host_memory(cache, "tm1 10.0.0.1", "/opt/flink/lib")["jars"] == {"a-1.jar": "sha256:" + "a" * 64}
    # Another host, address or dest is another memory.
    assert host_records.load_host_memory(cache, "tm1 10.0.0.2", "/opt/flink/lib")["jars"] == {}
    assert host_records.load_host_memory(cache, "tm1 10.0.0.1", "/opt/flink/lib/")["jars"] == {}
    path = host_records.host_memory_path(cache, "tm1 10.0.0.1", "/opt/flink/lib")
    assert os.path.dirname(path) == os.path.join(cache, host_records.HOSTS_DIR)
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]  # written atomically: no temp left
    # Any host name or dest makes a plain file name inside hosts/.
    odd = host_records.host_memory_path(cache, "../../etc/passwd", "/x/../y")
    assert os.path.dirname(odd) == os.path.join(cache, host_records.HOSTS_DIR) and "/" not in os.path.basename(odd)


@pytest.mark.parametrize("content", ["not json", "[]", '{"host": "h", "dest": "/lib", "jars": []}',
                                     '{"host": "other", "dest": "/lib", "jars": {"a-1.jar": "sha256:00"}}'])
def test_a_damaged_or_foreign_host_memory_knows_nothing(tmp_path, content):
    cache = str(tmp_path / "cache")
    path = host_records.host_memory_path(cache, "h", "/lib")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(content)
    assert host_records.load_host_memory(cache, "h", "/lib")["jars"] == {}


def test_writing_the_host_memory_never_fails_the_task(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    host_records.write_host_memory(str(blocker), "h", "/lib", {"a-1.jar": "sha256:" + "a" * 64})  # no exception
    assert host_records.load_host_memory(str(blocker), "h", "/lib")["jars"] == {}


def test_jars_to_push_are_those_the_memory_does_not_vouch_for():
    items = [_item("a-1.jar"), _item("b-1.jar", "sha256:" + "b" * 64), _item("c-1.jar", None, "absent")]
    assert host_records.jars_to_push(items, {}) == ["a-1.jar", "b-1.jar"]  # cold: every jar to install
    warm = {"a-1.jar": "sha256:" + "a" * 64, "b-1.jar": "sha256:" + "b" * 64, "old-1.jar": "sha256:" + "c" * 64}
    assert host_records.jars_to_push(items, warm) == []
    assert host_records.jars_to_push(items, dict(warm, **{"b-1.jar": "sha256:" + "0" * 64})) == ["b-1.jar"]
    assert host_records.jars_to_push([_item("c-1.jar", None, "absent")], {}) == []


def test_remembered_adds_what_the_host_holds_and_drops_what_it_removed():
    items = [_item("a-2.jar"), _item("b-1.jar"), {"state": "absent", "name": "", "artifact_id": "c"}]
    memory = {"a-1.jar": "sha256:" + "1" * 64, "c-1.jar": "sha256:" + "2" * 64, "other.jar": "sha256:" + "3" * 64}
    result = {"changed": True, "removed": ["/lib/a-1.jar", "/lib/c-1.jar"],
              "jars": [{"checksum": "4" * 64, "removed": ["/lib/a-1.jar"]}, {"checksum": "5" * 64, "removed": []},
                       {"removed": ["/lib/c-1.jar"]}]}
    assert host_records.remembered(memory, items, result, single=False) == {
        "a-2.jar": "sha256:" + "4" * 64, "b-1.jar": "sha256:" + "5" * 64, "other.jar": "sha256:" + "3" * 64}
    single = {"changed": False, "path": "/lib/a-2.jar", "checksum": "4" * 64, "removed": []}
    assert host_records.remembered({}, items[:1], single, single=True) == {"a-2.jar": "sha256:" + "4" * 64}


def test_host_memory_keeps_the_rerun_record(tmp_path):
    cache = str(tmp_path / "cache")
    jars_memory = {"a-1.jar": "sha256:" + "a" * 64}
    assert host_records.load_host_memory(cache, "h", "/lib") == {"jars": {}, "rerun": None}
    host_records.write_host_memory(cache, "h", "/lib", jars_memory, {"key": "k", "state": {}, "result": {}})
    assert host_records.load_host_memory(cache, "h", "/lib") == {
        "jars": jars_memory, "rerun": {"key": "k", "state": {}, "result": {}}}
    host_records.write_host_memory(cache, "h", "/lib", jars_memory)
    assert host_records.load_host_memory(cache, "h", "/lib") == {"jars": jars_memory, "rerun": None}
    assert host_records.load_host_memory(cache, "h", "/lib")["jars"] == jars_memory
