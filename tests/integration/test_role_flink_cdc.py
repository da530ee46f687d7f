"""The flink_cdc role and its playbooks, end to end on the real bed.

A real JobManager, two real TaskManagers (local connection, one FLINK_HOME
each), real PostgreSQL and the bed's loopback Maven repository.
"""

import datetime
import hashlib
import json
import os
import signal
import threading
import time

import bed as bed_mod
import jars
from conftest import all_libs, lib_state, restart_processes

PLAYBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "playbooks")
DEPLOY = os.path.join(PLAYBOOKS, "deploy.yml")
PREFLIGHT = os.path.join(PLAYBOOKS, "preflight.yml")


def connector_names(state):
    """The jar names of the bed's real connectors that fit its Flink (tests/bed/artifacts.py)."""
    return ["%s-%s.jar" % (c["artifact_id"], c["version"]) for c in state["demo_connectors"]]


class Inventory:
    def __init__(self, bed, tmp_path, extra_hosts=None, **vars_):
        self.bed = bed
        self.report_dir = str(tmp_path / "report")
        self.cache_dir = str(tmp_path / "controller-cache")
        self.vars = bed_mod.sandbox_role_vars(bed["postgres"], bed["maven"]["url"], self.cache_dir,
                                              self.report_dir)
        self.vars.update({
            "flink_cdc_rest_url": bed["rest_url"],
            "flink_cdc_connectors": [dict(c) for c in bed["demo_connectors"]],
        })
        self.vars.update(vars_)
        lines = ["[flink_jobmanager]",
                 "jobmanager ansible_host=127.0.0.1 flink_cdc_flink_home=%s" % bed["jobmanager"]["home"],
                 "", "[flink_taskmanagers]"]
        for i, tm in enumerate(bed["taskmanagers"], 1):
            lines.append("tm%d ansible_host=%s flink_cdc_flink_home=%s" % (i, tm["host"], tm["home"]))
        lines += list(extra_hosts or [])
        lines += ["", "[all:vars]", "ansible_connection=local",
                  "ansible_python_interpreter=%s" % bed["python"]]
        self.path = str(tmp_path / "inventory.ini")
        with open(self.path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def report(self):
        with open(os.path.join(self.report_dir, "flink_cdc_report.json")) as f:
            return json.load(f)

    def report_markdown(self):
        with open(os.path.join(self.report_dir, "flink_cdc_report.md")) as f:
            return f.read()


def recap_changed(run):
    """Per host: how many task results reported changed."""
    out = {}
    for rec in run.records:
        res = rec["result"]
        changed = res.get("changed") or any(r.get("changed") for r in res.get("results", []) if isinstance(r, dict))
        out[rec["host"]] = out.get(rec["host"], 0) + (1 if changed else 0)
    return out


def deploy_results(run):
    return {r["host"]: r["result"] for r in run.records if r["action"].endswith("flink_connector_jar")
            and r["status"] in ("ok", "failed")}


def test_check_mode_writes_nothing(bed, ansible, tmp_path, pristine_libs):
    inv = Inventory(bed, tmp_path, flink_cdc_maven_password="Maven-S3cret-pw",
                    flink_cdc_maven_headers={"X-Repo-Token": "T0ken-S3cret"})
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, check=True, diff=True, verbosity=3)
    assert run.rc == 0, run
    assert all_libs(bed) == before
    # Secrets never reach the output, even at -vvv.
    for secret in ("Maven-S3cret-pw", "T0ken-S3cret", bed["postgres"]["logical"]["demo"]["password"]):
        assert secret not in run.output
    # It says, per host, which jars it would install.
    results = deploy_results(run)
    for host in ("tm1", "tm2", "jobmanager"):
        assert results[host]["changed"] is True, results[host]
    for name in connector_names(bed):
        assert name in run.output
    # The report is written even in check mode, and marks it.
    report = inv.report()
    assert report["check_mode"] is True
    assert not [r for r in report["rows"] if r["status"] == "fail"]


