"""scripts/supported_versions.py: the README's "Supported versions" table, built from the support matrix and the
role's connector choice (the README itself is compared with the script's output in test_readme_supported_versions.py)."""

import os
import re

import yaml

from conftest import ROOT, load_script

supported_versions = load_script("supported_versions")


def test_supported_versions_table():
    table = supported_versions.supported_versions_table()
    lines = table.splitlines()
    assert lines[0].startswith("| Flink | postgres-cdc (`org.apache.flink:flink-sql-connector-postgres-cdc`) |")
    assert lines[2] == "| 1.17 | `3.2.1` | `1.2.15_flink-1.17` | 8, 11 | 2.16 - 2.21 | not run |"
    assert lines[5] == "| 1.20 | `3.6.0-1.20` | `1.2.15_flink-1.20` | 11, 17 | 2.16 - 2.21 | not run |"
    assert lines[6] == "| 2.0 | none | none | 11, 17, 21 | 2.16 - 2.21 | not run |"
    assert lines[8] == "| 2.2 | `3.6.0-2.2` | none | 11, 17, 21 | 2.16 - 2.21 | not run |"
    assert lines[9] == "| 2.3 | none | none | 11, 17, 21 | 2.16 - 2.21 | not run |"
    assert len(lines) == 2 + len(supported_versions.FLINK_MINORS)
    # With the matrix run's entries, the last column says what was proven on a real cluster of that minor.
    tested = {"1.18.1": {"deploys": {"postgres_cdc": "3.2.1", "starrocks": "1.2.10_flink-1.18"}, "smoke": True},
              "2.1.1": {"deploys": {"postgres_cdc": None, "starrocks": None}, "smoke": False}}
    lines = supported_versions.supported_versions_table(tested=tested).splitlines()
    assert lines[3].endswith("| 2.16 - 2.21 | 1.18.1: cluster info, role defaults deploy postgres-cdc `3.2.1` + "
                             "StarRocks `1.2.10_flink-1.18`, rolling restart, smoke job, verify |")
    assert lines[7].endswith("| 2.1.1: cluster info, preflight names the gaps; deploy, rolling restart and verify "
                             "with a Flink 2.x jar |")
    assert lines[2].endswith("| not run |")
    # A line published under another groupId says so in its cell.
    assert "`com.ververica:3.0.1`" in supported_versions.supported_versions_table(("1.15",))


def test_ansible_core_range_is_what_the_test_command_runs():
    """ANSIBLE_CORE (the table), meta/runtime.yml and the pins of the ansible-core matrix agree."""
    root = ROOT
    pins = []
    for name in ("requirements-dev.txt", "requirements-core-matrix.txt"):
        with open(os.path.join(root, name)) as f:
            pins += re.findall(r"^ansible-core==(\d+\.\d+)\.\d+\s*$", f.read(), re.M)
    minors = sorted(set(pins), key=lambda v: tuple(int(p) for p in v.split(".")))
    assert minors == ["2.16", "2.17", "2.18", "2.19", "2.20", "2.21"]
    assert supported_versions.ANSIBLE_CORE == "%s - %s" % (minors[0], minors[-1])
    with open(os.path.join(root, "meta", "runtime.yml")) as f:
        assert yaml.safe_load(f)["requires_ansible"] == ">=%s.0" % minors[0]


def test_the_supported_versions_table_has_a_flink_23_row():
    assert "2.3" in supported_versions.FLINK_MINORS
    rows = [line for line in supported_versions.supported_versions_table().splitlines() if line.startswith("| 2.3 |")]
    assert rows == ["| 2.3 | none | none | 11, 17, 21 | %s | not run |" % supported_versions.ANSIBLE_CORE]
