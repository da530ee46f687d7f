"""job_lifecycle: diagnoses, checkpoints, and JobLifecycle's steps against a fake REST client that replays
bodies recorded from a real Flink 1.20.3 (tests/unit/fixtures/flink_job)."""

import copy
import json
import os

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import job_lifecycle, job_record, job_spec
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.job_lifecycle import JobError, JobLifecycle
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.job_plan import ClusterJob, Plan
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import FlinkRestError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.sql_job import exception_text, parse_client_output
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.fake_clock import FakeClock

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "flink_job")
with open(os.path.join(FIXTURES, "flink-1.20.3_lifecycle.json")) as _f:
    RECORDED = json.load(_f)
with open(os.path.join(FIXTURES, "client_cannot_map_state.txt")) as _f:
    CLIENT_OUTPUT = _f.read()

NAME = "t1-cdc"
JID = RECORDED["restored_job"]["job_id"]
FOREIGN = RECORDED["unmanaged_job_config"]["jid"]
FAILED_JID = RECORDED["failed_restore"]["job_id"]
OPERATOR = "6cdc5bb954874d922eaee11a8e7b5dd5"
CANNOT_MAP_PATH = "file:/tmp/exp/sp/savepoint-333333-5d76b30629ac"
SP_DIR = "file:/tmp/t1/sp"
NEW_SP = "file:/tmp/t1/sp/savepoint-a5fe98-000000000000"
TRIGGER = "7" * 32
SQL = "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen');\nINSERT INTO snk SELECT * FROM src"


def not_found(recorded_key, job_id):
    first = RECORDED[recorded_key]["body"]["errors"][0].splitlines()[0].replace("9" * 32, job_id).replace(JID, job_id)
    return FlinkRestError("the Flink REST API at x answered HTTP 404: %s" % first.split("Exception:", 1)[-1].strip(), status=404)


class FakeRest:
    """The methods of FlinkRestClient that JobLifecycle calls; a job unknown to it answers 404 as Flink does."""

    def __init__(self):
        self.overview, self.calls, self.on_stop = [], [], None
        self.states, self.configs, self.ckpts, self.savepoints, self.exceptions = {}, {}, {}, {}, {}
        self.stop_answer = [{"status": {"id": "IN_PROGRESS"}},
                            {"status": {"id": "COMPLETED"}, "operation": {"location": NEW_SP}}]

    def _get(self, table, job_id):
        if job_id not in table:
            raise not_found("unknown_job", job_id)
        if isinstance(table[job_id], FlinkRestError):
            raise table[job_id]
        return copy.deepcopy(table[job_id])

    def jobs(self):
        """``/jobs/overview``: the listed jobs, each in its state now (``states``), and every other job of
        ``states`` (as the JobManager lists every job it knows)."""
        listed = copy.deepcopy(self.overview)
        for job in listed:
            job["state"] = self.states.get(job["jid"], job.get("state"))
        for job_id, state in self.states.items():
            if isinstance(state, Exception):
                raise state
            if job_id not in [j["jid"] for j in listed]:
                listed.append({"jid": job_id, "name": "", "state": state})
        return listed

    def job(self, job_id):
        body = copy.deepcopy(RECORDED["failed_restore"]["job"]) if job_id == FAILED_JID else {"jid": job_id}
        return dict(body, state=self._get(self.states, job_id))

    def job_config(self, job_id):
        self.calls.append(("job_config", job_id))
        return self._get(self.configs, job_id)

    def checkpoints(self, job_id):
        self.calls.append(("checkpoints", job_id))
        return self._get(self.ckpts, job_id)

    def stop_with_savepoint(self, job_id, target, trigger_id):
        self.calls.append(("stop", job_id, target, trigger_id))
        if self.on_stop:
            self.on_stop(job_id, target, trigger_id)
        self._get(self.states, job_id)
        self.savepoints[(job_id, trigger_id)] = list(self.stop_answer)
        if "failure-cause" not in json.dumps(self.stop_answer):
            self.states[job_id] = "FINISHED"
        return trigger_id

    def savepoint_status(self, job_id, trigger_id):
        self.calls.append(("savepoint_status", job_id, trigger_id))
        answers = self.savepoints.get((job_id, trigger_id))
        if not answers:
            raise not_found("savepoint_status_unknown_trigger", job_id)
        return copy.deepcopy(answers.pop(0) if len(answers) > 1 else answers[0])

    def cancel_job(self, job_id):
        self.calls.append(("cancel", job_id))
        self._get(self.states, job_id)
        self.states[job_id] = "CANCELED"
        return {}

    def job_exceptions(self, job_id):
        return copy.deepcopy(self.exceptions.get(job_id) or {})

    def called(self, what):
        return [c for c in self.calls if c[0] == what]


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(job_lifecycle, "POLL", 0)
    monkeypatch.setattr(job_lifecycle, "time", FakeClock(min_step=1.0))  # POLL is 0: a second a poll


