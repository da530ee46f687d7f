# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What the flink_cdc role derives from its inventory on the controller (only the role's filters).

Per-host values are read through ``vars_of(host, name)``, which the filter gives from the ``hostvars`` passed in:
each host's value as that host renders it, never ansible-core internals.
"""

from __future__ import annotations

import typing as t


def vars_of(hostvars: t.Any) -> t.Callable[[str, str], t.Any]:
    """``vars_of(host, name)``: a host's variable from the ``hostvars`` a filter is given (``hostvars[host][name]``,
    which Ansible renders with that host's variables), or None where the host or the variable is not there."""
    def read(host: str, name: str) -> t.Any:
        try:
            host_vars = hostvars[host]
        except (KeyError, TypeError):
            return None
        try:
            return host_vars.get(name)
        except Exception:  # not a mapping, or a host variable that cannot be templated: it counts as unset
            return None
    return read


def expected_taskmanagers(hosts: t.Sequence[str], vars_of: t.Callable[[str, str], t.Any]) -> t.Dict[str, str]:
    """Inventory name -> the address its TaskManager registers with the JobManager as: the host's
    ``flink_cdc_taskmanager_address`` when set, else its ``ansible_host``, else its inventory name. Flink's
    ``/taskmanagers`` shows a TaskManager by the address it binds (``taskmanager.host``), which is what
    flink_cluster_info's ``expected_taskmanagers`` matches the hosts against."""
    return {host: str(vars_of(host, "flink_cdc_taskmanager_address") or vars_of(host, "ansible_host") or host)
            for host in hosts or ()}


def jobmanager_rest_urls(hosts: t.Sequence[str], vars_of: t.Callable[[str, str], t.Any], port: int = 8081) -> str:
    """The role's default ``flink_cdc_rest_url``: ``http://<address>:<port>`` of every JobManager host (its
    ``ansible_host``, else its inventory name), separated by commas, the form the REST modules take for several
    JobManagers. Flink's REST endpoint listens on ``rest.port``, 8081 by default (apache/flink
    flink-core RestOptions.PORT)."""
    return ",".join("http://%s:%d" % (vars_of(host, "ansible_host") or host, port) for host in hosts or ())
