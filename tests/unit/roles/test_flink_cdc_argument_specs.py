"""The role's meta/argument_specs.yml and defaults/main.yml describe the same variables."""

import os

import yaml

from conftest import ROOT

ROLE = os.path.join(ROOT, "roles", "flink_cdc")


def load(*parts):
    with open(os.path.join(ROLE, *parts)) as f:
        return yaml.safe_load(f)


def test_every_default_is_declared_and_every_declared_option_has_a_default():
    defaults = load("defaults", "main.yml")
    specs = load("meta", "argument_specs.yml")["argument_specs"]
    options = specs["main"]["options"]
    assert sorted(defaults) == sorted(options)
    for name, spec in options.items():
        if "default" in spec:
            assert spec["default"] == defaults[name], name


def test_every_entry_point_is_a_tasks_file_with_the_same_options():
    specs = load("meta", "argument_specs.yml")["argument_specs"]
    for entry, spec in specs.items():
        assert os.path.isfile(os.path.join(ROLE, "tasks", entry + ".yml")), entry
        assert spec["options"] == specs["main"]["options"], entry