@pytest.fixture
def rest():
    return FakeRest()


@pytest.fixture
def make(tmp_path, rest):
    def build(record=None, config=(), **params):
        base = dict(name=NAME, sql=SQL, settings={}, savepoint_dir=SP_DIR, wait_timeout=5, allow_non_restored_state=False,
                    sql_secrets={}, flink_home="/opt/flink", java_home=None)
        base.update(params)
        path = job_record.record_path(str(tmp_path / "records"), NAME)
        if record is not None:
            job_record.write(path, dict(job_record.new(NAME), **record))
        lc = JobLifecycle(rest, base, "1.20.3", path, [], list(config))
        lc.load()
        return lc
    return build


def on_disk(lc):
    return job_record.read(lc.path, NAME)


# ------------------------------------------------------------------ diagnoses


def test_restore_diagnosis_of_the_sql_clients_output():
    for texts in ([CLIENT_OUTPUT], parse_client_output(CLIENT_OUTPUT)["errors"]):
        why = job_lifecycle.restore_diagnosis(texts, CANNOT_MAP_PATH)
        assert OPERATOR in why and CANNOT_MAP_PATH in why and "generated other operator IDs" in why


def test_restore_diagnosis_of_the_recorded_root_exception():
    exceptions = RECORDED["failed_restore"]["exceptions"]
    why = job_lifecycle.restore_diagnosis([exceptions["root-exception"]], CANNOT_MAP_PATH)
    assert OPERATOR in why and CANNOT_MAP_PATH in why
    root, chain = exception_text(exceptions)
    assert OPERATOR in job_lifecycle.restore_diagnosis(chain, "file:/sp/x") and "file:/sp/x" in job_lifecycle.restore_diagnosis([root], "file:/sp/x")


@pytest.mark.parametrize("text, says", [
    ("Failed to rollback to checkpoint/savepoint x. org.apache.flink.util.StateMigrationException: For heap backends",
     "cannot be read by the new SQL"),
    ("Caused by: java.io.FileNotFoundException: Cannot find checkpoint or savepoint file/directory", "cannot be read by the JobManager"),
])
def test_restore_diagnosis_other_rules(text, says):
    assert says in job_lifecycle.restore_diagnosis([text], "file:/sp/1")


@pytest.mark.parametrize("texts", [
    ["java.net.ConnectException: Connection refused"],
    ["Cannot map state for operator abc to the new program"],  # neither savepoint nor checkpoint is named
    ["Triggering a checkpoint failed: the job is not running"],
    [],
    [None, ""],
])
def test_restore_diagnosis_none_for_unrelated_text(texts):
    assert job_lifecycle.restore_diagnosis(texts, "file:/sp/1") is None


def test_short_cause_drops_the_parsers_expectations():
    text = ('org.apache.flink.sql.parser.impl.ParseException: Encountered "SELEC" at line 1, column 1.\n'
            'Was expecting one of:\n    "ABS" ...\n    "ALTER" ...\n')
    assert job_lifecycle.short_cause(text) == 'org.apache.flink.sql.parser.impl.ParseException: Encountered "SELEC" at line 1, column 1.'
    assert job_lifecycle.short_cause("Encountered x. Was expecting:\n  ';'") == "Encountered x."
    assert job_lifecycle.short_cause("  plain cause \n") == "plain cause"


