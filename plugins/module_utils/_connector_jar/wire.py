# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The wire between the action plugin (on the controller) and the module (on the host) for
``fetch_mode=controller``: every private name either side sends, in one place.

The action plugin resolves each jar on the controller (``plugins/plugin_utils/_connector_jar/cache.py``) and
builds what it sends with ``plugins/plugin_utils/_connector_jar/push.py``; the module reads it with
``pushed_requests`` and answers with ``needed_answer`` and ``RERUN``. Users never set these names: the action
plugin refuses a task that sets ``_pushed``, and removes ``_needed`` and ``_rerun`` from what it returns.

Controller to host: the module runs with ``HOST_OPTIONS`` as the task gave them (unexpanded, so ``~`` means the
host's home) and ``_pushed`` (``PUSHED``), a dict of

- ``jars``: one item per jar of the task, in the task's order, each with ``state`` (``present`` or ``absent``),
  ``name`` (the file name in dest; empty for ``absent`` without a version), ``artifact_id`` and ``group_id``
  (either may be None), ``url`` (where the controller fetched it, credentials masked; only reported back),
  ``checksum`` (``<algorithm>:<hex>``), ``factories`` (what the controller read from the jar, when it has it)
  and, once the jar has been transferred, ``src`` (the copy on the host);
- ``single``: answer in the single-jar form (the task gave no ``jars`` list);
- ``remember``: also answer ``_rerun`` (never in check mode);
- ``tmpdir``: the remote temp dir the action plugin made for this task, when any item has a ``src``.

The controller promises: the repository, its credentials and the cache stay on the controller; every ``present``
item carries the checksum of bytes it verified (and, with ``validate``, validated); a ``src`` is its own copy of
exactly those bytes, and one directly inside ``tmpdir`` may be moved into dest rather than copied.

The same run in its other form, the one-command install (``host_run.run_pushed``, when the controller knows the
host's Python): one JSON argument ``{"options": HOST_OPTIONS, "pushed": <the _pushed dict above>, "check_mode":
bool, "diff": bool}``. There the controller has validated the options already (``dest`` still as the task gave
it, expanded on the host as the module expands it), and the answer is the module's result, failed or not.

Host to controller, in the module's result (in either form):

- ``_needed`` (``NEEDED``): the file names of jars to install that have no ``src`` yet. With it the module
  changed nothing; the controller transfers those and runs the module again.
- ``_rerun`` (``RERUN``): with ``remember``, after a run that succeeded, what a rerun would answer and the
  ``dest_state`` it depends on (``ensure.rerun_record``), or None when a rerun would change something.

The host promises: it checks every item again as it arrives (``pushed_request``), verifies every checksum
itself before anything is installed, and never needs anything but ``HOST_OPTIONS`` and ``_pushed``.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import parse_checksum
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import (
    ARTIFACT_NAME,
    check_jar_name,
    check_name,
    validate_coordinates,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest, JarSource

PUSHED = "_pushed"
NEEDED = "_needed"
RERUN = "_rerun"
# The module's options the host gets besides _pushed: what it needs to install what the controller resolved.
HOST_OPTIONS = ("dest", "validate", "remove_other_versions", "owner", "group", "mode", "backup", "force")

PUSHED_SPEC = dict(type="dict")


def pushed_request(item: t.Mapping[str, t.Any], tmpdir: t.Optional[str] = None) -> JarRequest:
    """The host's side of ``push.pushed_item`` (on the controller): checked again, as it arrives over the wire.

    ``tmpdir`` is the temp dir the action plugin made for this task: a ``src`` directly inside it is the
    plugin's own copy, which the module may move into dest instead of copying it.
    """
    state = item.get("state") or "present"
    if state not in ("present", "absent"):
        raise JarError("%s: state %r is neither present nor absent." % (PUSHED, state))
    name = item.get("name") or ""
    if name or state == "present":
        check_jar_name(name, "%s: name" % PUSHED)
    group_id, artifact_id = item.get("group_id"), item.get("artifact_id")
    if group_id:
        validate_coordinates(group_id, artifact_id, None)
    elif artifact_id:
        check_name(artifact_id, ARTIFACT_NAME, "artifact_id")
    checksum = None
    if item.get("checksum"):
        checksum = parse_checksum(item["checksum"], "the controller, which verified it")
    elif state == "present":
        raise JarError("%s: %s has no checksum; fetch_mode=controller always sends one." % (PUSHED, name))
    factories = item.get("factories")
    src = item.get("src")
    movable = bool(src and tmpdir and os.path.dirname(os.path.normpath(src)) == os.path.normpath(tmpdir))
    return JarRequest(JarSource("src", name, artifact_id, group_id, url=item.get("url"), src=src,
                                checksum=checksum, pushed=True,
                                factories=tuple(str(f) for f in factories) if factories is not None else None,
                                movable=movable),
                      state)


def pushed_requests(pushed: t.Mapping[str, t.Any]) -> t.Tuple[t.List[JarRequest], bool]:
    """The requests ``_pushed`` carries, and whether the answer takes the single-jar form."""
    tmpdir = pushed.get("tmpdir")
    return [pushed_request(item, tmpdir) for item in pushed.get("jars") or []], bool(pushed.get("single"))


def needed_answer(needed: t.Sequence[str]) -> t.Dict[str, t.Any]:
    """The module's answer when the controller must push ``needed`` before anything is installed."""
    return {"changed": False, NEEDED: list(needed),
            "msg": "the controller must push %s before anything is installed" % ", ".join(needed)}
