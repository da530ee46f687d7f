"""job_spec: the declared spec, its fingerprint and the SET options of one submission."""

import copy
import json
import os

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import job_spec

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "flink_job", "flink-1.20.3_lifecycle.json")
SQL = "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen');\nINSERT INTO snk SELECT * FROM src;"
JOB_ID = "a5fe9889b8584510b78189e87f5b9cee"


@pytest.fixture(scope="module")
def recorded():
    with open(FIXTURE) as f:
        return json.load(f)


@pytest.mark.parametrize("version, keys", [
    ("1.17.2", ("execution.savepoint.path", "execution.savepoint.ignore-unclaimed-state")),
    ("1.19.3", ("execution.savepoint.path", "execution.savepoint.ignore-unclaimed-state")),
    ("1.20.3", ("execution.state-recovery.path", "execution.state-recovery.ignore-unclaimed-state")),
    ("2.2.0", ("execution.state-recovery.path", "execution.state-recovery.ignore-unclaimed-state")),
])
def test_recovery_keys_follow_the_rename_in_1_20(version, keys):
    assert job_spec.recovery_keys(version) == keys
    assert job_spec.owned_keys(version) == ("pipeline.name", "$internal.pipeline.job-id") + keys


# ------------------------------------------------------------------ fingerprint


def fp(sql, settings=None):
    return job_spec.fingerprint(job_spec.spec(sql, settings or {}))


def test_fingerprint_is_16_hex_digits_and_stable():
    assert len(fp(SQL)) == 16 and int(fp(SQL), 16) >= 0
    assert fp(SQL) == fp(SQL)


def test_fingerprint_ignores_dict_ordering():
    a = {"parallelism.default": "2", "execution.checkpointing.interval": "10s", "table.exec.state.ttl": "1 h"}
    b = dict(reversed(list(a.items())))
    assert list(a) != list(b)
    assert fp(SQL, a) == fp(SQL, b)
    assert job_spec.fingerprint({"sql": "x", "settings": {}}) == job_spec.fingerprint({"settings": {}, "sql": "x"})


@pytest.mark.parametrize("variant", [
    SQL + "\n",
    SQL + "   \n\n\n",
    "\n\n" + SQL,
    SQL.replace(";\n", ";   \n"),
    SQL.replace("\n", "\n\n\n"),
    SQL.replace("\n", "\r\n"),
    SQL[:-1],
    SQL[:-1] + " ;  \n",
])
def test_fingerprint_ignores_trailing_blanks_blank_lines_and_final_semicolon(variant):
    assert fp(variant) == fp(SQL)
    assert job_spec.normalize_sql(variant) == job_spec.normalize_sql(SQL)


def test_normalize_sql():
    assert job_spec.normalize_sql("  SELECT 1 ;\n\n  ") == "SELECT 1"
    assert job_spec.normalize_sql("a;  \n\n b;") == "a;\n b"
    assert job_spec.normalize_sql(None) == ""


@pytest.mark.parametrize("other_sql, other_settings", [
    (SQL.replace("snk", "snk2"), {"parallelism.default": "2"}),
    (SQL.replace("datagen", "postgres-cdc"), {"parallelism.default": "2"}),
    (SQL, {"parallelism.default": "3"}),
    (SQL, {"parallelism.default": "2", "table.exec.state.ttl": "1 h"}),
    (SQL, {}),
    (SQL, {"parallelism.defaults": "2"}),
])
def test_fingerprint_changes_with_the_sql_or_a_setting(other_sql, other_settings):
    assert fp(SQL, {"parallelism.default": "2"}) != fp(other_sql, other_settings)


def test_fingerprint_is_not_changed_by_anything_else():
    job_spec_ = job_spec.spec(SQL, {"parallelism.default": 2})
    # A number and its text are the same setting, as they are to Flink.
    assert job_spec.fingerprint(job_spec_) == fp(SQL, {"parallelism.default": "2"})
    marker = "cdcops.flink_job.spec:" + job_spec.fingerprint(job_spec_)
    # Name, job ID, version, restore path and allow_non_restored_state change the SETs, never the marker.
    for args in [("1.20.3", "a", JOB_ID, None, False), ("1.17.2", "b", "0" * 32, "file:/sp/1", True),
                 ("2.2.0", "c", "f" * 32, "s3://b/sp", False)]:
        version, name, job_id, restore, allow = args
        out = job_spec.submit_settings(version, name, job_id, job_spec_, restore, allow)
        assert out["pipeline.global-job-parameters"] == marker
    # The placeholders are part of the spec, never their values.
    assert "${password}" in job_spec.spec("WITH ('password' = '${password}')", {})["sql"]


