"""The collection's execution-environment metadata is honest, and ansible-builder reads it so.

requirements.txt names exactly the third-party distributions the plugins import (nothing for tests,
no exact pins, each with a lower bound); meta/execution-environment.yml points at it.

ansible-builder (v3) does not read a collection's requirements when it creates the build context:
the context holds the collection tarball and a galaxy requirements file, and the image build
installs the tarball, then runs ``introspect`` over the installed collections and pip-installs
what that computes. So the test is twofold: ``ansible-builder create`` on an EE definition that
installs the built tarball adds nothing of ours but those two files, and ``ansible-builder
introspect`` over the tarball installed into an empty collections path computes exactly
requirements.txt. No image is built (no container engine here).
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
import tarfile
from importlib import metadata

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from packaging_lib import FQCN, ROOT, VENV_BIN, run

# A distribution the plugins need without importing it, with the reason. None today.
NEEDED_WITHOUT_IMPORT: dict[str, str] = {}

EE_DEFINITION = """\
---
version: 3
images:
  base_image:
    name: quay.io/centos/centos:stream9
dependencies:
  python_interpreter:
    package_system: python3.11
    python_path: /usr/bin/python3.11
  ansible_core:
    package_pip: ansible-core>=2.16
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: collections/{tarball}
        type: file
additional_build_files:
  - src: {tarball}
    dest: collections
"""


def requirement_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def read_requirements() -> list[str]:
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        return requirement_lines(f.read())


def third_party_imports() -> dict[str, list[str]]:
    """Top-level names the plugins import that are neither the standard library nor Ansible, with the files."""
    found: dict[str, list[str]] = {}
    plugins = os.path.join(ROOT, "plugins")
    for dirpath, _dirs, files in os.walk(plugins):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    tops = [alias.name.split(".")[0] for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    tops = [node.module.split(".")[0]]
                else:
                    continue
                for top in tops:
                    if top in sys.stdlib_module_names or top in ("ansible", "ansible_collections", "__future__"):
                        continue
                    found.setdefault(top, []).append(os.path.relpath(path, ROOT))
    return found


def test_requirements_are_runtime_only_with_lower_bounds() -> None:
    lines = read_requirements()
    assert lines, "requirements.txt is empty: the plugins import psycopg2"
    for line in lines:
        assert not line.startswith("-"), "requirements.txt: %r: no pip options or includes; dev pins go to " \
            "requirements-dev.txt" % line
        req = Requirement(line)
        assert not req.url and not req.marker, line
        operators = {spec.operator for spec in req.specifier}
        assert not operators & {"==", "==="}, "requirements.txt: %r is an exact pin; give a lower bound " \
            "(pin in requirements-dev.txt)" % line
        assert operators & {">=", "~="}, "requirements.txt: %r needs a lower bound (>=)" % line


def test_requirements_are_what_the_plugins_import() -> None:
    imports = third_party_imports()
    providers = metadata.packages_distributions()
    needed = {canonicalize_name(d): d for d in NEEDED_WITHOUT_IMPORT}
    for top, files in imports.items():
        assert top in providers, "plugins import %r (%s), which no installed distribution provides: add the " \
            "distribution to requirements.txt and rerun scripts/bootstrap.sh" % (top, ", ".join(sorted(set(files))))
        for dist in providers[top]:
            needed[canonicalize_name(dist)] = "%s (imported as %s by %s)" % (dist, top, ", ".join(sorted(set(files))))
    listed = {canonicalize_name(Requirement(line).name) for line in read_requirements()}
    unused = sorted(listed - set(needed))
    missing = sorted(needed[name] for name in set(needed) - listed)
    assert not unused, "requirements.txt lists %s, which no plugin imports (test and tool pins go to " \
        "requirements-dev.txt)" % unused
    assert not missing, "requirements.txt lacks %s" % missing


def test_metadata_points_at_the_requirements() -> None:
    with open(os.path.join(ROOT, "meta", "execution-environment.yml")) as f:
        ee = yaml.safe_load(f)
    dependencies = {"python": "requirements.txt"}
    if os.path.exists(os.path.join(ROOT, "bindep.txt")):
        dependencies["system"] = "bindep.txt"
    assert ee == {"version": 1, "dependencies": dependencies}


def test_ansible_builder_context_holds_the_tarball_and_nothing_else_of_ours(tarball: str, workdir: str) -> None:
    ee_dir = os.path.join(workdir, "ee")
    os.makedirs(ee_dir)
    name = os.path.basename(tarball)
    shutil.copy(tarball, ee_dir)
    with open(os.path.join(ee_dir, "execution-environment.yml"), "w") as f:
        f.write(EE_DEFINITION.format(tarball=name))
    run([os.path.join(VENV_BIN, "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context",
         "--output-filename", "Containerfile"], cwd=ee_dir)
    context = os.path.join(ee_dir, "context")
    files = sorted(os.path.relpath(os.path.join(dirpath, name), context)
                   for dirpath, _dirs, names in os.walk(context) for name in names)
    ours = [f for f in files if f not in ("Containerfile",) and not f.startswith("_build/scripts/")]
    # No user-level requirements.txt or bindep.txt: the collection's come from the tarball at build time.
    assert ours == ["_build/collections/" + name, "_build/requirements.yml"], files
    with open(os.path.join(context, "_build", "requirements.yml")) as f:
        assert yaml.safe_load(f) == {"collections": [{"name": "collections/" + name, "type": "file"}]}
    with open(os.path.join(context, "_build", "collections", name), "rb") as f, open(tarball, "rb") as g:
        assert f.read() == g.read()
    with tarfile.open(os.path.join(context, "_build", "collections", name)) as tar:
        assert requirement_lines(tar.extractfile("requirements.txt").read().decode()) == read_requirements()
        assert yaml.safe_load(tar.extractfile("meta/execution-environment.yml"))["dependencies"]["python"] == \
            "requirements.txt"
    with open(os.path.join(context, "Containerfile")) as f:
        containerfile = f.read()
    # The builder stage computes the Python requirements from the installed collections.
    assert "introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt" \
        in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.16 ansible-runner"' in containerfile


def test_introspect_computes_exactly_the_runtime_requirements(installed: str, workdir: str) -> None:
    pip_out = os.path.join(workdir, "introspect-requirements.txt")
    bindep_out = os.path.join(workdir, "introspect-bindep.txt")
    proc = run([os.path.join(VENV_BIN, "ansible-builder"), "introspect", "--write-pip", pip_out,
                "--write-bindep", bindep_out, installed], cwd=workdir)
    data = yaml.safe_load(proc.stdout[proc.stdout.index("---"):])
    expected = ["%s  # from collection %s" % (line, FQCN) for line in read_requirements()]
    assert data == {"python": expected, "system": []}, proc.stdout
    with open(pip_out) as f:
        assert f.read().splitlines() == expected
    assert not os.path.exists(bindep_out), "the collection needs no system package"
