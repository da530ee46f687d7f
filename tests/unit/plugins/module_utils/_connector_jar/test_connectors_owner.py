"""Connector coordinates and factories have one owner, plugins/module_utils/_connector_jar/connectors.py: every
other file of plugins/ imports them from there instead of spelling them again."""

import ast
import os

from conftest import ROOT
from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _support_matrix
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import connectors
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _connector_choice

OWNER = os.path.join("plugins", "module_utils", "_connector_jar", "connectors.py")
# Module documentation is for people: it names coordinates in its examples.
DOC_NAMES = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def coordinate_values():
    values = {connectors.FLINK_CDC_APACHE_GROUP, connectors.FLINK_CDC_VERVERICA_GROUP, connectors.PG_CDC_SQL_ARTIFACT,
              connectors.PG_CDC_THIN_ARTIFACT, connectors.PG_CDC_IDENTIFIER, connectors.STARROCKS_GROUP,
              connectors.STARROCKS_ARTIFACT, connectors.STARROCKS_IDENTIFIER}
    for connector in connectors.KNOWN_CONNECTORS:
        values.update(connector.factories)
    return values


def code_strings(path):
    """(line, text) of every string constant in a Python file that is not a docstring, module documentation or a
    key looked up with ``[...]`` (``params["starrocks"]`` names an option, not the connector)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    skip = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in DOC_NAMES for t in node.targets):
            skip.add(id(node.value))
        if isinstance(node, ast.Subscript):
            skip.add(id(node.slice))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip]


def test_no_other_file_of_plugins_spells_a_coordinate():
    values = coordinate_values()
    found = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".py") and os.path.relpath(path, ROOT) != OWNER:
                found += ["%s:%d %r" % (os.path.relpath(path, ROOT), line, text)
                          for line, text in code_strings(path) if text in values]
    assert found == [], "import these from %s instead: %s" % (OWNER, found)


def test_the_guard_sees_a_spelled_coordinate(tmp_path):
    # The scan above finds what it looks for: a file that spells one, outside a docstring, is caught.
    sample = tmp_path / "sample.py"
    sample.write_text('"""flink-connector-starrocks in a docstring is prose."""\nNAME = "flink-connector-starrocks"\n')
    assert [(line, text) for line, text in code_strings(str(sample)) if text in coordinate_values()] == [
        (2, "flink-connector-starrocks")]


def test_the_support_matrix_and_the_choice_use_the_owner_s_coordinates():
    assert _support_matrix.POSTGRES_CDC_ARTIFACTS == (connectors.PG_CDC_SQL_ARTIFACT, connectors.PG_CDC_THIN_ARTIFACT)
    assert _support_matrix.postgres_cdc_group("3.1") == connectors.FLINK_CDC_APACHE_GROUP
    assert _support_matrix.postgres_cdc_group("3.0") == connectors.FLINK_CDC_VERVERICA_GROUP
    assert _connector_choice.METADATA_ARTIFACTS == (
        (connectors.FLINK_CDC_APACHE_GROUP, connectors.PG_CDC_SQL_ARTIFACT),
        (connectors.STARROCKS_GROUP, connectors.STARROCKS_ARTIFACT))
    # Every connector line the jar checks know is one the support matrix judges, and nothing else is.
    for connector in connectors.KNOWN_CONNECTORS:
        assert _support_matrix.knows({"group_id": connector.group_id, "artifact_id": connector.artifact_id})
    assert _support_matrix.knows({"artifact_id": connectors.PG_CDC_THIN_ARTIFACT})
    assert not _support_matrix.knows({"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-kafka"})
    assert not _support_matrix.knows({})


def test_the_package_file_stays_standard_library_only():
    # flink_connector_jar sends module_utils/_connector_jar/ to hosts as it is: this file imports no other code.
    with open(os.path.join(ROOT, OWNER), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert sorted(imported) == ["__future__", "typing"]
