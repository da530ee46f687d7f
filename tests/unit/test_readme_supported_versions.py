"""README.md's "Supported versions" table is the output of scripts/supported_versions.py (the support matrix and
tests/version_matrix.yml, what the test command proves)."""

import os
import re
import subprocess
import sys

from conftest import ROOT, load_script

START = "<!-- supported-versions:start -->"
END = "<!-- supported-versions:end -->"


def script_output():
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "supported_versions.py")],
                          capture_output=True, text=True, check=True, timeout=60).stdout


def test_the_script_prints_the_table_of_the_role_choice():
    import yaml
    supported_versions_table = load_script("supported_versions").supported_versions_table

    with open(os.path.join(ROOT, "tests", "version_matrix.yml")) as f:
        tested = yaml.safe_load(f)["flink"]
    assert script_output() == supported_versions_table(tested=tested)


def test_readme_table_equals_the_script_output():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), readme, re.S)
    assert match, "README.md needs %s and then %s, each on its own line" % (START, END)
    assert match.group(1).strip("\n") == script_output().strip("\n"), (
        "README.md's supported-versions table is stale: paste the output of "
        "`.venv/bin/python scripts/supported_versions.py` between the markers")
