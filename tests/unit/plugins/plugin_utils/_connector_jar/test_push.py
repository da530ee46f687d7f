"""What the controller pushes for a jar: the item, without secrets.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import json

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import checksums, sources, urls, wire
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache as jar_cache, push
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import PG3, PGA, SRA


# --- what the controller tells the host -----------------------------------------------------------

def test_pushed_item_round_trip_without_secrets():
    source = sources.maven_source("https://user:secret@repo.example/m2", "org.apache.flink", PGA, "3.1.0")
    cached = jar_cache.CachedJar("/cache/x.jar", checksums.Checksum("sha256", "a" * 64), 10, (PG3,))
    item = push.pushed_item(JarRequest(source), cached)
    assert "secret" not in json.dumps(item)
    assert item == {"state": "present", "name": "%s-3.1.0.jar" % PGA, "artifact_id": PGA,
                    "group_id": "org.apache.flink", "url": urls.mask_url(source.url), "checksum": "sha256:" + "a" * 64,
                    "factories": [PG3]}
    request = wire.pushed_request(item)
    assert request.source.pushed and request.source.kind == "src" and request.source.src is None
    assert request.source.checksum.hexdigest == "a" * 64 and request.source.planned_factories == (PG3,)
    assert request.source.expected_factories == (PG3,)
    absent = wire.pushed_request(push.pushed_item(JarRequest(sources.maven_artifact("com.starrocks", SRA), "absent"), None))
    assert absent.state == "absent" and absent.source.filename == "" and absent.source.known_factories
