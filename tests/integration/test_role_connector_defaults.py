"""The flink_cdc role's connector defaults on the real bed (Flink 1.20.3): with flink_cdc_connectors unset the
preflight chooses the builds for the Flink version the JobManager reports, the report says which and why, and
the deploy phase alone (no JobManager to ask) refuses to guess.

Maven Central lists the newest builds (postgres-cdc 3.6.0-1.20, StarRocks 1.2.15_flink-1.20), and the role
chooses what the repository lists. This machine's Maven Central serves neither, so these tests point the role at a
private repository whose maven-metadata.xml lists them, as a proxy of Maven Central would, without their jars: the
tests stop before any download. What the role chooses from the bed's own repository, which lists only the real
builds it serves, is in test_flink_versions.py.
"""

import os

import maven_repo as maven_repo_server
from conftest import all_libs
from test_role_flink_cdc import DEPLOY, Inventory

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"
CHOSEN_PG = "org.apache.flink:%s:3.6.0-1.20" % PG
CHOSEN_SR = "com.starrocks:%s:1.2.15_flink-1.20" % SR


def unpinned(bed, tmp_path, **vars_):
    inv = Inventory(bed, tmp_path, **vars_)
    del inv.vars["flink_cdc_connectors"]  # the role's default, []: follow the cluster
    return inv


def listing_newest(maven_repo):
    """A repository whose maven-metadata.xml lists the newest builds, as Maven Central's does; no jar is served."""
    maven_repo_server.write_metadata(maven_repo.root, "org.apache.flink", PG, ["3.3.0", "3.5.0", "3.6.0-1.20"])
    maven_repo_server.write_metadata(maven_repo.root, "com.starrocks", SR, ["1.2.10_flink-1.19", "1.2.15_flink-1.20"])
    return maven_repo.url


def port(url):
    return int(url.rsplit(":", 1)[1])


def connector_rows(inv):
    return {r["check"]: r for r in inv.report()["rows"] if r["area"] == "Connectors" and r["host"] == "controller"}


def preflight(bed, ansible, inv, tags="flink_cdc_preflight"):
    """The preflight phase alone on the bed: it passes and leaves every lib/ as it was. (run, its report), which
    reads the bed's Flink, 1.20.3."""
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags=tags)
    assert run.rc == 0, run
    assert all_libs(bed) == before
    report = inv.report()
    assert report["flink_version"] == bed["flink_version"] == "1.20.3"
    return run, report


def test_unpinned_preflight_chooses_the_builds_for_the_cluster(bed, ansible, tmp_path, pristine_libs, maven_repo):
    inv = unpinned(bed, tmp_path, flink_cdc_maven_repository=listing_newest(maven_repo))
    run, report = preflight(bed, ansible, inv)
    assert report["connectors_pinned"] is False
    assert ["%(group_id)s:%(artifact_id)s:%(version)s" % c for c in report["connectors"]] == [CHOSEN_PG, CHOSEN_SR]
    rows = connector_rows(inv)
    assert rows[PG]["status"] == "ok"
    assert rows[PG]["detail"] == ("chosen for Flink 1.20.3: %s (Flink CDC 3.6, the newest line supporting Flink 1.20)"
                                  % CHOSEN_PG)
    assert rows[SR]["status"] == "ok"
    assert rows[SR]["detail"] == ("chosen for Flink 1.20.3: %s (StarRocks connector 1.2.15, the newest release for "
                                  "Flink 1.20)" % CHOSEN_SR)
    md = inv.report_markdown()
    assert "- Connectors: chosen for Flink 1.20.3: %s, %s" % (CHOSEN_PG, CHOSEN_SR) in md
    assert "| controller | Connectors | %s | ok | chosen for Flink 1.20.3: %s" % (PG, CHOSEN_PG) in md
    assert "Connectors: chosen for Flink 1.20.3: %s, %s" % (CHOSEN_PG, CHOSEN_SR) in run.output


