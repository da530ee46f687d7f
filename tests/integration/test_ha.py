"""A highly available cluster: two JobManagers behind the ZooKeeper of Debian's package (tests/bed/bed.py up --ha).

The HA bed is a second bed of its own (bed directory tests/output/ha-bed, its own ports), brought up once for this
module in a process of its own and taken down after it (kept with CDCOPS_BED_KEEP=1). Every process of it is
real: ZooKeeper, both JobManagers, the TaskManagers, PostgreSQL with the demo source and sink, and the Maven
repository that serves the real connector jars. The JobManager started first (127.0.0.1) is the first leader.
"""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import yaml

from conftest import ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import pg_seed  # noqa: E402

HA_BED = os.path.join(ROOT, "tests", "output", "ha-bed")
HA_ENV = {
    "CDCOPS_BED_DIR": HA_BED,
    "CDCOPS_BED_REST_PORT": "19081",
    "CDCOPS_BED_JM_RPC_PORT": "19123",
    "CDCOPS_BED_PG_PORT": "19432",
    "CDCOPS_BED_PG_REPLICA_PORT": "19433",
    "CDCOPS_BED_MAVEN_PORT": "19901",
    "CDCOPS_BED_ZK_PORT": "19181",
    "CDCOPS_BED_TASKMANAGERS": "2",
}
LEADER, STANDBY = "http://127.0.0.1:19081", "http://127.0.2.1:19081"


def bed_cmd(*args):
    env = dict(os.environ, **HA_ENV)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "bed", "bed.py")] + list(args), env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, "bed.py %s failed:\n%s%s" % (" ".join(args), proc.stdout, proc.stderr)
    return proc.stderr


@pytest.fixture(scope="module")
def ha_bed():
    keep = os.environ.get("CDCOPS_BED_KEEP") == "1"
    bed_cmd("up", "--ha", *(() if keep else ("--fresh",)))
    with open(os.path.join(HA_BED, "state.json")) as f:
        state = json.load(f)
    try:
        yield state
    finally:
        if not keep:
            bed_cmd("down")


def inventory(state):
    return os.path.join(state["bed_dir"], "inventory.ini")


def cluster_info(ansible, urls, **args):
    return ansible.module("flink_cluster_info", dict({"url": urls}, **args))


def jobs(ansible, name):
    run = cluster_info(ansible, [LEADER, STANDBY])
    assert not run.failed, run
    return [j for j in run.result["jobs"] if j["name"] == name]


def deploy(ansible, state, **extra):
    """The deploy playbook on the HA bed with the demo's pipeline (demo_pipeline.yml, as make demo passes it)."""
    with open(os.path.join(state["bed_dir"], "demo_pipeline.yml")) as f:
        extra_vars = yaml.safe_load(f)
    extra_vars.update({"flink_cdc_restart": "rolling"}, **extra)
    return ansible.playbook("cdcops.flink_cdc.deploy", inventory=inventory(state), extra_vars=extra_vars,
                            timeout=1200)


def report_rows(state):
    with open(os.path.join(state["bed_dir"], "report", "flink_cdc_report.json")) as f:
        return json.load(f)["rows"]


def test_flink_cluster_info_finds_the_leader_and_follows_it_when_it_stops(ha_bed, ansible):
    run = cluster_info(ansible, "%s,%s" % (STANDBY, LEADER))
    assert not run.failed, run
    found = run.result
    assert found["ha_mode"] == "zookeeper" and found["leader"] == LEADER, found
    assert [(j["url"], j["role"], j["flink_version"]) for j in found["jobmanagers"]] == [
        (STANDBY, "standby", ha_bed["flink_version"]), (LEADER, "leader", ha_bed["flink_version"])]
    assert len(found["taskmanagers"]) == 2
    # The leader stops: the standby takes over, and the module, given both URLs, follows it.
    bed_cmd("jm-stop", "127.0.0.1")
    try:
        run = cluster_info(ansible, [LEADER, STANDBY], wait_for_taskmanagers=2, wait_timeout=120)
        assert not run.failed, run
        assert run.result["leader"] == STANDBY and run.result["url"] == STANDBY
        assert [j["role"] for j in run.result["jobmanagers"]] == ["unreachable", "leader"]
        assert "connection refused" in run.result["jobmanagers"][0]["error"]
    finally:
        bed_cmd("jm-start", "127.0.0.1")
    run = cluster_info(ansible, [LEADER, STANDBY])
    assert [j["role"] for j in run.result["jobmanagers"]] == ["standby", "leader"], run.result


