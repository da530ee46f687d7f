"""The role's report rows and summary (plugin_utils/_report_rows.py and the filters over it), rule by rule."""

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _report_rows as rr
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _restart
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.report_rows_data import (
    HOST_CHECK,
    JM,
    URL,
    jar,
)
DOWN = {"msg": "cannot reach the Flink REST API at http://127.0.0.1:8081/overview: connection refused"}


# --- JobManager

def test_jobmanager_reachable_row():
    assert rr.jobmanager_rows(JM, URL) == [rr.row(
        "jobmanager", "JobManager", "reachable", "ok",
        "Flink 1.20.3 at http://127.0.0.1:8081, 2 TaskManager(s), 3 of 4 slots free, 1 running job(s)")]


def test_jobmanager_unreachable_row_carries_the_modules_message():
    assert rr.jobmanager_rows(DOWN, URL) == [rr.row("jobmanager", "JobManager", "reachable", "fail", DOWN["msg"])]
    assert rr.jobmanager_rows({}, URL)[0]["detail"] == "unknown error"


def test_unexpected_taskmanager_warns():
    jm = dict(JM, host_matches=dict(JM["host_matches"], unexpected=[{"id": "tm-x", "host": "10.0.0.9"}]))
    assert rr.jobmanager_rows(jm, URL)[1] == rr.row(
        "jobmanager", "TaskManager", "not in inventory", "warn",
        "TaskManager tm-x (10.0.0.9) is registered but is not in flink_taskmanagers")


# --- PostgreSQL

def test_postgres_rows_statuses_and_fix():
    pg = {"checks": [
        {"name": "wal_level", "ok": False, "severity": "error", "message": "wal_level is replica", "hint": "ALTER SYSTEM"},
        {"name": "replica identity", "table": "public.t", "ok": False, "severity": "warning", "message": "m", "hint": ""},
        {"name": "version", "ok": True, "severity": "error", "message": "PostgreSQL 16", "hint": "never shown"},
    ]}
    where = "postgresql db:5432"
    assert rr.postgres_rows(pg, where) == [
        rr.row(where, "PostgreSQL", "wal_level", "fail", "wal_level is replica. Fix: ALTER SYSTEM"),
        rr.row(where, "PostgreSQL", "replica identity public.t", "warn", "m"),
        rr.row(where, "PostgreSQL", "version", "ok", "PostgreSQL 16"),
    ]


def test_postgres_not_read():
    assert rr.postgres_rows({"msg": "password authentication failed"}, "postgresql db:5432") == [
        rr.row("postgresql db:5432", "PostgreSQL", "readiness", "fail", "password authentication failed")]
    assert rr.postgres_rows({}, "w")[0]["detail"] == "pg_logical_check did not run"


# --- a TaskManager host

def test_registered_row_each_case():
    assert rr.registered_row("tm1", JM, "127.0.0.2", URL) == rr.row(
        "tm1", "TaskManager", "registered", "ok", "as 127.0.0.2 (tm-a)")
    assert rr.registered_row("tm3", JM, "127.0.0.9", URL)["detail"] == (
        "no TaskManager registered with address 127.0.0.9 at http://127.0.0.1:8081 (registered: 127.0.0.2, "
        "127.0.0.3); set flink_cdc_taskmanager_address if it registers under another name")
    assert rr.registered_row("tm1", DOWN, "127.0.0.2", URL)["detail"] == "cannot tell: the JobManager could not be read"
    assert "(registered: none)" in rr.registered_row("tm3", dict(JM, taskmanagers=[]), "a", URL)["detail"]


def test_host_rows_registered_first_then_the_host_check():
    rows = rr.host_rows("tm1", True, True, JM, "127.0.0.2", URL, HOST_CHECK)
    assert [r["check"] for r in rows] == ["registered", "PostgreSQL db:5432", "java"]
    # A JobManager host that gets jars: no registered row.
    assert [r["check"] for r in rr.host_rows("jobmanager", False, True, JM, "", URL, HOST_CHECK)] == [
        "PostgreSQL db:5432", "java"]
    assert rr.host_rows("other", False, False, JM, "", URL, None) == []


