"""The url_without_credentials filter is the REST client's redaction."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.filter.urls import url_without_credentials


@pytest.mark.parametrize("url, shown", [
    ("http://ops:Url-S3cret@127.0.0.1:18081", "http://127.0.0.1:18081"),
    ("https://user@flink.example.com/proxy/?a=1", "https://flink.example.com/proxy/?a=1"),
    ("http://jobmanager:8081", "http://jobmanager:8081"),
    ("", ""),
])
def test_url_without_credentials(url, shown):
    assert url_without_credentials(url) == shown


def test_url_without_credentials_wants_a_string():
    with pytest.raises(AnsibleFilterError):
        url_without_credentials(None)
