"""The flink_connector_choice action plugin (plugins/action/flink_connector_choice.py) on a real ActionBase: options
validated on the controller, the choice returned, a password of the repository URL masked in every result. No
network: a pinned list is only judged, nothing is read from the repository."""

from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.action_setup import make_action

from ansible_collections.cdcops.flink_cdc.plugins.action.flink_connector_choice import ActionModule

PG = {"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-postgres-cdc", "version": "3.5.0"}


def test_a_pinned_list_is_judged_without_reading_the_repository():
    args = {"flink_version": "1.20.3", "connectors": [PG],
            "repository_url": "https://deployer:pw-choice-1@repo.invalid/m2"}
    result = make_action(ActionModule, args).run(task_vars={})
    assert result["changed"] is False and not result.get("failed"), result
    assert result["listed"] is None and result["pinned"] is True and result["connectors"] == [PG]
    assert [(r["check"], r["status"]) for r in result["rows"]] == [("flink-sql-connector-postgres-cdc", "ok")]
    assert "pw-choice-1" not in repr(result)


def test_invalid_options_fail_with_the_validation_message_and_the_password_masked():
    # A password pasted into the wrong option: the validation message quotes it, the result never does.
    args = {"flink_version": "1.20.3", "validate_certs": "pw-choice-2",
            "repository_url": "https://deployer:pw-choice-2@repo.invalid/m2"}
    result = make_action(ActionModule, args).run(task_vars={})
    assert result["failed"] is True and result["changed"] is False
    assert "validate_certs" in result["msg"] and "not a valid boolean" in result["msg"]
    assert "pw-choice-2" not in repr(result)


def test_check_mode_is_supported():
    result = make_action(ActionModule, {"flink_version": "1.20.3", "connectors": [PG]}, check_mode=True).run(task_vars={})
    assert not result.get("failed") and result["pinned"] is True, result
