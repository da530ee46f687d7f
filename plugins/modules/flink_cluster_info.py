#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_cluster_info
short_description: Read a Flink cluster's state from the JobManager REST API
version_added: 0.1.0
description:
  - Reads the version, TaskManagers, slots, jobs and configuration of a standalone Apache Flink
    cluster from its JobManager REST API. This is C(curl <jm>:8081/taskmanagers) and C(flink list)
    in one task.
  - Optionally waits, with backoff, until enough TaskManagers are registered and enough slots are free.
  - Optionally matches inventory hosts to registered TaskManagers by address, resolving DNS names on
    both sides.
  - With several JobManagers (high availability), give every JobManager's URL in O(url). The module talks
    to whichever answers, passing over one that is down or has no leader during an election, and returns
    each JobManager with its role (RV(jobmanagers)), the leader (RV(leader)) and the HA mode (RV(ha_mode)).
  - The module is read-only. It never changes the cluster and never reports C(changed).
author:
  - cdcops.flink_cdc maintainers (@cdcops)
extends_documentation_fragment:
  - cdcops.flink_cdc.flink_rest
  - cdcops.flink_cdc.attributes.info_module
options:
  wait_for_taskmanagers:
    description:
      - Number of registered TaskManagers to wait for. Used with O(wait_timeout).
    type: int
    default: 0
  min_free_slots:
    description:
      - Number of free task slots to wait for. Used with O(wait_timeout).
    type: int
    default: 0
  wait_timeout:
    description:
      - Seconds to wait until at least O(wait_for_taskmanagers) TaskManagers are registered and at
        least O(min_free_slots) slots are free. The module polls with backoff and retries
        connection errors meanwhile.
      - This bounds the whole wait, whatever the JobManager does; no request of it runs more than 2 seconds past
        the deadline (the last look at the cluster, whose counts the failure reports; each request is also
        bounded by O(timeout)).
      - At the deadline the module fails, stating how many TaskManagers were registered and how many
        were wanted, or why the last request failed.
      - V(0) reads once and does not wait or judge the counts.
    type: float
    default: 0
  wait_for_jobmanager_jars:
    description:
      - Jar file names, for example V(flink-sql-connector-postgres-cdc-3.5.0.jar), that must be on the
        JobManager's classpath (C(/jobmanager/environment)). Used with O(wait_timeout), for example to wait
        until a restarted JobManager runs with the jars that landed in its C(lib/).
      - Flink reads C(lib/) only when a process starts, so a JobManager whose classpath lacks a jar in its
        C(lib/) has not been restarted since the jar landed.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  ignore_taskmanager_ids:
    description:
      - TaskManager IDs not to count while waiting, for example the ID a TaskManager had before a
        restart, to wait until its replacement has registered.
    type: list
    elements: str
    default: []
  expected_taskmanagers:
    description:
      - "Inventory host name mapped to the address its TaskManager registers with
        (C(taskmanager.host)), for example C({tm1: 10.0.0.5, tm2: tm2.example.com})."
      - When given, RV(host_matches) tells which hosts have a registered TaskManager, which have none,
        and which registered TaskManagers belong to no listed host. Names are resolved where the
        module runs.
    type: dict
notes:
  - Flink has no HTTP authentication of its own; O(url_username) and O(url_password) are for a proxy in
    front of it. Mutual TLS (C(security.ssl.rest.*)) uses O(client_cert) and O(client_key).
seealso:
  - name: Flink REST API
    description: The endpoints this module reads.
    link: https://nightlies.apache.org/flink/flink-docs-release-1.20/docs/ops/rest_api/
"""

EXAMPLES = r"""
- name: Show the cluster
  cdcops.flink_cdc.flink_cluster_info:
    url: http://jobmanager:8081
  register: flink

- name: Wait up to 2 minutes for 3 TaskManagers with 4 free slots
  cdcops.flink_cdc.flink_cluster_info:
    url: http://jobmanager:8081
    wait_for_taskmanagers: 3
    min_free_slots: 4
    wait_timeout: 120