def test_latest_local_checkpoint_is_the_highest_with_metadata(tmp_path):
    for name, meta in [("chk-3", True), ("chk-12", True), ("chk-20", False), ("chk-x", True)]:
        (tmp_path / JID / name).mkdir(parents=True)
        if meta:
            (tmp_path / JID / name / "_metadata").write_text("m")
    (tmp_path / ("f" * 32) / "chk-99").mkdir(parents=True)
    (tmp_path / ("f" * 32) / "chk-99" / "_metadata").write_text("m")
    expected = "file:" + str(tmp_path / JID / "chk-12")
    for directory in (str(tmp_path), "file:" + str(tmp_path), "file://" + str(tmp_path)):
        assert job_lifecycle.latest_local_checkpoint(directory, JID) == expected
    assert job_lifecycle.latest_local_checkpoint(str(tmp_path), "0" * 32) is None
    assert job_lifecycle.latest_local_checkpoint("s3://bucket/cp", JID) is None
    assert job_lifecycle.latest_local_checkpoint("hdfs:///cp", JID) is None


def test_config_value_picks_the_first_key_present():
    config = [{"key": "state.checkpoints.dir", "value": "file:/old"}, {"key": "execution.checkpointing.dir", "value": "file:/new"},
              {"key": "state.savepoints.dir", "value": ""}, "junk"]
    assert job_lifecycle.config_value(config, job_lifecycle.checkpoint_dir_keys()) == "file:/new"
    assert job_lifecycle.config_value(config, ("state.checkpoints.dir", "execution.checkpointing.dir")) == "file:/old"
    assert job_lifecycle.config_value(config, job_lifecycle.savepoint_dir_keys()) is None
    assert job_lifecycle.config_value([], ("a",)) is None and job_lifecycle.config_value(None, ("a",)) is None


def test_directories_from_params_settings_and_cluster(make):
    config = [{"key": "state.savepoints.dir", "value": "file:/cluster/sp"}, {"key": "state.checkpoints.dir", "value": "file:/cluster/cp"}]
    lc = make(config=config, savepoint_dir=None)
    assert lc.savepoint_dir() == "file:/cluster/sp" and lc.checkpoint_dir() == "file:/cluster/cp"
    lc = make(config=config, settings={"execution.checkpointing.dir": "file:/mine/cp"})
    assert lc.savepoint_dir() == SP_DIR and lc.checkpoint_dir() == "file:/mine/cp"
    assert make(savepoint_dir=None).savepoint_dir() is None


def test_fingerprint_is_the_specs_only(make):
    lc = make()
    assert lc.fingerprint == job_spec.fingerprint(job_spec.spec(SQL, {}))
    other = make(sql=SQL + ";\n", sql_secrets={"password": "s3cr3t"}, allow_non_restored_state=True, wait_timeout=99,
                 savepoint_dir="s3://b/sp", upgrade_mode="stateless")
    assert other.fingerprint == lc.fingerprint
    assert make(settings={"parallelism.default": "2"}).fingerprint != lc.fingerprint


# ------------------------------------------------------------------ observing


def test_observe_tells_ours_from_foreign(make, rest):
    rest.overview = [
        {"jid": JID, "name": NAME, "state": "RUNNING"},
        {"jid": FOREIGN, "name": NAME, "state": "RESTARTING"},
        {"jid": "1" * 32, "name": NAME, "state": "FINISHED"},
        {"jid": "2" * 32, "name": "another", "state": "RUNNING"},
        {"jid": "3" * 32, "name": NAME, "state": "CREATED"},
    ]
    foreign_config = copy.deepcopy(RECORDED["unmanaged_job_config"])
    del foreign_config["execution-config"]["user-config"]
    rest.configs = {JID: RECORDED["restored_job"]["config"], FOREIGN: foreign_config}
    lc = make(record={"state": "running", "job_id": "1" * 32})
    active, recorded_state = lc.observe()
    assert active == [ClusterJob(JID, "RUNNING", "9a51a43c89c353df"), ClusterJob(FOREIGN, "RESTARTING", None),
                      ClusterJob("3" * 32, "CREATED", None)]  # its config answered 404: no fingerprint
    assert recorded_state == "FINISHED"
    assert [c[1] for c in rest.called("job_config")] == [JID, FOREIGN, "3" * 32]
    rest.overview = []
    assert make().observe() == ([], None)


def test_job_state_is_that_of_the_overview_and_none_for_a_job_it_does_not_list(make, rest):
    lc = make()
    assert lc.job_state(JID) is None
    rest.states[JID] = "RUNNING"
    assert lc.job_state(JID) == "RUNNING"
    rest.states[JID] = FlinkRestError("the Flink REST API at x answered HTTP 503 (Service Unavailable)", status=503)
    with pytest.raises(FlinkRestError) as err:  # any other failure is not "unknown"
        lc.job_state(JID)
    assert err.value.status == 503


