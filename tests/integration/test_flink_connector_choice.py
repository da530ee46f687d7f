"""flink_connector_choice, run by ansible against a real loopback Maven repository (tests/bed/maven_repo.py):
what the repository lists decides, what it cannot say leaves the choice to the support matrix, a pinned list is
never replaced, and a password in the repository URL is used and never shown."""

import json
import re
import socket

import maven_repo as maven_repo_server

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"
SECRET = "s3cr3t-choice-pw"


def coordinates(result):
    return ["%(group_id)s:%(artifact_id)s:%(version)s" % c for c in result["connectors"]]


def rows(result):
    return {r["check"]: r for r in result["rows"]}


def listing(maven_repo):
    maven_repo_server.write_metadata(maven_repo.root, "org.apache.flink", PG, ["3.3.0", "3.5.0"])
    maven_repo_server.write_metadata(maven_repo.root, "com.starrocks", SR, ["1.2.10_flink-1.19"])


def test_chooses_the_newest_listed_build_and_runs_no_module(ansible, maven_repo):
    listing(maven_repo)
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_choice", {"flink_version": "1.19.3", "repository_url": maven_repo.url},
                         verbosity=3)
    assert run.rc == 0, run
    res = run.result
    assert res["changed"] is False and res["pinned"] is False
    # Flink CDC 3.6 is not listed here: the newest listed line for Flink 1.19 is.
    assert coordinates(res) == ["org.apache.flink:%s:3.5.0" % PG, "com.starrocks:%s:1.2.10_flink-1.19" % SR]
    assert res["listed"] == {"org.apache.flink:%s" % PG: ["3.3.0", "3.5.0"], "com.starrocks:%s" % SR: ["1.2.10_flink-1.19"]}
    assert [r["status"] for r in res["rows"]] == ["ok", "ok"]
    assert sorted(r["path"] for r in maven_repo.requests_since(mark)) == [
        "/com/starrocks/%s/maven-metadata.xml" % SR, "/org/apache/flink/%s/maven-metadata.xml" % PG]
    assert "AnsiballZ" not in run.output


def test_without_starrocks_reads_and_chooses_postgres_cdc_only(ansible, maven_repo):
    listing(maven_repo)
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_choice", {"flink_version": "1.19.3", "starrocks": False,
                                                    "repository_url": maven_repo.url})
    assert run.rc == 0, run
    assert coordinates(run.result) == ["org.apache.flink:%s:3.5.0" % PG]
    assert [r["path"] for r in maven_repo.requests_since(mark)] == ["/org/apache/flink/%s/maven-metadata.xml" % PG]


def test_an_unreachable_repository_leaves_the_choice_to_the_matrix_and_warns(ansible):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    run = ansible.module("flink_connector_choice", {"flink_version": "1.20.3", "starrocks": False, "timeout": 2,
                                                    "repository_url": "http://127.0.0.1:%d/maven2" % closed})
    assert run.rc == 0, run
    res = run.result
    assert res["listed"] == {"org.apache.flink:%s" % PG: None}
    assert coordinates(res) == ["org.apache.flink:%s:3.6.0-1.20" % PG]  # the matrix's newest for Flink 1.20
    assert rows(res)[PG]["status"] == "warn", res["rows"]


def test_a_pinned_list_is_kept_and_nothing_is_read(ansible, maven_repo):
    pinned = [{"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.2.1"}]
    mark = maven_repo.mark()
    run = ansible.module("flink_connector_choice", {"flink_version": "1.20.3", "connectors": pinned,
                                                    "repository_url": maven_repo.url})
    assert run.rc == 0, run
    assert run.result["pinned"] is True and run.result["connectors"] == pinned and run.result["listed"] is None
    assert maven_repo.requests_since(mark) == []


def test_without_a_flink_version_nothing_is_chosen(ansible, maven_repo):
    run = ansible.module("flink_connector_choice", {"repository_url": maven_repo.url})
    assert run.rc == 0, run
    assert run.result["connectors"] == [] and [r["status"] for r in run.result["rows"]] == ["fail"]


def test_a_password_in_the_repository_url_is_used_and_never_shown(ansible, maven_repo):
    listing(maven_repo)
    maven_repo.require(auth="deployer:%s" % SECRET)
    url = maven_repo.url.replace("http://", "http://deployer:%s@" % SECRET)
    run = ansible.module("flink_connector_choice", {"flink_version": "1.19.3", "repository_url": url}, verbosity=3)
    assert run.rc == 0, run
    assert run.result["listed"]["org.apache.flink:%s" % PG] == ["3.3.0", "3.5.0"]  # read with the credentials
    assert SECRET not in run.output and SECRET not in json.dumps(run.records)
    # Without them the repository answers 401: unknown, so the matrix decides and the row warns.
    run = ansible.module("flink_connector_choice", {"flink_version": "1.19.3", "repository_url": maven_repo.url})
    assert run.result["listed"]["org.apache.flink:%s" % PG] is None


DEPRECATED_FILTER_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The old path, a uri loop over each connector's maven-metadata.xml
      ansible.builtin.uri:
        url: "{{ repository }}/{{ item.group_id | replace('.', '/') }}/{{ item.artifact_id }}/maven-metadata.xml"
        return_content: true
        status_code: [200, 404]
      loop:
        - {group_id: org.apache.flink, artifact_id: flink-sql-connector-postgres-cdc}
        - {group_id: com.starrocks, artifact_id: flink-connector-starrocks}
      register: metadata
    - name: The new path
      cdcops.flink_cdc.flink_connector_choice:
        flink_version: 1.19.3
        repository_url: "{{ repository }}"
      register: module_choice
    - name: The deprecated filter still decides as the module does
      ansible.builtin.set_fact:
        filter_choice: "{{ [] | cdcops.flink_cdc.connector_choice('1.19.3', true, metadata.results, repository) }}"
"""


def test_the_deprecated_filter_warns_and_still_decides_as_the_module(ansible, maven_repo):
    listing(maven_repo)
    run = ansible.playbook(DEPRECATED_FILTER_PLAY, extra_vars={"repository": maven_repo.url})
    assert run.rc == 0, run
    (module_result,) = [r["result"] for r in run.records if r["action"].endswith("flink_connector_choice")]
    (fact,) = [r["result"]["ansible_facts"]["filter_choice"] for r in run.records if r["action"].endswith("set_fact")]
    assert coordinates(fact) == coordinates(module_result) == [
        "org.apache.flink:%s:3.5.0" % PG, "com.starrocks:%s:1.2.10_flink-1.19" % SR]
    assert fact["rows"] == module_result["rows"] and fact["summary"] == module_result["summary"]
    # The deprecation (meta/runtime.yml plugin_routing) names the replacement and the release that removes it.
    warning = " ".join(run.output.split())
    assert re.search(r'DEPRECATION WARNING\]: (Filter ")?cdcops\.flink_cdc\.connector_choice"? has been deprecated\.',
                     warning), run
    assert "Use the cdcops.flink_cdc.flink_connector_choice module instead" in warning
    assert "removed from collection 'cdcops.flink_cdc' version 0.4.0" in warning
