"""The connector_choice filter (plugins/filter/connectors_deprecated.py): the old uri-loop path of the role's
connector choice."""

import pytest

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
