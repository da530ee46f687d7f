"""The one-command runs of plugin_utils/_probe.py with the real code they send: the self-contained _host_facts.py,
and flink_connector_jar's install package (module_utils/_connector_jar/)."""

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zlib

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _host_facts
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _probe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import jars  # noqa: E402  pylint: disable=wrong-import-position


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


# --- package_command: flink_connector_jar's install, sent with its own code -----------------------------------

JAR_PACKAGE = "ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar"
HTTP_COMMON = "ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common"
ISOLATED = [sys.executable, "-I", "-S"]  # no site-packages: neither Ansible nor this collection is importable


def pushed_install(tmp_path, name="lib"):
    """A real run_pushed argument: one StarRocks jar (built by tests/bed/jars.py) pushed into a temp dir."""
    built = os.path.join(str(tmp_path / "repo"), jars.publish_starrocks(str(tmp_path / "repo"), "1.2.11_flink-1.20"))
    lib, tmp = tmp_path / name, tmp_path / ("tmp-" + name)
    lib.mkdir()
    tmp.mkdir()
    jar = os.path.basename(built)
    shutil.copy(built, str(tmp / jar))
    return jar, lib, {
        "options": {"dest": str(lib), "validate": True, "remove_other_versions": True, "owner": None, "group": None,
                    "mode": "0640", "backup": False, "force": False},
        "pushed": {"single": False, "remember": True, "tmpdir": str(tmp),
                   "jars": [{"state": "present", "name": jar, "artifact_id": "flink-connector-starrocks",
                             "group_id": "com.starrocks", "checksum": "sha256:" + jars.sha_hex(built, "sha256"),
                             "src": str(tmp / jar)}]},
        "check_mode": False, "diff": True}


def test_the_install_runs_from_the_sources_in_the_command_alone(tmp_path):
    """The one-command install (what the action plugin sends when it knows the host's Python) runs with a Python
    that cannot import Ansible or this collection, and answers what ``run_pushed`` answers in-process."""
    assert subprocess.run(ISOLATED + ["-c", "import ansible"], capture_output=True, check=False).returncode != 0
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import host_run, wire
    jar, lib, argument = pushed_install(tmp_path)
    answered = run(_probe.package_command(ISOLATED, JAR_PACKAGE, [HTTP_COMMON], JAR_PACKAGE + ".host_run.run_pushed",
                                          argument))
    assert answered["changed"] is True and "failed" not in answered, answered
    assert [j["msg"] for j in answered["jars"]] == ["install %s (not present)" % jar]
    assert os.listdir(str(lib)) == [jar] and os.stat(str(lib / jar)).st_mode & 0o7777 == 0o640
    assert os.listdir(argument["pushed"]["tmpdir"]) == []  # the pushed copy was moved into lib/
    assert answered[wire.RERUN]["result"]["changed"] is False  # remember: what a rerun answers
    assert answered["diff"]["after"] == jar + "\n"

    jar2, lib2, argument2 = pushed_install(tmp_path, "lib2")
    direct = host_run.run_pushed(argument2)

    # The same answer but for the paths (and the identity of the files, in the rerun record).
    def strip(result):
        text = json.dumps({k: v for k, v in result.items() if k != wire.RERUN})
        return json.loads(text.replace(str(lib2), "<lib>").replace(str(lib), "<lib>"))

    assert strip(answered) == strip(direct)


def test_the_one_command_install_fails_as_the_module_does(tmp_path):
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import host_run
    jar, lib, argument = pushed_install(tmp_path)
    argument["options"]["dest"] = "$NO_SUCH_PARENT/lib"
    answered = run(_probe.package_command(ISOLATED, JAR_PACKAGE, [HTTP_COMMON], JAR_PACKAGE + ".host_run.run_pushed",
                                          argument))
    assert answered == host_run.run_pushed(argument)
    assert answered["failed"] is True and answered["changed"] is False
    assert answered["msg"].startswith("dest $NO_SUCH_PARENT/lib is not a directory.")  # expandvars keeps unset ones
    assert os.listdir(argument["pushed"]["tmpdir"]) == [jar]  # nothing moved


def test_the_package_sent_is_the_host_code_and_fits_one_argument(tmp_path):
    """It carries every file of module_utils/_connector_jar/ (as the module's payload does), _http_common and
    their parent packages, nothing of plugin_utils, and the whole command fits Linux's 128 KB for one argument."""
    from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import ensure
    dummy, dummy2, argument = pushed_install(tmp_path)
    command = _probe.package_command(["/usr/bin/python3"], JAR_PACKAGE, [HTTP_COMMON], JAR_PACKAGE + ".ensure.x",
                                     argument)
    assert len(command.encode("utf-8")) < 128 * 1024
    sources = json.loads(zlib.decompress(base64.b64decode(shlex.split(command)[3])))
    package_dir = os.path.dirname(ensure.__file__)
    files = sorted(n[:-3] for n in os.listdir(package_dir) if n.endswith(".py") and n != "__init__.py")
    assert sorted(n for n in sources if n.startswith(JAR_PACKAGE + ".")) == ["%s.%s" % (JAR_PACKAGE, n) for n in files]
    assert sorted(n for n in sources if not n.startswith(JAR_PACKAGE)) == [
        "ansible_collections", "ansible_collections.cdcops", "ansible_collections.cdcops.flink_cdc",
        "ansible_collections.cdcops.flink_cdc.plugins", "ansible_collections.cdcops.flink_cdc.plugins.module_utils",
        HTTP_COMMON]
    # Nothing imports controller code (docstrings may name it).
    assert not [n for n, (dummy, dummy2, text) in sources.items() if re.search(r"\bplugins\.plugin_utils\b", text)]
    with open(os.path.join(package_dir, "host_run.py"), encoding="utf-8") as f:
        assert sources[JAR_PACKAGE + ".host_run"][2] == f.read()


