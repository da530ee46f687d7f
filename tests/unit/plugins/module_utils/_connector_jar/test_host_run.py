"""The one-command install (``host_run.run_pushed``, sent by plugins/plugin_utils/_probe.py) stays standard library
only: it imports and runs on a Python that cannot import Ansible, also when the repository URL carries credentials
(the controller sends it masked, and the host masks it again in its result)."""

import json
import os
import shutil
import subprocess
import sys

from ansible_collections.cdcops.flink_cdc.plugins.action.flink_connector_jar import HOST_MODULES, HOST_PACKAGE
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import checksums, host_run, sources, wire
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _probe
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache, push

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import jars  # noqa: E402  pylint: disable=wrong-import-position

# -S: no site-packages, -I: no PYTHONPATH or user site: neither Ansible nor this collection can be imported.
BARE_PYTHON = [sys.executable, "-I", "-S"]
PASSWORD = "S3cret-pw_77"
REPOSITORY = "https://deployer:%s@repo.example:8443/m2" % PASSWORD


def credentialed_install(tmp_path):
    """A real run_pushed argument for one StarRocks jar (built by tests/bed/jars.py) from a repository URL with
    user:password, as the action plugin builds it (``push.pushed_item``), its copy pushed into a temp dir."""
    version = "1.2.11_flink-1.20"
    built = os.path.join(str(tmp_path / "repo"), jars.publish_starrocks(str(tmp_path / "repo"), version))
    request = JarRequest(sources.maven_source(REPOSITORY, "com.starrocks", "flink-connector-starrocks", version))
    item = push.pushed_item(request, cache.CachedJar(built, checksums.Checksum("sha256", jars.sha256_file(built))))
    lib, tmp = tmp_path / "lib", tmp_path / "remote-tmp"
    lib.mkdir()
    tmp.mkdir()
    item["src"] = str(tmp / item["name"])
    shutil.copy(built, item["src"])
    argument = {"options": {"dest": str(lib), "validate": True, "remove_other_versions": True, "owner": None,
                            "group": None, "mode": "0644", "backup": False, "force": False},
                "pushed": {"single": False, "remember": True, "tmpdir": str(tmp), "jars": [item]},
                "check_mode": False, "diff": False}
    return item, lib, argument


def test_the_bare_python_cannot_import_ansible():
    proc = subprocess.run(BARE_PYTHON + ["-c", "import ansible"], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "No module named 'ansible'" in proc.stderr


def test_the_install_with_a_credentialed_repository_url_runs_without_ansible(tmp_path):
    item, lib, argument = credentialed_install(tmp_path)
    # The controller never sends the password: the item names the repository masked.
    assert PASSWORD not in json.dumps(argument) and item["url"].startswith("https://****:****@repo.example:8443/")
    command = _probe.package_command(BARE_PYTHON, HOST_PACKAGE, HOST_MODULES, HOST_PACKAGE + ".host_run.run_pushed",
                                     argument)
    proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    answered = _probe.answer(proc.stdout)
    assert isinstance(answered, dict) and "failed" not in answered, proc.stdout
    assert answered["changed"] is True
    (jar,) = answered["jars"]
    assert jar["url"] == item["url"] and jar["path"] == str(lib / item["name"])
    assert jar["checksum"] == jars.sha256_file(str(lib / item["name"]))
    assert answered[wire.RERUN]["result"]["jars"][0]["url"] == item["url"]
    assert PASSWORD not in proc.stdout


def test_the_host_package_imports_without_ansible(tmp_path):
    """Every module of the package imports, and the masking of a URL with credentials works, in a Python where an
    import of ``ansible`` fails: the package's sources are the ones the command carries."""
    check = r"""
import importlib, json, sys
class _NoAnsible:
    def find_spec(self, name, path=None, target=None):
        if name == "ansible" or name.startswith("ansible."):
            raise ImportError("ansible is not installed on this host")
sys.meta_path.insert(0, _NoAnsible())
"""
    probe = check + r"""
def imports(argument):
    package = argument["package"]
    done = [importlib.import_module("%s.%s" % (package, name)).__name__ for name in argument["modules"]]
    urls = importlib.import_module(package + ".urls")
    return {"imported": done, "masked": urls.mask_url(argument["url"]),
            "ansible": sorted(m for m in sys.modules if m == "ansible" or m.startswith("ansible."))}
"""
    package_dir = os.path.dirname(host_run.__file__)
    modules = sorted(n[:-3] for n in os.listdir(package_dir) if n.endswith(".py") and n != "__init__.py")
    # The importer of package_command, with the probe module as one more of its sources.
    probe_file = tmp_path / "probe_imports.py"
    probe_file.write_text(probe)
    sys.path.insert(0, str(tmp_path))
    try:
        _probe._package_payload.cache_clear()
        command = _probe.package_command(BARE_PYTHON, HOST_PACKAGE, list(HOST_MODULES) + ["probe_imports"],
                                         "probe_imports.imports",
                                         {"package": HOST_PACKAGE, "modules": modules, "url": REPOSITORY})
    finally:
        sys.path.remove(str(tmp_path))
        _probe._package_payload.cache_clear()
    proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    answered = _probe.answer(proc.stdout)
    assert answered["imported"] == ["%s.%s" % (HOST_PACKAGE, n) for n in modules]
    assert answered["masked"] == "https://****:****@repo.example:8443/m2"
    assert answered["ansible"] == []