def test_job_state_is_not_the_cached_job_details(make, rest, monkeypatch):
    # /jobs/:jobid answers from the execution graph cache (web.refresh-interval): it may still say RUNNING for a job
    # the overview already lists as FINISHED.
    lc = make()
    rest.states[JID] = "FINISHED"
    monkeypatch.setattr(rest, "job", lambda job_id: {"jid": job_id, "state": "RUNNING"})
    assert lc.job_state(JID) == "FINISHED"
    assert lc._wait_terminal(JID) == "FINISHED"


# ------------------------------------------------------------------ stop with savepoint


def test_stop_with_savepoint_records_pending_before_it_stops(make, rest):
    lc = make(record={"state": "running", "job_id": JID, "savepoint": "file:/old", "history": ["file:/old"]})
    rest.states[JID] = "RUNNING"
    seen = []

    def check(job_id, target, trigger_id):
        pending = on_disk(lc)["pending"]
        assert pending == {"op": "stop", "job_id": JID, "trigger_id": trigger_id, "target": SP_DIR}
        assert job_spec.is_job_id(trigger_id)
        seen.append(trigger_id)
    rest.on_stop = check
    assert lc.stop_with_savepoint(JID) == NEW_SP
    assert len(seen) == 1 and rest.called("stop") == [("stop", JID, SP_DIR, seen[0])]
    assert len(rest.called("savepoint_status")) == 2  # IN_PROGRESS, then COMPLETED
    record = on_disk(lc)
    assert record["state"] == "suspended" and record["pending"] is None and record["job_id"] == JID
    assert record["savepoint"] == NEW_SP and record["history"] == [NEW_SP, "file:/old"]
    assert lc.out["savepoint"] == NEW_SP


def test_retry_of_a_pending_stop_reuses_its_trigger_id(make, rest):
    pending = {"op": "stop", "job_id": JID, "trigger_id": TRIGGER, "target": SP_DIR}
    lc = make(record={"state": "running", "job_id": JID, "pending": pending})
    rest.states[JID] = "RUNNING"
    assert "trigger %s" % TRIGGER in lc.pending_summary()
    lc.finish_pending()
    assert rest.called("stop") == [("stop", JID, SP_DIR, TRIGGER)]
    assert on_disk(lc)["state"] == "suspended" and on_disk(lc)["savepoint"] == NEW_SP and on_disk(lc)["pending"] is None


def test_failed_savepoint_says_the_job_was_not_stopped(make, rest):
    lc = make(record={"state": "running", "job_id": JID})
    rest.states[JID] = "RUNNING"
    rest.stop_answer = [{"status": {"id": "COMPLETED"}, "operation": {"failure-cause": {
        "class": "java.util.concurrent.CompletionException",
        "stack-trace": "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint Coordinator is suspending.\n\tat x"}}}]
    with pytest.raises(JobError) as err:
        lc.stop_with_savepoint(JID)
    assert "the job was not stopped (it is RUNNING)" in err.value.message
    assert "Checkpoint Coordinator is suspending." in err.value.message and "\tat x" not in err.value.message
    assert err.value.details == {"job_id": JID}
    assert on_disk(lc)["pending"] is None and on_disk(lc)["state"] == "running" and on_disk(lc)["savepoint"] is None


def test_savepoint_that_does_not_complete_keeps_its_pending(make, rest):
    lc = make(record={"state": "running", "job_id": JID}, wait_timeout=3)
    rest.states[JID] = "RUNNING"
    rest.stop_answer = [{"status": {"id": "IN_PROGRESS"}}]
    with pytest.raises(JobError) as err:
        lc.stop_with_savepoint(JID)
    trigger = rest.called("stop")[0][3]
    assert "did not complete within 3 s" in err.value.message and trigger in err.value.message
    assert on_disk(lc)["pending"]["trigger_id"] == trigger


