"""The jar_space_needed filter over plugins/plugin_utils/_jar_space.py."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.jar_space import jar_space_needed


def test_filter_wants_a_list_of_dicts():
    assert jar_space_needed([], "/nowhere") == 0
    with pytest.raises(AnsibleFilterError):
        jar_space_needed("x")
