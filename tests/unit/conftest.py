"""Make ``ansible_collections.cdcops.flink_cdc`` importable from this checkout."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures")


def _collections_root():
    # A collections path whose cdcops/flink_cdc is this checkout, for a second checkout (a git worktree) that
    # the venv's link does not point at.
    if os.environ.get("CDCOPS_COLLECTIONS_PATH"):
        return os.environ["CDCOPS_COLLECTIONS_PATH"]
    # scripts/bootstrap.sh links the checkout as <venv>/collections/ansible_collections/cdcops/flink_cdc.
    venv_root = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "collections")
    if os.path.isdir(os.path.join(venv_root, "ansible_collections", "cdcops", "flink_cdc")):
        return venv_root
    # Running inside an ansible_collections/cdcops/flink_cdc tree (ansible-test).
    return os.path.dirname(os.path.dirname(os.path.dirname(ROOT)))


sys.path.insert(0, _collections_root())


def load_script(name):
    """scripts/<name>.py of this checkout as a module, for the tests of what the scripts compute."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "scripts", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
