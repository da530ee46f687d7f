"""The role's estimate of the room its jars take in lib/ (plugin_utils/_jar_space.py, filter jar_space_needed)."""

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import maven, sources
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _jar_space

PG = {"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc", "version": "3.5.0"}
SR = {"group_id": "com.starrocks", "artifact_id": "flink-connector-starrocks", "version": "1.2.11_flink-1.20"}


def test_jar_file_name():
    assert _jar_space.jar_file_name(PG) == "flink-sql-connector-postgres-cdc-3.5.0.jar"
    assert _jar_space.jar_file_name(dict(PG, classifier="x")) == "flink-sql-connector-postgres-cdc-3.5.0-x.jar"
    assert _jar_space.jar_file_name({"url": "https://h/r/a-1.jar"}) == "a-1.jar"
    assert _jar_space.jar_file_name({"src": "/tmp/b-2.jar"}) == "b-2.jar"


def test_cached_sizes_count_and_the_others_are_guessed(tmp_path):
    cached = tmp_path / "sha256" / ("ab" * 32)
    cached.mkdir(parents=True)
    (cached / "flink-sql-connector-postgres-cdc-3.5.0.jar").write_bytes(b"x" * 1000)
    assert _jar_space.space_needed([PG], str(tmp_path)) == 1000
    assert _jar_space.space_needed([PG, SR], str(tmp_path)) == 1000 + _jar_space.UNKNOWN_JAR_BYTES
    assert _jar_space.space_needed([PG, SR], "") == 2 * _jar_space.UNKNOWN_JAR_BYTES
    assert _jar_space.space_needed([dict(SR, state="absent")], str(tmp_path)) == 0
    local = tmp_path / "local.jar"
    local.write_bytes(b"y" * 7)
    assert _jar_space.space_needed([{"src": str(local)}], "") == 7


def test_the_names_are_the_modules():
    """Named as flink_connector_jar names them: maven.jar_filename for coordinates, sources.url_jar_name for a url
    (percent-decoded; a URL that names no jar has no name, so no known size)."""
    spec = {"group_id": "com.starrocks", "artifact_id": "flink-connector-starrocks", "version": "1.2.11_flink-1.20",
            "classifier": "shaded"}
    assert _jar_space.jar_file_name(spec) == maven.jar_filename(spec["artifact_id"], spec["version"], "shaded")
    assert _jar_space.jar_file_name(spec) == sources.jar_request(spec, "https://repo.example/m2").source.filename
    url = "https://repo.example/m2/x/a%2Bb-1.jar"
    assert _jar_space.jar_file_name({"url": url}) == sources.url_source(url).filename == "a+b-1.jar"
    assert _jar_space.jar_file_name({"url": "https://repo.example/m2/readme.txt"}) == ""
    assert _jar_space.jar_file_name({"group_id": "g", "artifact_id": "a"}) == ""