def test_host_check_that_returned_no_rows_is_a_failed_row():
    assert rr.host_check_rows("tm1", {"failed": True, "msg": "endpoints[0] lacks host"}) == [
        rr.row("tm1", "Java/config", "host check", "fail", "endpoints[0] lacks host")]
    assert rr.host_check_rows("tm1", None)[0]["detail"] == "flink_host_check did not run"


def test_preflight_rows_order_lines_and_hosts_that_left_the_play():
    restart = [rr.row("controller", "TaskManager", "restart method", "ok", "rolling restart with command: x")]
    connectors = [rr.row("controller", "Connectors", "postgres-cdc", "ok", "pinned")]
    per_host = {"tm1": [rr.row("tm1", "TaskManager", "registered", "ok", "as a (tm-a)")]}
    rows = rr.preflight_rows(JM, URL, {"checks": []}, "postgresql db:5432", restart, connectors,
                             ["tm1", "tm2"], ["tm1"], lambda h: per_host.get(h, []))
    # JM runs a job without high availability: the high-availability row warns, after the JobManager's row.
    assert [(r["host"], r["check"]) for r in rows] == [
        ("jobmanager", "reachable"), ("jobmanager", "high availability"), ("controller", "restart method"),
        ("controller", "postgres-cdc"), ("tm1", "registered"), ("tm2", "host")]
    assert rows[1]["status"] == "warn" and rows[1]["detail"].startswith("off, with 1 running job(s): ")
    assert rows[-1]["status"] == "fail" and rows[-1]["line"] == "tm2: TaskManager host: unreachable or failed before preflight"
    assert rows[4]["line"] == "tm1: TaskManager registered: as a (tm-a)"
    # PostgreSQL not checked: no PostgreSQL row at all.
    assert not [r for r in rr.preflight_rows(JM, URL, None, "", [], [], [], [], lambda h: []) if r["area"] == "PostgreSQL"]


def test_restart_method_set_per_host_satisfies_the_check():
    """A restart command set per host in the inventory counts (plugin_utils/_restart.py reads each host's own
    variables); the preflight rows carry its row as it is."""
    hostvars = {"tm1": {"flink_cdc_taskmanager_restart_command": "systemctl restart flink-tm"},
                "tm2": {"flink_cdc_taskmanager_restart_command": "systemctl restart flink-tm"}}
    defaults = {name: "" for name in ("flink_cdc_taskmanager_restart_command", "flink_cdc_taskmanager_service",
                                      "flink_cdc_jobmanager_restart_command", "flink_cdc_jobmanager_service")}
    methods = _restart.method_rows(hostvars, ["tm1", "tm2"], [], defaults)
    assert [r["status"] for r in methods] == ["ok"]
    rows = rr.preflight_rows(JM, URL, None, "", methods, [], [], [], lambda h: [])
    (method,) = [r for r in rows if r["check"] == "restart method"]
    assert method["detail"] == "rolling restart with command: systemctl restart flink-tm"
    del hostvars["tm2"]["flink_cdc_taskmanager_restart_command"]
    (lacking,) = _restart.method_rows(hostvars, ["tm1", "tm2"], [], defaults)
    assert lacking["status"] == "fail" and lacking["detail"].endswith("not set for tm2")


def ha(jobmanagers, leader, mode="zookeeper", jobs=(), note=""):
    return dict(JM, jobs=list(jobs), ha_mode=mode, leader=leader, leader_note=note, jobmanagers=jobmanagers)


def jm(url, role, version="1.20.3", error=None):
    return {"url": url, "endpoint": url.split("//")[1], "role": role, "flink_version": version, "error": error}


def test_each_jobmanager_of_an_ha_cluster_gets_a_row_and_the_ha_row_names_the_leader():
    rows = rr.high_availability_rows(ha([jm("http://a:8081", "standby"), jm("http://b:8081", "leader")],
                                        "http://b:8081"))
    assert [(r["host"], r["check"], r["status"], r["detail"]) for r in rows] == [
        ("a:8081", "role", "ok", "standby, Flink 1.20.3"), ("b:8081", "role", "ok", "leader, Flink 1.20.3"),
        ("jobmanager", "high availability", "ok", "zookeeper, 2 JobManager URL(s), leader http://b:8081")]