def test_deploy_installs_then_rerun_changes_nothing(bed, ansible, tmp_path, pristine_libs):
    inv = Inventory(bed, tmp_path)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    repo = bed["maven"]["root"]
    for home, files in all_libs(bed).items():
        for name in connector_names(bed):
            rel = [p for p in (jars.maven_path(c["group_id"], c["artifact_id"], c["version"])
                               for c in bed["demo_connectors"]) if p.endswith(name)][0]
            with open(os.path.join(repo, rel), "rb") as f:
                assert files[name] == hashlib.sha256(f.read()).hexdigest(), (home, name)
    report = inv.report()
    hosts = {r["host"] for r in report["rows"]}
    assert {"tm1", "tm2", "jobmanager"} <= hosts
    areas = {r["area"] for r in report["rows"]}
    assert {"JobManager", "TaskManager", "Java/config", "PostgreSQL", "Connectors"} <= areas
    md = inv.report_markdown()
    assert "| tm1 | TaskManager | registered | ok |" in md
    assert "restart" in run.output  # the reminder that jars load only after a restart

    rerun = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert rerun.rc == 0, rerun
    assert set(recap_changed(rerun).values()) == {0}, recap_changed(rerun)


def assert_stopped_before_writing(run, bed, before):
    assert run.rc != 0, run
    assert all_libs(bed) == before
    assert not [r for r in run.records if r["action"].endswith("flink_connector_jar")], \
        "the deploy phase ran after a failed preflight"
    assert "Preflight failed, nothing was written on any host" in run.output


def test_preflight_fails_for_inventory_host_without_taskmanager(bed, ansible, tmp_path, pristine_libs):
    home = tmp_path / "ghost-flink"
    (home / "lib").mkdir(parents=True)
    inv = Inventory(bed, tmp_path, extra_hosts=["tm3 ansible_host=127.0.0.9 flink_cdc_flink_home=%s" % home])
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert_stopped_before_writing(run, bed, before)
    assert os.listdir(str(home / "lib")) == []
    assert "tm3: TaskManager registered: no TaskManager registered with address 127.0.0.9" in run.output
    failed = [r for r in inv.report()["rows"] if r["status"] == "fail"]
    assert [(r["host"], r["check"]) for r in failed] == [("tm3", "registered")]


def test_preflight_fails_on_wal_level_replica(bed, ansible, tmp_path, pristine_libs):
    replica = bed["postgres"]["replica"]
    inv = Inventory(bed, tmp_path, flink_cdc_pg_port=replica["port"], flink_cdc_pg_user=replica["user"],
                    flink_cdc_pg_password=replica["password"], flink_cdc_pg_database="postgres",
                    flink_cdc_pg_tables=[], flink_cdc_pg_publication="")
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, verbosity=3)
    assert_stopped_before_writing(run, bed, before)
    assert "PostgreSQL wal_level" in run.output and "ALTER SYSTEM SET wal_level" in run.output
    assert replica["password"] not in run.output
    failed = {r["check"] for r in inv.report()["rows"] if r["status"] == "fail"}
    assert "wal_level" in failed


def test_preflight_fails_on_starrocks_jar_for_other_flink_minor(bed, ansible, tmp_path, pristine_libs):
    inv = Inventory(bed, tmp_path)
    # Refused from its coordinates before any download: no jar of this version is needed.
    inv.vars["flink_cdc_connectors"].append({"group_id": "com.starrocks", "artifact_id": "flink-connector-starrocks",
                                             "version": "1.2.11_flink-1.19"})
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert_stopped_before_writing(run, bed, before)
    assert "flink-connector-starrocks:1.2.11_flink-1.19 is built for Flink 1.19, but the cluster runs Flink 1.20.3" \
        in run.output
    assert "use 1.2.11_flink-1.20" in run.output


def test_preflight_fails_on_rolling_restart_without_a_method(bed, ansible, tmp_path, pristine_libs):
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_taskmanager_restart_command="")
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert_stopped_before_writing(run, bed, before)
    assert "flink_cdc_restart=rolling needs flink_cdc_taskmanager_restart_command" in run.output


