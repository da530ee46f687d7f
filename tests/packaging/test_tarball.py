"""The built tarball holds what users need and nothing else, and works installed on its own.

Installed into an empty collections path (``ansible-galaxy collection install <tarball> -p <dir>``,
no server: the collection has no dependencies), every module, filter and callback and the role
document themselves with ``ansible-doc``, and a check-mode play runs a module, its action plugin
and the controller code they import, with no cluster, from that directory alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest
import yaml

from packaging_lib import FQCN, PLANTED, ROOT, VENV_BIN, galaxy_yml, run

# Development tooling that stays in the repository. build_ignore in galaxy.yml says why.
DEV_ONLY = ("Makefile", ".gitignore", ".ci", "scripts", "bench", "requirements-dev.txt", "tests/packaging",
            "tests/unit/scripts",
            "docs/performance.json", "docs/performance.png", "docs/performance-role.json")

# Shipped whole (less byte code and caches): the content, its metadata, and the tests that go with it.
SHIPPED_TREES = ("plugins", "roles", "playbooks", "meta", "changelogs", "docs/docsite", "tests/unit",
                 "tests/integration", "tests/bed")
SHIPPED_FILES = ("README.md", "LICENSE", "requirements.txt", "meta/runtime.yml", "meta/execution-environment.yml",
                 "changelogs/changelog.yaml", "changelogs/config.yaml")

# ansible-doc plugin types, by plugins/ subdirectory; the other subdirectories carry no documentation
# of their own (an action plugin shares its module's).
DOC_TYPES = {"modules": "module", "filter": "filter", "test": "test", "lookup": "lookup", "callback": "callback",
             "inventory": "inventory", "connection": "connection", "become": "become", "cache": "cache",
             "strategy": "strategy", "vars": "vars"}
UNDOCUMENTED = {"action", "module_utils", "plugin_utils", "doc_fragments"}
PLUGIN_DIRS = sorted(d for d in os.listdir(os.path.join(ROOT, "plugins")) if os.path.isdir(os.path.join(ROOT, "plugins", d)))


def _is_junk(path: str) -> bool:
    parts = path.split("/")
    return ("__pycache__" in parts or ".pytest_cache" in parts or path.endswith((".pyc", ".tar.gz"))
            or path == "changelogs/.plugin-cache.yaml")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def test_leaves_out_leftovers_and_dev_tooling(members: list[str], tree: str) -> None:
    for leftover in PLANTED:
        assert os.path.exists(os.path.join(tree, leftover))
    left_out = PLANTED + DEV_ONLY + (".venv", "tests/output", ".ansible", ".cache")
    offending = sorted(m for m in members if _is_junk(m) or any(_under(m, p) for p in left_out))
    assert not offending, "the tarball holds files users do not need (fix build_ignore in galaxy.yml): %s" % offending
    assert not [m for m in members if m.startswith("requirements-")], "dev pins must stay out of the tarball"


def test_ships_the_content_and_its_tests(members: list[str], tree: str) -> None:
    expected = set(SHIPPED_FILES)
    for top in SHIPPED_TREES:
        for dirpath, _dirs, files in os.walk(os.path.join(tree, top)):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), tree).replace(os.sep, "/")
                if not _is_junk(rel) and not any(_under(rel, p) for p in DEV_ONLY):
                    expected.add(rel)
    missing = sorted(expected - set(members))
    assert not missing, "missing from the tarball: %s" % missing
    for name in ("MANIFEST.json", "FILES.json"):
        assert name in members


def test_manifest_matches_galaxy_yml(tarball: str) -> None:
    meta = galaxy_yml()
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        requirements = tar.extractfile("requirements.txt").read().decode()
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (meta["namespace"], meta["name"],
                                                                              meta["version"])
    assert manifest["dependencies"] == {}, "the offline install below relies on no collection dependencies"
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        assert requirements == f.read()


def _ansible_doc(env: dict[str, str], cwd: str, *args: str) -> dict:
    return json.loads(run([os.path.join(VENV_BIN, "ansible-doc"), "--json"] + list(args), cwd=cwd, env=env).stdout)


def test_every_plugin_directory_is_known() -> None:
    unknown = set(PLUGIN_DIRS) - set(DOC_TYPES) - UNDOCUMENTED
    assert not unknown, "plugins/%s: add the directory to DOC_TYPES (or UNDOCUMENTED) here" % sorted(unknown)


@pytest.mark.parametrize("subdir", [d for d in PLUGIN_DIRS if d in DOC_TYPES])
def test_ansible_doc_documents_every_plugin(subdir: str, installed: str, installed_root: str,
                                            ansible_env: dict[str, str], workdir: str) -> None:
    plugin_dir = os.path.join(installed_root, "plugins", subdir)
    assert os.path.isdir(plugin_dir)
    plugin_type = DOC_TYPES[subdir]
    listed = _ansible_doc(ansible_env, workdir, "-t", plugin_type, "--list", FQCN)
    assert listed, "ansible-doc lists no %s of %s from %s" % (plugin_type, FQCN, installed)
    if subdir in ("modules", "callback"):
        # One plugin per file (filter and test files hold several, documented in <name>.yml).
        names = {"%s.%s" % (FQCN, os.path.splitext(f)[0]) for f in os.listdir(plugin_dir)
                 if f.endswith(".py") and not f.startswith("_")}
        assert set(listed) == names
    else:
        # Each documented filter or test has its <name>.yml beside the code.
        names = {"%s.%s" % (FQCN, f[:-4]) for f in os.listdir(plugin_dir) if f.endswith(".yml")}
        assert names <= set(listed), sorted(names - set(listed))
    docs = _ansible_doc(ansible_env, workdir, "-t", plugin_type, *sorted(listed))
    assert set(docs) == set(listed)
    for name, doc in docs.items():
        assert doc["doc"].get("short_description"), name
        # The documentation came from the installed tarball, not from the checkout.
        assert doc["doc"]["filename"].startswith(installed_root + os.sep), (name, doc["doc"]["filename"])


def test_ansible_doc_documents_the_role(installed_root: str, ansible_env: dict[str, str], workdir: str) -> None:
    role = "%s.flink_cdc" % FQCN
    docs = _ansible_doc(ansible_env, workdir, "-t", "role", role)
    entry_points = docs[role]["entry_points"]
    with open(os.path.join(installed_root, "roles", "flink_cdc", "meta", "argument_specs.yml")) as f:
        assert set(entry_points) == set(yaml.safe_load(f)["argument_specs"])
    assert entry_points["main"]["options"], "the role documents no options"
    assert docs[role]["path"] == installed_root


PLAY = """\
- name: The installed collection in check mode, with no cluster
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Install a connector jar from a file on the host (check mode)
      cdcops.flink_cdc.flink_connector_jar:
        src: "{{ jar }}"
        dest: "{{ lib }}"
      register: __packaging_remote

    - name: The same through the controller (action plugin and controller cache, check mode)
      cdcops.flink_cdc.flink_connector_jar:
        src: "{{ jar }}"
        dest: "{{ lib }}"
        fetch_mode: controller
        controller_cache_dir: "{{ cache }}"
      register: __packaging_controller

    - name: Hand the results to the test
      ansible.builtin.copy:
        content: "{{ {'remote': __packaging_remote, 'controller': __packaging_controller} | to_json }}"
        dest: "{{ results }}"
        mode: "0600"
      check_mode: false
