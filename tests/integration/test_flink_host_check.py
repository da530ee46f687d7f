"""flink_host_check on the real bed: the bed's own Java and Flink homes, a read-only lib/, a full filesystem, a
closed port; and the role's preflight runs it once per TaskManager host instead of one task per check."""

import json
import os
import shutil
import socket
import stat
import subprocess
import sys

import pytest

from conftest import tmpfs
from test_role_flink_cdc import PREFLIGHT, Inventory

JAVA8 = 'openjdk version "1.8.0_392"\nOpenJDK Runtime Environment (build 1.8.0_392-b08)\n'


def rows_by_check(result):
    return {r["check"]: r for r in result["rows"]}


def fake_java_home(path, version_text):
    """A Java home whose bin/java prints ``version_text`` to stderr, as java -version does."""
    java = path / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\ncat >&2 <<'EOF'\n%sEOF\n" % version_text)
    java.chmod(java.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def touch_lib(home):
    """lib/ changed now (a file added and removed), after every running process started."""
    path = os.path.join(home, "lib", ".cdcops-test-touch")
    with open(path, "w"):
        pass
    os.unlink(path)


def taskmanager_pid(home):
    """The pid of the bed's TaskManager process started with ``home``'s configuration, found by pgrep."""
    out = subprocess.run(["pgrep", "-f", "TaskManagerRunner --configDir %s/conf" % home], capture_output=True,
                         text=True, check=True).stdout
    (pid,) = [int(line) for line in out.split()]
    return pid


def test_the_beds_taskmanager_host(bed, ansible, fresh_cluster):
    tm = bed["taskmanagers"][0]
    args = {"flink_home": tm["home"], "flink_version": bed["flink_version"], "needed_bytes": 40 * 1024 * 1024,
            "endpoints": [{"name": "PostgreSQL", "host": bed["postgres"]["logical"]["host"],
                           "port": bed["postgres"]["logical"]["port"]}],
            "report_host": "tm1"}
    for check in (True, False):  # read-only: the same rows in check mode
        run = ansible.module("flink_host_check", args, check=check)
        assert not run.failed, run
        result = run.result
        assert result["changed"] is False
        rows = rows_by_check(result)
        assert [r["check"] for r in result["rows"]] == [
            "PostgreSQL %s:%s" % (bed["postgres"]["logical"]["host"], bed["postgres"]["logical"]["port"]),
            "java", "lib/", "free space", "running jars"]
        assert all(r["host"] == "tm1" and r["status"] == "ok" for r in result["rows"]), result["rows"]
        # The TaskManager that runs from this home (the bed restarted it after its lib/ last changed).
        pid = taskmanager_pid(tm["home"])
        assert [(p["kind"], p["pid"]) for p in result["processes"]] == [("taskmanager", pid)]
        assert result["restart_pending"] == []
        assert rows["running jars"]["detail"] == ("the TaskManager (pid %d) started after %s/lib last changed: it "
                                                  "runs the jars there" % (pid, tm["home"]))
        # The bed's Flink runs the Java on PATH (its config.yaml sets no env.java.home).
        java = shutil.which("java")
        # The real JDK's version comes from its image's release file, with no JVM started.
        release = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(java))), "release")
        assert os.path.isfile(release)
        assert result["java"] == {"path": java, "source": "PATH", "config_file": "", "version_from": release}
        assert rows["java"]["detail"].startswith("Java 17 for Flink %s (%s, " % (bed["flink_version"], java))
        assert rows["lib/"]["detail"] == "%s/lib is writable" % tm["home"]
        assert rows["free space"]["detail"].endswith("the connector jars need about 40.0 MiB")
        assert rows["PostgreSQL %s:%s" % (bed["postgres"]["logical"]["host"], bed["postgres"]["logical"]["port"])][
            "detail"] == "reachable from tm1"
    # lib/ changes under the running TaskManager: it no longer runs what lib/ holds.
    touch_lib(tm["home"])
    run = ansible.module("flink_host_check", args)
    assert not run.failed, run
    assert run.result["restart_pending"] == ["taskmanager"]
    running = rows_by_check(run.result)["running jars"]
    assert running["status"] == "warn"
    assert running["detail"].startswith("the TaskManager (pid %d) started at " % pid)
    assert "before %s/lib changed at" % tm["home"] in running["detail"] and running["detail"].endswith(
        "it does not run the jars %s/lib holds; restart it to load them" % tm["home"])


