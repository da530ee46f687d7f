"""Connector coordinates shared by the unit tests of the support matrix, the connector choice and their filters."""

from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connector_choice

PG = "flink-sql-connector-postgres-cdc"
SR = "flink-connector-starrocks"


def conn(artifact, version, group="org.apache.flink"):
    return {"group_id": group, "artifact_id": artifact, "version": version}


def coords(connectors):
    return [_connector_choice.coordinates(c) for c in connectors]


REPO = "http://127.0.0.1:18901"


def metadata_result(group, artifact, status, content=""):
    return {"item": {"group_id": group, "artifact_id": artifact}, "status": status, "content": content}
