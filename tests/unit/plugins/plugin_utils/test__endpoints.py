"""What each TaskManager host must reach: the PostgreSQL source and the StarRocks FE and BE that are set."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.endpoints import FilterModule, taskmanager_endpoints
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _endpoints


def test_every_service_that_is_set():
    assert _endpoints.taskmanager_endpoints("pg", "5432", "fe", 8030, "9030", "be", 8040) == [
        {"name": "PostgreSQL", "host": "pg", "port": 5432},
        {"name": "StarRocks FE http", "host": "fe", "port": 8030},
        {"name": "StarRocks FE query", "host": "fe", "port": 9030},
        {"name": "StarRocks BE http", "host": "be", "port": 8040}]


def test_services_not_set_are_left_out():
    assert _endpoints.taskmanager_endpoints("", 5432, "", 8030, 9030, "", 8040) == []
    assert _endpoints.taskmanager_endpoints("pg", 5432, "", 8030, 9030, "be", 8040) == [
        {"name": "PostgreSQL", "host": "pg", "port": 5432}, {"name": "StarRocks BE http", "host": "be", "port": 8040}]


def test_the_filter():
    assert FilterModule().filters()["taskmanager_endpoints"] is taskmanager_endpoints
    assert taskmanager_endpoints(None, 5432, "fe", 8030, 9030, None, 8040) == [
        {"name": "StarRocks FE http", "host": "fe", "port": 8030},
        {"name": "StarRocks FE query", "host": "fe", "port": 9030}]
    with pytest.raises(AnsibleFilterError, match="a port is not a number"):
        taskmanager_endpoints("pg", "five", "", 8030, 9030, "", 8040)