def test_preflight_fails_when_jobmanager_is_down(bed, ansible, tmp_path, pristine_libs):
    inv = Inventory(bed, tmp_path)
    before = all_libs(bed)
    bed_mod.stop_jobmanager()
    try:
        run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    finally:
        bed_mod.start_jobmanager(bed_mod.flink_dist())
        for tm in bed["taskmanagers"]:
            bed_mod.wait_for("TaskManager %s to register again" % tm["host"],
                             lambda h=tm["host"]: h in bed_mod.registered_hosts(), timeout=120)
    assert_stopped_before_writing(run, bed, before)
    assert "jobmanager: JobManager reachable: cannot reach the Flink REST API at %s/overview" % bed["rest_url"] \
        in run.output
    assert "connection refused" in run.output


def taskmanager_ids():
    return {tm["path"].split("@", 1)[1].split(":", 1)[0]: tm["id"]
            for tm in bed_mod.rest("/taskmanagers")["taskmanagers"]}


def test_rolling_restart_replaces_taskmanagers_and_rerun_restarts_nothing(bed, ansible, tmp_path, pristine_libs):
    # A connector change (to the real older postgres-cdc) changes every host's lib/, so both TaskManagers and
    # the JobManager must be restarted.
    older = bed["connectors"]["postgres_cdc"]["older"]
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling")
    inv.vars["flink_cdc_connectors"] = [{"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc",
                                         "version": older}]
    before_ids = taskmanager_ids()
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    after_ids = taskmanager_ids()
    assert sorted(after_ids) == sorted(before_ids) == ["127.0.0.2", "127.0.0.3"]
    for host, old in before_ids.items():
        assert after_ids[host] != old, "TaskManager %s was not replaced" % host
    for tm in bed["taskmanagers"]:
        names = lib_state(tm["home"])
        assert "flink-sql-connector-postgres-cdc-%s.jar" % older in names
        assert "flink-sql-connector-postgres-cdc-3.5.0.jar" not in names
    restarts = [r for r in inv.report()["rows"] if r["check"] == "restart" and r["area"] == "TaskManager"]
    assert sorted(r["host"] for r in restarts) == ["tm1", "tm2"]
    assert all(r["status"] == "changed" and "->" in r["detail"] for r in restarts)
    # Then the JobManager, whose lib/ changed too: it runs with the new jar and both TaskManagers came back.
    (jm_restart,) = [r for r in inv.report()["rows"] if r["check"] == "restart" and r["area"] == "JobManager"]
    assert jm_restart["host"] == "jobmanager" and jm_restart["status"] == "changed"
    assert jm_restart["detail"] == "restarted; its classpath holds the new jars, 2 TaskManager(s) registered again"
    classpath = bed_mod.rest("/jobmanager/environment")["classpath"]
    assert os.path.join(bed["jobmanager"]["home"], "lib", "flink-sql-connector-postgres-cdc-%s.jar" % older) in classpath

    rerun = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert rerun.rc == 0, rerun
    assert taskmanager_ids() == after_ids
    assert not [r for r in rerun.records if "Run the restart command" in r["task"] and r["status"] == "ok"]
    assert set(recap_changed(rerun).values()) == {0}, recap_changed(rerun)


