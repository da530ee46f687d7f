#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

# The action plugin (plugins/action/flink_cdc_report.py) does all the work, on the controller; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_cdc_report
short_description: Write the Flink CDC readiness report (Markdown and JSON) on the controller
version_added: 0.3.0
description:
  - Writes C(flink_cdc_report.md) and C(flink_cdc_report.json) into O(dest) on the controller, from report rows
    such as the ones M(cdcops.flink_cdc.flink_host_check) returns and the P(cdcops.flink_cdc.flink_cdc#role) role
    collects. The Markdown file is a table with one line per row under a short header (cluster, connectors, run,
    counts); the JSON file holds the same rows with the run's facts.
  - Runs on the controller only, whatever the task's host or C(delegate_to), and runs no module on any host.
    Each file is written to a temporary file in O(dest) and renamed over the old one, so a reader never sees a
    half-written report, and a failed write leaves the previous report as it was.
  - Writing the report is output, not a change on a host, so the task never reports C(changed).
author:
  - cdcops.flink_cdc maintainers (@cdcops)
attributes:
  check_mode:
    support: full
    description: In check mode the report is written too, and says it is from a dry run (C(check_mode) in the
      JSON file, C(Run) in the Markdown file). A dry run's report is what the dry run is for.
  diff_mode:
    support: none
    description: The report is output; there is no diff.
options:
  dest:
    description: The directory of the report on the controller, created (mode V(0755)) when missing.
    type: path
    required: true
  rows:
    description: The report rows, in the order they are shown.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: The inventory host the row is about, or C(jobmanager) for the cluster.
        type: str
        required: true
      area:
        description: What part the row checks, for example C(Java) or C(PostgreSQL).
        type: str
        required: true
      check:
        description: The check.
        type: str
        required: true
      status:
        description: The verdict.
        type: str
        required: true
        choices: [ok, changed, warn, fail, skip]
      detail:
        description: What was found, and for a failure the fix.
        type: str
        required: true
  rest_url:
    description: The JobManager REST URL the rows are about. A C(user:password@) in it is left out of both files.
    type: str
    default: ""
  flink_version:
    description: The cluster's Flink version; empty shows as C(unknown).
    type: str
    default: ""
  connectors:
    description: The connector jars of the run, each a dict such as C({group_id, artifact_id, version}), as the
      JSON file's C(connectors).
    type: list
    elements: dict
    default: []
  connectors_pinned:
    description: Whether O(connectors) was pinned by the user rather than chosen for the cluster.
    type: bool
    default: false
  connector_summary:
    description: One line on the connectors for the Markdown header; empty leaves the line out.
    type: str
    default: ""
  mode:
    description: The permissions of both files, in octal, for example V('0644').
    type: raw
    default: "0644"
seealso:
  - module: cdcops.flink_cdc.flink_host_check
"""

EXAMPLES = r"""
- name: Check a TaskManager host
  cdcops.flink_cdc.flink_host_check:
    flink_home: /opt/flink
    flink_version: 1.20.3
  register: host_check

- name: Write its rows as a report next to the playbook
  cdcops.flink_cdc.flink_cdc_report:
    dest: "{{ playbook_dir }}/report"
    rows: "{{ host_check.rows }}"
    rest_url: http://jobmanager:8081
    flink_version: 1.20.3
  run_once: true
"""

RETURN = r"""
markdown:
  description: The path of the Markdown report.
  returned: success
  type: str
  sample: /home/ops/flink-cdc-report/flink_cdc_report.md
json:
  description: The path of the JSON report.
  returned: success
  type: str
  sample: /home/ops/flink-cdc-report/flink_cdc_report.json
counts:
  description: How many rows have each status.
  returned: success
  type: dict
  sample: {ok: 12, changed: 2, warn: 1, fail: 0, skip: 0}
"""