def flink_home(tmp_path, config=None):
    home = tmp_path / "flink"
    (home / "lib").mkdir(parents=True)
    (home / "conf").mkdir()
    if config is not None:
        (home / "conf" / "config.yaml").write_text(config)
    return home


def test_java_from_env_java_home_of_config_yaml(ansible, tmp_path):
    jdk = fake_java_home(tmp_path / "jdk8", JAVA8)
    home = flink_home(tmp_path, "taskmanager.numberOfTaskSlots: 2\nenv:\n  java:\n    home: %s  # old JDK\n" % jdk)
    run = ansible.module("flink_host_check", {"flink_home": str(home), "flink_version": "1.20.3", "report_host": "tm1"})
    assert not run.failed, run
    java = rows_by_check(run.result)["java"]
    assert run.result["java"]["version_from"] == "java -version"  # this java's home has no release file
    assert java["status"] == "fail"
    assert java["detail"] == ("Java 8 is older than Flink 1.20.3's minimum, Java 11 (supported: 11, 17) "
                              "(%s/bin/java, env.java.home in %s/conf/config.yaml)" % (jdk, home))
    # java_home (the role's flink_cdc_java_home) comes first.
    run = ansible.module("flink_host_check", {"flink_home": str(home), "flink_version": "1.20.3",
                                              "java_home": os.path.dirname(os.path.dirname(os.path.realpath(
                                                  shutil.which("java"))))})
    assert rows_by_check(run.result)["java"]["status"] == "ok", run.result


def test_java_from_legacy_flink_conf_yaml_before_1_19(ansible, tmp_path):
    jdk = fake_java_home(tmp_path / "jdk8", JAVA8)
    home = flink_home(tmp_path)
    (home / "conf" / "flink-conf.yaml").write_text("env.java.home: %s\n" % jdk)
    run = ansible.module("flink_host_check", {"flink_home": str(home), "flink_version": "1.17.2"})
    java = rows_by_check(run.result)["java"]
    assert java["status"] == "ok" and java["detail"].startswith("Java 8 for Flink 1.17.2 (%s/bin/java, env.java.home in"
                                                                % jdk), java


def test_lib_rows(ansible, tmp_path):
    home = tmp_path / "missing"
    run = ansible.module("flink_host_check", {"flink_home": str(home), "report_host": "tm9", "needed_bytes": 1})
    assert not run.failed, run
    rows = rows_by_check(run.result)
    assert rows["lib/"] == {"host": "tm9", "area": "Java/config", "check": "lib/", "status": "fail",
                            "detail": "%s/lib does not exist; set flink_cdc_flink_home for tm9" % home}
    assert "free space" not in rows

    home.mkdir()
    (home / "lib").write_text("not a directory")
    rows = rows_by_check(ansible.module("flink_host_check", {"flink_home": str(home)}).result)
    assert rows["lib/"]["status"] == "fail" and rows["lib/"]["detail"] == "%s/lib is not a directory" % home


@pytest.fixture
def read_only_home(tmp_path):
    with tmpfs(tmp_path / "ro") as point:
        (point / "flink" / "lib").mkdir(parents=True)
        subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
        yield point / "flink"


def test_read_only_lib(ansible, read_only_home):
    run = ansible.module("flink_host_check", {"flink_home": str(read_only_home), "report_host": "tm1"})
    assert not run.failed, run
    row = rows_by_check(run.result)["lib/"]
    assert row["status"] == "fail"
    assert row["detail"] == ("%s/lib is not writable by root: its filesystem is mounted read-only; remount it "
                             "read-write" % read_only_home)


