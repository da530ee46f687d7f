"""What the controller sends the host for a pushed jar, and what the host accepts of it.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import sources, wire
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError


@pytest.mark.parametrize("item", [
    {"name": "../x.jar", "checksum": "sha256:" + "a" * 64},
    {"name": "a-1.jar"},
    {"name": "a-1.jar", "checksum": "md5:00"},
    {"name": "a-1.jar", "checksum": "sha256:" + "a" * 64, "group_id": "org/../x", "artifact_id": "a"},
    {"name": "a-1.jar", "checksum": "sha256:" + "a" * 64, "state": "gone"},
])
def test_pushed_request_checks_what_arrives(item):
    with pytest.raises(JarError):
        wire.pushed_request(item)


def test_pushed_request_may_move_only_the_action_plugins_own_copies():
    item = {"name": "a-1.jar", "checksum": "sha256:" + "a" * 64}
    tmpdir = "/home/u/.ansible/tmp/ansible-tmp-1-2-3"
    assert wire.pushed_request(dict(item, src=tmpdir + "/a-1.jar"), tmpdir).source.movable
    assert wire.pushed_request(dict(item, src=tmpdir + "/a-1.jar"), tmpdir + "/").source.movable
    assert not wire.pushed_request(dict(item, src=tmpdir + "/a-1.jar")).source.movable  # no temp dir named
    assert not wire.pushed_request(dict(item, src="/srv/jars/a-1.jar"), tmpdir).source.movable
    assert not wire.pushed_request(dict(item, src=tmpdir + "/sub/a-1.jar"), tmpdir).source.movable
    assert not wire.pushed_request(dict(item, src=tmpdir + "/../a-1.jar"), tmpdir).source.movable
    assert not wire.pushed_request(item, tmpdir).source.movable  # nothing pushed
    assert not sources.src_source(tmpdir + "/a-1.jar").movable  # a user's src never is