- name: Which inventory hosts have a registered TaskManager?
  cdcops.flink_cdc.flink_cluster_info:
    url: https://jobmanager:8081
    ca_path: /etc/pki/flink-ca.pem
    expected_taskmanagers: "{{ dict(groups['flink_taskmanagers'] | zip(groups['flink_taskmanagers']
      | map('extract', hostvars, 'ansible_host'))) }}"
  register: flink

- name: List running jobs (the REST form of flink list)
  ansible.builtin.debug:
    msg: "{{ flink.jobs | selectattr('state', 'equalto', 'RUNNING') | map(attribute='name') }}"
"""

RETURN = r"""
url:
  description: O(url) without its credentials (no C(user:password@)), for messages and reports.
  returned: success
  type: str
  sample: https://flink.example.com/
  version_added: 0.2.0
flink_version:
  description: Flink version reported by the JobManager.
  returned: success
  type: str
  sample: 1.20.3
flink_commit:
  description: Commit the JobManager was built from.
  returned: success
  type: str
  sample: 01e3a6d
overview:
  description: The C(/overview) body as Flink returns it.
  returned: success
  type: dict
  sample: {"taskmanagers": 2, "slots-total": 4, "slots-available": 4, "jobs-running": 0,
           "jobs-finished": 0, "jobs-cancelled": 0, "jobs-failed": 0, "flink-version": "1.20.3",
           "flink-commit": "01e3a6d"}
