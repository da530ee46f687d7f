"""Connector jars and jar helpers shared by the unit tests of plugins/module_utils/_connector_jar/ and
plugins/plugin_utils/_connector_jar/.

Those tests use pure functions and local files only: jars are real zip files built with tests/bed/jars.py in tmp
dirs. Downloads over HTTP, the action plugin and the real failure injections are covered by
tests/integration/test_flink_connector_jar.py and tests/integration/test_flink_connector_jar_batch.py.
"""

import os
import sys

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import checksums, sources, wire
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache as jar_cache, push
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import jars  # noqa: E402

PG2 = "com.ververica.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PG3 = "org.apache.flink.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PGA = "flink-sql-connector-postgres-cdc"
SRA = "flink-connector-starrocks"


def starrocks(tmp_path, version="1.2.11_flink-1.20"):
    return str(tmp_path / "repo" / jars.publish_starrocks(str(tmp_path / "repo"), version))


def _pushed(path, src=None, checksum=None):
    source = sources.src_source(path)
    item = push.pushed_item(JarRequest(source), jar_cache.CachedJar(path, checksums.Checksum("sha256", checksum or jars.sha256_file(path))))
    if src:
        item["src"] = src
    return wire.pushed_request(item)


def _item(name, checksum="sha256:" + "a" * 64, state="present"):
    return {"state": state, "name": name, "checksum": checksum}


def _push_copy(path, tmpdir):
    """What the action plugin's transfer leaves on the host: a private copy in its temp dir."""
    os.makedirs(str(tmpdir), exist_ok=True)
    copy = os.path.join(str(tmpdir), os.path.basename(path))
    with open(path, "rb") as src, open(copy, "wb") as out:
        out.write(src.read())
    return copy


def _lib_with_two_jars(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    a = jars.build_jar(str(lib / "a-1.jar"), factories=("a.Factory",), title="a", version="1")
    jars.build_jar(str(lib / "b-1.jar"), factories=("b.Factory",), title="b", version="1")
    (lib / "notes.txt").write_text("not a jar: not part of the state")
    return lib, a


def jars_written(paths, directory, finals):
    """The ``*.jar`` names written in ``directory`` (recursively) other than ``finals``."""
    directory = os.path.abspath(str(directory))
    inside = [p for p in paths if p == directory or p.startswith(directory + os.sep)]
    assert inside, "nothing was recorded in %s" % directory
    return sorted({os.path.relpath(p, directory) for p in inside if p.endswith(".jar")} - set(finals))
