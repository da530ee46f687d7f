"""URLs shown without their credentials, the way ansible-core masks them, and imported only when needed.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import json
import os
import sys

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import checksums, sources, urls
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache as jar_cache, push
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import PGA, _push_copy, jars


def test_describe_url_hides_credentials_and_query():
    text = urls.describe_url("https://user:secret@repo.example:8443/m2/a.jar?token=abc")
    assert text == "host repo.example:8443 path /m2/a.jar"
    assert "secret" not in urls.mask_url("https://user:secret@repo.example/m2/a.jar")


# --- what the host imports -------------------------------------------------------------------------

IMPORTS = r"""
import json, os, sys
import ansible.module_utils.basic
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import ensure, options, urls, wire
seen = ["ansible.module_utils.urls" in sys.modules]
item = json.loads(sys.argv[2])
ensure.ensure_jars([wire.pushed_request(item, sys.argv[4])], sys.argv[3], options.HttpOptions(), options.InstallOptions(),
                 False)
seen.append("ansible.module_utils.urls" in sys.modules)
masked = urls.mask_url("https://user:secret@repo.example/m2/a.jar")
seen.append("ansible.module_utils.urls" in sys.modules)
print(json.dumps([seen, masked]))
"""


def test_installing_pushed_jars_never_imports_the_download_code(tmp_path):
    """ansible.module_utils.urls (http.client, email, cryptography...) is a third of an execution's CPU."""
    import subprocess
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    lib = tmp_path / "lib"
    lib.mkdir()
    item = push.pushed_item(JarRequest(sources.maven_source("https://repo.example/m2", "org.apache.flink", PGA, "3.1.0")),
                            jar_cache.CachedJar(src, checksums.Checksum("sha256", jars.sha256_file(src))))
    item["src"] = _push_copy(src, tmp_path / "remote-tmp")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # this checkout's collection
    out = subprocess.run([sys.executable, "-c", IMPORTS, "", json.dumps(item), str(lib), str(tmp_path / "remote-tmp")],
                         capture_output=True, text=True, check=False, env=env)
    assert out.returncode == 0, out.stderr
    seen, masked = json.loads(out.stdout)
    assert seen == [False, False, False], out.stderr  # masking a URL with credentials needs no Ansible either
    assert masked == MASKED["https://user:secret@repo.example/m2/a.jar"] and "secret" not in masked
    if ANSIBLE_MASK_URL:
        assert masked == ANSIBLE_MASK_URL("https://user:secret@repo.example/m2/a.jar")
    assert os.path.exists(str(lib / ("%s-3.1.0.jar" % PGA)))


# What ansible-core 2.19's ansible.module_utils.urls.mask_url answers; older ansible-core has no mask_url, and the
# collection's own masking must give the same there.
MASKED = {
    "https://repo.example/m2/a.jar": "https://repo.example/m2/a.jar",
    "http://127.0.0.1:8081/a.jar?x=@y": "http://127.0.0.1:8081/a.jar?x=@y",
    "https://user@repo.example/a.jar": "https://****@repo.example/a.jar",
    "https://user:pw@repo.example:8443/a.jar": "https://****:****@repo.example:8443/a.jar",
    "https://repo.example/path/with@sign/a.jar": "https://repo.example/path/with@sign/a.jar",
    "https://user:secret@repo.example/m2/a.jar": "https://****:****@repo.example/m2/a.jar",
}
ANSIBLE_MASK_URL = getattr(__import__("ansible.module_utils.urls", fromlist=["urls"]), "mask_url", None)


@pytest.mark.parametrize("url", sorted(MASKED))
def test_mask_url_is_ansibles(url):
    assert urls.mask_url(url) == MASKED[url]
    if ANSIBLE_MASK_URL:
        assert urls.mask_url(url) == ANSIBLE_MASK_URL(url)
