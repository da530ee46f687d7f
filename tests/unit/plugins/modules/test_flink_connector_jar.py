"""What a host receives for cdcops.flink_cdc.flink_connector_jar: the module's own code, and nothing that only the
action plugin runs on the controller.

Everything a module imports from module_utils is zipped into the payload Ansible sends to every host, so the
controller's code (the cache, the host records, the rerun probe, the push) lives in plugins/plugin_utils/. The
payload is built here the way Ansible builds it (``ansible.executor.module_common.modify_module``, as
ansible-core's own test/units/executor/module_common tests do), in a fresh interpreter, because
``init_plugin_loader`` installs the collection finder for the whole process.
"""

import base64
import io
import json
import os
import re
import subprocess
import sys
import zipfile

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import ensure

MODULE = "cdcops.flink_cdc.flink_connector_jar"
PACKAGE = "ansible_collections/cdcops/flink_cdc/plugins/module_utils/_connector_jar/"
# ensure.py is <collections>/ansible_collections/cdcops/flink_cdc/plugins/module_utils/_connector_jar/ensure.py
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(ensure.__file__), *[os.pardir] * 6))

BUILD = r"""
import base64, json, sys
from ansible.plugins.loader import init_plugin_loader, module_loader
init_plugin_loader([sys.argv[1]])
from ansible.executor.module_common import modify_module
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
found = module_loader.find_plugin_with_context(sys.argv[2])
built = modify_module(module_name=sys.argv[2], module_path=found.plugin_resolved_path, module_args={},
                      templar=Templar(loader=DataLoader()), task_vars={"ansible_python_interpreter": sys.executable})
# ansible-core 2.19 returns a _BuiltModule; before, a tuple whose first item is the module data.
data = built.b_module_data if hasattr(built, "b_module_data") else built[0]
print(json.dumps({"path": found.plugin_resolved_path, "payload": base64.b64encode(data).decode("ascii")}))
"""

# Defined only in plugins/plugin_utils/_connector_jar/: the controller cache, the host records, the rerun probe
# and the push.
CONTROLLER_ONLY = ("def cache_jar", "class CachedJar", "def file_lock", "def load_host_memory", "def write_host_memory",
                   "def jars_to_push", "def probe_command", "def parse_probe", "def rerun_key", "def replay",
                   "def pushed_item", "def pushed_option", "_PROBE_MAIN")
# What the module runs on the host.
HOST_CODE = ("def ensure_jars", "def rerun_record", "def pushed_request", "def dest_state", "def install_temps",
             "def validate_jar", "def download", "def argument_spec", 'PUSHED = "_pushed"')


def _payload():
    out = subprocess.run([sys.executable, "-c", BUILD, COLLECTIONS, MODULE], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    # The module Ansible found is this checkout's.
    assert os.path.realpath(answer["path"]) == os.path.realpath(
        os.path.join(COLLECTIONS, "ansible_collections", "cdcops", "flink_cdc", "plugins", "modules",
                     "flink_connector_jar.py"))
    wrapper = base64.b64decode(answer["payload"])
    # AnsiballZ embeds the zip of the module and its module_utils as one base64 string.
    (zipped,) = [blob for blob in re.findall(rb"[A-Za-z0-9+/=]{1000,}", wrapper)
                 if base64.b64decode(blob).startswith(b"PK\x03\x04")]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(zipped))) as payload:
        return {name: payload.read(name).decode("utf-8") for name in payload.namelist()}


def test_the_payload_carries_the_host_code_and_nothing_of_the_controller():
    files = _payload()
    assert "ansible_collections/cdcops/flink_cdc/plugins/modules/flink_connector_jar.py" in files
    assert not [name for name in files if "plugin_utils" in name]
    text = "\n".join(files.values())
    assert not re.search(r"\bplugins\.plugin_utils\b", text)  # nothing imports controller code
    assert [name for name in CONTROLLER_ONLY if name in text] == []
    assert [name for name in HOST_CODE if name not in text] == []
    # module_utils/_connector_jar/ holds only what the module runs: every file of it is in the payload.
    package = os.path.join(COLLECTIONS, PACKAGE)
    on_disk = sorted(name for name in os.listdir(package) if name.endswith(".py"))
    assert sorted(name[len(PACKAGE):] for name in files if name.startswith(PACKAGE)) == on_disk