def test_not_enough_free_space(ansible, tmp_path):
    home = flink_home(tmp_path)
    run = ansible.module("flink_host_check", {"flink_home": str(home), "needed_bytes": 10 ** 18})
    assert not run.failed, run
    row = rows_by_check(run.result)["free space"]
    free = run.result["free_bytes"]
    assert row["status"] == "fail"
    assert row["detail"] == ("%.1f MiB free in the filesystem of %s/lib, the connector jars need about %.1f MiB; "
                             "free %.1f MiB there" % (free / 2.0 ** 20, home, 10 ** 18 / 2.0 ** 20,
                                                      (10 ** 18 - free) / 2.0 ** 20))


def test_unreachable_port_is_named(bed, ansible, tmp_path):
    port = closed_port()
    rest_port = int(bed["rest_url"].rsplit(":", 1)[1])
    run = ansible.module("flink_host_check", {
        "flink_home": str(flink_home(tmp_path)), "report_host": "tm2", "timeout": 2,
        "endpoints": [{"name": "StarRocks BE http", "host": "127.0.0.1", "port": port},
                      {"name": "Flink REST", "host": "127.0.0.1", "port": rest_port}]})
    assert not run.failed, run
    rows = rows_by_check(run.result)
    assert rows["StarRocks BE http 127.0.0.1:%d" % port] == {
        "host": "tm2", "area": "Network", "check": "StarRocks BE http 127.0.0.1:%d" % port, "status": "fail",
        "detail": "not reachable from tm2: connection refused"}
    assert rows["Flink REST 127.0.0.1:%d" % rest_port]["status"] == "ok"


# The tasks a role run records per host that executed a module on that host (a loop: once per item).
CONTROLLER_ACTIONS = ("set_fact", "assert", "debug", "include_tasks", "import_tasks", "include_role", "meta")


def module_executions(run, host, phase="Preflight"):
    out = []
    for rec in run.records:
        if rec["host"] != host or (phase + " |") not in rec["task"] or rec["status"] == "skipped":
            continue
        if rec["action"].rsplit(".", 1)[-1] in CONTROLLER_ACTIONS:
            continue
        result = rec["result"]
        if "_ansible_delegated_vars" in result:
            continue  # ran elsewhere (the JobManager read, the repository read, PostgreSQL)
        items = [r for r in result.get("results", []) if not r.get("skipped")] if "results" in result else [result]
        out += [rec["action"]] * len(items)
    return out


def test_preflight_runs_one_host_check_per_taskmanager_host(bed, ansible, tmp_path):
    rest_port = int(bed["rest_url"].rsplit(":", 1)[1])
    be_port = closed_port()
    # The bed has no StarRocks: its REST and repository ports stand in for the FE's; the BE port is closed.
    inv = Inventory(bed, tmp_path, flink_cdc_starrocks_fe_host="127.0.0.1", flink_cdc_starrocks_http_port=rest_port,
                    flink_cdc_starrocks_query_port=int(bed["maven"]["url"].rsplit(":", 1)[1]),
                    flink_cdc_starrocks_be_host="127.0.0.1", flink_cdc_starrocks_be_http_port=be_port)
    run = ansible.playbook(PREFLIGHT, inventory=inv.path, extra_vars=inv.vars, verbosity=1)
    assert run.rc != 0, run  # the BE port is closed
    assert "tm1: Network StarRocks BE http 127.0.0.1:%d: not reachable from tm1: connection refused" % be_port \
        in run.output
    for host in ("tm1", "tm2"):
        assert module_executions(run, host) == ["cdcops.flink_cdc.flink_host_check"], module_executions(run, host)
    network = [r for r in inv.report()["rows"] if r["area"] == "Network"]
    assert sorted({r["host"] for r in network}) == ["tm1", "tm2"] and len(network) == 8
    failed = [(r["host"], r["check"]) for r in inv.report()["rows"] if r["status"] == "fail"]
    assert failed == [("tm1", "StarRocks BE http 127.0.0.1:%d" % be_port),
                      ("tm2", "StarRocks BE http 127.0.0.1:%d" % be_port)], failed
    areas = {(r["host"], r["check"]) for r in inv.report()["rows"] if r["area"] == "Java/config"}
    assert {(h, c) for h in ("tm1", "tm2", "jobmanager") for c in ("java", "lib/", "free space")} <= areas


