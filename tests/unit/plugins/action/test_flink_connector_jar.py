"""The flink_connector_jar action plugin's own helpers (the action plugin as a whole runs in
tests/integration/test_flink_connector_jar_batch.py).
"""

import os


def test_run_id_is_stable_within_a_process():
    from ansible_collections.cdcops.flink_cdc.plugins.action.flink_connector_jar import run_id
    assert run_id() == run_id() and run_id().startswith("%d:" % os.getppid())
