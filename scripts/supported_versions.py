"""Print the README's "Supported versions" table from the collection's support matrix.

For each Flink minor the collection documents, it shows the connector builds the flink_cdc role chooses when
flink_cdc_connectors is empty (plugins/plugin_utils/_connectors.py), the Java versions that Flink runs on, the
ansible-core the collection is tested with, and what the test command proves on a real cluster of that minor
(tests/version_matrix.yml, which scripts/flink_matrix.sh runs and tests/integration/test_flink_versions.py
asserts). tests/unit/test_readme_supported_versions.py checks that README.md
between <!-- supported-versions:start --> and <!-- supported-versions:end --> equals this output.

Usage: .venv/bin/python scripts/supported_versions.py
"""

import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collections_root():
    """A directory that holds ansible_collections/cdcops/flink_cdc for this checkout."""
    # scripts/bootstrap.sh links the checkout as <venv>/collections/ansible_collections/cdcops/flink_cdc.
    # CDCOPS_COLLECTIONS_PATH first: a second checkout (a git worktree) tested with another checkout's venv.
    candidates = [os.environ.get("CDCOPS_COLLECTIONS_PATH", ""),
                  os.path.join(ROOT, ".venv", "collections"),
                  os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "collections"),
                  # The checkout is itself an ansible_collections/cdcops/flink_cdc tree (ansible-test).
                  os.path.dirname(os.path.dirname(os.path.dirname(ROOT)))]
    for candidate in candidates:
        if candidate and os.path.isdir(os.path.join(candidate, "ansible_collections", "cdcops", "flink_cdc", "plugins")):
            return candidate
    raise SystemExit("cannot import cdcops.flink_cdc: run scripts/bootstrap.sh, which links this checkout into "
                     ".venv/collections")


def main():
    sys.path.insert(0, _collections_root())
    # Imported here: the path to the collection is known only now.
    from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connectors  # noqa: E402
    with open(os.path.join(ROOT, "tests", "version_matrix.yml")) as f:
        tested = yaml.safe_load(f)["flink"]
    sys.stdout.write(_connectors.supported_versions_table(tested=tested))


if __name__ == "__main__":
    main()
