"""The inventory filters (plugins/filter/inventory.py) over plugins/plugin_utils/_inventory.py."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.inventory import (
    FilterModule,
    expected_taskmanagers,
    jobmanager_rest_urls,
)
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.inventory_data import HOSTVARS


def test_the_filter():
    assert FilterModule().filters()["expected_taskmanagers"] is expected_taskmanagers
    assert expected_taskmanagers(HOSTVARS, ["tm2", "tm4"]) == {"tm2": "tm2.flink.internal", "tm4": "tm4"}
    with pytest.raises(AnsibleFilterError, match="expects the list of TaskManager hosts"):
        expected_taskmanagers(HOSTVARS, "tm1")


def test_the_rest_url_filter():
    assert FilterModule().filters()["jobmanager_rest_urls"] is jobmanager_rest_urls
    assert jobmanager_rest_urls({"jm1": {"ansible_host": "10.0.0.10"}, "jm2": {}}, ["jm1", "jm2"]) == (
        "http://10.0.0.10:8081,http://jm2:8081")
    assert jobmanager_rest_urls({}, []) == ""
    with pytest.raises(AnsibleFilterError, match="expects the list of JobManager hosts"):
        jobmanager_rest_urls({}, "jm1")