def test_a_rerun_restarts_the_processes_an_earlier_run_installed_jars_for_and_did_not_restart(
        bed, ansible, tmp_path, pristine_libs):
    # A run that installed the jars but did not restart (flink_cdc_restart none here; a run stopped half-way leaves
    # the same): the processes still run without them. Preflight says so per host, and a rerun with rolling
    # restarts them although its deploy changes nothing.
    connectors = [{"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc",
                   "version": bed["connectors"]["postgres_cdc"]["older"]}]
    inv = Inventory(bed, tmp_path, flink_cdc_connectors=connectors)
    restart_processes(bed)  # every process started after lib/ last changed
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    assert "do not run the jars of their lib/" in run.output
    before_ids = taskmanager_ids()
    inv = Inventory(bed, tmp_path, flink_cdc_connectors=connectors, flink_cdc_restart="rolling")
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    assert not [r for r in deploy_results(run).values() if r.get("changed")]
    running = {r["host"]: r for r in inv.report()["rows"] if r["check"] == "running jars"}
    assert sorted(running) == ["jobmanager", "tm1", "tm2"], running
    assert all(r["status"] == "warn" and "does not run the jars" in r["detail"] for r in running.values()), running
    after_ids = taskmanager_ids()
    assert all(after_ids[h] != old for h, old in before_ids.items())
    jar = "flink-sql-connector-postgres-cdc-%s.jar" % connectors[0]["version"]
    assert os.path.join(bed["jobmanager"]["home"], "lib", jar) in bed_mod.rest("/jobmanager/environment")["classpath"]
    # And then nothing is pending: a third run restarts nothing.
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    assert taskmanager_ids() == after_ids
    running = {r["host"]: r for r in inv.report()["rows"] if r["check"] == "running jars"}
    assert all(r["status"] == "ok" for r in running.values()), running


def test_rolling_restart_in_one_batch_restarts_the_taskmanagers_together(bed, ansible, tmp_path, pristine_libs):
    # flink_cdc_restart_batch 100%: both TaskManagers in one batch, their restart commands in the same task, one
    # wait for both; then the JobManager.
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_restart_batch="100%")
    inv.vars["flink_cdc_connectors"] = [{"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc",
                                         "version": bed["connectors"]["postgres_cdc"]["older"]}]
    before_ids = taskmanager_ids()
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    after_ids = taskmanager_ids()
    assert sorted(after_ids) == sorted(before_ids)
    assert all(after_ids[h] != old for h, old in before_ids.items())
    commands = [r for r in run.records if r["task"].endswith("Run the restart command of the TaskManager")
                and r["status"] == "ok"]
    assert sorted(r["host"] for r in commands) == ["tm1", "tm2"]
    waits = [r for r in run.records if "Wait for the re-registration of" in r["task"] and r["status"] == "ok"]
    assert [r["task"].split(" of ", 1)[1] for r in waits] == ["tm1, tm2"], [r["task"] for r in waits]
    restarts = {r["host"]: r for r in inv.report()["rows"] if r["check"] == "restart"}
    assert sorted(restarts) == ["jobmanager", "tm1", "tm2"]
    assert all(r["status"] == "changed" for r in restarts.values()), restarts
    assert "%s -> %s" % (before_ids["127.0.0.2"], after_ids["127.0.0.2"]) in restarts["tm1"]["detail"], restarts["tm1"]


def test_rolling_restart_refused_while_jobs_run(bed, ansible, tmp_path, pristine_libs):
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling")
    inv.vars["flink_cdc_connectors"] = [{"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc",
                                         "version": bed["connectors"]["postgres_cdc"]["older"]}]
    before_ids = taskmanager_ids()
    bed_mod.job_start("cdcops-restart-guard")
    try:
        run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    finally:
        bed_mod.jobs_cancel()
    assert run.rc != 0
    assert ("Refusing to restart TaskManagers (tm1, tm2): 1 job(s) that are not pipelines of flink_cdc_pipelines "
            "run: cdcops-restart-guard.") in run.output
    assert "The JobManager jobmanager would be restarted after them" in run.output
    assert "flink_cdc_allow_restart_with_running_jobs=true" in run.output
    assert taskmanager_ids() == before_ids