"""


def _connector_jar(path: str) -> str:
    """A small valid jar (manifest, one class) that no known connector claims; returns its SHA-256."""
    with zipfile.ZipFile(path, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: tests/packaging\r\n\r\n")
        jar.writestr("org/example/packaging/Probe.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_check_mode_play_changes_nothing(ansible_env: dict[str, str], workdir: str) -> None:
    play_dir = os.path.join(workdir, "play")
    lib = os.path.join(play_dir, "flink", "lib")
    os.makedirs(lib)
    jar = os.path.join(play_dir, "flink-connector-probe-1.0.0.jar")
    sha256 = _connector_jar(jar)
    playbook = os.path.join(play_dir, "check.yml")
    with open(playbook, "w") as f:
        f.write(PLAY)
    cache = os.path.join(play_dir, "controller-cache")
    results = os.path.join(play_dir, "results.json")
    extra = {"jar": jar, "lib": lib, "cache": cache, "results": results}
    proc = run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "--check", "--diff",
                "-e", json.dumps(extra), playbook], cwd=play_dir, env=ansible_env)
    assert re.search(r"^localhost\s*: ok=3\s+changed=3\s+unreachable=0\s+failed=0", proc.stdout, re.M), proc.stdout
    with open(results) as f:
        answers = json.load(f)
    for mode, result in answers.items():
        assert result["changed"] is True, (mode, result)
        assert result["path"] == os.path.join(lib, os.path.basename(jar)), (mode, result)
        assert result["checksum"] == sha256, (mode, result)
        assert result["msg"].startswith("would install "), (mode, result)
    # Out of band: check mode wrote nothing, neither on the host nor in the controller cache.
    assert os.listdir(lib) == []
    assert not os.path.exists(cache)


def test_shipped_unit_tests_find_their_helpers(installed_root: str) -> None:
    """The unit tests in the tarball import only what ships with them (tests/bed's jar builders, fixtures)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "tests/unit"], cwd=installed_root, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300, check=False,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    errors = [line for line in proc.stdout.splitlines() if line.startswith(("ERROR", "E   "))]
    assert proc.returncode == 0, "\n".join(errors[:40]) or proc.stdout[-4000:] + proc.stderr[-4000:]
    assert " tests collected" in proc.stdout or " test collected" in proc.stdout
