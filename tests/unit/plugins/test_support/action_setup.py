"""A real ActionBase setup for the action plugins' unit tests: a Task with the plugin's arguments, a PlayContext,
ansible-core's own ``local`` connection and a DataLoader/Templar. Nothing is mocked and nothing leaves this
machine: a plugin that runs a command on the host runs it here. The collection is imported from this checkout
(tests/unit/conftest.py), not through ansible-core's collection loader, which would stay installed for the whole
process."""

import os

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader
from ansible.template import Templar


def make_action(plugin, args, check_mode=False):
    """The action plugin class ``plugin`` ready to ``run`` the task ``args``, as the task executor makes it."""
    task = Task()
    task.action = "cdcops.flink_cdc." + plugin.__module__.rsplit(".", 1)[-1]
    task.args = dict(args)
    task.check_mode = check_mode
    play_context = PlayContext()
    play_context.check_mode = check_mode
    connection = connection_loader.get("local", play_context, os.devnull)
    loader = DataLoader()
    return plugin(task, connection, play_context, loader, Templar(loader=loader), None)
