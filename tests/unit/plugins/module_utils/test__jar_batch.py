"""Unit tests for the several-jars and fetch_mode=controller parts of plugins/module_utils/_jar.py.

Pure functions and local files only (jars built with tests/bed/jars.py in tmp
dirs). The HTTP paths, the action plugin and the real failure injections are
covered by tests/integration/test_flink_connector_jar_batch.py.
"""

import json
import os
import sys

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _jar
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._jar import (
    ChecksumError,
    InvalidJarError,
    JarError,
    JarRequest,
    UnsafeNameError,
    Want,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import jars  # noqa: E402

PG2 = "com.ververica.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PG3 = "org.apache.flink.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PGA = "flink-sql-connector-postgres-cdc"
SRA = "flink-connector-starrocks"


def starrocks(tmp_path, version="1.2.11_flink-1.20"):
    return str(tmp_path / "repo" / jars.publish_starrocks(str(tmp_path / "repo"), version))


# --- plan_jars ------------------------------------------------------------------------------------

def test_plan_jars_attributes_each_removal_to_the_first_jar_that_causes_it():
    dest_jars = ["flink-dist-1.20.3.jar", "%s-3.0.1.jar" % PGA, "renamed.jar", "%s-1.2.10_flink-1.20.jar" % SRA]
    by_jar = {"flink-dist-1.20.3.jar": (), "%s-3.0.1.jar" % PGA: (PG2,), "renamed.jar": (PG2,),
              "%s-1.2.10_flink-1.20.jar" % SRA: _jar.STARROCKS_FACTORIES}
    wants = [Want("present", "%s-3.1.0.jar" % PGA, False, PGA, (PG3,), "not present"),
             Want("present", "%s-1.2.11_flink-1.20.jar" % SRA, False, SRA, _jar.STARROCKS_FACTORIES, "not present")]
    plan = _jar.plan_jars("/lib", dest_jars, wants, by_jar, True)
    assert plan.plans[0].remove == ["%s-3.0.1.jar" % PGA, "renamed.jar"]
    assert plan.plans[1].remove == ["%s-1.2.10_flink-1.20.jar" % SRA]
    assert plan.remove == sorted(plan.plans[0].remove + plan.plans[1].remove)
    assert plan.after == sorted(["flink-dist-1.20.3.jar", "%s-3.1.0.jar" % PGA, "%s-1.2.11_flink-1.20.jar" % SRA])
    assert plan.before == dest_jars and plan.changes

    current = _jar.plan_jars("/lib", plan.after, [w._replace(target_current=True) for w in wants],
                             {"flink-dist-1.20.3.jar": ()}, True)
    assert not current.changes and current.remove == [] and current.after == plan.after

    keep_all = _jar.plan_jars("/lib", dest_jars, wants, by_jar, False)
    assert keep_all.remove == [] and all(p.install for p in keep_all.plans)


def test_plan_jars_present_and_absent():
    dest_jars = ["%s-1.2.10_flink-1.20.jar" % SRA, "%s-1.2.11_flink-1.20.jar" % SRA, "other.jar"]
    wants = [Want("present", "%s-3.1.0.jar" % PGA, False, PGA, (PG3,), "not present"),
             Want("absent", "", artifact_id=SRA, factories=_jar.STARROCKS_FACTORIES)]
    plan = _jar.plan_jars("/lib", dest_jars, wants, {n: () for n in dest_jars}, True)
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
        _jar.plan_jars("/lib", [], wants, {}, True)
    assert "contradict each other" in err.value.msg and why in err.value.msg and "Nothing was changed" in err.value.msg


def test_absent_with_the_same_factory_is_fine_without_remove_other_versions():
    wants = [Want("present", "copy.jar", factories=(PG3,)), Want("absent", "", artifact_id=PGA, factories=(PG3,))]
    _jar.refuse_contradictions(wants, remove_other_versions=False)


def test_diff_jars_marks_replaced_content():
    d = _jar.diff_jars("/lib", ["a-1.jar", "b-1.jar"], ["a-1.jar", "b-1.jar", "c-1.jar"],
                       {"a-1.jar": ("1" * 64, "2" * 64), "b-1.jar": ("3" * 64, ""), "c-1.jar": ("", "4" * 64)})
    assert d["before"] == "a-1.jar  sha256:%s\nb-1.jar  sha256:%s\n" % ("1" * 16, "3" * 16)
    assert d["after"] == "a-1.jar  sha256:%s\nb-1.jar  (new content)\nc-1.jar\n" % ("2" * 16)
    assert d["before_header"] == "/lib (jars)"


# --- install_temps --------------------------------------------------------------------------------

def _temp(dest, filename, data):
    out, temp = _jar.open_temp(str(dest), filename)
    with out:
        out.write(data)
    return temp


def test_install_temps_installs_all_and_leaves_nothing_else(tmp_path):
    (tmp_path / "a-1.jar").write_bytes(b"old a")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    assert _jar.install_temps(str(tmp_path), installs, 0o640, None, None, backup=False) == {}
    assert (tmp_path / "a-1.jar").read_bytes() == b"new a" and (tmp_path / "b-1.jar").read_bytes() == b"new b"
    assert sorted(os.listdir(str(tmp_path))) == ["a-1.jar", "b-1.jar"]  # no keeps, no temps
    assert oct(os.stat(str(tmp_path / "b-1.jar")).st_mode & 0o777) == oct(0o640)


def test_install_temps_backs_up_replaced_files(tmp_path):
    (tmp_path / "a-1.jar").write_bytes(b"old a")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    saved = _jar.install_temps(str(tmp_path), installs, 0o644, None, None, backup=True)
    assert list(saved) == ["a-1.jar"] and saved["a-1.jar"].endswith(".bak")
    assert open(saved["a-1.jar"], "rb").read() == b"old a"
    assert _jar.list_jars(str(tmp_path)) == ["a-1.jar", "b-1.jar"] and _jar.stale_temps(str(tmp_path)) == []


def test_install_temps_failing_before_any_rename_changes_nothing(tmp_path):
    (tmp_path / "b-1.jar").mkdir()  # a directory where a jar should go: it cannot be kept nor replaced
    (tmp_path / "b-1.jar" / "x").write_bytes(b"x")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    with pytest.raises(JarError):
        _jar.install_temps(str(tmp_path), installs, 0o644, None, None, backup=False)
    assert not (tmp_path / "a-1.jar").exists()
    assert sorted(os.listdir(str(tmp_path))) == sorted(["b-1.jar"] + [os.path.basename(t) for t, dummy in installs])


# --- requests from options ------------------------------------------------------------------------

def test_jar_request_from_options():
    repo = "https://repo.example/m2"
    present = _jar.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0"), repo)
    assert present.state == "present" and present.source.url.endswith("/3.1.0/%s-3.1.0.jar" % PGA)
    absent = _jar.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA), repo, "absent")
    assert absent.state == "absent" and absent.source.filename == ""
    versioned = _jar.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0", state="absent"),
                                 repo, "present")
    assert versioned.state == "absent" and versioned.source.filename == "%s-3.1.0.jar" % PGA
    assert _jar.jar_request(dict(url=repo + "/x/a-1.jar"), repo).source.kind == "url"
    assert _jar.jar_request(dict(src="/tmp/a-1.jar", checksum="sha1:" + "0" * 40), repo).source.checksum.algorithm \
        == "sha1"
    with pytest.raises(JarError) as err:
        _jar.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA), repo, "present", "jars[2]: ")
    assert err.value.msg == "jars[2]: version is required to install org.apache.flink:%s (state=present)." % PGA
    with pytest.raises(UnsafeNameError) as err:
        _jar.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="../x"), repo, "present", "jars[0]: ")
    assert err.value.msg.startswith("jars[0]: version") and str(err.value) == err.value.msg


