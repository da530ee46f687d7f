# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What ``flink_job`` does, decided from what the cluster and the record say (private to this collection).

``plan`` is a pure function: the declared state, the spec's fingerprint, the record and the jobs of that name
on the cluster in, an action and its steps out. It follows the Flink Kubernetes Operator's reconciler
(apache/flink-kubernetes-operator ``AbstractJobReconciler``, ``SessionJobReconciler``;
``docs/content/docs/custom-resource/job-management.md``):

* an equal spec on a running job does nothing;
* a changed spec is an upgrade by ``upgrade_mode``: ``savepoint`` stops with a savepoint and restores from it
  (it needs a healthy, running job), ``last-state`` restores the latest completed checkpoint, ``stateless``
  starts empty;
* ``suspended`` stops with a savepoint and keeps the state; ``running`` again resumes from it;
* a FAILED or lost job is not brought back from a savepoint that may be older than its last checkpoint:
  ``savepoint`` refuses, ``last-state`` restores the latest completed checkpoint (``job.restart.failed``);
* a job of the same name that the module did not start is reported, never duplicated, never touched.
"""

from __future__ import annotations

import typing as t

# apache/flink JobStatus: the state of a job that works.
HEALTHY = ("RUNNING",)

ACTIONS = ("submitted", "upgraded", "unchanged", "resumed", "suspended", "cancelled", "none")


class Plan(t.NamedTuple):
    action: str
    # ("stop_with_savepoint", job_id) | ("cancel", job_id) | ("submit", restore) | ("forget", None), where
    # restore is None, ("savepoint", path or None: the one the step before took) or ("checkpoint", job_id).
    steps: t.Tuple[t.Tuple[str, t.Any], ...]
    summary: str
    error: t.Optional[str] = None
    warnings: t.Tuple[str, ...] = ()


class ClusterJob(t.NamedTuple):
    job_id: str
    state: str
    fingerprint: t.Optional[str]  # None: the job carries no flink_job fingerprint


def _fail(message: str) -> Plan:
    return Plan("none", (), message, error=message)


STATELESS_WARNING = ("upgrade_mode stateless starts the job without its state: its sources read their tables "
                     "again from the start (a CDC source takes a new snapshot), so an append sink receives "
                     "every row again; an upsert sink with the same primary key converges")


def lost_job_text(name: str, job_id: t.Optional[str], state: t.Optional[str]) -> str:
    if state:
        return "job %s (%s) is %s" % (name, job_id, state)
    return ("job %s (%s) is not known to the JobManager (it restarted without high availability, or forgot the "
            "job after jobstore.expiration-time)" % (name, job_id))


def plan(name: str, state: str, upgrade_mode: str, fingerprint: str, record: t.Optional[t.Mapping[str, t.Any]],
         active: t.Sequence[ClusterJob], recorded_state: t.Optional[str]) -> Plan:
    """The action for ``name``.

    ``active``: the jobs of that name on the cluster that have not ended. ``recorded_state``: the cluster's
    state of the record's job ID (None when the JobManager does not know it).
    """
    record = record or {}
    recorded_id = record.get("job_id")
    ours = [j for j in active if j.fingerprint is not None or (recorded_id and j.job_id == recorded_id)]
    foreign = [j for j in active if j not in ours]
    if foreign:
        return _fail(
            "a job named %s runs on the cluster that flink_job did not start (%s): it is never duplicated or "
            "touched. Stop it yourself (with a savepoint: STOP JOB '<id>' WITH SAVEPOINT), or give this job "
            "another name" % (name, ", ".join("%s %s" % (j.job_id, j.state) for j in foreign)))
    if len(ours) > 1:
        return _fail("%d jobs named %s run on the cluster (%s): keep one and cancel the others" % (
            len(ours), name, ", ".join("%s %s" % (j.job_id, j.state) for j in ours)))
    job = ours[0] if ours else None
    if state == "absent":
        return _plan_absent(name, job, record)
    if state == "suspended":
        return _plan_suspended(name, job, record, recorded_state)
    return _plan_running(name, upgrade_mode, fingerprint, job, record, recorded_state)


def _plan_absent(name: str, job: t.Optional[ClusterJob], record: t.Mapping[str, t.Any]) -> Plan:
    if job:
        return Plan("cancelled", (("cancel", job.job_id), ("forget", None)),
                    "cancel job %s (%s) and forget its record" % (name, job.job_id))
    if record:
        return Plan("none", (("forget", None),),
                    "job %s does not run; forget its record (last savepoint %s)" % (name, record.get("savepoint")))
    return Plan("none", (), "job %s does not run and has no record" % name)


def _plan_suspended(name: str, job: t.Optional[ClusterJob], record: t.Mapping[str, t.Any],
                    recorded_state: t.Optional[str]) -> Plan:
    if job:
        if job.state not in HEALTHY:
            return _fail("cannot suspend job %s (%s): it is %s, and a savepoint needs a running job. Wait until "
                         "it runs, or cancel it with state: absent" % (name, job.job_id, job.state))
        return Plan("suspended", (("stop_with_savepoint", job.job_id),),
                    "stop job %s (%s) with a savepoint and keep its state" % (name, job.job_id))
    if record.get("state") == "running":
        return _fail("cannot suspend: %s, so no savepoint can be taken. Bring it back with state: running and "
                     "upgrade_mode: last-state (its latest completed checkpoint), then suspend it"
                     % lost_job_text(name, record.get("job_id"), recorded_state))
    if record.get("state") == "suspended":
        return Plan("none", (), "job %s is suspended (savepoint %s)" % (name, record.get("savepoint")))
    return Plan("none", (), "job %s does not run: nothing to suspend" % name)


def _plan_running(name: str, upgrade_mode: str, fingerprint: str, job: t.Optional[ClusterJob],
                  record: t.Mapping[str, t.Any], recorded_state: t.Optional[str]) -> Plan:
    if job:
        running_fp = job.fingerprint or record.get("fingerprint")
        if running_fp == fingerprint:
            return Plan("unchanged", (), "job %s (%s) runs this spec" % (name, job.job_id))
        if upgrade_mode == "savepoint":
            if job.state not in HEALTHY:
                return _fail(
                    "the spec of job %s changed, but it is %s (%s): a savepoint upgrade needs a running job. "
                    "upgrade_mode: last-state restores its latest completed checkpoint instead" % (
                        name, job.state, job.job_id))
            return Plan("upgraded", (("stop_with_savepoint", job.job_id), ("submit", ("savepoint", None))),
                        "stop job %s (%s) with a savepoint and submit the new spec from it" % (name, job.job_id))
        if upgrade_mode == "last-state":
            return Plan("upgraded", (("cancel", job.job_id), ("submit", ("checkpoint", job.job_id))),
                        "cancel job %s (%s) and submit the new spec from its latest completed checkpoint"
                        % (name, job.job_id))
        return Plan("upgraded", (("cancel", job.job_id), ("submit", None)),
                    "cancel job %s (%s) and submit the new spec without state" % (name, job.job_id),
                    warnings=(STATELESS_WARNING,))
    if record.get("state") == "suspended" and record.get("savepoint"):
        if upgrade_mode == "stateless":
            return Plan("submitted", (("submit", None),),
                        "submit job %s without state (its savepoint %s is not used)" % (name, record["savepoint"]),
                        warnings=(STATELESS_WARNING,))
        return Plan("resumed", (("submit", ("savepoint", record["savepoint"])),),
                    "resume job %s from its savepoint %s" % (name, record["savepoint"]))
    # "cancelled" or "stopped": a last-state or stateless upgrade cancelled the job and did not get to submit.
    if record.get("state") in ("running", "cancelled", "stopped"):
        lost = lost_job_text(name, record.get("job_id"), recorded_state)
        if upgrade_mode == "savepoint":
            return _fail(
                "%s. upgrade_mode savepoint does not bring it back: the last savepoint on record (%s) may be older "
                "than its last checkpoint, and restoring it would read changes again. Choose: upgrade_mode: "
                "last-state restores its latest completed checkpoint; upgrade_mode: stateless starts it empty "
                "(%s)" % (lost, record.get("savepoint") or "none", STATELESS_WARNING))
        if upgrade_mode == "last-state":
            return Plan("resumed", (("submit", ("checkpoint", record.get("job_id"))),),
                        "%s: submit it from its latest completed checkpoint" % lost)
        return Plan("submitted", (("submit", None),), "%s: submit it without state" % lost,
                    warnings=(STATELESS_WARNING,))
    return Plan("submitted", (("submit", None),), "submit job %s" % name)