def test_preflight_checks_the_starrocks_fe_of_each_pipeline_from_the_jobmanager_host(bed, ansible, tmp_path):
    """A pipeline with a StarRocks sink is planned on the JobManager host, where the connector reads the FE while
    the job is planned: preflight checks both FE ports from there. No StarRocks exists here: the bed's REST port
    stands in for the FE's query port (a reachability check only), and the FE's HTTP port is closed."""
    rest_port = int(bed["rest_url"].rsplit(":", 1)[1])
    http_port = closed_port()
    sink = {"connector": "starrocks", "jdbc-url": "jdbc:mysql://127.0.0.1:%d" % rest_port,
            "load-url": "127.0.0.1:%d" % http_port, "database-name": "shop", "username": "flink",
            "password": "Sr-S3cret-pw"}
    inv = Inventory(bed, tmp_path, flink_cdc_pipelines=[{"name": "orders-to-starrocks", "sink": sink},
                                                        {"name": "gone", "state": "absent", "sink": dict(
                                                            sink, **{"load-url": "127.0.0.9:1"})}])
    run = ansible.playbook(PREFLIGHT, inventory=inv.path, extra_vars=inv.vars, verbosity=3)
    assert run.rc != 0, run
    assert ("jobmanager: Network StarRocks FE http 127.0.0.1:%d: not reachable from jobmanager: connection refused"
            % http_port) in run.output, run
    assert "Sr-S3cret-pw" not in run.output
    network = {(r["host"], r["check"]): r["status"] for r in inv.report()["rows"] if r["area"] == "Network"
               and r["check"].startswith("StarRocks")}
    # From the JobManager host only (the TaskManagers write through the BE, which flink_cdc_starrocks_be_host
    # checks); an absent pipeline is not planned.
    assert network == {("jobmanager", "StarRocks FE query 127.0.0.1:%d" % rest_port): "ok",
                       ("jobmanager", "StarRocks FE http 127.0.0.1:%d" % http_port): "fail"}, network


# --- the one-command check (the action plugin's probe) and the module give the same result

def host_check_play(args, delegate=False, environment=None):
    """A play that runs flink_host_check on localhost: as its probe, or (delegate_to) as the module."""
    task = {"cdcops.flink_cdc.flink_host_check": args}
    if delegate:
        task["delegate_to"] = "localhost"
    if environment:
        task["environment"] = environment
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]) + "\n"


def comparable(result):
    """The result without what changes from one read to the next (the free bytes of a busy filesystem)."""
    out = {k: v for k, v in result.items() if k in ("changed", "rows", "java", "processes", "restart_pending")}
    out["rows"] = [dict(r, detail=r["detail"].split(" free in ")[1]) if r["check"] == "free space" else r
                   for r in result["rows"]]
    return out


def both_ways(ansible, args, environment=None):
    probe = ansible.playbook(host_check_play(args, environment=environment), verbosity=3)
    module = ansible.playbook(host_check_play(args, delegate=True, environment=environment), verbosity=3)
    assert probe.rc == 0 and module.rc == 0, (probe, module)
    # The probe ran no module: no AnsiballZ payload was written for the task; the delegated task ran the module.
    assert "AnsiballZ_flink_host_check.py" not in probe.output
    assert "AnsiballZ_flink_host_check.py" in module.output
    return probe.results(action="flink_host_check")[0]["result"], module.results(action="flink_host_check")[0]["result"]


@pytest.mark.parametrize("scenario", ["bed taskmanager", "java -version of env.java.home", "legacy flink-conf.yaml",
                                      "no lib/", "closed port"])
