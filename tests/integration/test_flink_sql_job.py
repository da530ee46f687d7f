"""flink_sql_job against the real bed: the JobManager's own SQL client and Flink REST API.

These cases need no connector jar: datagen and blackhole ship with Flink. The postgres-cdc smoke job, the
real connector and its diagnoses are in test_role_smoke.py.
"""

import glob
import os
import shutil

import bed as bed_mod

BOUNDED = """
CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '50');
CREATE TEMPORARY TABLE snk (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT id FROM gen;
"""
UNBOUNDED = BOUNDED.replace("'number-of-rows' = '50'", "'rows-per-second' = '5'")


def args(bed, **kw):
    out = {"url": bed["rest_url"], "flink_home": bed["jobmanager"]["home"], "sql": BOUNDED,
           "job_name": "cdcops-it-sql-job", "wait_timeout": 120}
    out.update(kw)
    return out


def jobs_named(name):
    return [j for j in bed_mod.rest("/jobs/overview")["jobs"] if j["name"] == name]


def test_check_mode_submits_nothing(bed, ansible):
    before = len(jobs_named("cdcops-it-check"))
    run = ansible.module("flink_sql_job", args(bed, job_name="cdcops-it-check"), check=True)
    assert run.rc == 0, run
    res = run.result
    assert res["changed"] is False
    assert res["msg"].startswith("would run job cdcops-it-check with the SQL client of %s" % bed["jobmanager"]["home"])
    assert res["flink_version"] == bed["flink_version"]
    assert res["settings"] == {"pipeline.name": "cdcops-it-check", "restart-strategy.type": "none",
                               "pipeline.operator-chaining.enabled": "false"}
    assert len(jobs_named("cdcops-it-check")) == before


def test_bounded_job_finishes_with_its_record_count(bed, ansible):
    run = ansible.module("flink_sql_job", args(bed, job_name="cdcops-it-bounded", expected_source_records=50))
    assert run.rc == 0, run
    res = run.result
    assert res["changed"] is True and res["state"] == "FINISHED"
    assert res["source_records"] == 50 and res["expected_source_records"] == 50
    assert [v["name"] for v in res["vertices"]][0] == "Source: gen[1]"
    assert {tm["host"] for tm in res["taskmanagers"]} <= {tm["host"] for tm in bed["taskmanagers"]}
    assert res["taskmanagers"]
    job = bed_mod.rest("/jobs/%s" % res["job_id"])
    assert job["state"] == "FINISHED" and job["name"] == "cdcops-it-bounded"


def test_a_wrong_record_count_fails(bed, ansible):
    run = ansible.module("flink_sql_job", args(bed, job_name="cdcops-it-count", expected_source_records=49))
    assert run.rc != 0
    assert "read 50 record(s), but 49 were expected" in run.result["msg"]


def test_unbounded_job_is_cancelled_at_the_deadline(bed, ansible):
    run = ansible.module("flink_sql_job", args(bed, sql=UNBOUNDED, job_name="cdcops-it-unbounded", wait_timeout=4))
    assert run.rc != 0
    msg = run.result["msg"]
    assert "did not end within 4s: it is RUNNING" in msg and "It was cancelled." in msg
    # The same, for callers that judge it (the role's smoke phase).
    assert (run.result["timed_out"], run.result["cancelled"], run.result["wait_timeout"]) == (True, True, 4)
    job_id = run.result["job_id"]
    assert job_id in [j["jid"] for j in jobs_named("cdcops-it-unbounded")]
    bed_mod.wait_for("the job to be cancelled", lambda: bed_mod.rest("/jobs/%s" % job_id)["state"] == "CANCELED",
                     timeout=30)


def test_secrets_stay_out_of_output_argv_and_files(bed, ansible, tmp_path):
    secret = "Sql-S3cret-'value"
    sql = BOUNDED.replace("SELECT id FROM gen", "SELECT id FROM gen WHERE '${token}' <> ''")
    home = tmp_path / "home"
    home.mkdir()
    run = ansible.module("flink_sql_job", args(bed, sql=sql, job_name="cdcops-it-secret", sql_secrets={"token": secret}),
                         verbosity=3, env={"HOME": str(home), "TMPDIR": str(tmp_path)})
    assert run.rc == 0, run
    quoted = secret.replace("'", "''")
    assert secret not in run.output and quoted not in run.output
    assert all(secret not in a for a in run.result["command"])
    # No script, no history file: neither in the private temporary directory nor in the user's home.
    assert not glob.glob(str(tmp_path / "cdcops-sql-*"))
    assert not os.path.exists(str(home / ".flink-sql-history"))
    for path in glob.glob(str(home / "**"), recursive=True):
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                assert quoted not in f.read() and secret not in f.read(), path


def test_a_syntax_error_fails_before_any_job_with_the_clients_reason(bed, ansible):
    before = len(jobs_named("cdcops-it-syntax"))
    run = ansible.module("flink_sql_job", args(bed, sql="CREATE TABLE (", job_name="cdcops-it-syntax"))
    assert run.rc != 0
    res = run.result
    assert res["msg"].startswith("the SQL script of cdcops-it-syntax failed before any job ran: ")
    assert "org.apache.flink.sql.parser.impl.ParseException: Encountered \"(\"" in res["root_cause"], res["root_cause"]
    assert len(jobs_named("cdcops-it-syntax")) == before


def test_a_distribution_without_the_sql_gateway_jar_is_named(bed, ansible, tmp_path):
    home = tmp_path / "flink"
    shutil.copytree(bed["jobmanager"]["home"], str(home), symlinks=True,
                    ignore=shutil.ignore_patterns("log", "flink-sql-gateway-*.jar"))
    run = ansible.module("flink_sql_job", args(bed, flink_home=str(home)), check=True)
    assert run.rc != 0
    assert "has no opt/flink-sql-gateway-%s.jar, which the SQL client needs" % bed["flink_version"] in run.result["msg"]


def test_a_path_that_is_no_flink_installation_is_named(bed, ansible, tmp_path):
    run = ansible.module("flink_sql_job", args(bed, flink_home=str(tmp_path)))
    assert run.rc != 0
    assert "%s does not exist: flink_home must be a Flink installation" % (tmp_path / "bin" / "sql-client.sh") \
        in run.result["msg"]