@pytest.mark.parametrize("trigger_known", [False, True])
def test_pending_stop_of_a_finished_job_finds_its_savepoint(make, rest, trigger_known):
    pending = {"op": "stop", "job_id": JID, "trigger_id": TRIGGER, "target": SP_DIR}
    lc = make(record={"state": "running", "job_id": JID, "pending": pending})
    rest.states[JID] = "FINISHED"
    rest.ckpts[JID] = RECORDED["restored_job"]["checkpoints"]
    location = RECORDED["restored_job"]["checkpoints"]["latest"]["savepoint"]["external_path"]
    if trigger_known:  # the JobManager still answers for the trigger (rest.async.store-duration)
        rest.savepoints[(JID, TRIGGER)] = [{"status": {"id": "COMPLETED"}, "operation": {"location": NEW_SP}}]
    lc.finish_pending()  # else its 404 (RestHandlerException) sends it to latest.savepoint
    assert rest.called("stop") == [] and rest.called("savepoint_status") == [("savepoint_status", JID, TRIGGER)]
    assert len(rest.called("checkpoints")) == (0 if trigger_known else 1)
    record = on_disk(lc)
    assert record["savepoint"] == (NEW_SP if trigger_known else location)
    assert record["state"] == "suspended" and record["pending"] is None


def test_pending_stop_of_a_finished_job_whose_savepoint_cannot_be_found_says_where_to_look(make, rest):
    pending = {"op": "stop", "job_id": JID, "trigger_id": TRIGGER, "target": SP_DIR}
    lc = make(record={"state": "running", "job_id": JID, "pending": pending})
    rest.states[JID] = "FINISHED"
    with pytest.raises(JobError) as err:
        lc.finish_pending()
    assert "no longer says where it went" in err.value.message and "savepoint-a5fe98-*" in err.value.message
    assert lc.path in err.value.message and rest.called("stop") == []
    assert on_disk(lc)["pending"] == pending


def test_pending_stop_of_a_job_the_jobmanager_forgot_says_where_to_look(make, rest):
    # The JobManager restarted (no HA) after an earlier run triggered the stop: /jobs/:jobid answers 404, so
    # job_state is None. The stop must not be sent again to a job that is not there (it answers 404 too); the
    # record's guidance to find the savepoint in the target directory is what helps.
    pending = {"op": "stop", "job_id": JID, "trigger_id": TRIGGER, "target": SP_DIR}
    lc = make(record={"state": "running", "job_id": JID, "pending": pending})
    with pytest.raises(JobError) as err:
        lc.finish_pending()
    assert "no longer says where it went" in err.value.message and "savepoint-a5fe98-*" in err.value.message
    assert rest.called("stop") == []


def test_no_savepoint_dir(make, rest):
    lc = make(savepoint_dir=None)
    rest.states[JID] = "RUNNING"
    with pytest.raises(JobError) as err:
        lc.stop_with_savepoint(JID)
    assert err.value.message == lc.no_savepoint_dir()
    assert "savepoint_dir" in err.value.message and "state.savepoints.dir" in err.value.message
    assert rest.calls == [] and not os.path.exists(lc.path)


# ------------------------------------------------------------------ cancel, checkpoints, pending submissions, run


@pytest.mark.parametrize("state, cancels, recorded", [("RUNNING", True, "cancelled"), ("FINISHED", False, "stopped")])
def test_cancel(make, rest, state, cancels, recorded):
    lc = make(record={"state": "running", "job_id": JID})
    rest.states[JID] = state
    lc.cancel(JID)
    assert bool(rest.called("cancel")) is cancels
    assert on_disk(lc)["state"] == recorded and on_disk(lc)["job_id"] == JID


def test_latest_checkpoint_from_rest(make, rest):
    body = copy.deepcopy(RECORDED["restored_job"]["checkpoints"])
    body["latest"]["completed"]["discarded"] = False
    rest.ckpts[JID] = body
    assert make().latest_checkpoint(JID) == "file:/tmp/t1/cp/%s/chk-12" % JID
    rest.ckpts[JID] = FlinkRestError("HTTP 500", status=500)  # only a 404 sends it to the directory
    with pytest.raises(FlinkRestError):
        make().latest_checkpoint(JID)


@pytest.mark.parametrize("answer", ["recorded-discarded", "404"])
def test_latest_checkpoint_from_the_local_directory(make, rest, tmp_path, answer):
    if answer == "recorded-discarded":  # the recorded latest.completed was discarded after the savepoint
        rest.ckpts[JID] = RECORDED["restored_job"]["checkpoints"]
    (tmp_path / "cp" / JID / "chk-7").mkdir(parents=True)
    (tmp_path / "cp" / JID / "chk-7" / "_metadata").write_text("m")
    lc = make(settings={"state.checkpoints.dir": "file://" + str(tmp_path / "cp")})
    assert lc.latest_checkpoint(JID) == "file:" + str(tmp_path / "cp" / JID / "chk-7")


