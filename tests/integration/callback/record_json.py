# -*- coding: utf-8 -*-
# Test-only callback: append every task result as one JSON line to the file
# named by $CDCOPS_RECORD_FILE, so tests assert on structured results instead
# of parsing screen output.
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: record_json
type: notification
short_description: Record task results as JSON lines (tests only)
description: Appends each task result to the file named by CDCOPS_RECORD_FILE.
requirements: []
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "record_json"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, status, result):
        path = os.environ.get("CDCOPS_RECORD_FILE")
        if not path:
            return
        task = result._task
        entry = {
            "status": status,
            "host": result._host.get_name(),
            "task": task.get_name(),
            "action": task.action,
            "tags": list(task.tags),
            "result": result._result,
        }
        with open(path, "a") as f:
            f.write(json.dumps(entry, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_skipped(self, result):
        self._write("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._write("unreachable", result)
