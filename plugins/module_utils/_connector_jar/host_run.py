# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""One run of flink_connector_jar on the host, whoever starts it.

``run`` is what the module does once its options are validated: lock dest, ``ensure.ensure_jars``, and with
``_pushed``'s ``remember`` the rerun record; ``failure`` is the failed result of what it raises. The module
(plugins/modules/flink_connector_jar.py) calls both from AnsibleModule.

``run_pushed`` is the same run for ``fetch_mode=controller`` without AnsibleModule: the action plugin sends this
package (standard library only) as one ``python -c`` (plugins/plugin_utils/_probe.py, ``package_command``) with
the options it validated on the controller, when it knows the host's Python. That saves every host the import of
``ansible.module_utils.basic`` and the AnsiballZ payload, which cost more than the install itself.
"""

from __future__ import annotations

import os
import traceback
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import ensure, install, options, wire
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest


def install_options(params: t.Mapping[str, t.Any]) -> options.InstallOptions:
    uid, gid = install.resolve_owner(params["owner"], params["group"])
    return options.InstallOptions(validate=params["validate"], remove_other_versions=params["remove_other_versions"],
                                  mode=install.parse_mode(params["mode"]), uid=uid, gid=gid, backup=params["backup"],
                                  force=params["force"])


def run(requests: t.Sequence[JarRequest], single: bool, params: t.Mapping[str, t.Any], check_mode: bool,
        diff: bool) -> t.Dict[str, t.Any]:
    """The module's result for ``requests`` (validated ``params``); raises JarError or OSError."""
    opts = install_options(params)
    dest = install.check_dest(params["dest"])
    pushed = params.get(wire.PUSHED)
    rerun: t.Any = False
    # Check mode only reads: a shared lock keeps it from seeing a half-finished run.
    with install.dest_lock(dest, exclusive=not check_mode):
        result = ensure.ensure_jars(requests, dest, options.http_options(params), opts, check_mode)
        if pushed is not None and pushed.get("remember") and not check_mode and wire.NEEDED not in result:
            # For the action plugin's next run (see ensure.rerun_record); it never reaches the user.
            rerun = ensure.rerun_record(requests, dest, options.http_options(params), opts)
    result = ensure.final_result(result, single, diff)
    if rerun is not False:
        result[wire.RERUN] = rerun
    return result


def failure(exc: Exception, dest: t.Any) -> t.Dict[str, t.Any]:
    """The failed result of a JarError or OSError that ``run`` raised."""
    if isinstance(exc, JarError):
        details = dict(exc.details)
        changed = bool(details.pop("changed", False))
        return dict(details, msg=exc.msg, changed=changed, failed=True)
    return dict(msg="flink_connector_jar failed on %s: %s" % (dest, exc), exception=traceback.format_exc(),
                changed=False, failed=True)


def run_pushed(argument: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """``run`` for the action plugin's one command: ``argument`` holds ``options`` (the ``wire.HOST_OPTIONS``,
    validated on the controller, with ``dest`` as the task gave it), ``pushed`` (``wire.PUSHED``'s value),
    ``check_mode`` and ``diff``. Returns the result, failed or not."""
    # The module's defaults for what the host never uses with _pushed (the repository options: the controller
    # fetched every jar), as AnsibleModule would fill them in; then the options the controller validated.
    params = {name: spec.get("default") for name, spec in options.argument_spec().items()}
    params.update(argument["options"], **{wire.PUSHED: argument["pushed"]})
    # What AnsibleModule does to a type=path option, on the host (ansible-core,
    # lib/ansible/module_utils/common/validation.py, check_type_path): ~ is this host's home.
    params["dest"] = os.path.expanduser(os.path.expandvars(str(params["dest"])))
    try:
        requests, single = wire.pushed_requests(params[wire.PUSHED])
        return run(requests, single, params, bool(argument["check_mode"]), bool(argument["diff"]))
    except (JarError, OSError) as exc:
        return failure(exc, params["dest"])
