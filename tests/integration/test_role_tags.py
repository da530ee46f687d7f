"""The flink_cdc role's tags: each phase is tagged flink_cdc_<phase>, and the bare phase name stays a deprecated
alias until 0.4.0 (in a larger playbook, a bare --tags deploy runs every role's deploy).

ansible-playbook --list-tasks of the collection's deploy playbook shows which tasks a --tags selection runs, without
contacting a host. That a bare alias also runs its phase on the real bed is in
test_role_connector_defaults.py::test_deploy_alone_unpinned_refuses_to_guess.
"""

import os
import re
import subprocess

import pytest
from conftest import ROOT, VENV_BIN
from test_role_flink_cdc import DEPLOY

PHASES = ["preflight", "deploy", "restart", "smoke", "pipeline", "verify"]
TASK_LINE = re.compile(r"^\s+(cdcops\.flink_cdc\.flink_cdc : .*?)\tTAGS: \[(.*)\]$")

INVENTORY = """[flink_jobmanager]
jobmanager ansible_host=127.0.0.1

[flink_taskmanagers]
tm1 ansible_host=127.0.0.2

[all:vars]
ansible_connection=local
"""


def listed_tasks(ansible, tmp_path, *args):
    """The role's tasks that ansible-playbook --list-tasks shows for these arguments: [(name, {tags})]."""
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(INVENTORY)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), DEPLOY, "-i", str(inventory), "--list-tasks"] + list(args)
    proc = subprocess.run(cmd, env=ansible.env(None), capture_output=True, text=True, check=False, timeout=300,
                          stdin=subprocess.DEVNULL, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tasks = []
    for line in proc.stdout.splitlines():
        m = TASK_LINE.match(line)
        if m:
            tasks.append((m.group(1), {t.strip() for t in m.group(2).split(",") if t.strip()}))
    return tasks


def test_every_phase_task_carries_its_prefixed_tag_and_its_bare_alias(ansible, tmp_path):
    tasks = listed_tasks(ansible, tmp_path)
    assert tasks
    for phase in PHASES:
        tagged = [name for name, tags in tasks if "flink_cdc_" + phase in tags]
        assert tagged, "no task is tagged flink_cdc_%s" % phase
        assert [name for name, tags in tasks if phase in tags] == tagged, phase
    # Every task of the role belongs to a phase, or is the report and summary that always run.
    untagged = [name for name, tags in tasks
                if "always" not in tags and not tags & {"flink_cdc_" + p for p in PHASES}]
    assert untagged == []


@pytest.mark.parametrize("phase", PHASES)
def test_bare_alias_selects_the_same_tasks_as_the_prefixed_tag(ansible, tmp_path, phase):
    prefixed = listed_tasks(ansible, tmp_path, "--tags", "flink_cdc_" + phase)
    assert [name for name, tags in prefixed if "flink_cdc_" + phase in tags], prefixed
    assert listed_tasks(ansible, tmp_path, "--tags", phase) == prefixed
    # Skipping by the prefixed tag leaves none of that phase's tasks.
    skipped = listed_tasks(ansible, tmp_path, "--skip-tags", "flink_cdc_" + phase)
    assert not [name for name, tags in skipped if "flink_cdc_" + phase in tags and "always" not in tags]
