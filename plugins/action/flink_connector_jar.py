# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Controller side of cdcops.flink_cdc.flink_connector_jar (documented with the module).

``fetch_mode=remote`` runs the module as is. ``fetch_mode=controller`` works
like ``ansible.builtin.copy`` does, but compares first and transfers only what
is missing, with no extra stat or checksum modules:

1. Resolve every jar on the controller with ``cache.cache_jar``: verified and
   validated once into the controller cache (a warm cache costs at most the
   ``.sha1`` sidecar; check mode never fetches a body).
2. Transfer into the host's temp dir, before running anything there, the
   jars that the controller's memory of this host and ``dest`` (what the
   last successful run of the task left there, under ``controller_cache_dir``)
   does not vouch for: on a first deploy, all of them.
3. Run the install once on the host with each jar described by file name and
   checksum (``_pushed``), and the pushed ones by their copy (``src``). It
   verifies every checksum itself, moves each pushed copy it installs into
   ``dest``, and does everything else (mode/owner, removals). When the
   controller knows the host's Python, that run is one ``python -c`` that
   carries the install code (``module_utils/_connector_jar``, standard library
   only; ``host_run.run_pushed``), so the host pays neither the AnsiballZ
   payload nor the import of ``ansible.module_utils.basic``; otherwise
   (interpreter discovery still to run, a delegated task, a shell other than
   sh, no readable answer) the module runs, which calls the same code. A first
   deploy costs one execution and the transfers.
4. If the memory was wrong (a jar was deleted behind its back), the module
   installs nothing and names the jars it lacks: transfer just those and run
   the install again. Then remember what the host now holds, and what a rerun would
   answer (``ensure.rerun_record``); remove the temp dir.
5. A later run with the same arguments first runs ``dest_state`` on the
   host as a short ``python -c`` (``_probe``, as the install; no module
   payload, no temp dir). When every
   ``*.jar`` in dest is as recorded and each jar has its expected SHA-256, the
   recorded answer is the result: the idempotent rerun costs one short
   process per host. Otherwise the probe says which jars to transfer before
   the module runs (step 3).

Check mode transfers nothing and remembers nothing: one execution that says
what would change.

