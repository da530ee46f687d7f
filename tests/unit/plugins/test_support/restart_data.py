"""Hosts and results shared by the unit tests of plugins/plugin_utils/_restart.py and plugins/filter/restart.py."""

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _restart


DEFAULTS = {name: "" for kind in _restart.KINDS.values() for name in kind}


# --------------------------------------------------------------------------- batches

HOSTS = ["tm%02d" % i for i in range(1, 11)]


# --------------------------------------------------------------------------- registration after a batch

BEFORE = {"host_matches": {"matched": {"tm1": ["127.0.0.2:40001-aaaaaa"], "tm2": ["127.0.0.3:40002-bbbbbb"]}}}


# --------------------------------------------------------------------------- a TaskManager that does not come back

BEFORE_3 = {"taskmanagers": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
            "host_matches": {"matched": {"tm1": ["a"], "tm2": ["b"], "tm3": ["c"]}}}
# The registered results of a command that memory settings made fail, as ansible.builtin.command returns them.
FAILED_COMMAND = {"failed": True, "rc": 1, "msg": "non-zero return code",
                  "stdout": "\n".join("INFO line %d" % i for i in range(30)) + "\nCaused by: IllegalConfigurationException",
                  "stderr": "[ERROR] The execution result is empty."}


def logs(host):
    return {"tm1": {"dir": "/opt/flink/log", "path": "/opt/flink/log/flink-flink-taskexecutor-0-tm1.log",
                    "lines": ["... Could not resolve ResourceManager address pekko.tcp://flink@127.0.0.99:6123"]},
            "tm3": {"dir": "/opt/flink/log", "path": "", "lines": []}}.get(host, {})
