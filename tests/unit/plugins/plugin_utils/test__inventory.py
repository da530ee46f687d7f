"""What the role derives from its inventory: each TaskManager's registration address, read per host through the
hostvars a filter is given."""

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _inventory
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.inventory_data import HOSTVARS


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


def test_the_default_rest_url_names_every_jobmanager():
    vars_of = _inventory.vars_of({"jm1": {"ansible_host": "10.0.0.10"}, "jm2": {"ansible_host": ""}})
    assert _inventory.jobmanager_rest_urls(["jm1", "jm2"], vars_of) == "http://10.0.0.10:8081,http://jm2:8081"
    assert _inventory.jobmanager_rest_urls(["jm1"], vars_of, port=18081) == "http://10.0.0.10:18081"
    assert _inventory.jobmanager_rest_urls([], vars_of) == ""


def test_a_host_variable_that_cannot_be_templated_counts_as_unset():
    class Unrenderable(dict):
        def get(self, name, default=None):
            raise ValueError("template error while templating %s" % name)

    vars_of = _inventory.vars_of({"tm1": Unrenderable(), "tm2": {"ansible_host": "10.0.0.12"}})
    assert vars_of("tm1", "ansible_host") is None
    assert vars_of("tm2", "ansible_host") == "10.0.0.12"
