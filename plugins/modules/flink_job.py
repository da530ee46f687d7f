#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_job
short_description: Keep one named, long-running Flink SQL job in a declared state, upgraded through savepoints
version_added: 0.3.0
description:
  - Keeps a streaming Flink SQL job, such as a Flink CDC pipeline, in the state you declare, as the Flink
    Kubernetes Operator does on Kubernetes. O(name) is the job's identity on the cluster.
  - With O(state=running) a job that runs the same SQL and settings is left alone. When they changed, the job
    is upgraded by O(upgrade_mode). By default it is stopped with a savepoint, the new SQL is submitted from
    that savepoint, and the module checks that the new job really restored from it.
  - With O(state=suspended) the job is stopped with a savepoint and its state is kept. O(state=running)
    resumes it from that savepoint, also after the JobManager restarted.
  - With O(state=absent) the job is cancelled.
  - The job carries a fingerprint of its SQL and settings, so any controller finds it on the cluster. The
    module also keeps a record on the host where it runs, in O(record_dir). The record holds the last
    savepoint and what a run was doing, so a run that was interrupted is finished by the next one. A
    standalone JobManager forgets stopped jobs after C(jobstore.expiration-time) and whenever it restarts.
  - A job of the same name that this module did not start is reported and never duplicated or touched.
  - A restore that fails is a diagnosis. The message names the savepoint, the cause (for example state that the
    new SQL cannot map) and the choices. Nothing is left running half-way, and the previous SQL still
    resumes from the same savepoint.
  - The SQL client of O(flink_home) plans and submits the job on the host where the module runs, as with
    M(cdcops.flink_cdc.flink_sql_job). The module follows the job through the REST API at O(url).
author:
  - cdcops.flink_cdc maintainers (@cdcops)
extends_documentation_fragment:
  - cdcops.flink_cdc.flink_rest
attributes:
  check_mode:
    support: full
    description: In check mode nothing is stopped, submitted or written. The module reads the cluster and its
      record and returns the RV(action) it would take.
  diff_mode:
    support: full
    description: The SQL and settings before (as last submitted) and after, secrets masked.
options:
  name:
    description:
      - The job's name (C(pipeline.name)) and its identity on the cluster.
    type: str
    required: true
  state:
    description:
      - V(running) submits the job, or upgrades it when O(sql) or O(settings) changed, or resumes it.
      - V(suspended) stops the job with a savepoint and keeps its state for a later V(running).
      - V(absent) cancels the job and forgets its record. Its savepoints stay where they are.
    type: str
    choices: [running, suspended, absent]
    default: running
  sql:
    description:
      - The SQL statements of the job, separated by C(;). Usually C(CREATE TABLE) statements and one C(INSERT INTO)
        or C(EXECUTE STATEMENT SET BEGIN ... END).
      - C(${name}) is replaced by the value of C(name) in O(sql_secrets). Other C(${...}) text stays as it is.
      - Required unless O(state=absent) or O(state=suspended).
    type: str
  sql_secrets:
    description:
      - Values for C(${name}) placeholders in O(sql), such as a database password. They are never logged,
        returned, written into the record or put on a command line. The script that holds them exists only while
        the SQL client runs, mode C(0600) in a private temporary directory.
      - A single quote in a value is doubled, as a SQL string literal needs. Put the placeholder in quotes.
      - Secrets are not part of the job's fingerprint. A changed password alone does not upgrade the job.
    type: dict
    default: {}
  settings:
    description:
      - C(SET) options for the job, key to value, for example C(execution.checkpointing.interval). They are part of
        the job's spec, so changing them upgrades the job.
      - The module sets C(pipeline.name), the job ID and the restore path itself. By default it also keeps the
        last checkpoint when a job is cancelled, which O(upgrade_mode=last-state) needs
        (C(execution.checkpointing.externalized-checkpoint-retention) is C(RETAIN_ON_CANCELLATION)).
    type: dict
    default: {}
  upgrade_mode:
    description:
      - How a changed job is upgraded, and how a failed or lost job is brought back.
      - V(savepoint) stops the job with a savepoint and restores the new job from it. It needs a running job, and
        it refuses to bring back a job that failed or that the JobManager lost.
      - V(last-state) cancels the job and restores its latest completed checkpoint. It needs checkpointing, and
        it also brings back a failed or lost job.
      - V(stateless) cancels the job and starts the new one empty, with a warning. A CDC source then reads its
        tables again.
    type: str
    choices: [savepoint, last-state, stateless]
    default: savepoint
  savepoint_dir:
    description:
      - Where savepoints go. By default this is the cluster's C(execution.checkpointing.savepoint-dir)
        (C(state.savepoints.dir) before Flink 1.20).
      - Every JobManager and TaskManager must reach it. The module fails when it needs a savepoint and neither
        is set.
    type: str
  allow_non_restored_state:
    description:
      - Start the new job from the savepoint even when some of its state cannot be mapped to the new SQL, for
        example a removed table. That state is dropped.
    type: bool
    default: false
  flink_home:
    description:
      - The Flink installation whose C(bin/sql-client.sh) submits the job, on the host where the module runs.
      - Required unless O(state=absent) or O(state=suspended).
    type: path
  java_home:
    description:
      - C(JAVA_HOME) for the SQL client. By default the client finds Java as Flink does.
    type: path
  record_dir:
    description:
      - The directory of the module's records on the host where it runs, one JSON file per job. It must
        outlive the JobManager's processes. Run the module on the same host each time, for example the first
        JobManager host.
    type: path
    default: ~/.cdcops/flink_job
  wait_timeout:
    description:
      - Seconds to wait for each step to complete. These are the savepoint, the job's end and the new job running
        with its state restored.
      - A new job that does not run by then is cancelled.
    type: float
    default: 300