def test_preflight_accepts_restart_methods_set_per_host(bed, ansible, tmp_path, pristine_libs):
    # Inventories set the restart command per host; the check reads each host's own variables.
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling")
    commands = {name: inv.vars.pop(name) for name in ("flink_cdc_taskmanager_restart_command",
                                                      "flink_cdc_jobmanager_restart_command")}
    with open(inv.path) as f:
        lines = f.read().splitlines()
    per_host = []
    for line in lines:
        if line.startswith("tm"):
            line += " flink_cdc_taskmanager_restart_command='%s'" % commands["flink_cdc_taskmanager_restart_command"]
        elif line.startswith("jobmanager "):
            line += " flink_cdc_jobmanager_restart_command='%s'" % commands["flink_cdc_jobmanager_restart_command"]
        per_host.append(line)
    with open(inv.path, "w") as f:
        f.write("\n".join(per_host) + "\n")
    run = ansible.playbook(PREFLIGHT, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    methods = {r["area"]: r for r in inv.report()["rows"] if r["check"] == "restart method"}
    assert methods["TaskManager"]["status"] == "ok" and methods["JobManager"]["status"] == "ok", methods
    assert "taskmanager.sh stop" in methods["TaskManager"]["detail"]
    # Each host's command as it will run there: rendered with that host's own flink_cdc_flink_home, not raw Jinja.
    for tm, name in zip(bed["taskmanagers"], ("tm1", "tm2")):
        assert "%s: command: %s/bin/taskmanager.sh stop && %s/bin/taskmanager.sh start" % (
            name, tm["home"], tm["home"]) in methods["TaskManager"]["detail"], methods
    assert methods["JobManager"]["detail"] == "rolling restart with command: %s/bin/jobmanager.sh stop && " \
        "%s/bin/jobmanager.sh start" % (bed["jobmanager"]["home"], bed["jobmanager"]["home"])
    assert "{{" not in methods["TaskManager"]["detail"] + methods["JobManager"]["detail"]

    # Without it on one host, the message names that host.
    with open(inv.path, "w") as f:
        f.write("\n".join(l.split(" flink_cdc_taskmanager_restart_command")[0] if l.startswith("tm2") else l
                          for l in per_host) + "\n")
    run = ansible.playbook(PREFLIGHT, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc != 0
    assert "flink_cdc_restart=rolling needs flink_cdc_taskmanager_restart_command" in run.output
    assert "not set for tm2" in run.output


# --- a TaskManager that does not come back after its restart (issue #21, faults)

def flink_pids(bed):
    """Inventory name -> pid of the Flink daemon of that bed host."""
    out = {"jobmanager": bed_mod.daemon_pid(bed["jobmanager"]["home"], "standalonesession")}
    for i, tm in enumerate(bed["taskmanagers"], 1):
        out["tm%d" % i] = bed_mod.daemon_pid(tm["home"], "taskexecutor")
    return out


class TaskManagerConf:
    """A TaskManager home's Flink configuration file (the one its Flink version reads), changed for a test and put
    back afterwards together with a running, registered TaskManager."""

    def __init__(self, tm):
        self.tm = tm
        name = bed_mod._shipped_conf_name(bed_mod.flink_dist())
        self.path = os.path.join(tm["home"], "conf", name)
        with open(self.path) as f:
            self.original = f.read()

    def set(self, settings):
        change = bed_mod._flat_conf if self.path.endswith("flink-conf.yaml") else bed_mod._nested_conf
        with open(self.path, "w") as f:
            f.write(change(self.original, settings))

    def restore(self):
        with open(self.path, "w") as f:
            f.write(self.original)
        bed_mod.stop_taskmanager(self.tm["host"])
        bed_mod.start_taskmanager(self.tm["host"])


def older_postgres_cdc(bed):
    """The real older postgres-cdc: a connector change that changes every host's lib/, so all need a restart."""
    return [{"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc",
             "version": bed["connectors"]["postgres_cdc"]["older"]}]


def assert_stopped_at_tm1(run, inv, bed, ids_before, pids_before):
    """The play stopped at tm1 (the first batch): tm2 and the JobManager were not restarted, and the report has
    tm1's failed restart beside the restarts still needed."""
    assert run.rc != 0, run
    ids_after = taskmanager_ids()
    tm2 = bed["taskmanagers"][1]["host"]
    assert ids_after.get(tm2) == ids_before[tm2], "tm2 was restarted after tm1 failed"
    pids_after = flink_pids(bed)
    assert pids_after["tm2"] == pids_before["tm2"] and pids_after["jobmanager"] == pids_before["jobmanager"], \
        (pids_before, pids_after)
    commands = [r["host"] for r in run.records if r["task"].endswith("Run the restart command of the TaskManager")
                and r["status"] in ("ok", "failed", "ignored")]
    assert commands == ["tm1"], commands
    assert not [r for r in run.records if "on the JobManager host" in r["task"] and r["status"] == "ok"]
    rows = inv.report()["rows"]
    # Every host's deploy row too, though the failure took hosts out of the play before the report was written.
    assert sorted(r["host"] for r in rows if r["check"] == "deploy" and r["status"] == "changed") == \
        ["jobmanager", "tm1", "tm2"], rows
    restarts = {r["host"]: r for r in rows if r["check"] == "restart"}
    assert restarts["tm1"]["status"] == "fail" and restarts["tm1"]["area"] == "TaskManager", restarts
    assert restarts["tm2"]["status"] == "warn" and restarts["jobmanager"]["status"] == "warn", restarts
    # What was done, what was not, and what to run next.
    assert "Not restarted: tm2, and the JobManager jobmanager." in run.output
    assert "then run the play again" in run.output
    return restarts["tm1"]


def test_rolling_restart_stops_at_a_taskmanager_whose_start_command_fails(bed, ansible, tmp_path, pristine_libs):
    # tm1's memory settings are invalid: taskmanager.sh derives the JVM options from them before it starts anything
    # (BashJavaUtils) and exits non-zero. The play stops at once with that output, and restarts nothing more.
    tm1 = bed["taskmanagers"][0]
    conf = TaskManagerConf(tm1)
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_restart_batch=1,
                    flink_cdc_connectors=older_postgres_cdc(bed))
    ids_before, pids_before = taskmanager_ids(), flink_pids(bed)
    conf.set({"taskmanager.memory.process.size": "64m"})
    try:
        run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    finally:
        conf.restore()
    row = assert_stopped_at_tm1(run, inv, bed, ids_before, pids_before)
    assert "tm1: the restart command of its TaskManager failed (rc 1)" in run.output, run
    # The command's own output, in the message: Flink's reason.
    assert "exceed configured Total Process Memory (64.000mb" in run.output, run
    assert row["detail"] == "the restart command of its TaskManager failed (rc 1)", row
    assert not [r for r in run.records if "Wait for the re-registration" in r["task"] and r["status"] != "skipped"]


def test_rolling_restart_stops_after_the_timeout_at_a_taskmanager_that_never_registers(
        bed, ansible, tmp_path, pristine_libs):
    # tm1's TaskManager starts, but looks for its JobManager at an address where none runs: it never registers. The
    # play waits flink_cdc_restart_timeout once, then stops with the last lines of that TaskManager's log.
    timeout = 45
    tm1 = bed["taskmanagers"][0]
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_restart_batch=1,
                    flink_cdc_restart_timeout=timeout, flink_cdc_connectors=older_postgres_cdc(bed))
    command = inv.vars.pop("flink_cdc_taskmanager_restart_command")
    with open(inv.path) as f:
        lines = f.read().splitlines()
    with open(inv.path, "w") as f:
        for line in lines:
            if line.startswith("tm1 "):
                line += " flink_cdc_taskmanager_restart_command='%s -D jobmanager.rpc.address=127.0.0.99'" % command
            elif line.startswith("tm"):
                line += " flink_cdc_taskmanager_restart_command='%s'" % command
            f.write(line + "\n")
    ids_before, pids_before = taskmanager_ids(), flink_pids(bed)
    try:
        run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
        ended = time.time()
        (restart,) = [r for r in run.records if r["task"].endswith("Run the restart command of the TaskManager")
                      and r["host"] == "tm1" and r["status"] != "skipped"]
        with open(os.path.join(tm1["home"], "log", sorted(
                n for n in os.listdir(os.path.join(tm1["home"], "log")) if "taskexecutor" in n
                and n.endswith(".log"))[-1])) as f:
            log_lines = [line for line in f.read().splitlines() if line.strip()]
    finally:
        bed_mod.stop_taskmanager(tm1["host"])
        bed_mod.start_taskmanager(tm1["host"])
    # One wait of flink_cdc_restart_timeout, not several: from the end of tm1's restart command to the end of the
    # play, at least the timeout and well under two of them.
    since_restart = ended - datetime.datetime.strptime(restart["result"]["end"], "%Y-%m-%d %H:%M:%S.%f").timestamp()
    assert timeout <= since_restart < 2 * timeout, since_restart
    row = assert_stopped_at_tm1(run, inv, bed, ids_before, pids_before)
    assert "tm1: its TaskManager did not register with the JobManager again within flink_cdc_restart_timeout " \
           "(%d s)" % timeout in run.output, run
    # The last lines of its log, from FLINK_HOME/log: they tell where it looked for its JobManager.
    assert "127.0.0.99" in run.output
    shown = [line for line in log_lines if line.strip() in run.output]
    assert len(shown) >= 5, (shown, run)
    assert row["detail"].startswith("its TaskManager did not register with the JobManager again within "
                                    "flink_cdc_restart_timeout (%d s) after its restart" % timeout), row


