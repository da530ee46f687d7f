"""_flink/sql_job.py: the script, the SQL client's output, job reports and diagnoses.

The client outputs and REST bodies in fixtures/sql_job/ were recorded on the bed (Flink 1.20.3 with the
real flink-sql-connector-postgres-cdc 3.5.0): a finished bounded job, a JobManager and a TaskManager started
before the jar landed in lib/, and a client without the jar (tests/bed/record_fixtures.py job ...).
"""

import json
import os
import stat
import subprocess

import pytest

from conftest import FIXTURES

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import sql_job as sj
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import FlinkRestError
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.fake_clock import FakeClock

HERE = os.path.join(FIXTURES, "sql_job")


def text(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def recorded(name):
    with open(os.path.join(HERE, name + ".json")) as f:
        return json.load(f)


# --------------------------------------------------------------------------- the script


def test_settings_follow_the_flink_version():
    old = sj.default_settings("1.18.1", "j")
    assert old == {"pipeline.name": "j", "restart-strategy": "none", "pipeline.operator-chaining": "false"}
    for version in ("1.19.3", "1.20.3", "2.2.0"):
        assert sj.default_settings(version, "j") == {
            "pipeline.name": "j", "restart-strategy.type": "none", "pipeline.operator-chaining.enabled": "false"}


def test_render_script_sets_first_fills_secrets_and_leaves_other_placeholders():
    script = sj.render_script("CREATE TABLE t WITH ('password' = '${pw}', 'x' = '${other}')\n",
                              {"pipeline.name": "it's"}, {"pw": "p'q"})
    lines = script.splitlines()
    assert lines[0] == "SET 'pipeline.name' = 'it''s';"
    assert "'password' = 'p''q'" in script  # a quote in a secret is doubled for the SQL literal
    assert "${other}" in script
    assert script.endswith(");\n")


def test_secret_values_and_redact_cover_the_quoted_form_too():
    values = sj.secret_values({"a": "p'q", "b": "", "c": None, "d": "longer-secret"})
    assert values[0] == "longer-secret" and "p'q" in values and "p''q" in values
    assert sj.redact("x p''q y p'q longer-secret", values) == "x ******** y ******** ********"


# --------------------------------------------------------------------------- the client's output


def test_client_without_the_connector_jar_names_the_missing_factory():
    parsed = sj.parse_client_output(text("client_no_factory.txt"))
    assert parsed["job_ids"] == []
    assert len(parsed["errors"]) == 1
    assert "Could not find any factory for identifier 'postgres-cdc'" in parsed["errors"][0]
    advice = sj.diagnose(parsed["errors"], "/opt/flink")
    assert advice.startswith("no connector jar for 'postgres-cdc' is in lib/ of /opt/flink")
    assert "restart the JobManager and the TaskManagers" in advice


def test_client_output_of_a_jobmanager_started_before_the_jar():
    parsed = sj.parse_client_output(text("client_jobmanager_not_restarted.txt"))
    assert parsed["job_ids"] == []  # the submission itself failed
    assert parsed["errors"] == ["Could not execute SQL statement. Reason: java.io.StreamCorruptedException: "
                                "unexpected block data"]


def test_client_output_of_a_submitted_job():
    parsed = sj.parse_client_output(text("client_taskmanager_not_restarted.txt"))
    assert parsed["job_ids"] == ["00d938a2323caf3967e474f4b4bdbe72"]
    assert parsed["errors"] == []


def test_tail_drops_the_echoed_statements():
    out = sj.tail(text("client_no_factory.txt"))
    assert "'connector' = 'postgres-cdc', 'hostname'" not in out
    assert "Could not find any factory" in out


# --------------------------------------------------------------------------- jobs


def test_report_of_a_finished_bounded_job():
    data = recorded("finished")
    report = sj.job_report(data["job"], data["vertex_taskmanagers"])
    assert report["state"] == "FINISHED"
    assert report["source_records"] == 3
    assert [v["name"] for v in report["vertices"]] == ["Source: src[1]", "DropUpdateBefore[2]", "snk[3]: Writer"]
    assert [tm["host"] for tm in report["taskmanagers"]] == ["127.0.0.2"]
    assert report["duration_ms"] > 0 and report["end_time"] > report["start_time"]


def test_a_chained_source_cannot_be_counted():
    data = recorded("finished")
    job = dict(data["job"], vertices=[dict(data["job"]["vertices"][0], name="Source: src[1] -> snk[3]: Writer")])
    assert sj.job_report(job, {})["source_records"] is None


def test_report_reads_the_2x_endpoint_field():
    vertex = {"id": "v", "name": "Source: s[1]", "metrics": {"write-records": 7}}
    job = {"jid": "j", "state": "FINISHED", "vertices": [vertex]}
    report = sj.job_report(job, {"v": [{"endpoint": "10.0.0.5:4567", "taskmanager-id": "tm-a"}]})
    assert report["taskmanagers"] == [{"id": "tm-a", "endpoint": "10.0.0.5:4567", "host": "10.0.0.5"}]
    assert report["source_records"] == 7


def test_jobmanager_started_before_the_jar_is_diagnosed():
    data = recorded("jobmanager_not_restarted")
    root, chain = sj.exception_text(data["exceptions"])
    assert root == "java.io.StreamCorruptedException: unexpected block data"
    assert any("Cannot instantiate the coordinator for operator Source: src[1]" in m for m in chain)
    advice = sj.diagnose(chain)
    assert advice.startswith("the JobManager cannot load the connector's classes")
    assert "Restart the JobManager" in advice


def test_taskmanager_started_before_the_jar_is_diagnosed_with_its_host():
    data = recorded("taskmanager_not_restarted")
    root, chain = sj.exception_text(data["exceptions"])
    assert root == "java.io.StreamCorruptedException: unexpected block data"  # not "Recovery is suppressed"
    hosts = sj.failure_location(data["exceptions"])
    assert hosts == ["127.0.0.2"]
    advice = sj.diagnose(chain, failed_hosts=hosts)
    assert advice.startswith("a TaskManager cannot load the connector's classes (on 127.0.0.2)")


@pytest.mark.parametrize("message, expected", [
    ('ERROR: replication slot "smoke" is active for PID 4242', "in use by another consumer (PID 4242)"),
    ("must be superuser to create FOR ALL TABLES publication", "debezium.publication.name"),
    ('FATAL: password authentication failed for user "flink_cdc"', "refused the password of flink_cdc"),
    ("Multiple factories for identifier 'postgres-cdc' that implement", "Keep one"),
    ("ERROR: permission denied for table orders", "GRANT SELECT"),
])
def test_database_and_jar_failures_are_diagnosed(message, expected):
    assert expected in sj.diagnose([message])


def test_unknown_failures_have_no_made_up_diagnosis():
    assert sj.diagnose(["java.lang.IllegalStateException: something else"]) is None


def test_new_jobs_are_the_ones_named_so_that_were_not_there():
    before = [{"jid": "a", "name": "smoke"}]
    after = before + [{"jid": "c", "name": "smoke", "start-time": 2}, {"jid": "b", "name": "smoke", "start-time": 1},
                      {"jid": "d", "name": "other"}]
    assert sj.new_jobs(before, after, "smoke") == ["b", "c"]


# --------------------------------------------------------------------------- waiting


class FakeRest:
    def __init__(self, states, fail_first=0):
        self.states = list(states)
        self.fail_first = fail_first
        self.cancelled = []

    def job(self, job_id):
        if self.fail_first:
            self.fail_first -= 1
            raise FlinkRestError("JobManager busy")
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"jid": job_id, "state": state}

    def cancel_job(self, job_id):
        self.cancelled.append(job_id)
        return {}


