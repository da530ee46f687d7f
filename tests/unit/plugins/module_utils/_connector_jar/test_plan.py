"""Planning: which jars to install, upgrade or remove, factory conflicts, and the diff.

Pure functions and local files only; tests/unit/plugins/test_support/connector_jars.py says how the jars are made.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    connectors,
    install,
    plan as jar_plan,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.plan import Want
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import (
    PG2,
    PG3,
    PGA,
    SRA,
    jars,
)


def test_other_versions_matches_only_versions_of_that_artifact():
    names = ["flink-sql-connector-postgres-cdc-2.4.2.jar", "flink-sql-connector-postgres-cdc-3.1.0.jar",
             "flink-sql-connector-postgres-cdc-3.6.0-1.20.jar", "flink-connector-postgres-cdc-3.1.0.jar",
             "flink-sql-connector-postgres-cdc-pipeline-1.0.jar", "flink-dist-1.20.3.jar"]
    assert jar_plan.other_versions(names, "flink-sql-connector-postgres-cdc",
                                   keep="flink-sql-connector-postgres-cdc-3.1.0.jar") == [
        "flink-sql-connector-postgres-cdc-2.4.2.jar", "flink-sql-connector-postgres-cdc-3.6.0-1.20.jar"]
    assert jar_plan.other_versions(names, None) == []


# --- scanning and planning ------------------------------------------------------------------------

def test_factory_conflicts_by_identifier_and_class():
    by_jar = {"foo.jar": (PG2,), "flink-dist-1.20.3.jar": ("org.apache.flink.Other",),
              "copy.jar": (PG3,), "broken.jar": None, "sr.jar": connectors.STARROCKS_FACTORIES}
    got = jar_plan.factory_conflicts(by_jar, [PG3])
    assert got == {"foo.jar": ["identifier 'postgres-cdc'"],
                   "copy.jar": ["factory %s" % PG3, "identifier 'postgres-cdc'"]}
    assert jar_plan.factory_conflicts(by_jar, [PG3], same_identifier=False) == {"copy.jar": ["factory %s" % PG3]}
    assert jar_plan.factory_conflicts(by_jar, ["x.Unknown"]) == {}


def test_plan_present_install_upgrade_and_duplicates():
    jars_in = ["flink-dist-1.20.3.jar", "flink-sql-connector-postgres-cdc-3.0.1.jar", "renamed.jar"]
    by_jar = {"flink-dist-1.20.3.jar": (), "flink-sql-connector-postgres-cdc-3.0.1.jar": (PG2,),
              "renamed.jar": (PG2,)}
    plan = jar_plan.plan_present("/lib", jars_in, "flink-sql-connector-postgres-cdc-3.1.0.jar", False,
                                 "flink-sql-connector-postgres-cdc", by_jar, [PG3], True, "not present")
    assert plan.install and plan.changes
    assert plan.remove == ["flink-sql-connector-postgres-cdc-3.0.1.jar", "renamed.jar"]
    assert plan.remove_reasons["flink-sql-connector-postgres-cdc-3.0.1.jar"].startswith("another version")
    assert "postgres-cdc" in plan.remove_reasons["renamed.jar"]
    assert plan.after == ["flink-dist-1.20.3.jar", "flink-sql-connector-postgres-cdc-3.1.0.jar"]

    keep = jar_plan.plan_present("/lib", jars_in, "flink-sql-connector-postgres-cdc-3.1.0.jar", False,
                                 "flink-sql-connector-postgres-cdc", by_jar, [PG3], False)
    assert keep.remove == [] and keep.install

    current = jar_plan.plan_present("/lib", ["flink-dist-1.20.3.jar", "flink-sql-connector-postgres-cdc-3.1.0.jar"],
                                    "flink-sql-connector-postgres-cdc-3.1.0.jar", True,
                                    "flink-sql-connector-postgres-cdc", {"flink-dist-1.20.3.jar": ()}, [PG3], True)
    assert not current.changes and current.before == current.after


def test_plan_absent_removes_versions_and_renamed_copies_only():
    jars_in = ["flink-sql-connector-postgres-cdc-2.4.2.jar", "flink-sql-connector-postgres-cdc-3.1.0.jar",
               "renamed-2x.jar", "other.jar"]
    by_jar = {"flink-sql-connector-postgres-cdc-2.4.2.jar": (PG2,), "flink-sql-connector-postgres-cdc-3.1.0.jar": (PG3,),
              "renamed-2x.jar": (PG2,), "other.jar": ()}
    plan = jar_plan.plan_absent("/lib", jars_in, "flink-sql-connector-postgres-cdc", "", by_jar, [PG2], True)
    assert plan.remove == ["flink-sql-connector-postgres-cdc-2.4.2.jar", "flink-sql-connector-postgres-cdc-3.1.0.jar",
                           "renamed-2x.jar"]
    assert plan.after == ["other.jar"]
    nothing = jar_plan.plan_absent("/lib", ["other.jar"], "flink-sql-connector-postgres-cdc", "", {}, [PG2], True)
    assert not nothing.changes


def test_diff_lists_jars_before_and_after():
    plan = jar_plan.plan_present("/lib", ["a-1.jar"], "a-2.jar", False, "a", {}, [], True)
    d = jar_plan.diff_jars(plan.dest, plan.before, plan.after)
    assert d["before"] == "a-1.jar\n" and d["after"] == "a-2.jar\n"
    same = jar_plan.plan_present("/lib", ["a-2.jar"], "a-2.jar", False, "a", {}, [], True)
    d = jar_plan.diff_jars(same.dest, same.before, same.after, {same.target: ("1" * 64, "2" * 64)})
    assert d["before"] == "a-2.jar  sha256:%s\n" % ("1" * 16) and d["after"] == "a-2.jar  sha256:%s\n" % ("2" * 16)


def test_scan_and_list_ignore_non_jars(tmp_path):
    jars.build_jar(str(tmp_path / "a-1.jar"), factories=(PG3,))
    (tmp_path / "broken.jar").write_bytes(b"nope")
    (tmp_path / ".a-2.jar.abc123.part").write_bytes(b"partial")
    (tmp_path / "a-0.jar.1.20240101T000000.bak").write_bytes(b"old")
    (tmp_path / "dir.jar").mkdir()
    names = jar_plan.list_jars(str(tmp_path))
    assert names == ["a-1.jar", "broken.jar"]
    assert jar_plan.scan_factories(str(tmp_path), names) == {"a-1.jar": (PG3,), "broken.jar": None}
    assert install.stale_temps(str(tmp_path)) == [".a-2.jar.abc123.part"]


# --- plan_jars ------------------------------------------------------------------------------------

def test_plan_jars_attributes_each_removal_to_the_first_jar_that_causes_it():
    dest_jars = ["flink-dist-1.20.3.jar", "%s-3.0.1.jar" % PGA, "renamed.jar", "%s-1.2.10_flink-1.20.jar" % SRA]
    by_jar = {"flink-dist-1.20.3.jar": (), "%s-3.0.1.jar" % PGA: (PG2,), "renamed.jar": (PG2,),
              "%s-1.2.10_flink-1.20.jar" % SRA: connectors.STARROCKS_FACTORIES}
    wants = [Want("present", "%s-3.1.0.jar" % PGA, False, PGA, (PG3,), "not present"),
             Want("present", "%s-1.2.11_flink-1.20.jar" % SRA, False, SRA, connectors.STARROCKS_FACTORIES, "not present")]
    plan = jar_plan.plan_jars("/lib", dest_jars, wants, by_jar, True)
    assert plan.plans[0].remove == ["%s-3.0.1.jar" % PGA, "renamed.jar"]
    assert plan.plans[1].remove == ["%s-1.2.10_flink-1.20.jar" % SRA]
    assert plan.remove == sorted(plan.plans[0].remove + plan.plans[1].remove)
    assert plan.after == sorted(["flink-dist-1.20.3.jar", "%s-3.1.0.jar" % PGA, "%s-1.2.11_flink-1.20.jar" % SRA])
    assert plan.before == dest_jars and plan.changes

    current = jar_plan.plan_jars("/lib", plan.after, [w._replace(target_current=True) for w in wants],
                                 {"flink-dist-1.20.3.jar": ()}, True)
    assert not current.changes and current.remove == [] and current.after == plan.after

    keep_all = jar_plan.plan_jars("/lib", dest_jars, wants, by_jar, False)
    assert keep_all.remove == [] and all(p.install for p in keep_all.plans)


def test_plan_jars_present_and_absent():
    dest_jars = ["%s-1.2.10_flink-1.20.jar" % SRA, "%s-1.2.11_flink-1.20.jar" % SRA, "other.jar"]
    wants = [Want("present", "%s-3.1.0.jar" % PGA, False, PGA, (PG3,), "not present"),
             Want("absent", "", artifact_id=SRA, factories=connectors.STARROCKS_FACTORIES)]
    plan = jar_plan.plan_jars("/lib", dest_jars, wants, {n: () for n in dest_jars}, True)
    assert plan.plans[0].remove == [] and plan.plans[1].remove == dest_jars[:2]
    assert plan.after == ["%s-3.1.0.jar" % PGA, "other.jar"]


@pytest.mark.parametrize("wants, why", [
    ([Want("present", "a-1.jar", artifact_id="a"), Want("present", "a-1.jar", artifact_id="a")], "name the same file"),
    ([Want("present", "a-1.jar", artifact_id="a"), Want("present", "a-2.jar", artifact_id="a")],
     "two versions of one artifact"),
    ([Want("present", "%s-3.1.0.jar" % PGA, artifact_id=PGA, factories=(PG3,)),
      Want("present", "pg2.jar", artifact_id=None, factories=(PG2,))], "identifier 'postgres-cdc'"),
    ([Want("present", "a-1.jar", artifact_id="a"), Want("absent", "", artifact_id="a")], "remove and to install"),
    ([Want("present", "copy.jar", factories=(PG3,)), Want("absent", "", artifact_id=PGA, factories=(PG3,))],
     "remove and to install"),
])
def test_contradicting_lists_are_refused(wants, why):
    with pytest.raises(JarError) as err:
        jar_plan.plan_jars("/lib", [], wants, {}, True)
    assert "contradict each other" in err.value.msg and why in err.value.msg and "Nothing was changed" in err.value.msg


def test_absent_with_the_same_factory_is_fine_without_remove_other_versions():
    wants = [Want("present", "copy.jar", factories=(PG3,)), Want("absent", "", artifact_id=PGA, factories=(PG3,))]
    jar_plan.refuse_contradictions(wants, remove_other_versions=False)


def test_diff_jars_marks_replaced_content():
    d = jar_plan.diff_jars("/lib", ["a-1.jar", "b-1.jar"], ["a-1.jar", "b-1.jar", "c-1.jar"],
                           {"a-1.jar": ("1" * 64, "2" * 64), "b-1.jar": ("3" * 64, ""), "c-1.jar": ("", "4" * 64)})
    assert d["before"] == "a-1.jar  sha256:%s\nb-1.jar  sha256:%s\n" % ("1" * 16, "3" * 16)
    assert d["after"] == "a-1.jar  sha256:%s\nb-1.jar  (new content)\nc-1.jar\n" % ("2" * 16)
    assert d["before_header"] == "/lib (jars)"