def test_unpinned_check_mode_of_the_deploy_playbook(bed, ansible, tmp_path, pristine_libs, maven_repo):
    # Check mode in controller fetch mode still fetches each jar to report its checksum, and the bed's repository
    # does not serve the chosen builds: the deploy phase gets to the chosen coordinates and fails on their 404,
    # after the preflight's report named them, and nothing lands in lib/.
    inv = unpinned(bed, tmp_path, flink_cdc_maven_repository=listing_newest(maven_repo))
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, check=True)
    assert all_libs(bed) == before
    assert run.rc != 0, run
    deploys = [r for r in run.records if r["action"].endswith("flink_connector_jar") and r["status"] != "skipped"]
    assert sorted(r["host"] for r in deploys) == ["jobmanager", "tm1", "tm2"], run
    assert all(r["status"] == "failed" and r["result"]["status"] == 404 for r in deploys), deploys
    assert ("%s is not in the repository %s" % (CHOSEN_PG, maven_repo.url)) in run.output, run
    rows = connector_rows(inv)
    assert rows[PG]["detail"].startswith("chosen for Flink 1.20.3: %s" % CHOSEN_PG)
    assert rows[SR]["detail"].startswith("chosen for Flink 1.20.3: %s" % CHOSEN_SR)


def test_starrocks_switched_off_chooses_no_starrocks_jar(bed, ansible, tmp_path, pristine_libs, maven_repo):
    # The bed has no StarRocks: its REST and repository ports stand in for the FE's http_port and query_port.
    inv = unpinned(bed, tmp_path, flink_cdc_maven_repository=listing_newest(maven_repo),
                   flink_cdc_starrocks_connector=False, flink_cdc_starrocks_fe_host="127.0.0.1",
                   flink_cdc_starrocks_http_port=port(bed["rest_url"]),
                   flink_cdc_starrocks_query_port=port(bed["maven"]["url"]))
    report = preflight(bed, ansible, inv)[1]
    assert ["%(group_id)s:%(artifact_id)s:%(version)s" % c for c in report["connectors"]] == [CHOSEN_PG]
    rows = connector_rows(inv)
    assert rows[SR]["status"] == "skip"
    assert rows[SR]["detail"] == "not chosen: flink_cdc_starrocks_connector is false"
    # The StarRocks network checks stay as they are: they still run from each TaskManager host.
    network = [r for r in report["rows"] if r["area"] == "Network" and r["check"].startswith("StarRocks FE")]
    assert sorted({r["host"] for r in network}) == ["tm1", "tm2"] and len(network) == 4
    assert all(r["status"] == "ok" for r in network), network


DEPLOY_ONLY = """
- hosts: flink_taskmanagers
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: cdcops.flink_cdc.flink_cdc
        tasks_from: deploy
"""


def test_deploy_alone_unpinned_refuses_to_guess(bed, ansible, tmp_path, pristine_libs):
    inv = unpinned(bed, tmp_path)
    # No JobManager in the inventory: the deploy phase alone needs only TaskManager hosts.
    with open(inv.path) as f:
        lines = [line for line in f.read().splitlines() if not line.startswith(("[flink_jobmanager]", "jobmanager "))]
    with open(inv.path, "w") as f:
        f.write("\n".join(lines) + "\n")
    del inv.vars["flink_cdc_rest_url"]
    before = all_libs(bed)
    # The bare tag "deploy" is the deprecated alias of flink_cdc_deploy (until 0.4.0): it still selects the phase.
    for playbook, tags in ((DEPLOY_ONLY, None), (DEPLOY, "flink_cdc_deploy"), (DEPLOY, "deploy")):
        run = ansible.playbook(playbook, inventory=inv.path, extra_vars=inv.vars, tags=tags)
        assert run.rc != 0, run
        assert all_libs(bed) == before
        assert not [r for r in run.records if r["action"].endswith("flink_connector_jar") and r["status"] != "skipped"]
        assert ("flink_cdc_connectors is empty, so the role chooses the connector builds for the cluster's Flink "
                "version, which the preflight phase reads from the JobManager, and the preflight did not run in this "
                "play. Nothing was installed. Fix: pin flink_cdc_connectors") in run.output, run

    # Pinned, the deploy phase alone works as before.
    inv.vars["flink_cdc_connectors"] = [dict(c) for c in bed["demo_connectors"]]
    run = ansible.playbook(DEPLOY_ONLY, inventory=inv.path, extra_vars=inv.vars)
    assert run.rc == 0, run
    for tm in bed["taskmanagers"]:
        assert "flink-sql-connector-postgres-cdc-3.5.0.jar" in os.listdir(os.path.join(tm["home"], "lib"))