def test_an_unreachable_standby_warns_and_another_flink_release_fails():
    rows = rr.high_availability_rows(ha([jm("http://a:8081", "unreachable", None, "connection refused"),
                                         jm("http://b:8081", "leader"), jm("http://c:8081", "standby", "1.19.3")],
                                        "http://b:8081"))
    by_host = {r["host"]: r for r in rows}
    assert by_host["a:8081"]["status"] == "warn" and "connection refused" in by_host["a:8081"]["detail"]
    assert by_host["c:8081"]["status"] == "fail" and "runs Flink 1.19.3 where the cluster runs 1.20.3" in \
        by_host["c:8081"]["detail"]


def test_a_leader_that_cannot_be_told_apart_warns_with_the_reason():
    note = "the leader is one of http://a:8081, http://b:8081, which all have blob.server.port 6124"
    rows = rr.high_availability_rows(ha([jm("http://a:8081", "unknown"), jm("http://b:8081", "unknown")], None,
                                        note=note))
    assert {r["status"] for r in rows} == {"warn"} and all(note in r["detail"] for r in rows)


def test_several_jobmanagers_without_ha_fail_and_ha_off_with_work_warns():
    two = [jm("http://a:8081", "unknown"), jm("http://b:8081", "unknown")]
    (row,) = [r for r in rr.high_availability_rows(ha(two, None, mode="none")) if r["check"] == "high availability"]
    assert row["status"] == "fail" and "they are separate clusters" in row["detail"]
    one = [jm("http://a:8081", "leader")]
    assert rr.high_availability_rows(ha(one, "http://a:8081", mode="none")) == []  # nothing runs: nothing to say
    (row,) = rr.high_availability_rows(ha(one, "http://a:8081", mode="none"), pipelines=2)
    assert row["status"] == "warn" and row["detail"].startswith("off, with 2 declared pipeline(s): ")
    (row,) = rr.high_availability_rows(ha(one, "http://a:8081", mode="none", jobs=[{"state": "RUNNING"}]))
    assert row["detail"].startswith("off, with 1 running job(s): ")
    assert rr.high_availability_rows(DOWN) == []


def test_deploy_row_each_case():
    changed = {"changed": True, "jars": [jar("a-1.jar", True), jar("b-1.jar", False)], "removed": ["/opt/flink/lib/a-0.jar"]}
    assert rr.deploy_row("tm1", changed, False) == {
        "host": "tm1", "area": "Connectors", "check": "deploy", "status": "changed",
        "detail": "installed: a-1.jar; removed: a-0.jar", "line": "tm1: Connectors deploy: installed: a-1.jar; removed: a-0.jar"}
    assert rr.deploy_row("tm1", changed, True)["detail"] == "would install: a-1.jar; would remove: a-0.jar"
    assert rr.deploy_row("tm1", {"changed": True, "jars": [jar("a-1.jar", False)]}, False)["detail"] == \
        "installed: attributes only"
    assert rr.deploy_row("tm1", {"changed": False, "jars": [jar("a-1.jar", False), jar("b-1.jar", False)]}, False)[
        "detail"] == "up to date: a-1.jar, b-1.jar"
    failed = rr.deploy_row("tm1", {"failed": True, "msg": "404 from the repository"}, False)
    assert failed["status"] == "fail" and failed["detail"] == "404 from the repository"
    assert rr.deploy_row("tm1", {"skipped": True}, False) is None
    assert rr.deploy_row("tm1", None, False) is None


def test_restart_rows_warn_for_each_process_not_restarted():
    rows = rr.restart_rows(["tm1", "tm2"], [], True, "jobmanager", False)
    assert [(r["host"], r["area"], r["status"], r["line"]) for r in rows] == [
        ("tm1", "TaskManager", "warn", "tm1: TaskManager restart needed"),
        ("tm2", "TaskManager", "warn", "tm2: TaskManager restart needed"),
        ("jobmanager", "JobManager", "warn", "jobmanager: JobManager restart needed")]
    assert rows[0]["detail"] == "jars changed; restart this TaskManager to load them (flink_cdc_restart=rolling does it)"