def test_latest_checkpoint_none_found(make, rest, tmp_path):
    with pytest.raises(JobError) as err:
        make().latest_checkpoint(JID)
    assert "found no completed checkpoint" in err.value.message and "no checkpoint directory is set" in err.value.message
    lc = make(config=[{"key": "execution.checkpointing.dir", "value": str(tmp_path)}])
    with pytest.raises(JobError) as err:
        lc.latest_checkpoint(JID)
    assert "the checkpoint directory %s has none" % tmp_path in err.value.message and "upgrade_mode: stateless" in err.value.message


@pytest.mark.parametrize("state, expected", [("RUNNING", "running"), ("FAILED", "suspended"), (None, "suspended")])
def test_finish_pending_submission(make, rest, state, expected):
    the_spec = job_spec.spec(SQL, {})
    pending = {"op": "submit", "job_id": "5" * 32, "restore": NEW_SP, "spec": the_spec, "fingerprint": "f" * 16}
    lc = make(record={"state": "suspended", "job_id": JID, "savepoint": NEW_SP, "pending": pending})
    assert lc.pending_summary() == "find the job %s that an earlier run submitted" % ("5" * 32)
    if state:
        rest.states["5" * 32] = state
    lc.finish_pending()
    record = on_disk(lc)
    assert record["pending"] is None and record["state"] == expected
    if expected == "running":
        assert record["job_id"] == "5" * 32 and record["fingerprint"] == "f" * 16 and record["restored_from"] == NEW_SP
    else:
        assert record["job_id"] == JID and record["savepoint"] == NEW_SP
    assert lc.pending_summary() is None


def test_run_absent_cancels_and_forgets(make, rest):
    lc = make(record={"state": "running", "job_id": JID})
    rest.states[JID] = "RUNNING"
    lc.run(Plan("cancelled", (("cancel", JID), ("forget", None)), "cancel"))
    assert rest.called("cancel") == [("cancel", JID)] and lc.record is None
    assert not os.path.exists(lc.path) and not os.path.exists(lc.path + ".lock")


def test_run_gives_submit_what_the_steps_before_took(make, rest, monkeypatch):
    lc = make(record={"state": "running", "job_id": JID})
    submitted = []
    monkeypatch.setattr(lc, "submit", submitted.append)
    rest.states[JID] = "RUNNING"
    lc.run(Plan("upgraded", (("stop_with_savepoint", JID), ("submit", ("savepoint", None))), "x"))
    body = copy.deepcopy(RECORDED["restored_job"]["checkpoints"])
    body["latest"]["completed"]["discarded"] = False
    rest.ckpts[JID] = body
    lc.run(Plan("upgraded", (("submit", ("checkpoint", JID)),), "x"))
    lc.run(Plan("resumed", (("submit", ("savepoint", "file:/given")),), "x"))
    lc.run(Plan("submitted", (("submit", None),), "x"))
    assert submitted == [NEW_SP, body["latest"]["completed"]["external_path"], "file:/given", None]


def test_a_last_state_upgrade_without_a_checkpoint_leaves_the_job_running(make, rest, monkeypatch):
    lc = make(record={"state": "running", "job_id": JID})
    submitted = []
    monkeypatch.setattr(lc, "submit", submitted.append)
    rest.states[JID] = "RUNNING"
    rest.ckpts[JID] = {"latest": {"completed": None}}
    with pytest.raises(JobError) as err:
        lc.run(Plan("upgraded", (("cancel", JID), ("submit", ("checkpoint", JID))), "x"))
    assert "found no completed checkpoint of job %s (%s)" % (NAME, JID) in err.value.message
    assert rest.called("cancel") == [] and rest.states[JID] == "RUNNING" and submitted == []


# ------------------------------------------------------------------ failures of a submission


def test_raise_failure_of_a_restore_that_cannot_map_state(make):
    lc = make()
    errors = parse_client_output(CLIENT_OUTPUT)["errors"]
    with pytest.raises(JobError) as err:
        lc._raise_failure("the SQL of job %s submitted no job: %s" % (NAME, errors[-1]), errors[-1], errors, CANNOT_MAP_PATH)
    message = err.value.message
    assert CANNOT_MAP_PATH in message and "allow_non_restored_state: true" in message and OPERATOR in message
    assert err.value.details["savepoint"] == CANNOT_MAP_PATH
    assert OPERATOR in err.value.details["diagnosis"] and "upgrade_mode: stateless" in err.value.details["diagnosis"]
    assert "Cannot map checkpoint/savepoint state" in err.value.details["root_cause"]


