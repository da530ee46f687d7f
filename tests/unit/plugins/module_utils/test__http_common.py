"""``secs`` of plugins/module_utils/_http_common.py: the one way the collection's messages write a duration."""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import secs


@pytest.mark.parametrize("value, tenths, text", [
    (30, True, "30"), (30.0, True, "30"), (0.3, True, "0.3"), (2.25, True, "2.2"), (7.96, True, "8.0"),
    # The waits of _flink/cluster.py and _flink/sql_job.py write the number as Python does.
    (30, False, "30"), (30.0, False, "30"), (0.3, False, "0.3"), (2.25, False, "2.25"), (7.96, False, "7.96"),
])
def test_secs(value, tenths, text):
    assert secs(value, tenths=tenths) == text


def test_the_waits_write_what_they_wrote_before():
    """Before ``secs``, cluster.py and sql_job.py wrote ``int(v) if v is whole else v`` with ``%s``."""
    for value in (1, 1.0, 0.5, 12.75, 1e3, 3.3333):
        assert secs(value, tenths=False) == "%s" % (int(value) if float(value).is_integer() else value)
