# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: task_timing
type: aggregate
short_description: Record per-task wall time and per-host task counts to a JSON file
version_added: 0.1.0
description:
  - Measures where a playbook run spends its time, without depending on any other collection.
  - For every task it records the wall time from its start to the start of the next task (what the
    play waits for), the time each host spent on it, and how many hosts were ok, changed, failed, skipped
    or unreachable.
  - For every host it counts the task results it produced (C(executed) excludes skipped tasks and includes) and the
    module runs behind them (a loop of three items is one task and three module runs).
  - The JSON file is written when the playbook ends. Optionally the slowest tasks are printed.
  - Like every aggregate callback it must be enabled, for example with
    C(ANSIBLE_CALLBACKS_ENABLED=cdcops.flink_cdc.task_timing).
author:
  - cdcops.flink_cdc maintainers (@cdcops)
requirements:
  - Enable it in C(callbacks_enabled) (C(ANSIBLE_CALLBACKS_ENABLED)).
options:
  output_file:
    description:
      - Path of the JSON file to write when the playbook ends. Its directory is created when missing.
      - When unset, nothing is written (only the summary is printed, if enabled).
    type: path
    env:
      - name: CDCOPS_TASK_TIMING_FILE
    ini:
      - section: callback_task_timing
        key: output_file
  summary_count:
    description:
      - How many of the slowest tasks to print at the end of the run. V(0) prints nothing.
    type: int
    default: 0
    env:
      - name: CDCOPS_TASK_TIMING_SUMMARY
    ini:
      - section: callback_task_timing
        key: summary_count
notes:
  - Task wall time is measured on the controller, from the task's start event to the next task's start
    event (or the end of the play), like the usual profiling callbacks; it includes the strategy's own
    overhead, which is part of what a user waits for.
  - Results of C(include_tasks) and C(include_role) are counted as C(included), not as executed tasks.
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = cdcops.flink_cdc.task_timing
#
# [callback_task_timing]
# output_file = ./timing.json
# summary_count = 10

# Or for one run:
# ANSIBLE_CALLBACKS_ENABLED=cdcops.flink_cdc.task_timing CDCOPS_TASK_TIMING_FILE=timing.json \
#   ansible-playbook cdcops.flink_cdc.deploy -i inventory.ini --tags flink_cdc_deploy
"""

import json
import os
import time
import typing as t

from ansible.playbook.task_include import TaskInclude
from ansible.plugins.callback import CallbackBase

STATUSES = ("ok", "changed", "failed", "ignored", "skipped", "unreachable", "included")


def _parts(result: t.Any) -> tuple[t.Any, t.Any, t.Mapping[str, t.Any]]:
    """Host, task and result dict, on ansible-core before and after 2.19 (which adds public names)."""
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    try:
        data = result.result
    except AttributeError:
        data = result._result
    return host, task, data


class _TaskTiming:
    """One task's figures."""

    def __init__(self, task: t.Any, started: float, handler: bool) -> None:
        self.uuid = task._uuid
        self.name = task.get_name()
        self.action = task.action
        self.path = task.get_path() or ""
        self.handler = handler
        self.started = started
        self.ended: float | None = None
        self.hosts: dict[str, dict[str, t.Any]] = {}

    def as_dict(self, origin: float) -> dict[str, t.Any]:
        counts = dict.fromkeys(STATUSES, 0)
        for host in self.hosts.values():
            if host.get("status"):
                counts[host["status"]] += 1
        ended = self.ended if self.ended is not None else self.started
        return {
            "name": self.name,
            "action": self.action,
            "path": self.path,
            "handler": self.handler,
            "start_offset": round(self.started - origin, 4),
            "seconds": round(ended - self.started, 4),
            "hosts": counts,
            "host_seconds": {name: round(h["seconds"], 4) for name, h in sorted(self.hosts.items()) if "seconds" in h},
        }


