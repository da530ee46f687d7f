#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

# The action plugin (plugins/action/flink_connector_choice.py) does all the work, on the controller; this file
# documents it.

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_connector_choice
short_description: Choose the Flink CDC connector builds for a Flink version, from what a Maven repository lists
version_added: 0.3.0
description:
  - Decides which connector jars fit a Flink cluster, for M(cdcops.flink_cdc.flink_connector_jar) to install,
    and returns one readiness-report row per connector. The P(cdcops.flink_cdc.flink_cdc#role) role runs it in
    its preflight.
  - A non-empty O(connectors) is the list, never replaced. Each row says whether the pinned build fits
    O(flink_version), and if not, which build that exists does. A connector the support matrix has no table for
    (a Kafka or JDBC connector, say) is not checked, and its row (skipped) says so.
  - An empty O(connectors) means follow the cluster. For the Flink minor of O(flink_version) it takes the newest
    C(flink-sql-connector-postgres-cdc) build and, with O(starrocks), the newest StarRocks connector build that
    the collection's support matrix lists and that the repository's C(maven-metadata.xml) lists too, so a mirror
    that lacks the newest build gets the newest one it has. Metadata that cannot be read (no answer, an HTTP
    error, a repository that is a plain directory of jars) leaves the choice to the support matrix, and the row,
    a warning, says so. A connector without a release for the Flink minor gets a failed row with the fix; so
    does an empty O(flink_version).
  - Runs on the controller only, whatever the task's host or C(delegate_to), and runs no module on any host. The
    repository is read from the controller, with Ansible's own URL handling.
author:
  - cdcops.flink_cdc maintainers (@cdcops)
extends_documentation_fragment:
  - cdcops.flink_cdc.attributes.info_module
options:
  flink_version:
    description: The cluster's Flink version, for example V(1.20.3) (RV(cdcops.flink_cdc.flink_cluster_info#module:flink_version)).
    type: str
    default: ""
  connectors:
    description: The pinned connectors, each a dict with C(group_id), C(artifact_id) and C(version); empty to
      choose for O(flink_version).
    type: list
    elements: dict
    default: []
  starrocks:
    description: Choose a StarRocks connector too (only when O(connectors) is empty).
    type: bool
    default: true
  repository_url:
    description:
      - Base URL of the Maven repository whose C(maven-metadata.xml) lists the builds; the rows name it.
      - A password in its userinfo (C(https://user:password@host/maven2)) is used for basic authentication and
        never shown.
    type: str
    default: https://repo1.maven.org/maven2
  url_username:
    description: User name for HTTP basic authentication to the repository.
    type: str
  url_password:
    description: Password for HTTP basic authentication to the repository. It is never logged.
    type: str
  headers:
    description: Extra HTTP request headers, for example a repository token. Values are never logged.
    type: dict
  validate_certs:
    description: Verify the repository's TLS certificate. Set to V(false) only for testing.
    type: bool
    default: true
  timeout:
    description: Seconds the repository has to answer each C(maven-metadata.xml) request, body included.
    type: int
    default: 30
  use_proxy:
    description: Use the proxy from the C(http_proxy)/C(https_proxy) environment variables.
    type: bool
    default: true
notes:
  - The repository options are those of M(cdcops.flink_cdc.flink_connector_jar), and both modules are in the action
    group C(cdcops.flink_cdc.connector), so C(module_defaults) can set them once for both.
seealso:
  - module: cdcops.flink_cdc.flink_connector_jar
  - module: cdcops.flink_cdc.flink_cluster_info
  - name: Maven repository metadata
    description: The C(maven-metadata.xml) that lists an artifact's versions.
    link: https://maven.apache.org/repositories/metadata.html
"""

EXAMPLES = r"""
- name: Read the cluster
  cdcops.flink_cdc.flink_cluster_info:
    url: http://jobmanager:8081
  register: cluster
  run_once: true
  delegate_to: localhost

- name: Choose the connector builds that fit it, from what the internal mirror has
  cdcops.flink_cdc.flink_connector_choice:
    flink_version: "{{ cluster.flink_version }}"
    repository_url: https://nexus.example.com/repository/maven-public
  register: choice
  run_once: true

- name: Install them
  cdcops.flink_cdc.flink_connector_jar:
    jars: "{{ choice.connectors }}"
    repository_url: https://nexus.example.com/repository/maven-public
    dest: /opt/flink/lib
"""

RETURN = r"""
pinned:
  description: Whether O(connectors) was used as it is.
  returned: always
  type: bool
connectors:
  description: The connectors to deploy, each a dict with C(group_id), C(artifact_id) and C(version).
  returned: always
  type: list
  elements: dict
  sample: [{group_id: org.apache.flink, artifact_id: flink-sql-connector-postgres-cdc, version: 3.5.0}]
rows:
  description: One readiness-report row per connector, each with C(host), C(area), C(check), C(status) and
    C(detail).
  returned: always
  type: list
  elements: dict
summary:
  description: One line on the decision.
  returned: always
  type: str
  sample: "chosen for Flink 1.20.3: org.apache.flink:flink-sql-connector-postgres-cdc:3.5.0"
listed:
  description: For each C(group_id:artifact_id) read, the versions the repository lists, or V(null) when its
    C(maven-metadata.xml) could not be read; V(null) when nothing was read (pinned, or no Flink version).
  returned: always
  type: dict
"""
