"""The connector choice and Java verdict filters over the support matrix (plugins/module_utils/_support_matrix.py)
and the role's connector choice (plugins/plugin_utils/_connectors.py).
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.filter.compat import connector_problems, java_verdict
from ansible_collections.cdcops.flink_cdc.plugins.filter.compat import connector_choice, default_connectors
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connectors
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_data import (
    PG,
    REPO,
    SR,
    conn,
    coords,
    metadata_result,
)


def test_connector_problems_and_java_verdict_filters():
    problems = connector_problems([conn(PG, "3.5.0"), conn(SR, "1.2.11_flink-1.19", "com.starrocks")],
                                  "1.20.3")
    assert len(problems) == 1 and "flink-connector-starrocks" in problems[0]
    verdict = java_verdict('openjdk version "17.0.15"', "1.20.3")
    assert verdict == {"major": 17, "error": None, "warning": None}


def test_default_connectors_and_connector_choice_filters():
    assert default_connectors("1.20.3", "false") == _connectors.default_connectors("1.20.3", starrocks=False)
    assert connector_choice(None, "1.19.3")["connectors"] == _connectors.default_connectors("1.19.3")
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="connector_choice expects a list"):
        connector_choice("3.5.0", "1.20.3")


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