class CallbackModule(CallbackBase):
    """Per-task wall time and per-host task counts, written as JSON at the end of the playbook."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "cdcops.flink_cdc.task_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._origin = time.time()
        self._playbook = ""
        self._tasks: list[_TaskTiming] = []
        self._by_uuid: dict[str, _TaskTiming] = {}
        self._current: _TaskTiming | None = None
        self._host_started: dict[tuple[str, str], float] = {}
        self._items: dict[tuple[str, str], int] = {}
        self._hosts: dict[str, dict[str, t.Any]] = {}

    # --- task boundaries

    def _start_task(self, task: t.Any, handler: bool) -> None:
        now = time.time()
        self._close_current(now)
        timing = _TaskTiming(task, now, handler)
        self._tasks.append(timing)
        self._by_uuid[timing.uuid] = timing
        self._current = timing

    def _close_current(self, now: float) -> None:
        if self._current is not None and self._current.ended is None:
            self._current.ended = now
        self._current = None

    def v2_playbook_on_start(self, playbook: t.Any) -> None:
        self._origin = time.time()
        self._playbook = getattr(playbook, "_file_name", "") or ""

    def v2_playbook_on_play_start(self, play: t.Any) -> None:
        self._close_current(time.time())

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        self._start_task(task, handler=False)

    def v2_playbook_on_handler_task_start(self, task: t.Any) -> None:
        self._start_task(task, handler=True)

    # --- per-host events

    def v2_runner_on_start(self, host: t.Any, task: t.Any) -> None:
        self._host_started[(host.get_name(), task._uuid)] = time.time()

    def _host(self, name: str) -> dict[str, t.Any]:
        if name not in self._hosts:
            self._hosts[name] = dict.fromkeys(STATUSES + ("executed", "module_runs"), 0)
            self._hosts[name]["seconds"] = 0.0
        return self._hosts[name]

    def _item(self, result: t.Any) -> None:
        host, task, dummy = _parts(result)
        key = (host.get_name(), task._uuid)
        self._items[key] = self._items.get(key, 0) + 1

    def v2_runner_item_on_ok(self, result: t.Any) -> None:
        self._item(result)

    def v2_runner_item_on_failed(self, result: t.Any) -> None:
        self._item(result)

    def v2_runner_item_on_skipped(self, result: t.Any) -> None:
        # A skipped item ran no module.
        pass

    def _record(self, result: t.Any, status: str) -> None:
        now = time.time()
        host, task, data = _parts(result)
        name = host.get_name()
        key = (name, task._uuid)
        if status == "ok" and data.get("changed"):
            status = "changed"
        if status == "ok" and isinstance(task, TaskInclude):
            # include_tasks/include_role run no module on the host: they only load tasks.
            status = "included"
        timing = self._by_uuid.get(task._uuid)
        if timing is None:
            # A result for a task that never announced itself (it should not happen); keep it anyway.
            timing = _TaskTiming(task, self._host_started.get(key, now), handler=False)
            timing.ended = now
            self._tasks.append(timing)
            self._by_uuid[timing.uuid] = timing
        seconds = now - self._host_started.pop(key, timing.started)
        timing.hosts[name] = {"status": status, "seconds": seconds}
        counts = self._host(name)
        counts[status] += 1
        counts["seconds"] += seconds
        items = self._items.pop(key, 0)
        if status not in ("skipped", "included"):
            counts["executed"] += 1
            counts["module_runs"] += items or (0 if status == "unreachable" else 1)

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._record(result, "unreachable")

    # --- the end

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        now = time.time()
        self._close_current(now)
        report = {
            "playbook": self._playbook,
            "started": self._origin,
            "wall_seconds": round(now - self._origin, 4),
            "tasks": [task.as_dict(self._origin) for task in self._tasks],
            "hosts": {name: dict(counts, seconds=round(counts["seconds"], 4))
                      for name, counts in sorted(self._hosts.items())},
        }
        path = self.get_option("output_file")
        if path:
            self._write(path, report)
        self._summary(report)

    def _write(self, path: str, report: dict[str, t.Any]) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            tmp = "%s.%d.tmp" % (path, os.getpid())
            with open(tmp, "w") as f:
                json.dump(report, f, indent=1)
                f.write("\n")
            os.replace(tmp, path)
        except OSError as exc:
            self._display.warning("task_timing: cannot write %s: %s" % (path, exc))

    def _summary(self, report: dict[str, t.Any]) -> None:
        count = self.get_option("summary_count") or 0
        if count <= 0:
            return
        self._display.banner("TASK TIMING")
        slowest = sorted(report["tasks"], key=lambda task: task["seconds"], reverse=True)[:count]
        for task in slowest:
            executed = sum(task["hosts"][s] for s in STATUSES if s not in ("skipped", "included"))
            self._display.display("%9.3fs  %3d host(s)  %s" % (task["seconds"], executed, task["name"]))
        self._display.display("%9.3fs  total" % report["wall_seconds"])