# --- a JobManager killed half-way through a run (issue #21, faults)

class KillJobManagerWhen(threading.Thread):
    """Kills the bed's JobManager (SIGKILL: a crash, nothing shut down cleanly) as soon as the play records a result
    of the task whose name ends with ``task`` (on ``host``, when given): the record_json callback appends each
    result to the run's record file in ``tmp_path`` as the task ends."""

    def __init__(self, tmp_path, task, host=None):
        super().__init__(daemon=True)
        self.tmp_path, self.task, self.host = str(tmp_path), task, host
        self.killed = None
        self.done = threading.Event()

    def _reached(self):
        for name in os.listdir(self.tmp_path):
            if name.startswith("record-") and name.endswith(".jsonl"):
                with open(os.path.join(self.tmp_path, name)) as f:
                    for line in f:
                        try:
                            rec = json.loads(line)
                        except ValueError:
                            continue  # a line being written
                        if rec["task"].endswith(self.task) and rec["status"] == "ok" \
                                and self.host in (None, rec["host"]):
                            return True
        return False

    def run(self):
        while not self.done.wait(0.2):
            if self._reached():
                self.killed = bed_mod.daemon_pid(bed_mod.jm_home(), "standalonesession")
                os.kill(self.killed, signal.SIGKILL)
                return

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()


