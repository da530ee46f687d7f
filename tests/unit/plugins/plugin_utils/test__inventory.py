"""What the role derives from its inventory: each TaskManager's registration address, read per host through the
hostvars a filter is given."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.inventory import FilterModule, expected_taskmanagers
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _inventory

HOSTVARS = {
    "tm1": {"ansible_host": "10.0.0.11"},
    "tm2": {"ansible_host": "10.0.0.12", "flink_cdc_taskmanager_address": "tm2.flink.internal"},
    "tm3": {"ansible_host": "", "flink_cdc_taskmanager_address": ""},
    "tm4": {},
}


def test_the_address_is_the_taskmanager_address_else_ansible_host_else_the_name():
    assert _inventory.expected_taskmanagers(["tm1", "tm2", "tm3", "tm4"], _inventory.vars_of(HOSTVARS)) == {
        "tm1": "10.0.0.11", "tm2": "tm2.flink.internal", "tm3": "tm3", "tm4": "tm4"}
    assert _inventory.expected_taskmanagers([], _inventory.vars_of(HOSTVARS)) == {}


def test_vars_of_reads_hostvars_and_gives_none_for_what_is_not_there():
    vars_of = _inventory.vars_of(HOSTVARS)
    assert vars_of("tm1", "ansible_host") == "10.0.0.11"
    assert vars_of("tm1", "flink_cdc_taskmanager_address") is None
    assert vars_of("nohost", "ansible_host") is None
    assert _inventory.vars_of(None)("tm1", "ansible_host") is None


def test_the_filter():
    assert FilterModule().filters()["expected_taskmanagers"] is expected_taskmanagers
    assert expected_taskmanagers(HOSTVARS, ["tm2", "tm4"]) == {"tm2": "tm2.flink.internal", "tm4": "tm4"}
    with pytest.raises(AnsibleFilterError, match="expects the list of TaskManager hosts"):
        expected_taskmanagers(HOSTVARS, "tm1")