Credentials and the repository URL never leave the controller. What the plugin and the module send each
other (``_pushed``, ``_needed``, ``_rerun``) is documented in plugins/module_utils/_connector_jar/wire.py; the
controller-only code is in plugins/plugin_utils/_connector_jar/.
"""

from __future__ import annotations

import copy
import os
import shlex
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import ensure, options, sources, wire
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import (
    ChecksumError,
    DownloadError,
    JarError,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _probe
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache, host_records, push, rerun

MODULE = "cdcops.flink_cdc.flink_connector_jar"
# What the one-command install sends to the host: this package and what it imports besides the standard library.
HOST_PACKAGE = "ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar"
HOST_MODULES = ("ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common",)
# dest can change between the host's answer and the install (another run); answer that this many times.
MAX_PUSH_ROUNDS = 2

display = Display()


def run_id() -> str:
    """One ansible-playbook run: forks are forked from it, so they share its pid (and its start time)."""
    parent = os.getppid()
    start = ""
    try:
        with open("/proc/%d/stat" % parent) as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        pass  # not Linux: the pid alone
    return "%d:%s" % (parent, start)


class ActionModule(ActionBase):

    # A remote temp dir only when a jar has to be pushed: an up-to-date host costs one round trip.
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        # A password in a URL's userinfo (repository_url, url, jars[].url) is masked in everything this plugin
        # returns, as the module masks it in its own result (no_log=True cannot cover part of an option).
        secrets = options.option_url_secrets(self._task.args)
        try:
            if wire.PUSHED in self._task.args:
                raise AnsibleActionFail('Invalid parameter specified: "%s" is internal to fetch_mode=controller.'
                                        % wire.PUSHED)
            dummy, params = self.validate_argument_spec(argument_spec=options.argument_spec(internal=False),
                                                        **options.argument_rules(internal=False))
            if params["fetch_mode"] == "controller":
                result.update(self._controller_mode(params, task_vars or {}))
            else:
                result.update(self._execute_module(module_name=MODULE, task_vars=task_vars))
        except AnsibleActionFail as exc:
            # Returned rather than raised: Ansible's display of a raised error quotes the task's arguments.
            result.update(exc.result, failed=True, changed=False)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return remove_values(result, secrets) if secrets else result

    def _fixup_perms2(self, remote_paths, remote_user=None, execute=True):
        """Without become to an unprivileged user, ActionBase._fixup_perms2 only runs ``chmod u+rwx`` on the temp
        dir and the module file, which the task's own user created: the temp dir ``umask 77`` (0700), the module file
        by the transfer, readable by that user. The module then runs as ``<interpreter> <module file>``
        (ShellBase.build_module_command), which needs no execute bit, so that chmod is one more command on every
        host (one more round trip over SSH) for nothing. With become to another user, ActionBase does its part
        (ACLs, chown, ...), as always."""
        if execute and not self._is_become_unprivileged() and not getattr(self._connection._shell, "_IS_WINDOWS", False):
            return remote_paths
        return super()._fixup_perms2(remote_paths, remote_user=remote_user, execute=execute)

    def _controller_mode(self, params: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        single = params["jars"] is None
        try:
            resolved = self._resolve(params, single)
        except JarError as exc:
            msg = exc.msg
            if isinstance(exc, (DownloadError, ChecksumError)):
                # The network path that failed is the controller's, not the host's.
                msg = "On the controller (fetch_mode=controller): " + msg
            return dict(exc.details, failed=True, changed=False, msg=msg)

        items = [push.pushed_item(request, cached) for request, cached in resolved]
        host_args = {k: self._task.args[k] for k in wire.HOST_OPTIONS if k in self._task.args}
        transferred: set[str] = set()
        check_mode = bool(self._task.check_mode)
        # dest as the task gave it: what the host resolves it to is the host's business.
        host, dest = self._memory_host(task_vars), str(self._task.args.get("dest"))
        cache_dir = params["controller_cache_dir"]
        memory = {"jars": {}, "rerun": None} if check_mode else host_records.load_host_memory(cache_dir, host, dest)
        key = rerun.rerun_key(host_args, items, single, task_vars.get("ansible_python_interpreter"))
        first = [] if check_mode else host_records.jars_to_push(items, memory["jars"])
        record = memory["rerun"]
        if record and record.get("key") == key and not (params["force"] or params["backup"]):
            probe = self._probe(record, dest, items, task_vars)
            if rerun.replay(record, probe, items):
                display.vvv("flink_connector_jar: %s holds exactly what the last run left there; its answer is the "
                            "result (no module execution)" % dest, host=task_vars.get("inventory_hostname"))
                # The recorded answer, in the form the module gives it for this task.
                result = ensure.final_result(copy.deepcopy(record["result"]), single, bool(self._task.diff))
                return self._finish(result, resolved, transferred, single)
            if probe is not None:
                first = rerun.probe_mismatches(probe, items)
        if first:
            self._push(first, items, resolved, transferred)
        remember = not check_mode
        result = self._run_on_host(params, host_args, items, single, task_vars, remember)
        rounds = 0
        while result.get(wire.NEEDED) and not result.get("failed"):
            if rounds == MAX_PUSH_ROUNDS:
                return dict(failed=True, changed=False,
                            msg="%s kept changing while the jars were pushed (another run?); it still lacks %s. "
                                "Nothing was installed; run the task again." % (
                                    self._task.args.get("dest"), ", ".join(result[wire.NEEDED])))
            rounds += 1
            self._push(result.pop(wire.NEEDED), items, resolved, transferred)
            result = self._run_on_host(params, host_args, items, single, task_vars, remember)
        result.pop(wire.NEEDED, None)
        answer = result.pop(wire.RERUN, None)

        if not result.get("failed") and not check_mode:
            now = host_records.remembered(memory["jars"], items, result, single)
            if answer and self._used_interpreter:
                answer = dict(answer, key=key, interpreter=self._used_interpreter)
            else:
                answer = None
            if now != memory["jars"] or answer != record:
                host_records.write_host_memory(cache_dir, host, dest, now, answer)
        return self._finish(result, resolved, transferred, single)

    def _finish(self, result: dict[str, t.Any], resolved: list[tuple[sources.JarRequest, cache.CachedJar | None]],
                transferred: set[str], single: bool) -> dict[str, t.Any]:
        """Say of each jar whether the controller downloaded it and whether it was transferred to the host."""
        if not result.get("failed"):
            for entry, (request, cached) in zip([result] if single else result.get("jars") or [], resolved):
                if cached is not None:
                    entry["downloaded"] = cached.downloaded
                    entry["transferred"] = request.source.filename in transferred
        return result

    def _resolve(self, params: dict[str, t.Any],
                 single: bool) -> list[tuple[sources.JarRequest, cache.CachedJar | None]]:
        """Every jar fetched, verified and validated into the controller cache (nothing fetched in check mode)."""
        http = options.http_options(params)
        run = run_id()
        resolved = []
        for index, spec in enumerate([params] if single else params["jars"]):
            where = "" if single else "jars[%d]: " % index
            state = spec.get("state") or params["state"]
            if spec.get("src") and state == "present":
                spec = dict(spec, src=self._controller_file(spec["src"], where))
            request = sources.jar_request(spec, params["repository_url"], params["state"], where)
            cached = None
            if request.state == "present":
                cached = cache.cache_jar(request.source, params["controller_cache_dir"], http,
                                         validate=params["validate"], force=params["force"],
                                         check_mode=bool(self._task.check_mode), run_id=run)
            resolved.append((request, cached))
        return resolved

    def _memory_host(self, task_vars: dict[str, t.Any]) -> str:
        """The host the module runs on, as the memory knows it: its inventory name and the address Ansible uses,
        so that two inventories naming different machines alike do not share a memory."""
        return "%s %s" % (task_vars.get("inventory_hostname"), self._get_remote_addr(task_vars))

    def _controller_file(self, src: str, where: str) -> str:
        try:
            return self._find_needle("files", src)
        except AnsibleError as exc:
            raise JarError("%ssrc %s is not a file on the controller; with fetch_mode=controller, src names a "
                           "jar there (%s)." % (where, src, exc.message))

    def _probe(self, record: dict[str, t.Any], dest: str, items: list[dict[str, t.Any]],
               task_vars: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """``dest_state`` run on the host with the interpreter the recorded run used; None if it gave none."""
        interpreter = shlex.split(str(record.get("interpreter") or "").lstrip("#!").strip())
        if not interpreter:
            return None
        names = [item["name"] for item in items if item.get("state") == "present"]
        done = _probe.run(self, task_vars, lambda python: rerun.probe_command(python, dest, names), "rerun probe",
                          python=interpreter)
        return rerun.probe_state(done[0]) if done else None

    def _run_on_host(self, params: dict[str, t.Any], host_args: dict[str, t.Any], items: list[dict[str, t.Any]],
                     single: bool, task_vars: dict[str, t.Any], remember: bool = False) -> dict[str, t.Any]:
        pushed = push.pushed_option(items, single, remember, self._connection._shell.tmpdir)
        result = self._run_one_command(params, pushed, task_vars)
        if result is None:
            args = dict(host_args, **{wire.PUSHED: pushed})
            result = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        return result

    def _run_one_command(self, params: dict[str, t.Any], pushed: dict[str, t.Any],
                         task_vars: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """The module's run on the host (``host_run.run_pushed``) as one ``python -c`` that carries the install
        code itself (``_probe.package_command``), when the controller knows the host's Python; None when it does
        not, when the task is delegated or the shell is not sh, or when the command gave no answer: then the
        module runs."""
        # The options as the controller validated them, but dest as the task gave it: ~ is the host's home.
        argument = {"options": dict({k: params[k] for k in wire.HOST_OPTIONS}, dest=str(self._task.args["dest"])),
                    "pushed": pushed, "check_mode": bool(self._task.check_mode), "diff": bool(self._task.diff)}
        done = _probe.run(self, task_vars, lambda python: _probe.package_command(
            python, HOST_PACKAGE, HOST_MODULES, HOST_PACKAGE + ".host_run.run_pushed", argument), "install")
        if done is None:
            return None
        result, python = done
        # What the rerun record keeps, as ActionBase keeps the shebang it ran a module with.
        self._used_interpreter = "#!" + " ".join(shlex.quote(part) for part in python)
        return result

    def _push(self, names: list[str], items: list[dict[str, t.Any]],
              resolved: list[tuple[sources.JarRequest, cache.CachedJar | None]], transferred: set[str]) -> None:
        """Transfer the jars the host asked for into its temp dir, and point their items at them."""
        shell = self._connection._shell
        tmpdir = shell.tmpdir or self._make_tmp_path()
        by_name = {request.source.filename: (item, cached)
                   for item, (request, cached) in zip(items, resolved) if cached is not None and cached.path}
        pushed = []
        for name in names:
            if name not in by_name:
                raise AnsibleActionFail("The host asked for %s, which this task does not install from the controller "
                                        "cache." % name)
            item, cached = by_name[name]
            remote = shell.join_path(tmpdir, name)
            if name not in transferred:
                self._transfer_file(cached.path, remote)
                transferred.add(name)
                pushed.append(remote)
            item["src"] = remote
        if pushed:
            # Only changes anything when become switches to an unprivileged user, who must read the files.
            self._fixup_perms2([tmpdir] + pushed, execute=False)