def start_jobmanager_again(bed):
    """What the message asks the operator to do: start the JobManager, wait until the TaskManagers registered."""
    bed_mod.start_jobmanager(bed_mod.flink_dist())
    for tm in bed["taskmanagers"]:
        bed_mod.wait_for("TaskManager %s to register again" % tm["host"],
                         lambda h=tm["host"]: h in bed_mod.registered_hosts(heartbeat=True), timeout=180)


def assert_jobmanager_named(run, inv, task, done):
    assert run.rc != 0, run
    assert ("The JobManager jobmanager (%s) stopped answering during the restart phase, at '%s': "
            % (inv.vars["flink_cdc_rest_url"], task)) in run.output, run
    assert "Done so far: the new jars are in lib/ on jobmanager, tm1, tm2; restarted with them: %s" % done \
        in run.output, run
    assert "Start the JobManager on jobmanager" in run.output and "then run the play again" in run.output
    reachable = [r for r in inv.report()["rows"] if r["host"] == "jobmanager" and r["check"] == "reachable"
                 and r["status"] == "fail"]
    assert reachable and "stopped answering during the restart phase" in reachable[0]["detail"], reachable


def test_jobmanager_killed_during_the_deploy_then_a_rerun_finishes(bed, ansible, tmp_path, pristine_libs):
    # Killed as the first host's jars are installed: the deploy finishes (it needs no JobManager), and the restart
    # phase, the first to read the cluster, stops naming the JobManager and what is done.
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_restart_batch=1,
                    flink_cdc_connectors=older_postgres_cdc(bed))
    jar = "flink-sql-connector-postgres-cdc-%s.jar" % inv.vars["flink_cdc_connectors"][0]["version"]
    pids_before = flink_pids(bed)
    try:
        with KillJobManagerWhen(tmp_path, "Deploy | Install the connector jars into lib/") as killer:
            run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
        assert killer.killed == pids_before["jobmanager"], killer.killed
        assert_jobmanager_named(run, inv, "Restart | Read running jobs before restarting", "none.")
        assert "Not restarted: tm1, tm2, and the JobManager jobmanager." in run.output
        assert all(jar in names for names in all_libs(bed).values())
        assert {h: p for h, p in flink_pids(bed).items() if h != "jobmanager"} == \
            {h: p for h, p in pids_before.items() if h != "jobmanager"}
    finally:
        start_jobmanager_again(bed)
    # The rerun installs nothing and restarts the TaskManagers, which still run without the jar; not the
    # JobManager, started with it.
    ids_before, jobmanager = taskmanager_ids(), bed_mod.daemon_pid(bed["jobmanager"]["home"], "standalonesession")
    rerun = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert rerun.rc == 0, rerun
    assert not [r for r in deploy_results(rerun).values() if r.get("changed")]
    ids_after = taskmanager_ids()
    assert all(ids_after[h] != old for h, old in ids_before.items()), (ids_before, ids_after)
    assert bed_mod.daemon_pid(bed["jobmanager"]["home"], "standalonesession") == jobmanager
    restarts = {r["host"]: r["status"] for r in inv.report()["rows"] if r["check"] == "restart"}
    assert restarts == {"tm1": "changed", "tm2": "changed"}, restarts


