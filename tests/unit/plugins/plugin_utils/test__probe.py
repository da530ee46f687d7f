"""The one-command probe (plugin_utils/_probe.py) with the real self-contained file it sends, _host_facts.py."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _host_facts
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _probe


class Templar:
    def template(self, value):
        return value.replace("{{ ansible_playbook_python }}", "/venv/bin/python")


@pytest.mark.parametrize("task_vars, expected", [
    ({"ansible_python_interpreter": "/usr/bin/python3"}, ["/usr/bin/python3"]),
    ({"ansible_python_interpreter": "/usr/bin/env python3"}, ["/usr/bin/env", "python3"]),
    ({"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, ["/venv/bin/python"]),
    ({"ansible_python_interpreter": "auto", "ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3.11"}},
     ["/usr/bin/python3.11"]),
    ({"ansible_python_interpreter": "auto_silent"}, None),
    ({"ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3"}}, ["/usr/bin/python3"]),
])
def test_interpreter_is_the_modules_or_none_before_discovery(task_vars, expected, monkeypatch):
    monkeypatch.delenv("ANSIBLE_PYTHON_INTERPRETER", raising=False)
    assert _probe.interpreter(task_vars, Templar()) == expected


def test_no_interpreter_configured_or_discovered_means_the_module_runs(monkeypatch):
    monkeypatch.delenv("ANSIBLE_PYTHON_INTERPRETER", raising=False)
    assert _probe.interpreter({}, Templar()) is None


def test_answer_skips_other_output_and_needs_the_mark():
    assert _probe.answer("Welcome to tm1\n" + json.dumps({_probe.MARK: {"a": 1}}) + "\n") == {"a": 1}
    assert _probe.answer(json.dumps({"a": 1})) is None
    assert _probe.answer("") is None
    assert _probe.answer("Traceback (most recent call last):\n  ...\nNameError: x") is None


def run(command):
    proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return _probe.answer(proc.stdout)


def test_the_probe_runs_the_file_standalone_and_reads_what_gather_reads(tmp_path):
    """The command runs _host_facts.py's own source with a Python that imports nothing of this collection
    (``-I``: isolated, no site packages, no PYTHONPATH) and answers what ``gather`` answers in-process."""
    home = tmp_path / "flink"
    (home / "lib").mkdir(parents=True)
    (home / "conf").mkdir()
    (home / "conf" / "config.yaml").write_text("env:\n  java:\n    home: '/opt/jdk 17'\n")
    args = {"flink_home": str(home), "java_home": "", "config_files": ["config.yaml", "flink-conf.yaml"],
            "endpoints": [{"name": "closed", "host": "127.0.0.1", "port": 1}], "timeout": 1.0}
    answered = run(_probe.command([sys.executable, "-I"], _host_facts, "gather", args))
    direct = _host_facts.gather(args)
    assert answered["java"] == direct["java"] == {
        "path": "/opt/jdk 17/bin/java", "source": "config", "config_file": str(home / "conf" / "config.yaml"),
        "rc": None, "output": "no executable java at /opt/jdk 17/bin/java", "version_from": ""}
    assert answered["endpoints"] == direct["endpoints"] == ["connection refused"]
    assert answered["lib"]["writable"] is True and answered["lib"]["exists"] is True
    assert {k: v for k, v in answered.items() if k != "lib"} == {k: v for k, v in direct.items() if k != "lib"}


def test_the_probe_resolves_paths_on_the_host(tmp_path):
    """flink_home as given (``$VAR``, ``~``) is resolved by the host's Python, as a type=path option would be."""
    (tmp_path / "flink" / "lib").mkdir(parents=True)
    env = dict(os.environ, FLINK_PARENT=str(tmp_path))
    args = {"flink_home": "$FLINK_PARENT/flink", "java_home": "", "config_files": [], "endpoints": [], "timeout": 1}
    proc = subprocess.run(["/bin/sh", "-c", _probe.command([sys.executable], _host_facts, "gather", args)],
                          capture_output=True, text=True, check=False, env=env)
    facts = _probe.answer(proc.stdout)
    assert facts["flink_home"] == str(tmp_path / "flink")
    assert facts["lib"]["exists"] is True