notes:
  - Secrets are not part of the fingerprint. To roll a new password into a running job, change the SQL or a
    setting too, or suspend and resume the job.
  - Savepoints are never deleted by the module. The record lists the last ten.
  - A CDC source's replication slot is left alone. M(cdcops.flink_cdc.pg_replication_slot) drops it once the job
    is gone for good.
seealso:
  - module: cdcops.flink_cdc.flink_sql_job
  - module: cdcops.flink_cdc.pg_replication_slot
  - name: Flink Kubernetes Operator, job management
    description: The upgrade modes and the lifecycle this module follows.
    link: https://nightlies.apache.org/flink/flink-kubernetes-operator-docs-stable/docs/custom-resource/job-management/
  - name: Flink savepoints
    description: Savepoints, and how they are restored.
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/ops/state/savepoints/
"""

EXAMPLES = r"""
- name: Stream public.orders into StarRocks, kept running
  cdcops.flink_cdc.flink_job:
    url: http://jobmanager:8081
    flink_home: /opt/flink
    name: orders-to-starrocks
    savepoint_dir: s3://flink/savepoints
    settings:
      execution.checkpointing.interval: 30s
    sql: |
      CREATE TABLE src (id BIGINT, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) WITH (
        'connector' = 'postgres-cdc', 'hostname' = 'pg.example.com', 'username' = 'flink_cdc',
        'password' = '${pg_password}', 'database-name' = 'shop', 'schema-name' = 'public',
        'table-name' = 'orders', 'slot.name' = 'orders_sr', 'decoding.plugin.name' = 'pgoutput',
        'scan.incremental.snapshot.enabled' = 'true');
      CREATE TABLE snk (id BIGINT, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) WITH (
        'connector' = 'starrocks', 'jdbc-url' = 'jdbc:mysql://starrocks-fe:9030',
        'load-url' = 'starrocks-fe:8030', 'database-name' = 'shop', 'table-name' = 'orders',
        'username' = 'flink', 'password' = '${sr_password}');
      INSERT INTO snk SELECT id, amount FROM src;
    sql_secrets:
      pg_password: "{{ vault_pg_password }}"
      sr_password: "{{ vault_sr_password }}"
  delegate_to: "{{ groups['flink_jobmanager'][0] }}"
  run_once: true
  register: orders_job

- name: Suspend it for maintenance (savepoint, state kept)
  cdcops.flink_cdc.flink_job:
    url: http://jobmanager:8081
    name: orders-to-starrocks
    state: suspended
  delegate_to: "{{ groups['flink_jobmanager'][0] }}"
  run_once: true
