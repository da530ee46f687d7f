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
version_added: 0.2.0
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
  - Returns the results as report rows in RV(rows) and never fails on a failed check; the caller decides.
author:
  - cdcops.flink_cdc maintainers (@cdcops)
attributes:
  check_mode:
    support: full
    description: The module only reads; it does the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
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
      description: C(<name> <host>:<port>), C(java), C(lib/) or C(free space).
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
"""

import os
import pwd
import shutil
import socket
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._host_check import (
    Row,
    choose_java,
    configured_java_home,
    endpoint_problems,
    endpoint_row,
    free_space_row,
    java_row,
    lib_row,
    release_output,
    release_version,
)


def _read(path: str) -> t.Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return ""


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return "uid %d" % os.geteuid()


class FlinkHostCheck:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.host = self.params["report_host"] or socket.gethostname()
        self.result: t.Dict[str, t.Any] = dict(changed=False, rows=[])

    def run(self) -> None:
        problems = endpoint_problems(self.params["endpoints"])
        if self.params["needed_bytes"] < 0:
            problems.append("needed_bytes must not be negative, got %d" % self.params["needed_bytes"])
        if problems:
            self.module.fail_json(msg="; ".join(problems), **self.result)
        rows: t.List[Row] = self.result["rows"]
        for endpoint in self.params["endpoints"]:
            rows.append(endpoint_row(self.host, endpoint, self.params["timeout"]))
        rows.append(self._java())
        rows.extend(self._lib())
        self.module.exit_json(**self.result)

    def _java(self) -> Row:
        flink_home, flink_version = self.params["flink_home"], self.params["flink_version"]
        config_home, config_file = configured_java_home(flink_home, flink_version, _read)
        choice = choose_java(self.params["java_home"] or "", config_home, config_file, os.environ, shutil.which)
        self.result["java"] = {"path": choice.java, "source": choice.source, "config_file": choice.where,
                               "version_from": ""}
        rc: t.Optional[int] = None
        output = "no java on PATH" if not choice.java else "no executable java at %s" % choice.java
        released = release_version(choice.java, _read) if choice.java and os.access(choice.java, os.X_OK) else None
        if released:
            rc, output = 0, release_output(*released)
            self.result["java"]["version_from"] = released[1]
        elif choice.java and os.access(choice.java, os.X_OK):
            self.result["java"]["version_from"] = "java -version"
            try:
                rc, out, err = self.module.run_command([choice.java, "-version"], handle_exceptions=False)
                output = (err or "") + (out or "")
            except OSError as exc:
                output = "cannot run %s: %s" % (choice.java, exc.strerror or exc)
        return java_row(self.host, choice, rc, output, flink_version, os.environ.get("JAVA_HOME", ""))

    def _lib(self) -> t.List[Row]:
        lib = os.path.join(self.params["flink_home"], "lib")
        if not os.path.exists(lib):
            return [lib_row(self.host, lib, None, False, _user())]
        is_dir = os.path.isdir(lib)
        vfs = os.statvfs(lib)
        read_only = bool(vfs.f_flag & os.ST_RDONLY)
        rows = [lib_row(self.host, lib, is_dir, is_dir and os.access(lib, os.W_OK | os.X_OK), _user(), read_only)]
        self.result["free_bytes"] = vfs.f_bavail * vfs.f_frsize
        if is_dir and self.params["needed_bytes"]:
            rows.append(free_space_row(self.host, lib, self.result["free_bytes"], self.params["needed_bytes"]))
        return rows


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            flink_home=dict(type="path", required=True),
            flink_version=dict(type="str", default=""),
            java_home=dict(type="path"),
            needed_bytes=dict(type="int", default=0),
            endpoints=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                host=dict(type="str", required=True),
                port=dict(type="int", required=True),
            )),
            timeout=dict(type="float", default=5.0),
            report_host=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    FlinkHostCheck(module).run()


if __name__ == "__main__":
    main()
