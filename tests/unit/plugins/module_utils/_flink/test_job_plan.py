"""job_plan.plan: every rule, from the declared state, the record and the jobs on the cluster."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import job_plan
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.job_plan import STATELESS_WARNING, ClusterJob

NAME = "t1-cdc"
FP = "9a51a43c89c353df"
OLD_FP = "0123456789abcdef"
JID = "a5fe9889b8584510b78189e87f5b9cee"
OTHER = "3511e0d3082a45d280c1ec86a85e896f"
SAVEPOINT = "file:/tmp/t1/sp/savepoint-a5fe98-d85c00173061"
MODES = ("savepoint", "last-state", "stateless")
STATES = ("running", "suspended", "absent")


def rec(state="running", job_id=JID, fingerprint=FP, savepoint=None):
    return {"name": NAME, "state": state, "job_id": job_id, "fingerprint": fingerprint, "savepoint": savepoint}


def plan(state="running", mode="savepoint", record=None, active=(), recorded_state=None, fingerprint=FP):
    return job_plan.plan(NAME, state, mode, fingerprint, record, list(active), recorded_state)


def is_error(p, *words):
    assert p.error and p.action == "none" and p.steps == () and p.summary == p.error
    for word in words:
        assert word in p.error
    return True


def test_every_action_is_known():
    assert set(job_plan.ACTIONS) == {"submitted", "upgraded", "unchanged", "resumed", "suspended", "cancelled", "none"}


# ------------------------------------------------------------------ running, a job of ours runs


@pytest.mark.parametrize("mode", MODES)
def test_unchanged_spec_does_nothing(mode):
    p = plan(mode=mode, record=rec(), active=[ClusterJob(JID, "RUNNING", FP)])
    assert p.action == "unchanged" and p.steps == () and p.error is None and p.warnings == ()
    assert JID in p.summary


def test_savepoint_upgrade_stops_with_savepoint_then_submits_from_it():
    p = plan(mode="savepoint", record=rec(fingerprint=OLD_FP), active=[ClusterJob(JID, "RUNNING", OLD_FP)])
    assert p.action == "upgraded" and p.error is None and p.warnings == ()
    assert p.steps == (("stop_with_savepoint", JID), ("submit", ("savepoint", None)))


@pytest.mark.parametrize("job_state", ["RESTARTING", "CREATED", "FAILING", "INITIALIZING"])
def test_savepoint_upgrade_of_an_unhealthy_job_is_refused_naming_last_state(job_state):
    p = plan(mode="savepoint", record=rec(fingerprint=OLD_FP), active=[ClusterJob(JID, job_state, OLD_FP)])
    assert is_error(p, job_state, JID, "last-state", "needs a running job")


@pytest.mark.parametrize("job_state", ["RUNNING", "RESTARTING"])
def test_last_state_upgrade_cancels_then_submits_from_its_checkpoint(job_state):
    p = plan(mode="last-state", record=rec(fingerprint=OLD_FP), active=[ClusterJob(JID, job_state, OLD_FP)])
    assert p.action == "upgraded" and p.error is None and p.warnings == ()
    assert p.steps == (("cancel", JID), ("submit", ("checkpoint", JID)))


def test_stateless_upgrade_cancels_then_submits_empty_with_warning():
    p = plan(mode="stateless", record=rec(fingerprint=OLD_FP), active=[ClusterJob(JID, "RUNNING", OLD_FP)])
    assert p.action == "upgraded" and p.error is None
    assert p.steps == (("cancel", JID), ("submit", None))
    assert p.warnings == (STATELESS_WARNING,) and "snapshot" in p.warnings[0]


def test_job_without_fingerprint_but_the_records_id_is_ours_with_the_records_fingerprint():
    same = plan(mode="savepoint", record=rec(fingerprint=FP), active=[ClusterJob(JID, "RUNNING", None)])
    assert same.action == "unchanged" and same.error is None
    changed = plan(mode="savepoint", record=rec(fingerprint=OLD_FP), active=[ClusterJob(JID, "RUNNING", None)])
    assert changed.action == "upgraded"
    assert changed.steps == (("stop_with_savepoint", JID), ("submit", ("savepoint", None)))


def test_the_jobs_own_fingerprint_wins_over_the_records():
    p = plan(record=rec(fingerprint=OLD_FP), active=[ClusterJob(JID, "RUNNING", FP)])
    assert p.action == "unchanged"


def test_job_with_our_fingerprint_and_no_record_is_ours():
    p = plan(record=None, active=[ClusterJob(OTHER, "RUNNING", FP)])
    assert p.action == "unchanged" and p.error is None


# ------------------------------------------------------------------ running, nothing runs


@pytest.mark.parametrize("mode", ["savepoint", "last-state"])
def test_suspended_record_is_resumed_from_its_savepoint(mode):
    p = plan(mode=mode, record=rec(state="suspended", savepoint=SAVEPOINT))
    assert p.action == "resumed" and p.error is None and p.warnings == ()
    assert p.steps == (("submit", ("savepoint", SAVEPOINT)),)
    assert SAVEPOINT in p.summary


def test_suspended_record_with_stateless_is_submitted_empty_with_warning():
    p = plan(mode="stateless", record=rec(state="suspended", savepoint=SAVEPOINT))
    assert p.action == "submitted" and p.steps == (("submit", None),)
    assert p.warnings == (STATELESS_WARNING,) and SAVEPOINT in p.summary


@pytest.mark.parametrize("recorded_state, says", [
    (None, "is not known to the JobManager"),
    ("FAILED", "is FAILED"),
    ("CANCELED", "is CANCELED"),
])
def test_lost_job_with_savepoint_mode_is_an_error_naming_both_choices(recorded_state, says):
    p = plan(mode="savepoint", record=rec(savepoint=SAVEPOINT), recorded_state=recorded_state)
    assert is_error(p, says, JID, "upgrade_mode: last-state", "upgrade_mode: stateless", SAVEPOINT)


def test_lost_job_without_savepoint_says_none():
    p = plan(mode="savepoint", record=rec(savepoint=None), recorded_state="FAILED")
    assert is_error(p, "last savepoint on record (none)")


@pytest.mark.parametrize("recorded_state", [None, "FAILED"])
def test_lost_job_with_last_state_resumes_from_the_recorded_jobs_checkpoint(recorded_state):
    p = plan(mode="last-state", record=rec(savepoint=SAVEPOINT), recorded_state=recorded_state)
    assert p.action == "resumed" and p.error is None and p.warnings == ()
    assert p.steps == (("submit", ("checkpoint", JID)),)


@pytest.mark.parametrize("recorded_state", [None, "FAILED"])
def test_lost_job_with_stateless_is_submitted_empty(recorded_state):
    p = plan(mode="stateless", record=rec(), recorded_state=recorded_state)
    assert p.action == "submitted" and p.steps == (("submit", None),)
    assert p.warnings == (STATELESS_WARNING,)


@pytest.mark.parametrize("mode", MODES)
def test_no_record_and_no_job_is_submitted(mode):
    p = plan(mode=mode, record=None)
    assert p.action == "submitted" and p.steps == (("submit", None),) and p.error is None and p.warnings == ()
    assert plan(mode=mode, record={}).steps == (("submit", None),)


def test_record_cancelled_by_an_interrupted_last_state_upgrade_resumes_from_its_checkpoint():
    # A last-state upgrade cancels the job (the record says cancelled) and then submits from its retained
    # checkpoint; a run that stops between the two (no checkpoint listed, a killed run) leaves no job and this
    # record. Submitting without state and without the stateless warning would read every table again.
    p = plan(mode="last-state", record=rec(state="cancelled", fingerprint=OLD_FP), recorded_state=None)
    assert p.steps == (("submit", ("checkpoint", JID)),)


# ------------------------------------------------------------------ foreign and duplicate jobs


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("record", [None, rec(), rec(state="suspended", savepoint=SAVEPOINT)])
def test_foreign_job_is_an_error_for_every_state(state, record):
    p = plan(state=state, record=record, active=[ClusterJob(OTHER, "RUNNING", None)])
    assert is_error(p, "did not start", OTHER, "RUNNING", NAME)


def test_foreign_job_beside_ours_is_an_error():
    p = plan(record=rec(), active=[ClusterJob(JID, "RUNNING", FP), ClusterJob(OTHER, "CREATED", None)])
    assert is_error(p, OTHER)
    assert JID not in p.error


@pytest.mark.parametrize("state", STATES)
def test_two_of_ours_is_an_error(state):
    p = plan(state=state, record=rec(), active=[ClusterJob(JID, "RUNNING", FP), ClusterJob(OTHER, "RUNNING", OLD_FP)])
    assert is_error(p, "2 jobs named %s" % NAME, JID, OTHER, "keep one")


# ------------------------------------------------------------------ suspended


def test_suspend_running_job_stops_it_with_a_savepoint():
    p = plan(state="suspended", record=rec(), active=[ClusterJob(JID, "RUNNING", FP)])
    assert p.action == "suspended" and p.steps == (("stop_with_savepoint", JID),) and p.error is None


def test_suspend_changed_spec_still_only_stops():
    p = plan(state="suspended", mode="stateless", record=rec(fingerprint=OLD_FP), active=[ClusterJob(JID, "RUNNING", OLD_FP)])
    assert p.steps == (("stop_with_savepoint", JID),)


def test_suspend_restarting_job_is_an_error():
    p = plan(state="suspended", record=rec(), active=[ClusterJob(JID, "RESTARTING", FP)])
    assert is_error(p, "cannot suspend", "RESTARTING", "state: absent")


def test_suspend_nothing_is_none():
    p = plan(state="suspended", record=None)
    assert p.action == "none" and p.steps == () and p.error is None and "nothing to suspend" in p.summary


def test_suspend_suspended_record_is_none():
    p = plan(state="suspended", record=rec(state="suspended", savepoint=SAVEPOINT))
    assert p.action == "none" and p.steps == () and p.error is None and SAVEPOINT in p.summary


@pytest.mark.parametrize("recorded_state, says", [(None, "is not known to the JobManager"), ("FAILED", "is FAILED")])
def test_suspend_lost_job_is_an_error(recorded_state, says):
    p = plan(state="suspended", record=rec(), recorded_state=recorded_state)
    assert is_error(p, "cannot suspend", says, "upgrade_mode: last-state")


# ------------------------------------------------------------------ absent


@pytest.mark.parametrize("record", [None, rec()])
@pytest.mark.parametrize("job_state", ["RUNNING", "RESTARTING"])
def test_absent_with_a_job_cancels_and_forgets(record, job_state):
    p = plan(state="absent", record=record, active=[ClusterJob(JID, job_state, FP)])
    assert p.action == "cancelled" and p.error is None
    assert p.steps == (("cancel", JID), ("forget", None))


def test_absent_with_only_a_record_forgets_it():
    p = plan(state="absent", record=rec(state="suspended", savepoint=SAVEPOINT))
    assert p.action == "none" and p.steps == (("forget", None),) and p.error is None
    assert SAVEPOINT in p.summary


def test_absent_with_nothing_is_none():
    p = plan(state="absent", record=None)
    assert p.action == "none" and p.steps == () and p.error is None and "no record" in p.summary


def test_lost_job_text():
    assert job_plan.lost_job_text(NAME, JID, "FAILED") == "job %s (%s) is FAILED" % (NAME, JID)
    assert "jobstore.expiration-time" in job_plan.lost_job_text(NAME, JID, None)
