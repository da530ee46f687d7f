"""A pinned connector list on the real bed (Flink 1.20.3): each pinned build the support matrix knows is judged
against the cluster's Flink, and one it has no table for (the real JDBC connector, the sink of the bed's CDC jobs)
is reported as not checked, never as fitting."""

import os

from conftest import all_libs
from test_role_connector_defaults import connector_rows
from test_role_flink_cdc import DEPLOY, Inventory

PG = "flink-sql-connector-postgres-cdc"
JDBC = {"group_id": "org.apache.flink", "artifact_id": "flink-connector-jdbc", "version": "3.3.0-1.20"}


def test_a_pinned_connector_the_matrix_does_not_know_is_reported_as_not_checked(bed, ansible, tmp_path, pristine_libs):
    pinned = [dict(c) for c in bed["demo_connectors"]] + [JDBC]
    inv = Inventory(bed, tmp_path, flink_cdc_connectors=pinned)
    before = all_libs(bed)
    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, tags="preflight")
    assert run.rc == 0, run
    assert all_libs(bed) == before
    report = inv.report()
    assert report["flink_version"] == bed["flink_version"] == "1.20.3"
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
    with open(os.path.join(inv.report_dir, "flink_cdc_report.md")) as f:
        md = f.read()
    assert "| controller | Connectors | flink-connector-jdbc | skip | pinned: org.apache.flink:flink-connector-jdbc:" \
           "3.3.0-1.20: not in the support matrix, so not checked against Flink 1.20.3 |" in md
    assert "flink-connector-jdbc:3.3.0-1.20 fits" not in md + run.output