def test_the_probe_and_the_module_agree(bed, ansible, tmp_path, scenario):
    tm = bed["taskmanagers"][0]
    pg = {"name": "PostgreSQL", "host": bed["postgres"]["logical"]["host"], "port": bed["postgres"]["logical"]["port"]}
    args = {"flink_home": tm["home"], "flink_version": bed["flink_version"], "needed_bytes": 1 << 20,
            "endpoints": [pg], "report_host": "tm1"}
    if scenario == "java -version of env.java.home":
        jdk = fake_java_home(tmp_path / "jdk8", JAVA8)
        args["flink_home"] = str(flink_home(tmp_path, "env:\n  java:\n    home: %s\n" % jdk))
    elif scenario == "legacy flink-conf.yaml":
        home = flink_home(tmp_path)
        (home / "conf" / "flink-conf.yaml").write_text("env.java.home: %s\n" % fake_java_home(tmp_path / "j", JAVA8))
        args.update(flink_home=str(home), flink_version="1.17.2")
    elif scenario == "no lib/":
        args["flink_home"] = str(tmp_path / "missing")
    elif scenario == "closed port":
        args["endpoints"] = [pg, {"name": "StarRocks FE http", "host": "127.0.0.1", "port": closed_port()}]
    touch_lib(tm["home"])  # the bed's TaskManager started before: its running-jars row warns
    probe, module = both_ways(ansible, args)
    assert comparable(probe) == comparable(module)
    statuses = [r["status"] for r in probe["rows"]]
    assert statuses == {"bed taskmanager": ["ok"] * 4 + ["warn"],
                        "java -version of env.java.home": ["ok", "fail", "ok", "ok"],
                        "legacy flink-conf.yaml": ["ok", "ok", "ok", "ok"], "no lib/": ["ok", "ok", "fail"],
                        "closed port": ["ok", "fail", "ok", "ok", "ok", "warn"]}[scenario], probe["rows"]


def test_the_probe_sees_the_tasks_environment(bed, ansible, tmp_path):
    jdk = fake_java_home(tmp_path / "jdk8", JAVA8)
    args = {"flink_home": str(flink_home(tmp_path)), "flink_version": "1.20.3"}
    probe, module = both_ways(ansible, args, environment={"JAVA_HOME": str(jdk)})
    assert probe["java"] == module["java"] == {"path": "%s/bin/java" % jdk, "source": "JAVA_HOME", "config_file": "",
                                               "version_from": "java -version"}
    assert rows_by_check(probe)["java"]["detail"].endswith("(%s/bin/java, JAVA_HOME=%s)" % (jdk, jdk))


def test_a_probe_without_an_answer_runs_the_module(bed, ansible, tmp_path):
    """A Python that refuses ``-c`` (a wrapper here): the probe gives no answer, and the module runs instead."""
    wrapper = tmp_path / "python"
    wrapper.write_text('#!/bin/sh\n[ "$1" = "-c" ] && exit 3\nexec %s "$@"\n' % sys.executable)
    wrapper.chmod(0o755)
    args = {"flink_home": bed["taskmanagers"][0]["home"], "flink_version": bed["flink_version"]}
    touch_lib(args["flink_home"])
    run = ansible.playbook(host_check_play(args), verbosity=3, env={"ANSIBLE_PYTHON_INTERPRETER": str(wrapper)})
    assert run.rc == 0, run
    assert "the one-command check gave no answer (rc=3" in run.output
    assert "AnsiballZ_flink_host_check.py" in run.output
    result = run.results(action="flink_host_check")[0]["result"]
    assert [(r["check"], r["status"]) for r in result["rows"]] == [("java", "ok"), ("lib/", "ok"), ("running jars", "warn")]
    # Without -vvv too: a warning that names the host, the exit code and the Python to check.
    quiet = ansible.playbook(host_check_play(args), env={"ANSIBLE_PYTHON_INTERPRETER": str(wrapper)})
    assert quiet.rc == 0, quiet
    assert ("[WARNING]: flink_host_check on localhost: the one-command check gave no answer (rc=3, nothing on stderr), "
            "so the module ran instead") in " ".join(quiet.output.split()), quiet.output
    assert "Check that its Python (%s) runs on the host" % wrapper in " ".join(quiet.output.split())
