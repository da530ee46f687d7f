"""A real ActionBase setup for the action plugins' unit tests: a Task with the plugin's arguments, a PlayContext,
ansible-core's own ``local`` connection and a DataLoader/Templar. Nothing is mocked and nothing leaves this
machine: a plugin that runs a command on the host runs it here."""

import os

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader, init_plugin_loader
from ansible.template import Templar

# The collection this checkout is (tests/unit/conftest.py put it first on sys.path).
import ansible_collections.cdcops.flink_cdc as _collection

COLLECTIONS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(list(_collection.__path__)[0]))))


@pytest.fixture(scope="session")
def plugin_loader():
    """The plugin loader, with this checkout's collection (configured once per process, as ansible-core does)."""
    init_plugin_loader([COLLECTIONS])


@pytest.fixture
def action(plugin_loader):
    """``action(plugin_class, args, check_mode=False)``: the plugin ready to ``run``, as the task executor makes
    it."""

    def make(plugin, args, check_mode=False, name=None):
        task = Task()
        task.action = name or "cdcops.flink_cdc." + plugin.__module__.rsplit(".", 1)[-1]
        task.args = dict(args)
        task.check_mode = check_mode
        play_context = PlayContext()
        play_context.check_mode = check_mode
        connection = connection_loader.get("local", play_context, os.devnull)
        loader = DataLoader()
        return plugin(task, connection, play_context, loader, Templar(loader=loader), None)

    return make