# --- run: the one transport, its guards, and the warning when the command gives no answer ------------------

class _Task:
    def __init__(self, delegate_to=None):
        self.action = "cdcops.flink_cdc.flink_connector_jar"
        self.delegate_to = delegate_to


class _Connection:
    def __init__(self, shell):
        self._shell = shell


class _Action:
    """What ``_probe.run`` uses of an ActionBase: the task, the connection's shell plugin (ansible-core's own), the
    templar, the environment string and the low-level command, run here by /bin/sh."""

    def __init__(self, shell="sh", delegate_to=None, environment=""):
        from ansible.plugins.loader import shell_loader
        self._task = _Task(delegate_to)
        self._connection = _Connection(shell_loader.get(shell))
        self._templar = Templar()
        self.environment = environment
        self.commands = []

    def _compute_environment_string(self):
        return self.environment

    def _low_level_execute_command(self, cmd, sudoable=True):
        self.commands.append(cmd)
        proc = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True, check=False)
        return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.fixture
def shown(monkeypatch):
    """What ``_probe`` displays: warnings, and the -vvv lines."""
    seen = {"warning": [], "vvv": []}
    monkeypatch.setattr(_probe.display, "warning", lambda msg, *a, **kw: seen["warning"].append(msg))
    monkeypatch.setattr(_probe.display, "vvv", lambda msg, *a, **kw: seen["vvv"].append(msg))
    monkeypatch.delenv("ANSIBLE_PYTHON_INTERPRETER", raising=False)
    return seen


def _gather(tmp_path):
    (tmp_path / "flink" / "lib").mkdir(parents=True)
    args = {"flink_home": "$FLINK_PARENT/flink", "java_home": "", "config_files": [], "endpoints": [], "timeout": 1}
    return lambda python: _probe.command(python, _host_facts, "gather", args)


def test_run_answers_with_the_python_it_used_in_the_tasks_environment(tmp_path, shown):
    action = _Action(environment="FLINK_PARENT=%s" % shlex.quote(str(tmp_path)))
    task_vars = {"inventory_hostname": "tm1", "ansible_python_interpreter": sys.executable}
    found, python = _probe.run(action, task_vars, _gather(tmp_path), "check")
    assert python == [sys.executable]
    assert found["flink_home"] == str(tmp_path / "flink")  # the task's environment reached the host's Python
    assert len(action.commands) == 1 and shown == {"warning": [], "vvv": []}


def test_run_uses_the_python_the_caller_knows(tmp_path, shown):
    """A recorded run's Python (flink_connector_jar's rerun probe): used even before interpreter discovery."""
    action = _Action(environment="FLINK_PARENT=%s" % shlex.quote(str(tmp_path)))
    found, python = _probe.run(action, {"inventory_hostname": "tm1"}, _gather(tmp_path), "rerun probe",
                               python=[sys.executable, "-I"])
    assert python == [sys.executable, "-I"] and found["lib"]["exists"] is True
    assert action.commands[0].startswith("FLINK_PARENT=")


@pytest.mark.parametrize("action, task_vars, why", [
    (_Action(delegate_to="jm1"), {"ansible_python_interpreter": sys.executable}, "the task is delegated"),
    (_Action(shell="powershell"), {"ansible_python_interpreter": sys.executable}, "the shell is not sh"),
    (_Action(), {}, "the host's Python is not known yet"),
], ids=["delegated", "powershell", "no-python-yet"])
def test_run_leaves_the_module_to_run_without_a_command_when_it_cannot_apply(tmp_path, shown, action, task_vars, why):
    assert _probe.run(action, dict(task_vars, inventory_hostname="tm1"), _gather(tmp_path), "check") is None
    assert action.commands == []  # nothing ran on the host: the module is the plan, not a second try
    assert shown["warning"] == [] and [why in line for line in shown["vvv"]] == [True]


@pytest.mark.parametrize("python, rc, stderr_part", [
    (["/bin/sh", "-c", "echo 'No module named ansible' >&2; exit 3"], 3, "stderr: No module named ansible"),
    (["/bin/sh", "-c", "exit 0"], 0, "nothing on stderr"),  # it ran, but printed no answer
], ids=["failed", "no-answer"])
def test_run_warns_when_the_command_gives_no_answer(tmp_path, shown, python, rc, stderr_part):
    action = _Action()
    task_vars = {"inventory_hostname": "tm2", "ansible_python_interpreter": " ".join(shlex.quote(p) for p in python)}
    assert _probe.run(action, task_vars, lambda py: " ".join(shlex.quote(p) for p in py), "install") is None
    assert len(action.commands) == 1
    (warning,) = shown["warning"]
    assert warning.startswith("flink_connector_jar on tm2: the one-command install gave no answer (rc=%d, %s), so the "
                              "module ran instead: one more command on this host each run." % (rc, stderr_part))
    assert "Check that its Python (%s) runs on the host" % " ".join(python) in warning
    assert "ansible_python_interpreter" in warning  # the fix
