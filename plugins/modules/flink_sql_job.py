#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_sql_job
short_description: Run a short Flink SQL script with Flink's SQL client and wait for its jobs
version_added: 0.2.0
description:
  - Runs a Flink SQL script with the SQL client of a Flink installation (C(bin/sql-client.sh -f)) on the host
    where the module runs, usually the JobManager host, waits until every job the script submitted has
    ended, and judges it. This is the operator's last check before the first CDC job, a small test job that
    reads one table, as one task.
  - The SQL client plans the job with the jars in C(lib/) of O(flink_home) and submits it to the cluster
    named in that installation's configuration (C(rest.address), C(rest.port)). The module follows the job
    through the REST API at O(url).
  - Before the script the module sets C(pipeline.name) to O(job_name), turns off restarts (a failing job ends
    at once) and operator chaining (so the REST API shows how many records each operator wrote). O(settings)
    overrides these and adds more.
  - A failed job is a diagnosis, not a stack trace. The module reads the root cause from the job's exception
    history and names the fix, for example a connector jar that is missing from C(lib/), or a JobManager or
    TaskManager that was started before the jar landed.
  - At the O(wait_timeout) deadline a job that still runs is cancelled, so nothing is left running.
author:
  - cdcops.flink_cdc maintainers (@cdcops)
extends_documentation_fragment:
  - cdcops.flink_cdc.flink_rest
attributes:
  check_mode:
    support: full
    description: In check mode nothing is submitted. The module checks the SQL client is there, reads the
      cluster's version and says which job it would run, where, and with which settings.
  diff_mode:
    support: none
    description: A job run has nothing to diff.
