"""The guides under docs/docsite/ (rendered by antsibull-docs on the collection's docsite; linted by
``antsibull-docs lint-collection-docs``): every guide is in extra-docs.yml's table of contents, starts with the label
antsibull-docs expects, and every :ref: between them names a label that exists. antsibull-docs lint checks the RST
and the :ansplugin: references to plugins, but not :ref: targets, which only a Sphinx build resolves."""

import os
import re

import yaml

from conftest import ROOT

DOCSITE = os.path.join(ROOT, "docs", "docsite")
RST = os.path.join(DOCSITE, "rst")
LABEL_PREFIX = "ansible_collections.cdcops.flink_cdc.docsite."


def guides():
    return sorted(name[:-len(".rst")] for name in os.listdir(RST) if name.endswith(".rst"))


def read(name):
    with open(os.path.join(RST, name + ".rst")) as f:
        return f.read()


def test_every_guide_is_in_the_table_of_contents_and_nothing_else():
    with open(os.path.join(DOCSITE, "extra-docs.yml")) as f:
        listed = [entry for section in yaml.safe_load(f)["sections"] for entry in section["toctree"]]
    assert guides(), "no guide in %s" % RST
    assert sorted(listed) == guides()
    assert len(listed) == len(set(listed))


def test_every_guide_starts_with_its_label():
    for name in guides():
        first = read(name).splitlines()[0]
        assert first == ".. _%s%s:" % (LABEL_PREFIX, name), (name, first)


def test_every_ref_names_a_label_of_the_guides():
    labels = set()
    refs = []
    for name in guides():
        text = read(name)
        labels.update(re.findall(r"^\.\. _([^:\s]+):$", text, re.M))
        refs += [(name, target) for target in re.findall(r":ref:`(?:[^`<]*<)?([^`<>]+)>?`", text)]
    assert refs, "the guides link to each other"
    assert all(label.startswith(LABEL_PREFIX) for label in labels), labels
    assert [(name, target) for name, target in refs if target not in labels] == []


def test_the_readme_links_every_guide():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    linked = sorted(re.findall(r"\]\(docs/docsite/rst/([a-z_]+)\.rst\)", readme))
    assert linked == guides()


def test_where_things_live_names_every_file_and_filter():
    """The development guide's "Where things live" names each file of plugins/ (and of the role's tasks) and each
    filter, so that a newcomer finds the one owner of every concern; a file added without its line fails here."""
    text = read("guide_development")
    section = text[text.index("Where things live"):]
    named = set(re.findall(r"``([^`]+)``", section))
    missing = []
    for top in ("plugins", os.path.join("roles", "flink_cdc", "tasks")):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in filenames:
                if name.endswith(".py") or (top != "plugins" and name.endswith(".yml")):
                    if name not in named and os.path.join(os.path.relpath(dirpath, ROOT), name) not in named:
                        missing.append(os.path.relpath(os.path.join(dirpath, name), ROOT))
    filter_dir = os.path.join(ROOT, "plugins", "filter")
    for name in os.listdir(filter_dir):
        if name.endswith(".py"):
            with open(os.path.join(filter_dir, name)) as f:
                source = f.read()
            body = source[source.index("def filters(self):"):]
            for filter_name in re.findall(r'"(\w+)":', body):
                if filter_name not in named:
                    missing.append("filter %s (%s)" % (filter_name, name))
    assert not missing, "not named in docs/docsite/rst/guide_development.rst: %s" % ", ".join(sorted(missing))