# ------------------------------------------------------------------ submit_settings


def test_submit_settings_order_and_contents_without_restore():
    the_spec = job_spec.spec(SQL, {"table.exec.state.ttl": "1 h", "parallelism.default": 2})
    out = job_spec.submit_settings("1.20.3", "t1-cdc", JOB_ID, the_spec)
    assert list(out.items()) == [
        ("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"),
        ("parallelism.default", "2"),
        ("table.exec.state.ttl", "1 h"),
        ("pipeline.global-job-parameters", "cdcops.flink_job.spec:%s" % job_spec.fingerprint(the_spec)),
        ("pipeline.name", "t1-cdc"),
        ("$internal.pipeline.job-id", JOB_ID),
    ]
    assert all(isinstance(v, str) for v in out.values())


def test_user_retention_overrides_the_default_in_its_place():
    the_spec = job_spec.spec(SQL, {"execution.checkpointing.externalized-checkpoint-retention": "DELETE_ON_CANCELLATION"})
    out = job_spec.submit_settings("1.20.3", "n", JOB_ID, the_spec)
    assert list(out)[0] == job_spec.CHECKPOINT_RETENTION
    assert out[job_spec.CHECKPOINT_RETENTION] == "DELETE_ON_CANCELLATION"


def test_user_global_job_parameters_are_kept_and_the_marker_added():
    the_spec = job_spec.spec(SQL, {"pipeline.global-job-parameters": "team:cdc,env:prod"})
    out = job_spec.submit_settings("1.20.3", "n", JOB_ID, the_spec)
    assert out["pipeline.global-job-parameters"] == "team:cdc,env:prod,cdcops.flink_job.spec:%s" % (
        job_spec.fingerprint(the_spec))
    assert list(out).count("pipeline.global-job-parameters") == 1


@pytest.mark.parametrize("version, path_key, ignore_key", [
    ("1.19.3", "execution.savepoint.path", "execution.savepoint.ignore-unclaimed-state"),
    ("1.20.3", "execution.state-recovery.path", "execution.state-recovery.ignore-unclaimed-state"),
])
@pytest.mark.parametrize("allow, text", [(True, "true"), (False, "false")])
def test_restore_keys_only_with_a_restore_path(version, path_key, ignore_key, allow, text):
    the_spec = job_spec.spec(SQL, {})
    out = job_spec.submit_settings(version, "n", JOB_ID, the_spec, "file:/tmp/sp/savepoint-1", allow)
    assert list(out)[-2:] == [path_key, ignore_key]
    assert out[path_key] == "file:/tmp/sp/savepoint-1" and out[ignore_key] == text
    for restore in (None, ""):
        plain = job_spec.submit_settings(version, "n", JOB_ID, the_spec, restore, allow)
        assert path_key not in plain and ignore_key not in plain
        assert list(plain)[-1] == "$internal.pipeline.job-id"


# ------------------------------------------------------------------ settings_problem


@pytest.mark.parametrize("version", ["1.17.2", "1.19.3", "1.20.3", "2.2.0"])
def test_settings_problem_for_each_owned_key(version):
    for key in job_spec.owned_keys(version):
        problem = job_spec.settings_problem(version, {key: "x", "parallelism.default": "1"})
        assert problem is not None and key in problem
        assert "parallelism.default" not in problem and "settings may not set" in problem


@pytest.mark.parametrize("version, other", [("1.19.3", "execution.state-recovery.path"),
                                            ("1.20.3", "execution.savepoint.path"),
                                            ("2.2.0", "execution.savepoint.path")])
def test_settings_problem_for_the_other_versions_restore_key(version, other):
    problem = job_spec.settings_problem(version, {other: "file:/sp"})
    assert problem is not None and other in problem


