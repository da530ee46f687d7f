"""flink_cdc_report, run by ansible itself: both files, check mode, redaction, bad rows, and no module anywhere."""

import json
import os

ROWS = [
    {"host": "jobmanager", "area": "JobManager", "check": "reachable", "status": "ok", "detail": "Flink 1.20.3"},
    {"host": "tm1", "area": "Java", "check": "version", "status": "fail", "detail": "Java 8: Flink 1.20 needs 11 or 17"},
]


def read(dest):
    with open(os.path.join(dest, "flink_cdc_report.json")) as f:
        doc = json.load(f)
    with open(os.path.join(dest, "flink_cdc_report.md")) as f:
        return doc, f.read()


def test_writes_both_files_and_returns_the_counts(ansible, tmp_path):
    dest = str(tmp_path / "report")
    run = ansible.module("flink_cdc_report", {"dest": dest, "rows": ROWS, "rest_url": "http://jm:8081",
                                              "flink_version": "1.20.3", "connector_summary": "pinned"})
    assert run.rc == 0, run
    res = run.result
    assert res["changed"] is False
    assert res["markdown"] == os.path.join(dest, "flink_cdc_report.md")
    assert res["counts"] == {"ok": 1, "changed": 0, "warn": 0, "fail": 1, "skip": 0}
    doc, md = read(dest)
    assert doc["rows"] == ROWS and doc["check_mode"] is False and doc["flink_version"] == "1.20.3"
    assert "- Connectors: pinned" in md
    assert "| tm1 | Java | version | **FAIL** | Java 8: Flink 1.20 needs 11 or 17 |" in md
    assert oct(os.stat(res["json"]).st_mode & 0o777) == "0o644"


def test_check_mode_writes_the_report_and_says_so(ansible, tmp_path):
    dest = str(tmp_path / "report")
    run = ansible.module("flink_cdc_report", {"dest": dest, "rows": ROWS}, check=True)
    assert run.rc == 0, run
    doc, md = read(dest)
    assert doc["check_mode"] is True
    assert "- Run: check mode (dry run), " in md
    assert "(Flink unknown)" in md


def test_a_password_in_the_rest_url_is_in_neither_file_nor_the_output(ansible, tmp_path):
    dest = str(tmp_path / "report")
    run = ansible.module("flink_cdc_report", {"dest": dest, "rows": ROWS,
                                              "rest_url": "http://admin:s3cr3t-pw@jm:8081"}, verbosity=3)
    assert run.rc == 0, run
    doc, md = read(dest)
    assert "s3cr3t-pw" not in json.dumps(doc) + md
    assert doc["rest_url"] == "http://jm:8081"
    assert "s3cr3t-pw" not in json.dumps(run.records)


def test_a_bad_row_fails_naming_it_and_leaves_the_old_report(ansible, tmp_path):
    dest = str(tmp_path / "report")
    assert ansible.module("flink_cdc_report", {"dest": dest, "rows": ROWS}).rc == 0
    before = read(dest)
    run = ansible.module("flink_cdc_report", {"dest": dest, "rows": ROWS + [{"host": "tm2", "status": "ok"}]})
    assert run.failed
    assert run.result["msg"] == "flink_cdc_report: rows[2] (host=tm2, status=ok) lacks area, check, detail"
    assert read(dest) == before
    assert sorted(os.listdir(dest)) == ["flink_cdc_report.json", "flink_cdc_report.md"]


def test_an_unknown_option_is_refused(ansible, tmp_path):
    run = ansible.module("flink_cdc_report", {"dest": str(tmp_path), "rows": [], "colour": "red"})
    assert run.failed
    assert "colour" in run.result["msg"]
    assert not os.path.exists(str(tmp_path / "flink_cdc_report.md"))


def test_runs_no_module_on_the_tasks_host(ansible, tmp_path):
    """The task's host is one no connection reaches: any module run there would make it unreachable."""
    dest = str(tmp_path / "report")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("nowhere ansible_host=192.0.2.1 ansible_connection=ssh ansible_ssh_timeout=2\n")
    playbook = ("- hosts: nowhere\n  gather_facts: false\n  tasks:\n"
                "    - cdcops.flink_cdc.flink_cdc_report:\n        dest: %s\n        rows: %s\n"
                % (dest, json.dumps(ROWS)))
    run = ansible.playbook(playbook, inventory=str(inventory))
    assert run.rc == 0, run
    assert [r["status"] for r in run.records] == ["ok"]
    assert read(dest)[0]["rows"] == ROWS


def test_mode_is_read_as_flink_connector_jar_reads_it(ansible, tmp_path):
    dest = str(tmp_path / "report")
    run = ansible.module("flink_cdc_report", {"dest": dest, "rows": ROWS, "mode": "640"})
    assert run.rc == 0, run
    assert oct(os.stat(run.result["json"]).st_mode & 0o777) == "0o640"
    run = ansible.module("flink_cdc_report", {"dest": str(tmp_path / "other"), "rows": ROWS, "mode": "u=rw"})
    assert run.failed
    assert run.result["msg"] == ("flink_cdc_report: mode 'u=rw' must be an octal mode such as '0644' (symbolic modes "
                                 "are not supported).")
    assert not os.path.exists(str(tmp_path / "other"))
