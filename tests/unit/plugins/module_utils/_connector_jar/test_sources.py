"""Where a jar comes from: URLs, Maven artifacts and the requests built from the options.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import sources
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError, UnsafeNameError
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import PG2, PG3, PGA


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://h/x.jar", "x.jar", "", "http:///x.jar"])
def test_only_http_urls(url):
    with pytest.raises(UnsafeNameError):
        sources.url_source(url)


def test_url_source_takes_the_last_segment_and_guesses_the_artifact():
    src = sources.url_source("https://h.example:8443/a/b/flink-sql-connector-postgres-cdc-3.1.0.jar?x=1")
    assert src.filename == "flink-sql-connector-postgres-cdc-3.1.0.jar"
    assert src.artifact_id == "flink-sql-connector-postgres-cdc"
    assert set(src.expected_factories) == {PG2, PG3}  # group unknown: either line
    with pytest.raises(UnsafeNameError):
        sources.url_source("https://h/download?id=3")
    with pytest.raises(UnsafeNameError):
        sources.url_source("https://h/a/..%2F..%2Fevil.jar")


# --- requests from options ------------------------------------------------------------------------

def test_jar_request_from_options():
    repo = "https://repo.example/m2"
    present = sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0"), repo)
    assert present.state == "present" and present.source.url.endswith("/3.1.0/%s-3.1.0.jar" % PGA)
    absent = sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA), repo, "absent")
    assert absent.state == "absent" and absent.source.filename == ""
    versioned = sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0", state="absent"),
                                    repo, "present")
    assert versioned.state == "absent" and versioned.source.filename == "%s-3.1.0.jar" % PGA
    assert sources.jar_request(dict(url=repo + "/x/a-1.jar"), repo).source.kind == "url"
    assert sources.jar_request(dict(src="/tmp/a-1.jar", checksum="sha1:" + "0" * 40), repo).source.checksum.algorithm \
        == "sha1"
    with pytest.raises(JarError) as err:
        sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA), repo, "present", "jars[2]: ")
    assert err.value.msg == "jars[2]: version is required to install org.apache.flink:%s (state=present)." % PGA
    with pytest.raises(UnsafeNameError) as err:
        sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="../x"), repo, "present", "jars[0]: ")
    assert err.value.msg.startswith("jars[0]: version") and str(err.value) == err.value.msg


def test_maven_source_keeps_coordinates_and_repository():
    source = sources.maven_source("http://u:p@r/m2/", "org.apache.flink", "a", "1.0", classifier="tests")
    assert source.coordinates == "org.apache.flink:a:1.0:tests" and source.repository == "http://u:p@r/m2"