def test_the_role_end_to_end_restarts_standbys_first_and_the_sql_client_finds_the_leader(ha_bed, ansible):
    """Preflight reports each JobManager, the deploy installs the real jars on both JobManagers and both
    TaskManagers, the restart restarts the standby before the leader, the smoke job (the SQL client on the first
    JobManager host, which finds the leader through the HA services of its configuration) reads the table, and
    the pipeline runs."""
    # Every lib/ as before a first deploy (a kept bed may have the jars of an earlier run).
    for home in [jm["home"] for jm in ha_bed["jobmanagers"]] + [tm["home"] for tm in ha_bed["taskmanagers"]]:
        for name in os.listdir(os.path.join(home, "lib")):
            if name.startswith(("flink-sql-connector-postgres-cdc", "flink-connector-jdbc")):
                os.unlink(os.path.join(home, "lib", name))
    before = cluster_info(ansible, [LEADER, STANDBY]).result
    leader = before["leader"]
    run = deploy(ansible, ha_bed, flink_cdc_smoke=True)
    assert not run.failed, run
    rows = report_rows(ha_bed)
    roles = {r["host"]: r["detail"] for r in rows if r["area"] == "JobManager" and r["check"] == "role"}
    assert sorted(roles.values()) == ["leader, Flink %s" % ha_bed["flink_version"],
                                      "standby, Flink %s" % ha_bed["flink_version"]], roles
    (ha,) = [r for r in rows if r["check"] == "high availability"]
    assert ha["status"] == "ok" and ha["detail"].startswith("zookeeper, 2 JobManager URL(s), leader ")
    restarts = [r for r in rows if r["area"] == "JobManager" and r["check"] == "restart"]
    hosts = {"http://127.0.0.1:19081": "jobmanager", "http://127.0.2.1:19081": "jobmanager2"}
    assert [r["host"] for r in restarts] == [h for u, h in hosts.items() if u != leader] + [hosts[leader]]
    assert "(it was the standby)" in restarts[0]["detail"] and "(it was the leader)" in restarts[1]["detail"]
    assert all("its classpath holds the new jars" in r["detail"] for r in restarts)
    (smoke,) = [r for r in rows if r["area"] == "Smoke" and r["check"] == "job"]
    assert smoke["status"] == "ok" and "FINISHED" in smoke["detail"], smoke
    after = cluster_info(ansible, [LEADER, STANDBY]).result
    assert after["leader"] != leader  # leadership moved once, to the JobManager restarted first
    assert [j["state"] for j in jobs(ansible, "shop-to-sink")] == ["RUNNING"]


def test_with_ha_a_jobmanager_restart_keeps_the_running_pipeline_and_its_data(ha_bed, ansible):
    (job,) = [j for j in jobs(ansible, "shop-to-sink") if j["state"] == "RUNNING"]
    pg = ha_bed["postgres"]["logical"]
    demo = pg["demo"]
    # Both JobManagers' lib/ changed after they started (as after an interrupted run): the rerun restarts them
    # and nothing else; no TaskManager restarts, so with HA no job is at risk and none is suspended.
    time.sleep(1.1)
    for jm in ha_bed["jobmanagers"]:
        os.utime(os.path.join(jm["home"], "lib"))
    stop = threading.Event()
    written = []

    def writer():
        conn = pg_seed.admin_connect(pg, demo["database"])
        try:
            i = 0
            while not stop.is_set():
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO public.orders (id, customer_id, amount, status) VALUES (%s, 1, %s, 'ha')",
                                (50000 + i, i))
                    cur.execute("UPDATE public.products SET price = price + 1 WHERE id = %s", (i % 300 + 1,))
                written.append(i)
                i += 1
                time.sleep(0.1)
        finally:
            conn.close()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        run = deploy(ansible, ha_bed)
    finally:
        stop.set()
        thread.join(30)
    assert not run.failed, run
    rows = report_rows(ha_bed)
    restarts = [r for r in rows if r["check"] == "restart" and r["status"] == "changed"]
    assert sorted(r["host"] for r in restarts) == ["jobmanager", "jobmanager2"], restarts  # no TaskManager
    assert not [r for r in rows if r["check"] == "restart" and r["area"] == "Pipeline"], "a pipeline was suspended"
    (pipeline,) = [r for r in rows if r["check"] == "shop-to-sink"]
    assert pipeline["detail"].startswith("job %s unchanged" % job["id"]), pipeline
    assert [(j["id"], j["state"]) for j in jobs(ansible, "shop-to-sink")] == [(job["id"], "RUNNING")]
    assert len(written) > 50, "the writer wrote only %d changes during the restart" % len(written)

    def table(dbname, query):
        conn = pg_seed.admin_connect(pg, dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(query)
                return sorted(cur.fetchall())
        finally:
            conn.close()

    queries = ("SELECT id, amount::text, status FROM public.orders", "SELECT id, price::text FROM public.products")
    deadline = time.monotonic() + 90
    while True:
        source = [table(demo["database"], q) for q in queries]
        sink = [table(demo["sink_database"], q) for q in queries]
        if source == sink or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert source == sink, "the sink differs from the source after the JobManager restart"
    assert len([r for r in source[0] if r[2] == "ha"]) == len(written)