def test_settings_problem_lists_every_key_once_sorted():
    problem = job_spec.settings_problem("1.20.3", {"pipeline.name": "x", "execution.savepoint.path": "p",
                                                   "execution.state-recovery.path": "q"})
    assert "execution.savepoint.path, execution.state-recovery.path, pipeline.name:" in problem


@pytest.mark.parametrize("settings", [None, {}, {"parallelism.default": "2", "pipeline.global-job-parameters": "a:b",
                                                 "execution.checkpointing.interval": "10s", job_spec.CHECKPOINT_RETENTION: "x"}])
def test_settings_problem_none_for_ordinary_settings(settings):
    assert job_spec.settings_problem("1.20.3", settings) is None


# ------------------------------------------------------------------ what the cluster says


def test_spec_fingerprint_of_recorded_job_config(recorded):
    assert job_spec.spec_fingerprint_of(recorded["restored_job"]["config"]) == "9a51a43c89c353df"


def test_spec_fingerprint_of_a_job_flink_job_did_not_start(recorded):
    config = copy.deepcopy(recorded["unmanaged_job_config"])
    del config["execution-config"]["user-config"]
    assert job_spec.spec_fingerprint_of(config) is None
    config["execution-config"]["user-config"] = {"other": "x"}
    assert job_spec.spec_fingerprint_of(config) is None
    assert job_spec.spec_fingerprint_of({}) is None
    assert job_spec.spec_fingerprint_of({"execution-config": None}) is None


@pytest.mark.parametrize("a, b", [
    ("file:/x", "file:///x"),
    ("file:///x", "/x"),
    ("/x", "file:/x"),
    ("file:/tmp/sp/savepoint-1", "file:/tmp/sp/savepoint-1/"),
    ("file:/tmp/sp/savepoint-1", "file:///tmp/sp/savepoint-1/_metadata"),
    ("/tmp/sp/savepoint-1/_metadata", "file:/tmp/sp/savepoint-1"),
    ("s3://b/sp/savepoint-1/", "s3://b/sp/savepoint-1"),
])
def test_same_location(a, b):
    first, second = a, b
    assert job_spec.same_location(first, second)
    assert job_spec.same_location(second, first)


@pytest.mark.parametrize("a, b", [
    ("file:/x", "file:/y"),
    ("file:/tmp/sp/savepoint-1", "file:/tmp/sp/savepoint-10"),
    ("/x", "s3://b/x"),
    (None, None),
    ("", ""),
    ("file:/x", None),
    (None, "file:/x"),
    ("", "/x"),
])
def test_different_locations(a, b):
    assert job_spec.same_location(a, b) is False


@pytest.mark.parametrize("location, path", [
    ("file:/tmp/cp", "/tmp/cp"),
    ("file:///tmp/cp", "/tmp/cp"),
    ("/tmp/cp", "/tmp/cp"),
    ("s3://bucket/cp", None),
    ("hdfs:///cp", None),
    ("relative/cp", None),
])
def test_local_path(location, path):
    assert job_spec.local_path(location) == path


def test_spec_text():
    assert job_spec.spec_text(None) == ""
    assert job_spec.spec_text({}) == ""
    the_spec = job_spec.spec("SELECT 1;\n", {"b": "2", "a": "1"})
    assert job_spec.spec_text(the_spec) == "SET 'a' = '1';\nSET 'b' = '2';\nSELECT 1;\n"
    assert job_spec.spec_text({"sql": "", "settings": {"a": "1"}}) == "SET 'a' = '1';\n"


@pytest.mark.parametrize("value, ok", [
    (JOB_ID, True),
    ("0" * 32, True),
    (JOB_ID.upper(), False),
    (JOB_ID[:-1], False),
    (JOB_ID + "0", False),
    ("g" * 32, False),
    (None, False),
    (12345, False),
])
def test_is_job_id(value, ok):
    assert job_spec.is_job_id(value) is ok


def test_new_ids_are_job_ids_and_differ():
    ids = {job_spec.new_job_id() for _i in range(5)} | {job_spec.new_trigger_id() for _i in range(5)}
    assert len(ids) == 10 and all(job_spec.is_job_id(i) for i in ids)
