"""The connector filters (plugins/filter/support_matrix.py): thin entry points into the support matrix and the choice."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.java import java_verdict
from ansible_collections.cdcops.flink_cdc.plugins.filter.support_matrix import (
    FilterModule,
    connector_problems,
    default_connectors,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connector_choice
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_data import SR, conn

PG = "flink-sql-connector-postgres-cdc"


def test_the_file_holds_these_filters():
    assert sorted(FilterModule().filters()) == ["connector_problems", "default_connectors"]


def test_default_connectors_takes_strings_as_the_role_passes_them():
    assert default_connectors("1.19.3") == _connector_choice.default_connectors("1.19.3")
    assert default_connectors(None) == []


def test_connector_problems_names_each_problem_and_refuses_what_is_no_list():
    fits = {"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.5.0"}
    wrong = {"group_id": "org.apache.flink", "artifact_id": PG, "version": "3.1.1"}
    (problem,) = connector_problems([fits, wrong], "1.20.3")
    assert problem.startswith("org.apache.flink:%s:3.1.1: Flink CDC 3.1 supports Flink" % PG)
    # A connector the support matrix does not know has no problem found; the choice's row says it was not checked.
    assert connector_problems([{"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-kafka",
                                "version": "4.0.1-2.0"}], "1.20.3") == []
    with pytest.raises(AnsibleFilterError, match="connector_problems expects a list of connectors, got str"):
        connector_problems("3.5.0", "1.20.3")
    with pytest.raises(AnsibleFilterError, match="each connector must be a dict"):
        connector_problems(["3.5.0"], "1.20.3")


def test_connector_problems_and_java_verdict_filters():
    problems = connector_problems([conn(PG, "3.5.0"), conn(SR, "1.2.11_flink-1.19", "com.starrocks")],
                                  "1.20.3")
    assert len(problems) == 1 and "flink-connector-starrocks" in problems[0]
    verdict = java_verdict('openjdk version "17.0.15"', "1.20.3")
    assert verdict == {"major": 17, "error": None, "warning": None}