def test_restart_rows_for_restarts_done():
    restarted = [{"host": "tm1", "old": ["a"], "new": ["b"]},
                 {"host": "jobmanager", "kind": "JobManager", "old": [], "new": [], "taskmanagers": 2}]
    rows = rr.restart_rows(["tm1"], restarted, True, "jobmanager", False)
    assert [(r["host"], r["status"], r["detail"]) for r in rows] == [
        ("tm1", "changed", "restarted: a -> b"),
        ("jobmanager", "changed", "restarted; its classpath holds the new jars, 2 TaskManager(s) registered again")]
    assert [r["detail"] for r in rr.restart_rows(["tm1"], restarted, True, "jobmanager", True)] == ["would restart"] * 2


def test_restart_rows_for_a_taskmanager_that_did_not_come_back():
    # Its row fails with the reason; the processes after it that were not restarted keep their warning.
    restarted = [{"host": "tm1", "old": ["a"], "new": ["b"]},
                 {"host": "tm2", "kind": "TaskManager", "old": ["c"], "new": [],
                  "failed": "the restart command of its TaskManager failed (rc 1)"}]
    rows = rr.restart_rows(["tm1", "tm2", "tm3"], restarted, True, "jobmanager", False)
    assert [(r["host"], r["area"], r["status"]) for r in rows] == [
        ("tm3", "TaskManager", "warn"), ("jobmanager", "JobManager", "warn"),
        ("tm1", "TaskManager", "changed"), ("tm2", "TaskManager", "fail")]
    assert rows[-1]["detail"] == "the restart command of its TaskManager failed (rc 1)"
    assert rows[-1]["line"] == "tm2: TaskManager restart failed: the restart command of its TaskManager failed (rc 1)"


def test_deploy_rows_in_host_order_then_restarts():
    deploys = {"tm1": {"changed": False, "jars": [jar("a-1.jar", False)]}, "jobmanager": {"skipped": True}}
    rows = rr.deploy_rows(["jobmanager", "tm1", "tm2"], deploys.get, ["tm1"], [], False, "jobmanager", False)
    assert [(r["host"], r["check"]) for r in rows] == [("tm1", "deploy"), ("tm1", "restart")]


# --- summary

def test_summary_lines():
    rows = [rr.row("tm1", "Connectors", "deploy", "changed", "installed: a-1.jar"),
            rr.row("tm1", "TaskManager", "registered", "ok", "as a"),
            rr.row("tm2", "TaskManager", "restart", "warn", "jars changed")]
    smoke = [rr.row("jobmanager", "Smoke", "job", "ok", "job 1 read 3 rows"), rr.row("jobmanager", "Smoke", "slots", "ok", "x")]
    assert rr.summary(rows, smoke, "postgres-cdc 3.5.0 (pinned)", "/tmp/r", False) == [
        "Flink CDC readiness: 1 ok, 1 changed, 1 warning(s), 0 failed",
        "Connectors: postgres-cdc 3.5.0 (pinned)",
        "  CHANGED tm1 | Connectors | deploy | installed: a-1.jar",
        "  WARN tm2 | TaskManager | restart | jars changed",
        "Smoke job: OK job 1 read 3 rows",
        "Report: /tmp/r/flink_cdc_report.md"]
    assert rr.summary([], [], None, "", True) == ["Flink CDC readiness: 0 ok, 0 changed, 0 warning(s), 0 failed "
                                                  "(check mode: nothing was written)"]


def test_connection_shown():
    assert rr.connection_shown("ssh", "10.0.0.11", 22) == "ssh to 10.0.0.11:22"
    assert rr.connection_shown("ansible.builtin.ssh", "tm1", None) == "ssh to tm1"
    assert rr.connection_shown("ansible.builtin.local", "127.0.0.1", None) == "local"
