"""Print the README's "Supported versions" table from the collection's support matrix.

For each Flink minor the collection documents, it shows the connector builds the flink_cdc role chooses when
flink_cdc_connectors is empty (plugins/plugin_utils/_connector_choice.py), the Java versions that Flink runs on,
the ansible-core the collection is tested with, and what the test command proves on a real cluster of that minor
(tests/version_matrix.yml, which scripts/flink_matrix.sh runs and tests/integration/test_flink_versions.py
asserts). tests/unit/test_readme_supported_versions.py checks that README.md
between <!-- supported-versions:start --> and <!-- supported-versions:end --> equals this output.

Usage: .venv/bin/python scripts/supported_versions.py
"""

import importlib
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTION = "ansible_collections.cdcops.flink_cdc.plugins"

# The Flink minors the collection documents (the README's "Supported versions" table).
FLINK_MINORS = ("1.17", "1.18", "1.19", "1.20", "2.0", "2.1", "2.2", "2.3")
# meta/runtime.yml requires_ansible, and the ansible-core minors the test suite runs (requirements-dev.txt and
# requirements-core-matrix.txt; tests/unit/scripts/test_supported_versions.py keeps the three in step).
ANSIBLE_CORE = "2.16 - 2.21"


def _collections_root():
    """A directory that holds ansible_collections/cdcops/flink_cdc for this checkout."""
    candidates = [
        # A collections path whose cdcops/flink_cdc is this checkout (a git worktree), as tests/unit/conftest.py.
        os.environ.get("CDCOPS_COLLECTIONS_PATH", ""),
        # scripts/bootstrap.sh links the checkout as <venv>/collections/ansible_collections/cdcops/flink_cdc.
        os.path.join(ROOT, ".venv", "collections"),
        os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "collections"),
        # The checkout is itself an ansible_collections/cdcops/flink_cdc tree (ansible-test).
        os.path.dirname(os.path.dirname(os.path.dirname(ROOT))),
    ]
    for candidate in candidates:
        if candidate and os.path.isdir(os.path.join(candidate, "ansible_collections", "cdcops", "flink_cdc", "plugins")):
            return candidate
    raise SystemExit("cannot import cdcops.flink_cdc: run scripts/bootstrap.sh, which links this checkout into "
                     ".venv/collections")


def _import(name):
    """A module of the collection (``module_utils._support_matrix``), from this checkout."""
    try:
        importlib.import_module(COLLECTION)
    except ImportError:
        sys.path.insert(0, _collections_root())
    return importlib.import_module("%s.%s" % (COLLECTION, name))


def _tested_cell(version, entry):
    if not version or not entry:
        return "not run"
    deploys = entry.get("deploys") or {}
    jars = ["postgres-cdc `%s`" % deploys["postgres_cdc"]] if deploys.get("postgres_cdc") else []
    jars += ["StarRocks `%s`" % deploys["starrocks"]] if deploys.get("starrocks") else []
    if jars:
        done = "role defaults deploy %s, rolling restart%s, verify" % (
            " + ".join(jars), ", smoke job" if entry.get("smoke") else "")
    else:
        done = "preflight names the gaps; deploy, rolling restart and verify with a Flink 2.x jar"
    return "%s: cluster info, %s" % (version, done)


def supported_versions_table(minors=FLINK_MINORS, tested=None, ansible_core=ANSIBLE_CORE):
    """The README's "Supported versions" table: per Flink minor, the connectors the role chooses, the Java, the
    ansible-core, and what the test command proved on a real cluster of that minor (``tested``: Flink version ->
    its entry of tests/version_matrix.yml)."""
    matrix = _import("module_utils._support_matrix")
    connectors = _import("module_utils._connector_jar.connectors")
    choice = _import("plugin_utils._connector_choice")
    by_minor = {matrix.flink_minor(v): (v, e) for v, e in (tested or {}).items()}
    postgres_header = "%s:%s" % (connectors.FLINK_CDC_APACHE_GROUP, connectors.PG_CDC_SQL_ARTIFACT)
    starrocks_header = "%s:%s" % (connectors.STARROCKS_GROUP, connectors.STARROCKS_ARTIFACT)
    lines = ["| Flink | postgres-cdc (`%s`) | StarRocks (`%s`) | Java | ansible-core | proven by the test command |" % (
        postgres_header, starrocks_header), "|---|---|---|---|---|---|"]
    for minor in minors:
        postgres = choice.postgres_cdc_default(minor)
        sink = choice.starrocks_default(minor)
        if postgres is None:
            postgres_cell = "none"
        elif postgres["group_id"] == connectors.FLINK_CDC_APACHE_GROUP:
            postgres_cell = "`%s`" % postgres["version"]
        else:
            postgres_cell = "`%s:%s`" % (postgres["group_id"], postgres["version"])
        javas = matrix.java_versions(minor)
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            minor, postgres_cell, "`%s`" % sink["version"] if sink else "none",
            ", ".join(str(j) for j in javas) or "unknown", ansible_core, _tested_cell(*by_minor.get(minor, (None, None)))))
    return "\n".join(lines) + "\n"


def main():
    with open(os.path.join(ROOT, "tests", "version_matrix.yml")) as f:
        tested = yaml.safe_load(f)["flink"]
    sys.stdout.write(supported_versions_table(tested=tested))


if __name__ == "__main__":
    main()