taskmanagers:
  description: Registered TaskManagers.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: TaskManager resource ID; a restarted TaskManager gets a new one.
      type: str
      sample: 127.0.0.2:38977-12a273
    host:
      description: Host the TaskManager registered with, parsed from its RPC path
        (C(akka.tcp), C(pekko.tcp) or C(pekko.ssl.tcp)).
      type: str
      sample: 127.0.0.2
    path:
      description: RPC path as Flink reports it.
      type: str
      sample: pekko.tcp://flink@127.0.0.2:38977/user/rpc/taskmanager_0
    data_port:
      description: Netty data port.
      type: int
    slots_total:
      description: Task slots of this TaskManager.
      type: int
    slots_free:
      description: Free task slots.
      type: int
    cpu_cores:
      description: CPU cores seen by the TaskManager.
      type: int
    physical_memory:
      description: Physical memory of the host in bytes.
      type: int
    last_heartbeat:
      description: Time of the last heartbeat in epoch milliseconds (Flink's C(timeSinceLastHeartbeat)),
        or null before the first one.
      type: int
    heartbeat_age_seconds:
      description: Seconds since the last heartbeat, by the clock where the module runs.
      type: float
jobs:
  description: Jobs from C(/jobs/overview), the REST form of C(flink list).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Job ID.
      type: str
    name:
      description: Job name.
      type: str
    state:
      description: Job state, for example C(RUNNING), C(CANCELED), C(FAILED).
      type: str
    start_time:
      description: Start time in epoch milliseconds.
      type: int
    duration:
      description: Duration in milliseconds.
      type: int
jobmanager_config:
  description: The JobManager's effective configuration from C(/jobmanager/config), key to value.
    Flink masks sensitive values.
  returned: success
  type: dict
  sample: {"rest.port": "8081", "jobmanager.rpc.address": "jobmanager"}
jobmanager_classpath:
  description: The JobManager's classpath, from C(/jobmanager/environment).
  returned: when O(wait_for_jobmanager_jars) is set
  type: list
  elements: str
  version_added: 0.2.0
jobmanagers:
  description:
    - Each JobManager of O(url), in that order.
    - A standby JobManager's REST API serves the leader's answers (it asks the leader over RPC), so the
      leader is found as the JobManager whose own BLOB server port (C(blob.server.port) in its
      C(/jobmanager/config)) is that of the C(BLOB Server listener) thread in the leader's C(/jobmanager/thread-dump).
  returned: success
  type: list
  elements: dict
  version_added: 0.3.0
  contains:
    url:
      description: The JobManager's URL, without credentials.
      type: str
    endpoint:
      description: C(host:port) of the URL.
      type: str
    reachable:
      description: Whether it answered.
      type: bool
    role:
      description:
        - V(leader), V(standby), V(unreachable), or V(unknown) when the leader cannot be told apart
          (RV(leader_note) says why).
        - A JobManager without high availability is its own leader.
      type: str
    flink_version:
      description: The Flink version of that JobManager's own process.
      type: str
    ha_mode:
      description: Its C(high-availability.type), V(none) when unset.
      type: str
    error:
      description: Why it did not answer, or null.
      type: str
leader:
  description: URL (without credentials) of the leading JobManager among O(url), or null when it is not known.
  returned: success
  type: str
  version_added: 0.3.0
ha_mode:
  description:
    - The JobManagers' high-availability mode (C(high-availability.type)), V(none) without HA.
    - "C(mixed: <modes>) when they differ."
  returned: success
  type: str
  sample: zookeeper
  version_added: 0.3.0
leader_note:
  description: Why RV(leader) is null although JobManagers answered, or an empty string.
  returned: success
  type: str
  version_added: 0.3.0
host_matches:
  description: Inventory hosts matched to registered TaskManagers.
  returned: when O(expected_taskmanagers) is set
  type: dict
  contains:
    matched:
      description: Inventory host name to the IDs of its registered TaskManagers.
      type: dict
    missing:
      description: Inventory hosts with no registered TaskManager.
      type: list
      elements: str
    unexpected:
      description: Registered TaskManagers that belong to no listed host (C(id), C(host)).
      type: list
      elements: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.cluster import (
    WaitTimeout,
    jobmanagers,
    match_hosts,
    snapshot,
    wait_for_cluster,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import (
    FlinkRestClient,
    FlinkRestError,
    rest_argument_spec,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import url_secrets


# Seconds past wait_timeout for the last look at the cluster, so that its counts are in the failure message.
LAST_LOOK = 2.0


def main():
    argument_spec = rest_argument_spec()
    argument_spec.update(
        wait_for_taskmanagers=dict(type="int", default=0),
        min_free_slots=dict(type="int", default=0),
        wait_timeout=dict(type="float", default=0.0),
        ignore_taskmanager_ids=dict(type="list", elements="str", default=[]),
        wait_for_jobmanager_jars=dict(type="list", elements="str", default=[]),
        expected_taskmanagers=dict(type="dict"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    # A password in the URL's userinfo: masked wherever it appears in the result, invocation included.
    module.no_log_values.update(url_secrets(*params["url"]))
    for name in ("wait_for_taskmanagers", "min_free_slots", "wait_timeout"):
        if params[name] < 0:
            module.fail_json(msg="%s must not be negative, got %s" % (name, params[name]))

    try:
        client = FlinkRestClient.from_params(params)
        if params["wait_timeout"] > 0:
            # Every request of the wait ends by its deadline, so the wait as a whole does too; the wait takes a
            # last look at the cluster at its deadline, which may take LAST_LOOK more.
            client.deadline = time.monotonic() + params["wait_timeout"] + min(client.timeout, LAST_LOOK)
        result = wait_for_cluster(
            lambda: snapshot(client, classpath=bool(params["wait_for_jobmanager_jars"])),
            want_taskmanagers=params["wait_for_taskmanagers"],
            min_free_slots=params["min_free_slots"],
            timeout=params["wait_timeout"],
            ignore_ids=tuple(params["ignore_taskmanager_ids"]),
            where=client.endpoint,
            want_jars=tuple(params["wait_for_jobmanager_jars"]))
    except FlinkRestError as exc:
        module.fail_json(msg=exc.message, url=exc.url, status=exc.status)
    except WaitTimeout as exc:
        last = exc.last or {}
        module.fail_json(msg=exc.message, taskmanagers=last.get("taskmanagers"),
                         overview=last.get("overview"))

    if params["expected_taskmanagers"] is not None:
        result["host_matches"] = match_hosts(params["expected_taskmanagers"], result["taskmanagers"])
    result.update(jobmanagers(client))
    module.exit_json(changed=False, url=client.display_url, **result)


if __name__ == "__main__":
    main()