def test_wait_returns_the_terminal_state_and_retries_rest_errors():
    clock = FakeClock()
    rest = FakeRest(["INITIALIZING", "RUNNING", "FINISHED"], fail_first=1)
    assert sj.wait_for_job(rest, "j", 60, clock=clock, sleep=clock.sleep)["state"] == "FINISHED"
    assert rest.cancelled == []


def test_wait_cancels_a_job_still_running_at_the_deadline():
    clock = FakeClock()
    rest = FakeRest(["RUNNING"])
    with pytest.raises(sj.SqlJobError) as err:
        sj.wait_for_job(rest, "j", 10, clock=clock, sleep=clock.sleep)
    assert rest.cancelled == ["j"]
    assert "did not end within 10s: it is RUNNING. It was cancelled." in err.value.message
    assert clock.now == pytest.approx(10)


def test_the_deadline_error_says_it_timed_out_and_whether_the_cancel_was_sent():
    clock = FakeClock()
    with pytest.raises(sj.SqlJobError) as err:
        sj.wait_for_job(FakeRest(["RUNNING"]), "j", 10, clock=clock, sleep=clock.sleep)
    assert (err.value.details["timed_out"], err.value.details["cancelled"]) == (True, True)

    class CancelFails(FakeRest):
        def cancel_job(self, job_id):
            raise FlinkRestError("HTTP 503")

    with pytest.raises(sj.SqlJobError) as err:
        sj.wait_for_job(CancelFails(["RUNNING"]), "j", 10, clock=clock, sleep=clock.sleep)
    assert (err.value.details["timed_out"], err.value.details["cancelled"]) == (True, False)
    assert "Cancelling it failed (HTTP 503)" in err.value.message