def test_jobmanager_killed_during_the_restart_then_a_rerun_finishes(bed, ansible, tmp_path, pristine_libs):
    # Killed right after tm1's restart command: tm1 runs the new jar but cannot register; the wait gives up after
    # flink_cdc_restart_timeout and the play stops naming the JobManager, not tm1. tm2 is not restarted.
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_restart_batch=1,
                    flink_cdc_restart_timeout=40, flink_cdc_connectors=older_postgres_cdc(bed))
    pids_before = flink_pids(bed)
    try:
        with KillJobManagerWhen(tmp_path, "Run the restart command of the TaskManager", "tm1") as killer:
            run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
        assert killer.killed == pids_before["jobmanager"], killer.killed
        assert_jobmanager_named(run, inv, "Restart | Stop when a TaskManager did not come back",
                                "tm1 (tm1 not registered again: no JobManager to register with). "
                                "Not restarted: tm2, and the JobManager jobmanager.")
        pids = flink_pids(bed)
        assert pids["tm1"] != pids_before["tm1"] and pids["tm2"] == pids_before["tm2"], (pids_before, pids)
    finally:
        start_jobmanager_again(bed)
    # The rerun restarts tm2 only: tm1 and the JobManager started after their lib/ changed.
    ids_before, jobmanager = taskmanager_ids(), bed_mod.daemon_pid(bed["jobmanager"]["home"], "standalonesession")
    rerun = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars)
    assert rerun.rc == 0, rerun
    ids_after = taskmanager_ids()
    assert ids_after["127.0.0.2"] == ids_before["127.0.0.2"] and ids_after["127.0.0.3"] != ids_before["127.0.0.3"]
    assert bed_mod.daemon_pid(bed["jobmanager"]["home"], "standalonesession") == jobmanager
    restarts = {r["host"]: r["status"] for r in inv.report()["rows"] if r["check"] == "restart"}
    assert restarts == {"tm2": "changed"}, restarts
