"""The deprecated connector_choice filter (plugins/filter/connectors_deprecated.py): the old uri-loop path of the
role's connector choice, kept working until its removal and routed as deprecated in meta/runtime.yml."""

import os

import pytest
import yaml

from conftest import ROOT
from ansible_collections.cdcops.flink_cdc.plugins.filter.support_matrix import default_connectors
from ansible_collections.cdcops.flink_cdc.plugins.filter.connectors_deprecated import (
    FilterModule,
    connector_choice,
    listed_versions,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connector_choice

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"
REPO = "http://127.0.0.1:18901"


def coords(connectors):
    return [_connector_choice.coordinates(c) for c in connectors]


def metadata_result(group, artifact, status, content=""):
    return {"item": {"group_id": group, "artifact_id": artifact}, "status": status, "content": content}


def test_the_file_holds_only_the_deprecated_filter():
    assert FilterModule().filters() == {"connector_choice": connector_choice}


def _version(text):
    return tuple(int(p) for p in str(text).split("."))


def test_runtime_routing_deprecates_it_for_the_flink_connector_choice_module():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as f:
        routing = yaml.safe_load(f)["plugin_routing"]["filter"]
    assert sorted(routing) == ["connector_choice"]
    deprecation = routing["connector_choice"]["deprecation"]
    assert "cdcops.flink_cdc.flink_connector_choice module" in deprecation["warning_text"]
    with open(os.path.join(ROOT, "galaxy.yml")) as f:
        version = yaml.safe_load(f)["version"]
    # Kept for a release: removed in a later release than the one being prepared.
    assert _version(deprecation["removal_version"]) > _version(version)
    with open(os.path.join(ROOT, "plugins", "filter", "connector_choice.yml")) as f:
        documented = yaml.safe_load(f)["DOCUMENTATION"]["deprecated"]
    assert str(documented["removed_in"]) == str(deprecation["removal_version"])
    assert "cdcops.flink_cdc.flink_connector_choice module" in documented["alternative"]


def test_filters():
    assert default_connectors("1.20.3", "false") == _connector_choice.default_connectors("1.20.3", starrocks=False)
    assert connector_choice(None, "1.19.3")["connectors"] == _connector_choice.default_connectors("1.19.3")
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="connector_choice expects a list"):
        connector_choice("3.5.0", "1.20.3")


def test_listed_versions_reads_uri_results():
    xml = ("<?xml version='1.0'?><metadata><groupId>com.starrocks</groupId><version>9.9</version><versioning>"
           "<latest>1.2.10_flink-1.19</latest><versions>\n  <version>1.2.10_flink-1.18</version>\n"
           "  <version> 1.2.10_flink-1.19 </version></versions></versioning></metadata>")
    listed = listed_versions([
        metadata_result("com.starrocks", SR, 200, xml),
        metadata_result("org.apache.flink", PG, 404, "not found"),
        metadata_result("org.example", "refused", -1),
        metadata_result("org.example", "login-page", 200, "<!DOCTYPE html><html>sign in</html>"),
        metadata_result("org.example", "forbidden", 403, "<metadata/>"),
    ])
    assert listed == {
        "com.starrocks:%s" % SR: ["1.2.10_flink-1.18", "1.2.10_flink-1.19"],  # not the top-level <version>
        "org.apache.flink:%s" % PG: None,  # no metadata: a plain directory of jars may still have the build
        "org.example:refused": None,
        "org.example:login-page": None,
        "org.example:forbidden": None,
    }


def test_connector_choice_filter_passes_the_metadata():
    results = [metadata_result("org.apache.flink", PG, 200, "<metadata><versioning><versions><version>3.2.1"
                                                            "</version></versions></versioning></metadata>"),
               metadata_result("com.starrocks", SR, 200, "<metadata><versioning><versions><version>"
                                                         "1.2.10_flink-1.19</version></versions></versioning></metadata>")]
    out = connector_choice([], "1.18.1", True, results, REPO)
    assert coords(out["connectors"]) == ["org.apache.flink:%s:3.2.1" % PG]
    assert [r["status"] for r in out["rows"]] == ["ok", "fail"]
    results[1] = metadata_result("com.starrocks", SR, 404)
    assert [r["status"] for r in connector_choice([], "1.18.1", True, results, REPO)["rows"]] == ["ok", "warn"]
    assert connector_choice([], "1.18.1", True, [], REPO) == connector_choice([], "1.18.1")
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="metadata to be a list of uri results"):
        connector_choice([], "1.18.1", True, "oops")
