"""The hostvars of four TaskManager hosts, shared by the inventory filter tests and those of plugin_utils/_inventory.py."""

HOSTVARS = {
    "tm1": {"ansible_host": "10.0.0.11"},
    "tm2": {"ansible_host": "10.0.0.12", "flink_cdc_taskmanager_address": "tm2.flink.internal"},
    "tm3": {"ansible_host": "", "flink_cdc_taskmanager_address": ""},
    "tm4": {},
}