def test_raise_failure_without_a_diagnosis_keeps_the_way_back(make):
    lc = make()
    with pytest.raises(JobError) as err:
        lc._raise_failure("job failed: boom\nWas expecting one of:\n  x", "boom", ["boom"], "file:/sp/1")
    assert err.value.message == "job failed: boom. Nothing runs now; the state stays in file:/sp/1, from which the next run resumes"
    assert err.value.details == {"root_cause": "boom", "savepoint": "file:/sp/1"}
    with pytest.raises(JobError) as err:
        lc._raise_failure("job failed: boom", "boom", [CLIENT_OUTPUT], None)
    assert err.value.message == "job failed: boom" and "savepoint" not in err.value.details


def test_failed_restore_of_the_recorded_job(make, rest):
    lc = make(record={"state": "suspended", "job_id": JID, "savepoint": CANNOT_MAP_PATH,
                      "pending": {"op": "submit", "job_id": FAILED_JID, "restore": CANNOT_MAP_PATH}})
    rest.states[FAILED_JID] = "FAILED"
    rest.exceptions[FAILED_JID] = RECORDED["failed_restore"]["exceptions"]
    with pytest.raises(JobError) as err:
        lc._failed_job(FAILED_JID, "FAILED", CANNOT_MAP_PATH, [])
    assert err.value.message.startswith("job %s (%s) failed restoring from %s: " % (NAME, FAILED_JID, CANNOT_MAP_PATH))
    assert "allow_non_restored_state: true" in err.value.message and OPERATOR in err.value.details["diagnosis"]
    assert rest.called("cancel") == []
    record = on_disk(lc)
    assert record["state"] == "suspended" and record["savepoint"] == CANNOT_MAP_PATH and record["pending"] is None


# ------------------------------------------------------------------ waiting for a submitted job to run

def _listed(job_id, state, running, total=2):
    return {"jid": job_id, "name": NAME, "state": state, "tasks": {"running": running, "total": total}}


def test_wait_running_waits_for_every_vertex_in_the_overview(make, rest, monkeypatch):
    lc = make()
    answers = [[_listed(JID, "INITIALIZING", 0)], [_listed(JID, "RUNNING", 1)], [_listed(JID, "RUNNING", 2)]]
    looks = []

    def jobs():
        looks.append(1)
        return answers[min(len(looks), len(answers)) - 1]
    monkeypatch.setattr(rest, "jobs", jobs)
    # The cached details would still say CREATED: they are not read.
    monkeypatch.setattr(rest, "job", lambda job_id: pytest.fail("read /jobs/:jobid"))
    lc._wait_running(JID, None, [])
    assert len(looks) == 3


def test_wait_running_checks_the_restore_once_every_vertex_runs(make, rest, monkeypatch):
    lc = make(record={"state": "suspended", "job_id": JID, "savepoint": NEW_SP})
    monkeypatch.setattr(rest, "jobs", lambda: [_listed(JID, "RUNNING", 2)])
    body = copy.deepcopy(RECORDED["restored_job"]["checkpoints"])
    rest.ckpts[JID] = body
    restored = body["latest"]["restored"]["external_path"]
    lc._wait_running(JID, restored, [])
    body["latest"]["restored"]["external_path"] = "file:/elsewhere/savepoint-1"
    with pytest.raises(JobError) as err:
        lc._wait_running(JID, restored, [])
    assert "restored from file:/elsewhere/savepoint-1, not from %s as asked; it was cancelled" % restored in err.value.message


def test_wait_running_of_a_restarting_job_fails_and_cancels_it(make, rest, monkeypatch):
    lc = make()
    rest.states[JID] = "RESTARTING"
    monkeypatch.setattr(rest, "jobs", lambda: [_listed(JID, rest.states[JID], 0)])
    with pytest.raises(JobError) as err:
        lc._wait_running(JID, None, [])
    assert "failed and was cancelled (it was RESTARTING)" in err.value.message
    assert rest.called("cancel") == [("cancel", JID)]