options:
  flink_home:
    description:
      - The Flink installation whose C(bin/sql-client.sh) runs the script, on the host where the module runs.
      - Flink 1.16 and later need C(opt/flink-sql-gateway-<version>.jar) there, as the official binary
        distribution has it. The module says so when it is missing.
    type: path
    required: true
  sql:
    description:
      - The SQL statements, separated by C(;). Usually C(CREATE TABLE) statements and one C(INSERT INTO).
      - C(${name}) is replaced by the value of C(name) in O(sql_secrets). Other C(${...}) text stays as it is.
    type: str
    required: true
  sql_secrets:
    description:
      - Values for C(${name}) placeholders in O(sql), such as a database password. They are never logged,
        never returned and never on a command line. The script that holds them is written mode C(0600) into a
        private temporary directory, together with the SQL client's history file, and both are removed when
        the client ends.
      - A single quote in a value is doubled, as a SQL string literal needs; put the placeholder in quotes.
    type: dict
    default: {}
  job_name:
    description:
      - The jobs' C(pipeline.name). The module also finds its jobs by it when the SQL client fails before it
        prints a job ID.
    type: str
    default: cdcops-sql-job
  settings:
    description:
      - More C(SET) statements to run before the script, key to value. They override the module's own
        (C(pipeline.name), restarts and operator chaining off; their keys follow the cluster's Flink version).
    type: dict
    default: {}
  wait:
    description:
      - Wait until every submitted job has ended, and fail unless each one is C(FINISHED).
      - With V(false) the module returns once the jobs are submitted.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, from their submission, for the jobs to end. A job still running at the deadline is
        cancelled and the module fails.
      - The SQL client itself may take this long, or 120 seconds when that is more, to plan and submit.
    type: float
    default: 300
  expected_source_records:
    description:
      - The number of records the job's sources must emit, for example the C(count(*)) of the table a bounded
        job reads. The module fails when RV(source_records) differs.
    type: int
  java_home:
    description:
      - C(JAVA_HOME) for the SQL client. By default the client finds Java as Flink does (C(JAVA_HOME), then
        C(PATH)).
    type: path
notes:
  - The SQL client leaves its log in C(log/) of O(flink_home), as it always does. It does not log the
    script's values. Some connectors log their own configuration on the TaskManagers, see the role's
    documentation for the postgres-cdc connector.
  - Run the module where the JobManager's Flink installation is, for example with C(delegate_to) the
    JobManager host.
seealso:
  - name: Flink SQL client
    description: The client this module runs.
    link: https://nightlies.apache.org/flink/flink-docs-release-1.20/docs/dev/table/sqlclient/
  - module: cdcops.flink_cdc.flink_cluster_info
"""

EXAMPLES = r"""
- name: Read one table through the postgres-cdc connector, bounded (snapshot only)
  cdcops.flink_cdc.flink_sql_job:
    url: http://jobmanager:8081
    flink_home: /opt/flink
    job_name: smoke-orders
    sql: |
      CREATE TABLE src (id BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (
        'connector' = 'postgres-cdc', 'hostname' = 'pg.example.com', 'port' = '5432',
        'username' = 'flink_cdc', 'password' = '${pg_password}',
        'database-name' = 'shop', 'schema-name' = 'public', 'table-name' = 'orders',
        'slot.name' = 'smoke_orders', 'decoding.plugin.name' = 'pgoutput',
        'debezium.publication.name' = 'flink_cdc_pub',
        'scan.incremental.snapshot.enabled' = 'true', 'scan.startup.mode' = 'snapshot');
      CREATE TABLE snk (id BIGINT) WITH ('connector' = 'blackhole');
      INSERT INTO snk SELECT id FROM src;
    sql_secrets:
      pg_password: "{{ vault_pg_password }}"
    expected_source_records: 1200
    wait_timeout: 600
  delegate_to: "{{ groups['flink_jobmanager'][0] }}"
  register: smoke

- name: Show where it ran
  ansible.builtin.debug:
    msg: "{{ smoke.job_id }} read {{ smoke.source_records }} rows on {{ smoke.taskmanagers | map(attribute='host') | join(', ') }}"
"""

RETURN = r"""
job_id:
  description: ID of the (last) job the script submitted.
  returned: when a job was submitted
  type: str
  sample: 4e40f8b28b58878f5709c7dfe8a404c1
job_name:
  description: The jobs' C(pipeline.name).
  returned: always
  type: str
state:
  description: State of that job, C(FINISHED) on success.
  returned: when a job was submitted
  type: str
  sample: FINISHED
duration_ms:
  description: The job's run time in milliseconds.
  returned: when a job was submitted
  type: int
source_records:
  description:
    - Records the job's sources emitted (the C(write-records) of each source vertex).
    - Null when a source is chained to the next operator, since Flink then counts the chain as a whole.
  returned: when a job was submitted
  type: int
  sample: 300
taskmanagers:
  description: TaskManagers that ran the job's subtasks.
  returned: when a job was submitted
  type: list
  elements: dict
  contains:
    id:
      description: TaskManager ID.
      type: str
    endpoint:
      description: Its C(host:port).
      type: str
    host:
      description: Its host.
      type: str
vertices:
  description: The job's vertices, with C(name), C(parallelism), C(status), C(read_records), C(write_records)
    and the TaskManager IDs they ran on.
  returned: when a job was submitted
  type: list
  elements: dict
jobs:
  description: Every job the script submitted, each with the keys above.
  returned: when a job was submitted
  type: list
  elements: dict
flink_version:
  description: The cluster's Flink version.
  returned: always
  type: str
  sample: 1.20.3
settings:
  description: The C(SET) statements run before the script.
  returned: always
  type: dict
  sample: {"pipeline.name": "smoke-orders", "restart-strategy.type": "none"}
command:
  description: The SQL client's command line. It holds no secret.
  returned: always
  type: list
  elements: str
client_output:
  description: The end of the SQL client's output, statements and secrets left out.
  returned: when the client ran
  type: str
root_cause:
  description: The deepest cause of a failed job, from its exception history, or the client's error.
  returned: on failure
  type: str
diagnosis:
  description: What a failure means and what to do.
  returned: on failure, when the cause is known
  type: str
timed_out:
  description: True when a job was still running at the O(wait_timeout) deadline.
  returned: when a job did not end by the deadline
  type: bool
  version_added: 0.3.0
cancelled:
  description: Whether the module cancelled that job at the deadline (false when cancelling it failed).
  returned: when a job did not end by the deadline
  type: bool
  version_added: 0.3.0
wait_timeout:
  description: The O(wait_timeout) the job did not end within, in seconds.
  returned: when a job did not end by the deadline
  type: float
  version_added: 0.3.0
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import (
    FlinkRestClient,
    FlinkRestError,
    rest_argument_spec,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.sql_job import (
    CLIENT_TIMEOUT,
    SqlJobError,
    client_argv,
    client_problem,
    default_settings,
    diagnose,
    exception_text,
    failure_location,
    hide_secrets,
    job_report,
    new_jobs,
    parse_client_output,
    redact,
    render_script,
    run_client,
    tail,
    wait_for_job,
)


class FlinkSqlJob:
    """Submit the script, follow its jobs, judge them."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.secrets = hide_secrets(module)
        self.flink_home = os.path.abspath(self.params["flink_home"])
        self.result = {"changed": False, "job_name": self.params["job_name"]}

    def fail(self, msg: str, **extra) -> None:
        self.result.update(extra)
        self.module.fail_json(msg=redact(msg, self.secrets), **self.result)

    def check_client(self) -> None:
        problem = client_problem(self.flink_home, self.result.get("flink_version") or "", self._here())
        if problem:
            self.fail(problem)

    def _here(self) -> str:
        return os.uname()[1]

    def run(self) -> None:
        params = self.params
        if params["wait_timeout"] <= 0:
            self.fail("wait_timeout must be positive, got %s" % params["wait_timeout"])
        try:
            rest = FlinkRestClient.from_params(params)
            overview = rest.overview()
        except FlinkRestError as exc:
            self.fail(exc.message)
        self.result["flink_version"] = overview.get("flink-version")
        settings = default_settings(self.result["flink_version"], params["job_name"])
        settings.update({str(k): str(v) for k, v in (params["settings"] or {}).items()})
        self.result["settings"] = settings
        self.check_client()
        self.result["command"] = client_argv(self.flink_home, "<script>", "<history>")
        if self.module.check_mode:
            self.result["msg"] = "would run job %s with the SQL client of %s on %s against %s" % (
                params["job_name"], self.flink_home, self._here(), rest.display_url)
            self.module.exit_json(**self.result)

        try:
            before = rest.get("/jobs/overview").get("jobs") or []
        except FlinkRestError as exc:
            self.fail(exc.message)
        script = render_script(params["sql"], settings, params["sql_secrets"])
        try:
            client = run_client(self.flink_home, script, self.secrets, max(CLIENT_TIMEOUT, params["wait_timeout"]),
                                java_home=params["java_home"])
        except SqlJobError as exc:
            self.fail(exc.message)
        self.result["client_output"] = tail(client.output)
        parsed = parse_client_output(client.output)
        job_ids = parsed["job_ids"]
        try:
            after = rest.get("/jobs/overview").get("jobs") or []
        except FlinkRestError:
            after = before
        for job_id in new_jobs(before, after, params["job_name"]):
            if job_id not in job_ids:
                job_ids.append(job_id)  # failed at submission: the client printed no ID
        if job_ids:
            self.result["changed"] = True
        if client.timed_out and not job_ids:
            self.fail("the SQL client did not end within %ss and submitted no job" % max(
                CLIENT_TIMEOUT, params["wait_timeout"]))
        if not job_ids:
            cause = parsed["errors"][-1] if parsed["errors"] else "the SQL client submitted no job"
            self.fail("the SQL script of %s failed before any job ran: %s" % (params["job_name"], cause),
                      root_cause=cause, diagnosis=diagnose(parsed["errors"], self.flink_home))
        if not params["wait"]:
            self._report([rest.job(j) for j in job_ids], rest)
            self.module.exit_json(**self.result)

        # The deadline counts from the submission: the client's own start (a JVM) is not the job's time.
        deadline = time.monotonic() + params["wait_timeout"]
        finished = []
        for job_id in job_ids:
            try:
                finished.append(wait_for_job(rest, job_id, max(1.0, deadline - time.monotonic()),
                                             budget=params["wait_timeout"]))
            except SqlJobError as exc:
                self._report(finished + ([exc.details["job"]] if exc.details.get("job") else []), rest)
                self.fail(exc.message, timed_out=True, cancelled=exc.details.get("cancelled", False),
                          wait_timeout=params["wait_timeout"])
        self._report(finished, rest)
        self._judge(finished, rest, parsed["errors"])
        self.module.exit_json(**self.result)

    def _report(self, jobs, rest) -> None:
        reports = []
        for job in jobs:
            vertex_tms = {}
            for vertex in job.get("vertices") or []:
                try:
                    vertex_tms[vertex.get("id")] = rest.vertex_taskmanagers(job["jid"], vertex["id"])
                except FlinkRestError:
                    vertex_tms[vertex.get("id")] = []
            reports.append(job_report(job, vertex_tms))
        if reports:
            self.result["jobs"] = reports
            last = reports[-1]
            for key in ("job_id", "state", "duration_ms", "source_records", "taskmanagers", "vertices"):
                self.result[key] = last[key]

    def _judge(self, jobs, rest, client_errors) -> None:
        for job, report in zip(jobs, self.result.get("jobs") or []):
            if report["state"] == "FINISHED":
                continue
            try:
                exceptions = rest.job_exceptions(job["jid"])
            except FlinkRestError:
                exceptions = {}
            root, chain = exception_text(exceptions)
            hosts = failure_location(exceptions)
            root = root or (client_errors[-1] if client_errors else "")
            self.fail("job %s (%s) ended %s%s: %s" % (
                report["job_id"], report["name"], report["state"],
                " on " + ", ".join(hosts) if hosts else "", root or "no exception recorded"),
                root_cause=root, diagnosis=diagnose(chain + list(client_errors), self.flink_home, hosts))
        expected = self.params["expected_source_records"]
        if expected is not None:
            got = self.result.get("source_records")
            if got is None:
                self.fail("cannot count the records of job %s: its source is chained to the next operator; do "
                          "not turn operator chaining back on in settings" % self.result.get("job_id"))
            if got != expected:
                self.fail("job %s read %d record(s), but %d were expected: the source read another number of rows "
                          "than the table holds (a table that changed while the job ran, or a filter in the "
                          "SQL)" % (self.result["job_id"], got, expected),
                          expected_source_records=expected)
            self.result["expected_source_records"] = expected


def main() -> None:
    argument_spec = rest_argument_spec()
    argument_spec.update(
        flink_home=dict(type="path", required=True),
        sql=dict(type="str", required=True),
        sql_secrets=dict(type="dict", default={}, no_log=True),
        job_name=dict(type="str", default="cdcops-sql-job"),
        settings=dict(type="dict", default={}),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="float", default=300.0),
        expected_source_records=dict(type="int"),
        java_home=dict(type="path"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    FlinkSqlJob(module).run()


if __name__ == "__main__":
    main()