def test_argument_spec_rules():
    spec, rules = _jar.argument_spec(internal=False), _jar.argument_rules(internal=False)
    good = ArgumentSpecValidator(spec, **rules).validate(
        dict(dest="/lib", jars=[dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0")]))
    assert good.error_messages == [] and good.validated_parameters["jars"][0]["state"] is None
    for bad in (dict(dest="/lib", jars=[], artifact_id=PGA), dict(dest="/lib", jars=[], checksum="sha1:x"),
                dict(dest="/lib", jars=[dict(group_id="g")]), dict(dest="/lib", jars=[dict(url="u", src="s")]),
                dict(dest="/lib"), dict(dest="/lib", jars=[], _pushed={})):
        assert ArgumentSpecValidator(spec, **rules).validate(bad).error_messages, bad
    assert "_pushed" in _jar.argument_spec() and "_pushed" in _jar.argument_rules()["required_one_of"][0]


# --- what the controller tells the host -----------------------------------------------------------

def test_pushed_item_round_trip_without_secrets():
    source = _jar.maven_source("https://user:secret@repo.example/m2", "org.apache.flink", PGA, "3.1.0")
    cached = _jar.CachedJar("/cache/x.jar", _jar.Checksum("sha256", "a" * 64), 10, (PG3,))
    item = _jar.pushed_item(JarRequest(source), cached)
    assert "secret" not in json.dumps(item)
    assert item == {"state": "present", "name": "%s-3.1.0.jar" % PGA, "artifact_id": PGA,
                    "group_id": "org.apache.flink", "url": _jar.public_url(source.url), "checksum": "sha256:" + "a" * 64,
                    "factories": [PG3]}
    request = _jar.pushed_request(item)
    assert request.source.pushed and request.source.kind == "src" and request.source.src is None
    assert request.source.checksum.hexdigest == "a" * 64 and request.source.planned_factories == (PG3,)
    assert request.source.expected_factories == (PG3,)
    absent = _jar.pushed_request(_jar.pushed_item(JarRequest(_jar.maven_artifact("com.starrocks", SRA), "absent"), None))
    assert absent.state == "absent" and absent.source.filename == "" and absent.source.known_factories


@pytest.mark.parametrize("item", [
    {"name": "../x.jar", "checksum": "sha256:" + "a" * 64},
    {"name": "a-1.jar"},
    {"name": "a-1.jar", "checksum": "md5:00"},
    {"name": "a-1.jar", "checksum": "sha256:" + "a" * 64, "group_id": "org/../x", "artifact_id": "a"},
    {"name": "a-1.jar", "checksum": "sha256:" + "a" * 64, "state": "gone"},
])
def test_pushed_request_checks_what_arrives(item):
    with pytest.raises(JarError):
        _jar.pushed_request(item)


def _pushed(path, src=None, checksum=None):
    source = _jar.src_source(path)
    item = _jar.pushed_item(JarRequest(source), _jar.CachedJar(path, _jar.Checksum("sha256", checksum or jars.sha256_file(path))))
    if src:
        item["src"] = src
    return _jar.pushed_request(item)


def test_ensure_jars_with_pushed_jars_asks_then_installs(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    os.link(jars.published_path(str(tmp_path / "repo"), "3.0.1"), str(lib / ("%s-3.0.1.jar" % PGA)))
    before = sorted(os.listdir(str(lib)))
    opts, http = _jar.InstallOptions(), _jar.HttpOptions()

    check = _jar.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=True)
    assert check["changed"] and "_needed" not in check
    assert [j["transferred"] for j in check["jars"]] == [False, False]
    assert check["removed"] == [str(lib / ("%s-3.0.1.jar" % PGA))]

    asked = _jar.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=False)
    assert asked == {"changed": False, "_needed": [os.path.basename(new_pg), os.path.basename(new_sr)],
                     "msg": asked["msg"]}
    assert sorted(os.listdir(str(lib))) == before

    done = _jar.ensure_jars([_pushed(new_pg, src=new_pg), _pushed(new_sr, src=new_sr)], str(lib), http, opts, False)
    assert done["changed"] and [j["transferred"] for j in done["jars"]] == [True, True]
    assert sorted(os.listdir(str(lib))) == sorted(os.path.basename(p) for p in (new_pg, new_sr))
    assert done["jars"][0]["checksum"] == jars.sha256_file(new_pg)

    again = _jar.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=False)
    assert not again["changed"] and "_needed" not in again


def test_a_pushed_file_that_does_not_match_changes_nothing(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    with pytest.raises(ChecksumError) as err:
        _jar.ensure_jars([_pushed(new_pg, src=new_pg), _pushed(new_sr, src=new_sr, checksum="0" * 64)], str(lib),
                         _jar.HttpOptions(), _jar.InstallOptions(), check_mode=False)
    assert "pushed from the controller" in err.value.msg
    assert os.listdir(str(lib)) == []


# --- the controller cache -------------------------------------------------------------------------

def test_cache_jar_fills_once_and_reuses(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    source = _jar.src_source(src)

    cold = _jar.cache_jar(source, cache, _jar.HttpOptions(), check_mode=True)
    assert cold.path is None and cold.checksum.hexdigest == jars.sha256_file(src) and cold.factories == (PG3,)
    assert not os.path.exists(cache)  # check mode writes nothing

    first = _jar.cache_jar(source, cache, _jar.HttpOptions(), run_id="run-1")
    assert first.path == os.path.join(cache, "sha256", jars.sha256_file(src), os.path.basename(src))
    assert jars.sha256_file(first.path) == jars.sha256_file(src) and first.checksum.hexdigest == jars.sha256_file(src)
    assert first.factories == (PG3,) and first.size == os.path.getsize(src) and not first.downloaded
    inode = os.stat(first.path).st_ino

    again = _jar.cache_jar(source, cache, _jar.HttpOptions(), run_id="run-2")
    assert again.path == first.path and os.stat(first.path).st_ino == inode and again.factories == (PG3,)
    assert _jar.cache_jar(source, cache, _jar.HttpOptions(), check_mode=True).path == first.path  # warm check mode


def test_cache_jar_refetches_an_entry_changed_behind_its_back(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    first = _jar.cache_jar(_jar.src_source(src), cache, _jar.HttpOptions())
    with open(first.path, "ab") as f:
        f.write(b"junk")
    again = _jar.cache_jar(_jar.src_source(src), cache, _jar.HttpOptions())
    assert jars.sha256_file(again.path) == jars.sha256_file(src)


def test_cache_jar_validates_an_entry_cached_without_validation(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    plain = _jar.cache_jar(_jar.src_source(src), cache, _jar.HttpOptions(), validate=False)
    with open(plain.path + _jar.CACHE_META_SUFFIX) as f:
        assert json.load(f)["validated"] is False
    inode = os.stat(plain.path).st_ino
    checked = _jar.cache_jar(_jar.src_source(src), cache, _jar.HttpOptions(), validate=True)
    assert os.stat(checked.path).st_ino == inode  # validated in place, not copied again
    with open(plain.path + _jar.CACHE_META_SUFFIX) as f:
        assert json.load(f)["validated"] is True


def test_cache_jar_force_fetches_again_once_per_run(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    first = _jar.cache_jar(_jar.src_source(src), cache, _jar.HttpOptions(), run_id="run-1")
    inode = os.stat(first.path).st_ino
    forced = _jar.cache_jar(_jar.src_source(src), cache, _jar.HttpOptions(), force=True, run_id="run-2")
    inode2 = os.stat(forced.path).st_ino
    assert inode2 != inode
    same_run = _jar.cache_jar(_jar.src_source(src), cache, _jar.HttpOptions(), force=True, run_id="run-2")
    assert os.stat(same_run.path).st_ino == inode2


def test_cache_jar_failure_is_not_retried_within_a_run(tmp_path):
    thin = jars.published_path(str(tmp_path / "repo"), "3.1.0", thin=True)
    cache = str(tmp_path / "cache")
    source = _jar.src_source(thin)._replace(artifact_id=PGA)  # neutral to the name check: only content tells
    with pytest.raises(InvalidJarError) as first:
        _jar.cache_jar(source, cache, _jar.HttpOptions(), run_id="run-1")
    assert "thin connector jar" in first.value.msg and "earlier in this run" not in first.value.msg
    with pytest.raises(JarError) as second:
        _jar.cache_jar(source, cache, _jar.HttpOptions(), run_id="run-1")
    assert "thin connector jar" in second.value.msg and "earlier in this run" in second.value.msg
    with pytest.raises(InvalidJarError) as next_run:
        _jar.cache_jar(source, cache, _jar.HttpOptions(), run_id="run-2")
    assert "earlier in this run" not in next_run.value.msg
    entry = os.path.join(cache, "sha256", jars.sha256_file(thin))
    assert sorted(os.listdir(entry)) == [_jar.CACHE_FAILURE, _jar.CACHE_LOCK]  # no jar, no temp


def test_cache_jar_src_must_exist_and_match_its_pin(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    with pytest.raises(JarError) as err:
        _jar.cache_jar(_jar.src_source(str(tmp_path / "none-1.jar")), cache, _jar.HttpOptions())
    assert "not a file on the controller" in err.value.msg
    with pytest.raises(ChecksumError):
        _jar.cache_jar(_jar.src_source(src, "sha256:" + "0" * 64), cache, _jar.HttpOptions())
    assert not os.path.exists(cache)


def test_cache_path_is_content_addressed_and_safe(tmp_path):
    expected = _jar.Checksum("sha1", "b" * 40)
    assert _jar.cache_path("/c", expected, "a-1.jar") == "/c/sha1/%s/a-1.jar" % ("b" * 40)
    with pytest.raises(UnsafeNameError):
        _jar.cache_path("/c", expected, "../a-1.jar")


def test_run_id_is_stable_within_a_process():
    from ansible_collections.cdcops.flink_cdc.plugins.action.flink_connector_jar import run_id
    assert run_id() == run_id() and run_id().startswith("%d:" % os.getppid())