"""

RETURN = r"""
action:
  description: What the module did, or would do in check mode.
  returned: always
  type: str
  sample: upgraded
  choices: [submitted, upgraded, unchanged, resumed, suspended, cancelled, none]
job_id:
  description: The ID of the job that runs now, or of the job that was stopped or cancelled.
  returned: when there is a job
  type: str
  sample: 5f0c2d5d6b0e4c1e9d8a7b6c5d4e3f21
job_state:
  description: That job's state on the cluster at the end, for example C(RUNNING), C(FINISHED) after a savepoint
    or C(CANCELED).
  returned: when there is a job
  type: str
  sample: RUNNING
savepoint:
  description: The savepoint this run took, or the one the job was resumed from. It is also the state to
    restore from after a failed upgrade.
  returned: when a savepoint was taken or used
  type: str
  sample: file:/shared/flink/savepoints/savepoint-5f0c2d-0a1b2c3d4e5f
restored_from:
  description: The savepoint or checkpoint the new job restored from. The module checked this with the
    JobManager (C(latest.restored) of the job's checkpoints).
  returned: when a job was submitted from state
  type: str
health:
  description: How the running job fares, as job managers show it. Read from the JobManager at the end of the run.
  returned: when the job runs
  type: dict
  contains:
    running_s:
      description: Seconds since the job was submitted, by the JobManager's clock.
      type: float
      sample: 3600.2
    restarts:
      description: How often the job restarted since it was submitted (its C(numRestarts) metric).
      type: int
      sample: 0
    checkpoints_completed:
      description: Checkpoints completed since the job was submitted.
      type: int
      sample: 42
    checkpoints_failed:
      description: Checkpoints that failed since the job was submitted.
      type: int
      sample: 0
    last_checkpoint_age_s:
      description: Seconds since the last checkpoint completed, by the JobManager's clock; null before the first.
        A CDC source confirms its position to PostgreSQL only on checkpoints.
      type: float
      sample: 12.5
fingerprint:
  description: The fingerprint of the declared SQL and settings. The job carries it as the global job parameter
    C(cdcops.flink_job.spec).
  returned: always
  type: str
  sample: 3f9a0c1d2e4b5a69
record:
  description: The path of the module's record of this job, on the host where it ran.
  returned: always
  type: str
flink_version:
  description: The cluster's Flink version.
  returned: always
  type: str
  sample: 1.20.3
client_output:
  description: The end of the SQL client's output, statements and secrets left out.
  returned: when a job was submitted
  type: str
root_cause:
  description: The deepest cause of a failed submission or restore.
  returned: on failure, when known
  type: str
diagnosis:
  description: What the failure means and what to do.
  returned: on failure, when the cause is known
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import job_record, job_spec
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.job_lifecycle import JobError, JobLifecycle
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.job_plan import plan
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import (
    FlinkRestClient,
    FlinkRestError,
    rest_argument_spec,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.sql_job import client_problem, hide_secrets, redact


class FlinkJob:
    """Observe, plan, act; the record is locked for the whole run."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.secrets = hide_secrets(module)
        self.result = {"changed": False, "action": "none", "name": self.params["name"]}

    def fail(self, msg: str, **extra) -> None:
        self.result.update(extra)
        self.module.fail_json(msg=redact(msg, self.secrets), **self.result)

    def run(self) -> None:
        params = self.params
        if params["wait_timeout"] <= 0:
            self.fail("wait_timeout must be positive, got %s" % params["wait_timeout"])
        try:
            rest = FlinkRestClient.from_params(params)
            version = rest.overview().get("flink-version") or ""
            config = rest.jobmanager_config()
        except FlinkRestError as exc:
            self.fail(exc.message)
        self.result["flink_version"] = version
        problem = job_spec.settings_problem(version, params["settings"])
        if problem:
            self.fail(problem)
        path = job_record.record_path(params["record_dir"], params["name"])
        self.result["record"] = path
        job = JobLifecycle(rest, dict(params, sql=params["sql"] or ""), version, path, self.secrets, config)
        self.result["fingerprint"] = job.fingerprint
        if params["state"] == "running":  # required_if: flink_home and sql are set
            problem = client_problem(params["flink_home"], version, os.uname()[1])
            if problem:
                self.fail(problem)
        if (params["state"] == "suspended" or (params["state"] == "running" and params["upgrade_mode"] == "savepoint")) \
                and not job.savepoint_dir():
            self.fail(job.no_savepoint_dir())
        try:
            if self.module.check_mode:
                self._run(job)  # reads only: no lock file, nothing written
            else:
                with job_record.locked(path):
                    self._run(job)
        except job_record.RecordError as exc:
            self.fail(exc.message)
        except FlinkRestError as exc:
            self.result.update(job.out)
            self.fail(exc.message)
        except JobError as exc:
            self.result.update(job.out)
            self.result["changed"] = True
            self.fail(exc.message, **exc.details)

    def _run(self, job: JobLifecycle) -> None:
        params = self.params
        job.load()
        pending = job.pending_summary()
        if pending and self.module.check_mode:
            self.result.update(changed=True, action="none", msg="would first %s" % pending)
            self.module.exit_json(**self.result)
        if pending:
            job.finish_pending()
            self.result["changed"] = True
        active, recorded_state = job.observe()
        decision = plan(params["name"], params["state"], params["upgrade_mode"], job.fingerprint, job.record, active,
                        recorded_state)
        current = active[0].job_id if len(active) == 1 else (job.record or {}).get("job_id")
        if current:
            self.result["job_id"] = current
        if (job.record or {}).get("savepoint"):
            self.result["savepoint"] = job.record["savepoint"]
        if decision.error:
            self._job_state(job)
            self.fail(decision.error)
        self.result["action"] = decision.action
        if decision.action not in ("unchanged", "none") or decision.steps:
            self.result["changed"] = True
        if self.module._diff:
            self.result["diff"] = self._diff(job)
        for warning in decision.warnings:
            self.module.warn(warning)
        if self.module.check_mode:
            self.result["msg"] = "would %s" % decision.summary if decision.steps else decision.summary
            self._job_state(job)
            self.module.exit_json(**self.result)
        job.run(decision)
        self.result.update(job.out)
        self.result["msg"] = decision.summary
        self._job_state(job)
        self.module.exit_json(**self.result)

    def _job_state(self, job: JobLifecycle) -> None:
        if not self.result.get("job_id"):
            return
        try:
            self.result["job_state"] = job.job_state(self.result["job_id"])
            details = job.job_details(self.result["job_id"]) if self.result["job_state"] == "RUNNING" else None
            if details:
                self.result["health"] = job.health(self.result["job_id"], details)
        except FlinkRestError:
            pass

    def _diff(self, job: JobLifecycle) -> dict:
        record = job.record or {}
        before_state = record.get("state") if record.get("state") in ("running", "suspended") else "absent"
        before = "# %s: %s\n%s" % (self.params["name"], before_state, job_spec.spec_text(record.get("spec")))
        state = self.params["state"]
        after_spec = record.get("spec") if state == "suspended" else job.spec if state == "running" else None
        after = "# %s: %s\n%s" % (self.params["name"], state, job_spec.spec_text(after_spec))
        return {"before": redact(before, self.secrets), "after": redact(after, self.secrets),
                "before_header": "flink job %s" % self.params["name"], "after_header": "flink job %s" % self.params["name"]}


def main() -> None:
    argument_spec = rest_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="running", choices=["running", "suspended", "absent"]),
        sql=dict(type="str"),
        sql_secrets=dict(type="dict", default={}, no_log=True),
        settings=dict(type="dict", default={}),
        upgrade_mode=dict(type="str", default="savepoint", choices=["savepoint", "last-state", "stateless"]),
        savepoint_dir=dict(type="str"),
        allow_non_restored_state=dict(type="bool", default=False),
        flink_home=dict(type="path"),
        java_home=dict(type="path"),
        record_dir=dict(type="path", default="~/.cdcops/flink_job"),
        wait_timeout=dict(type="float", default=300.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "running", ("sql", "flink_home"))])
    FlinkJob(module).run()


if __name__ == "__main__":
    main()