# --------------------------------------------------------------------------- running the client


def test_run_client_keeps_secrets_off_the_command_line_and_leaves_nothing(tmp_path):
    seen = {}

    def fake_run(argv, env, cwd, **kw):
        script = argv[argv.index("-f") + 1]
        history = argv[argv.index("--history") + 1]
        seen.update(argv=argv, env=env, script=script, history=history, cwd=cwd,
                    script_mode=stat.S_IMODE(os.stat(script).st_mode),
                    dir_mode=stat.S_IMODE(os.stat(os.path.dirname(script)).st_mode))
        with open(script) as f:
            seen["content"] = f.read()
        return subprocess.CompletedProcess(argv, 0, stdout=b"\x1b[34;1mJob ID: " + b"a" * 32 + b"\x1b[0m s3cr3t\n")

    result = sj.run_client(str(tmp_path), "SET 'x' = 's3cr3t';\n", ["s3cr3t"], 30, java_home="/jdk", run=fake_run)
    assert not any("s3cr3t" in a for a in seen["argv"])
    assert seen["argv"][0] == str(tmp_path / "bin" / "sql-client.sh")
    assert os.path.dirname(seen["history"]) == os.path.dirname(seen["script"]) == seen["cwd"]
    assert seen["script_mode"] == 0o600 and seen["dir_mode"] == 0o700
    assert "s3cr3t" in seen["content"]
    assert seen["env"]["FLINK_HOME"] == str(tmp_path) and seen["env"]["JAVA_HOME"] == "/jdk"
    assert not os.path.exists(seen["cwd"])  # script and history are gone
    assert result.output == "Job ID: %s ********\n" % ("a" * 32)
    assert sj.parse_client_output(result.output)["job_ids"] == ["a" * 32]


def test_run_client_reports_a_client_that_hangs(tmp_path):
    def hang(argv, **kw):
        raise subprocess.TimeoutExpired(argv, 1, output=b"partial")

    result = sj.run_client(str(tmp_path), "SELECT 1;", [], 1, run=hang)
    assert result.timed_out and result.rc is None and result.output == "partial"


def test_run_client_names_a_client_that_cannot_start(tmp_path):
    with pytest.raises(sj.SqlJobError) as err:
        sj.run_client(str(tmp_path), "SELECT 1;", [], 5)
    assert "cannot run the Flink SQL client %s" % (tmp_path / "bin" / "sql-client.sh") in err.value.message
