#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_host_check
short_description: Check a Flink host is ready for connector jars (Java, lib/, free space, network)
version_added: 0.3.0
description:
  - Runs on one Flink host (a TaskManager, or a JobManager that gets the jars) and checks, in one task, what the
    deploy of connector jars and the connectors themselves need there.
  - The Java a Flink process started on the host would run, against the Java versions O(flink_version) supports.
    It is O(java_home) when set, else C(env.java.home) of the Flink configuration (C(conf/config.yaml), nested
    or flat keys, for Flink 1.19 and later; C(conf/flink-conf.yaml) before 1.19, and in 1.19 and 1.20 when
    C(config.yaml) is absent), else C(JAVA_HOME), else C(java) on C(PATH). The configuration is read without
    PyYAML, which hosts may lack. Its version is read from the C(release) file of its Java image (every JDK and
    JRE since Java 8 has one), which costs no JVM start; without one, from C(java -version).
  - That C(lib/) of O(flink_home) exists and the user the task runs as can write to it.
  - That the filesystem of C(lib/) has O(needed_bytes) free.
  - That each of O(endpoints) accepts a TCP connection from this host within O(timeout) seconds.
  - Which Flink TaskManager and JobManager processes run from C(lib/) of O(flink_home), and whether each started
    after C(lib/) last changed. Flink reads C(lib/) only when a process starts, so one that started before does not
    run the jars there.
  - Returns the results as report rows in RV(rows) and never fails on a failed check; the caller decides.
  - When the controller knows the host's Python (C(ansible_python_interpreter) is set, or an earlier task
    discovered it), these reads are one short command on the host that needs nothing but that Python and its
    standard library, and the controller judges the answer. That is one command per host and nothing written on
    the host, so the preflight of many hosts stays fast. Otherwise, or when that command gives no answer the
    controller can read, the module runs (and discovers the interpreter). Both read and judge the same way and
    return the same result.
author:
  - cdcops.flink_cdc maintainers (@cdcops)
extends_documentation_fragment:
  - cdcops.flink_cdc.attributes.info_module
attributes:
  action:
    support: full
    description: An action plugin of the same name runs the check as one command on the host when it can, else
      the module.
options:
  flink_home:
    description: The host's C(FLINK_HOME); the jars go to its C(lib/).
    type: path
    required: true
  flink_version:
    description:
      - The cluster's Flink version, for example V(1.20.3), to judge the Java and to pick the configuration file.
      - Empty, the Java row is V(skip) (or V(fail) when no java runs) and both configuration files are looked at.
    type: str
    default: ""
  java_home:
    description: The Java home Flink is started with, when it is not the one of the Flink configuration or the
      environment. Empty means look there.
    type: path
  needed_bytes:
    description: Bytes the connector jars to deploy take, which must be free in the filesystem of C(lib/). V(0)
      skips the free-space row.
    type: int
    default: 0
  endpoints:
    description: Services this host must reach over TCP.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: What the service is, for example V(PostgreSQL); the row's C(check) is C(<name> <host>:<port>).
        type: str
        required: true
      host:
        description: Host name or address.
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        required: true
  timeout:
    description: Seconds each TCP connection may take.
    type: float
    default: 5
  report_host:
    description: The name rows carry in C(host) and name in their messages, usually C(inventory_hostname).
      Empty means the host's own name.
    type: str
    default: ""
notes:
  - The checks are independent, so one task reports all problems of the host at once.
seealso:
  - name: Flink Java compatibility
    description: Which Java each Flink release runs on.
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/deployment/java_compatibility/
  - name: Flink configuration file
    description: C(config.yaml) and the legacy C(flink-conf.yaml), and C(env.java.home).
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/deployment/config/
"""

EXAMPLES = r"""
- name: Check a TaskManager host before deploying connector jars
  cdcops.flink_cdc.flink_host_check:
    flink_home: /opt/flink
    flink_version: 1.20.3
    needed_bytes: 40000000
    endpoints:
      - {name: PostgreSQL, host: db.example.com, port: 5432}
      - {name: StarRocks FE http, host: starrocks-fe, port: 8030}
    report_host: "{{ inventory_hostname }}"
  register: host_check

- name: Fail on any failed check
  ansible.builtin.assert:
    that: host_check.rows | selectattr('status', 'equalto', 'fail') | list | length == 0
    fail_msg: "{{ host_check.rows | selectattr('status', 'equalto', 'fail') | map(attribute='detail') | join('; ') }}"
"""

RETURN = r"""
rows:
  description: One row per check, in the order network, Java, C(lib/), free space.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: O(report_host).
      type: str
    area:
      description: C(Network) or C(Java/config).
      type: str
    check:
      description: C(<name> <host>:<port>), C(java), C(lib/), C(free space) or C(running jars).
      type: str
    status:
      description: C(ok), C(warn), C(fail) or C(skip).
      type: str
    detail:
      description: What was found, and for a failure what to do.
      type: str
  sample:
    - {host: tm1, area: Network, check: "PostgreSQL db:5432", status: ok, detail: reachable from tm1}
    - {host: tm1, area: Java/config, check: java, status: ok,
       detail: "Java 17 for Flink 1.20.3 (/usr/bin/java, JAVA_HOME unset)"}
java:
  description: The java binary judged, where it was chosen from (C(java_home), C(config), C(JAVA_HOME) or
    C(PATH)), and where its version was read (C(version_from)), its image's C(release) file or C(java -version)
    (empty when there is no java to run).
  returned: always
  type: dict
  sample: {path: /usr/lib/jvm/java-17/bin/java, source: config, config_file: /opt/flink/conf/config.yaml,
           version_from: /usr/lib/jvm/java-17/release}
free_bytes:
  description: Bytes free in the filesystem of C(lib/) (for the user the task runs as).
  returned: when lib/ exists
  type: int
processes:
  description: The Flink TaskManager and JobManager processes on the host whose classpath takes jars from this
    C(lib/), read from C(/proc) (empty where it cannot be read).
  returned: when lib/ exists
  type: list
  elements: dict
  contains:
    kind:
      description: C(taskmanager) or C(jobmanager).
      type: str
    pid:
      description: Process ID.
      type: int
    started:
      description: When it started, in seconds since the epoch.
      type: float
  sample: [{kind: taskmanager, pid: 4242, started: 1796500050.0}]
restart_pending:
  description: The kinds of those processes (C(taskmanager), C(jobmanager)) that started before C(lib/) last
    changed, so do not run the jars C(lib/) holds until they restart. A C(running jars) row says the same.
  returned: when lib/ exists
  type: list
  elements: str
  sample: [taskmanager]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._host_check import (
    argument_spec,
    gather_args,
    host_result,
    option_problems,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._host_facts import gather


def main() -> None:
    # The action plugin (plugins/action/flink_host_check.py) runs the same gather as one short command when it
    # knows the host's Python; this module runs otherwise, for example when the interpreter is still to be
    # discovered.
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    problems = option_problems(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False, rows=[])
    module.exit_json(**host_result(module.params, gather(gather_args(module.params))))


if __name__ == "__main__":
    main()
