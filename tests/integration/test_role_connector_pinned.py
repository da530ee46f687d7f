"""A pinned connector list on the real bed (Flink 1.20.3): each pinned build the support matrix knows is judged
against the cluster's Flink, and one it has no table for (the real JDBC connector, the sink of the bed's CDC jobs)
is reported as not checked, never as fitting."""

from test_role_connector_defaults import connector_rows, preflight
from test_role_flink_cdc import Inventory

PG = "flink-sql-connector-postgres-cdc"
JDBC = {"group_id": "org.apache.flink", "artifact_id": "flink-connector-jdbc", "version": "3.3.0-1.20"}


def test_a_pinned_connector_the_matrix_does_not_know_is_reported_as_not_checked(bed, ansible, tmp_path, pristine_libs):
    pinned = [dict(c) for c in bed["demo_connectors"]] + [JDBC]
    inv = Inventory(bed, tmp_path, flink_cdc_connectors=pinned)
    run, report = preflight(bed, ansible, inv, tags="preflight")
    assert report["connectors_pinned"] is True and report["connectors"] == pinned
    rows = connector_rows(inv)
    jdbc = rows[JDBC["artifact_id"]]
    assert jdbc["status"] == "skip"
    assert jdbc["detail"] == ("pinned: org.apache.flink:flink-connector-jdbc:3.3.0-1.20: not in the support matrix, "
                              "so not checked against Flink 1.20.3")
    # The postgres-cdc build the bed serves is in the matrix: judged, and it fits.
    (postgres,) = [c for c in bed["demo_connectors"] if c["artifact_id"] == PG]
    assert rows[PG]["status"] == "ok"
    assert rows[PG]["detail"] == "pinned: %s:%s:%s fits Flink 1.20.3" % (postgres["group_id"], PG, postgres["version"])
    md = inv.report_markdown()
    assert "| controller | Connectors | flink-connector-jdbc | skip | pinned: org.apache.flink:flink-connector-jdbc:" \
           "3.3.0-1.20: not in the support matrix, so not checked against Flink 1.20.3 |" in md
    assert "flink-connector-jdbc:3.3.0-1.20 fits" not in md + run.output
