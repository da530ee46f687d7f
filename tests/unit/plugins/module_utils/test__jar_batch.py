"""Unit tests for the several-jars and fetch_mode=controller parts of plugins/module_utils/_connector_jar/
and plugins/plugin_utils/_connector_jar/.

Pure functions and local files only (jars built with tests/bed/jars.py in tmp
dirs). The HTTP paths, the action plugin and the real failure injections are
covered by tests/integration/test_flink_connector_jar_batch.py.
"""

import errno
import json
import os
import sys

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    checksums,
    connectors,
    dest_state,
    download,
    ensure,
    install,
    jarfile,
    options,
    plan as jar_plan,
    sources,
    urls,
    wire,
)
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import (
    cache as jar_cache,
    host_records,
    push,
    rerun as jar_rerun,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import (
    ChecksumError,
    InvalidJarError,
    JarError,
    UnsafeNameError,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.plan import Want
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest

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


# --- install_temps --------------------------------------------------------------------------------

def _temp(dest, filename, data):
    out, temp = install.open_temp(str(dest), filename)
    with out:
        out.write(data)
    return temp


def test_install_temps_installs_all_and_leaves_nothing_else(tmp_path):
    (tmp_path / "a-1.jar").write_bytes(b"old a")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    assert install.install_temps(str(tmp_path), installs, 0o640, None, None, backup=False) == {}
    assert (tmp_path / "a-1.jar").read_bytes() == b"new a" and (tmp_path / "b-1.jar").read_bytes() == b"new b"
    assert sorted(os.listdir(str(tmp_path))) == ["a-1.jar", "b-1.jar"]  # no keeps, no temps
    assert oct(os.stat(str(tmp_path / "b-1.jar")).st_mode & 0o777) == oct(0o640)


def test_install_temps_backs_up_replaced_files(tmp_path):
    (tmp_path / "a-1.jar").write_bytes(b"old a")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    saved = install.install_temps(str(tmp_path), installs, 0o644, None, None, backup=True)
    assert list(saved) == ["a-1.jar"] and saved["a-1.jar"].endswith(".bak")
    assert open(saved["a-1.jar"], "rb").read() == b"old a"
    assert jar_plan.list_jars(str(tmp_path)) == ["a-1.jar", "b-1.jar"] and install.stale_temps(str(tmp_path)) == []


def test_install_temps_failing_before_any_rename_changes_nothing(tmp_path):
    (tmp_path / "b-1.jar").mkdir()  # a directory where a jar should go: it cannot be kept nor replaced
    (tmp_path / "b-1.jar" / "x").write_bytes(b"x")
    installs = [(_temp(tmp_path, "a-1.jar", b"new a"), "a-1.jar"), (_temp(tmp_path, "b-1.jar", b"new b"), "b-1.jar")]
    with pytest.raises(JarError):
        install.install_temps(str(tmp_path), installs, 0o644, None, None, backup=False)
    assert not (tmp_path / "a-1.jar").exists()
    assert sorted(os.listdir(str(tmp_path))) == sorted(["b-1.jar"] + [os.path.basename(t) for t, dummy in installs])


# --- requests from options ------------------------------------------------------------------------

def test_jar_request_from_options():
    repo = "https://repo.example/m2"
    present = sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0"), repo)
    assert present.state == "present" and present.source.url.endswith("/3.1.0/%s-3.1.0.jar" % PGA)
    absent = sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA), repo, "absent")
    assert absent.state == "absent" and absent.source.filename == ""
    versioned = sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0", state="absent"),
                                    repo, "present")
    assert versioned.state == "absent" and versioned.source.filename == "%s-3.1.0.jar" % PGA
    assert sources.jar_request(dict(url=repo + "/x/a-1.jar"), repo).source.kind == "url"
    assert sources.jar_request(dict(src="/tmp/a-1.jar", checksum="sha1:" + "0" * 40), repo).source.checksum.algorithm \
        == "sha1"
    with pytest.raises(JarError) as err:
        sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA), repo, "present", "jars[2]: ")
    assert err.value.msg == "jars[2]: version is required to install org.apache.flink:%s (state=present)." % PGA
    with pytest.raises(UnsafeNameError) as err:
        sources.jar_request(dict(group_id="org.apache.flink", artifact_id=PGA, version="../x"), repo, "present", "jars[0]: ")
    assert err.value.msg.startswith("jars[0]: version") and str(err.value) == err.value.msg


def test_argument_spec_rules():
    spec, rules = options.argument_spec(internal=False), options.argument_rules(internal=False)
    good = ArgumentSpecValidator(spec, **rules).validate(
        dict(dest="/lib", jars=[dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0")]))
    assert good.error_messages == [] and good.validated_parameters["jars"][0]["state"] is None
    for bad in (dict(dest="/lib", jars=[], artifact_id=PGA), dict(dest="/lib", jars=[], checksum="sha1:x"),
                dict(dest="/lib", jars=[dict(group_id="g")]), dict(dest="/lib", jars=[dict(url="u", src="s")]),
                dict(dest="/lib"), dict(dest="/lib", jars=[], _pushed={})):
        assert ArgumentSpecValidator(spec, **rules).validate(bad).error_messages, bad
    assert "_pushed" in options.argument_spec() and "_pushed" in options.argument_rules()["required_one_of"][0]


# --- what the controller tells the host -----------------------------------------------------------

def test_pushed_item_round_trip_without_secrets():
    source = sources.maven_source("https://user:secret@repo.example/m2", "org.apache.flink", PGA, "3.1.0")
    cached = jar_cache.CachedJar("/cache/x.jar", checksums.Checksum("sha256", "a" * 64), 10, (PG3,))
    item = push.pushed_item(JarRequest(source), cached)
    assert "secret" not in json.dumps(item)
    assert item == {"state": "present", "name": "%s-3.1.0.jar" % PGA, "artifact_id": PGA,
                    "group_id": "org.apache.flink", "url": urls.mask_url(source.url), "checksum": "sha256:" + "a" * 64,
                    "factories": [PG3]}
    request = wire.pushed_request(item)
    assert request.source.pushed and request.source.kind == "src" and request.source.src is None
    assert request.source.checksum.hexdigest == "a" * 64 and request.source.planned_factories == (PG3,)
    assert request.source.expected_factories == (PG3,)
    absent = wire.pushed_request(push.pushed_item(JarRequest(sources.maven_artifact("com.starrocks", SRA), "absent"), None))
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
        wire.pushed_request(item)


def _pushed(path, src=None, checksum=None):
    source = sources.src_source(path)
    item = push.pushed_item(JarRequest(source), jar_cache.CachedJar(path, checksums.Checksum("sha256", checksum or jars.sha256_file(path))))
    if src:
        item["src"] = src
    return wire.pushed_request(item)


def test_ensure_jars_with_pushed_jars_asks_then_installs(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    os.link(jars.published_path(str(tmp_path / "repo"), "3.0.1"), str(lib / ("%s-3.0.1.jar" % PGA)))
    before = sorted(os.listdir(str(lib)))
    opts, http = options.InstallOptions(), options.HttpOptions()

    check = ensure.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=True)
    assert check["changed"] and "_needed" not in check
    assert [j["transferred"] for j in check["jars"]] == [False, False]
    assert check["removed"] == [str(lib / ("%s-3.0.1.jar" % PGA))]

    asked = ensure.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=False)
    assert asked == {"changed": False, "_needed": [os.path.basename(new_pg), os.path.basename(new_sr)],
                     "msg": asked["msg"]}
    assert sorted(os.listdir(str(lib))) == before

    done = ensure.ensure_jars([_pushed(new_pg, src=new_pg), _pushed(new_sr, src=new_sr)], str(lib), http, opts, False)
    assert done["changed"] and [j["transferred"] for j in done["jars"]] == [True, True]
    assert sorted(os.listdir(str(lib))) == sorted(os.path.basename(p) for p in (new_pg, new_sr))
    assert done["jars"][0]["checksum"] == jars.sha256_file(new_pg)

    again = ensure.ensure_jars([_pushed(new_pg), _pushed(new_sr)], str(lib), http, opts, check_mode=False)
    assert not again["changed"] and "_needed" not in again


def test_a_pushed_file_that_does_not_match_changes_nothing(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    with pytest.raises(ChecksumError) as err:
        ensure.ensure_jars([_pushed(new_pg, src=new_pg), _pushed(new_sr, src=new_sr, checksum="0" * 64)], str(lib),
                           options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert "pushed from the controller" in err.value.msg
    assert os.listdir(str(lib)) == []


# --- the controller cache -------------------------------------------------------------------------

def test_cache_jar_fills_once_and_reuses(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    source = sources.src_source(src)

    cold = jar_cache.cache_jar(source, cache, options.HttpOptions(), check_mode=True)
    assert cold.path is None and cold.checksum.hexdigest == jars.sha256_file(src) and cold.factories == (PG3,)
    assert not os.path.exists(cache)  # check mode writes nothing

    first = jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-1")
    assert first.path == os.path.join(cache, "sha256", jars.sha256_file(src), os.path.basename(src))
    assert jars.sha256_file(first.path) == jars.sha256_file(src) and first.checksum.hexdigest == jars.sha256_file(src)
    assert first.factories == (PG3,) and first.size == os.path.getsize(src) and not first.downloaded
    inode = os.stat(first.path).st_ino

    again = jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-2")
    assert again.path == first.path and os.stat(first.path).st_ino == inode and again.factories == (PG3,)
    assert jar_cache.cache_jar(source, cache, options.HttpOptions(), check_mode=True).path == first.path  # warm check mode


def test_cache_jar_refetches_an_entry_changed_behind_its_back(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    first = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions())
    with open(first.path, "ab") as f:
        f.write(b"junk")
    again = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions())
    assert jars.sha256_file(again.path) == jars.sha256_file(src)


def test_cache_jar_validates_an_entry_cached_without_validation(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    plain = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), validate=False)
    with open(plain.path + jar_cache.CACHE_META_SUFFIX) as f:
        assert json.load(f)["validated"] is False
    inode = os.stat(plain.path).st_ino
    checked = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), validate=True)
    assert os.stat(checked.path).st_ino == inode  # validated in place, not copied again
    with open(plain.path + jar_cache.CACHE_META_SUFFIX) as f:
        assert json.load(f)["validated"] is True


def test_cache_jar_force_fetches_again_once_per_run(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    first = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    inode = os.stat(first.path).st_ino
    forced = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), force=True, run_id="run-2")
    inode2 = os.stat(forced.path).st_ino
    assert inode2 != inode
    same_run = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), force=True, run_id="run-2")
    assert os.stat(same_run.path).st_ino == inode2


def test_cache_jar_failure_is_not_retried_within_a_run(tmp_path):
    thin = jars.published_path(str(tmp_path / "repo"), "3.1.0", thin=True)
    cache = str(tmp_path / "cache")
    source = sources.src_source(thin)._replace(artifact_id=PGA)  # neutral to the name check: only content tells
    with pytest.raises(InvalidJarError) as first:
        jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-1")
    assert "thin connector jar" in first.value.msg and "earlier in this run" not in first.value.msg
    with pytest.raises(JarError) as second:
        jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-1")
    assert "thin connector jar" in second.value.msg and "earlier in this run" in second.value.msg
    with pytest.raises(InvalidJarError) as next_run:
        jar_cache.cache_jar(source, cache, options.HttpOptions(), run_id="run-2")
    assert "earlier in this run" not in next_run.value.msg
    entry = os.path.join(cache, "sha256", jars.sha256_file(thin))
    assert sorted(os.listdir(entry)) == [jar_cache.CACHE_FAILURE, jar_cache.CACHE_LOCK]  # no jar, no temp


def test_cache_jar_src_must_exist_and_match_its_pin(tmp_path):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    with pytest.raises(JarError) as err:
        jar_cache.cache_jar(sources.src_source(str(tmp_path / "none-1.jar")), cache, options.HttpOptions())
    assert "not a file on the controller" in err.value.msg
    with pytest.raises(ChecksumError):
        jar_cache.cache_jar(sources.src_source(src, "sha256:" + "0" * 64), cache, options.HttpOptions())
    assert not os.path.exists(cache)


def _left_in(cache):
    return sorted(os.path.relpath(os.path.join(d, n), cache) for d, dummy, names in os.walk(cache) for n in names)


def _full_cache_message(cache, src):
    """The start every full-cache error shares, whichever path found it."""
    return "Not enough space in the controller cache %s for %s: it needs %d bytes" % (
        cache, os.path.basename(src), os.path.getsize(src))


def test_cache_jar_refuses_up_front_a_jar_larger_than_the_free_space(tmp_path, monkeypatch):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    # statvfs of the cache's filesystem says 1000 bytes are free.
    monkeypatch.setattr(download, "free_bytes", lambda path: 1000)
    writes = []
    monkeypatch.setattr(download, "_write_all", lambda out, data: writes.append(len(data)))
    with pytest.raises(JarError) as err:
        jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    msg = err.value.msg
    assert msg.startswith(_full_cache_message(cache, src)), msg
    assert "the filesystem there has 1000 bytes (0.0 MiB) free" in msg
    assert "set controller_cache_dir" in msg and "Nothing was changed on the hosts" in msg
    assert err.value.details == {"cache_dir": cache, "needed_bytes": os.path.getsize(src), "free_bytes": 1000}
    assert writes == []  # refused before a byte was written
    assert [f for f in _left_in(cache) if not f.endswith((".lock", ".json"))] == []
    # The other hosts of the run get the same error, with its details, without trying again.
    with pytest.raises(JarError) as again:
        jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    assert again.value.msg.startswith(msg) and "earlier in this run" in again.value.msg
    assert again.value.details["needed_bytes"] == os.path.getsize(src)


def test_cache_jar_out_of_space_while_writing_fails_alike_and_leaves_nothing(tmp_path, monkeypatch):
    """statvfs said there was room, then the write failed with ENOSPC (another writer filled the filesystem)."""
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    real_write_all, real_free_bytes = download._write_all, download.free_bytes
    full = []

    def write_some_then_fill_up(out, data):
        if os.fstat(out.fileno()).st_size:
            full.append(True)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write_all(out, data[:100])  # a partial file that must not stay

    monkeypatch.setattr(download, "_write_all", write_some_then_fill_up)
    monkeypatch.setattr(download, "CHUNK_SIZE", 1024)  # several writes: the first one lands, the next fails
    # statvfs: the real (ample) free space before the write, none once the filesystem has filled up.
    monkeypatch.setattr(download, "free_bytes", lambda path: 0 if full else real_free_bytes(path))
    with pytest.raises(JarError) as err:
        jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    msg = err.value.msg
    assert msg.startswith(_full_cache_message(cache, src)), msg
    assert "the filesystem there has 0 bytes (0.0 MiB) free" in msg and "set controller_cache_dir" in msg
    assert err.value.details["needed_bytes"] == os.path.getsize(src)
    assert [f for f in _left_in(cache) if not f.endswith((".lock", ".json"))] == []


def test_write_json_that_runs_out_of_space_leaves_no_temp_file(tmp_path, monkeypatch):
    path = str(tmp_path / "note.json")
    jar_cache.write_json(path, {"a": 1})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(jar_cache.json, "dump", full)
    with pytest.raises(OSError):
        jar_cache.write_json(path, {"a": 2})
    assert os.listdir(str(tmp_path)) == ["note.json"]  # the old note, and no temp beside it
    with open(path) as f:
        assert json.load(f) == {"a": 1}


def test_space_needed_says_at_least_what_arrived_when_the_size_is_unknown():
    assert download.space_needed(2097152, 0, 1048576) == \
        "it needs 2097152 bytes (2.0 MiB), and the filesystem there has 1048576 bytes (1.0 MiB) free"
    assert download.space_needed(None, 1048576, None) == \
        "it needs at least 1048576 bytes (1.0 MiB) (what had arrived when the filesystem filled up; the " \
        "repository did not give the jar's size)"


def test_cache_path_is_content_addressed_and_safe(tmp_path):
    expected = checksums.Checksum("sha1", "b" * 40)
    assert jar_cache.cache_path("/c", expected, "a-1.jar") == "/c/sha1/%s/a-1.jar" % ("b" * 40)
    with pytest.raises(UnsafeNameError):
        jar_cache.cache_path("/c", expected, "../a-1.jar")


def test_run_id_is_stable_within_a_process():
    from ansible_collections.cdcops.flink_cdc.plugins.action.flink_connector_jar import run_id
    assert run_id() == run_id() and run_id().startswith("%d:" % os.getppid())


# --- what the controller remembers of each host ---------------------------------------------------

def _item(name, checksum="sha256:" + "a" * 64, state="present"):
    return {"state": state, "name": name, "checksum": checksum}


def test_host_memory_round_trip(tmp_path):
    cache = str(tmp_path / "cache")
    assert host_records.load_host_memory(cache, "tm1 10.0.0.1", "/opt/flink/lib")["jars"] == {}  # cold: nothing known
    host_records.write_host_memory(cache, "tm1 10.0.0.1", "/opt/flink/lib", {"a-1.jar": "sha256:" + "a" * 64})
    assert host_records.load_host_memory(cache, "tm1 10.0.0.1", "/opt/flink/lib")["jars"] == {"a-1.jar": "sha256:" + "a" * 64}
    # Another host, address or dest is another memory.
    assert host_records.load_host_memory(cache, "tm1 10.0.0.2", "/opt/flink/lib")["jars"] == {}
    assert host_records.load_host_memory(cache, "tm1 10.0.0.1", "/opt/flink/lib/")["jars"] == {}
    path = host_records.host_memory_path(cache, "tm1 10.0.0.1", "/opt/flink/lib")
    assert os.path.dirname(path) == os.path.join(cache, host_records.HOSTS_DIR)
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]  # written atomically: no temp left
    # Any host name or dest makes a plain file name inside hosts/.
    odd = host_records.host_memory_path(cache, "../../etc/passwd", "/x/../y")
    assert os.path.dirname(odd) == os.path.join(cache, host_records.HOSTS_DIR) and "/" not in os.path.basename(odd)


@pytest.mark.parametrize("content", ["not json", "[]", '{"host": "h", "dest": "/lib", "jars": []}',
                                     '{"host": "other", "dest": "/lib", "jars": {"a-1.jar": "sha256:00"}}'])
def test_a_damaged_or_foreign_host_memory_knows_nothing(tmp_path, content):
    cache = str(tmp_path / "cache")
    path = host_records.host_memory_path(cache, "h", "/lib")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(content)
    assert host_records.load_host_memory(cache, "h", "/lib")["jars"] == {}


def test_writing_the_host_memory_never_fails_the_task(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    host_records.write_host_memory(str(blocker), "h", "/lib", {"a-1.jar": "sha256:" + "a" * 64})  # no exception
    assert host_records.load_host_memory(str(blocker), "h", "/lib")["jars"] == {}


def test_jars_to_push_are_those_the_memory_does_not_vouch_for():
    items = [_item("a-1.jar"), _item("b-1.jar", "sha256:" + "b" * 64), _item("c-1.jar", None, "absent")]
    assert host_records.jars_to_push(items, {}) == ["a-1.jar", "b-1.jar"]  # cold: every jar to install
    warm = {"a-1.jar": "sha256:" + "a" * 64, "b-1.jar": "sha256:" + "b" * 64, "old-1.jar": "sha256:" + "c" * 64}
    assert host_records.jars_to_push(items, warm) == []
    assert host_records.jars_to_push(items, dict(warm, **{"b-1.jar": "sha256:" + "0" * 64})) == ["b-1.jar"]
    assert host_records.jars_to_push([_item("c-1.jar", None, "absent")], {}) == []


def test_remembered_adds_what_the_host_holds_and_drops_what_it_removed():
    items = [_item("a-2.jar"), _item("b-1.jar"), {"state": "absent", "name": "", "artifact_id": "c"}]
    memory = {"a-1.jar": "sha256:" + "1" * 64, "c-1.jar": "sha256:" + "2" * 64, "other.jar": "sha256:" + "3" * 64}
    result = {"changed": True, "removed": ["/lib/a-1.jar", "/lib/c-1.jar"],
              "jars": [{"checksum": "4" * 64, "removed": ["/lib/a-1.jar"]}, {"checksum": "5" * 64, "removed": []},
                       {"removed": ["/lib/c-1.jar"]}]}
    assert host_records.remembered(memory, items, result, single=False) == {
        "a-2.jar": "sha256:" + "4" * 64, "b-1.jar": "sha256:" + "5" * 64, "other.jar": "sha256:" + "3" * 64}
    single = {"changed": False, "path": "/lib/a-2.jar", "checksum": "4" * 64, "removed": []}
    assert host_records.remembered({}, items[:1], single, single=True) == {"a-2.jar": "sha256:" + "4" * 64}


# --- the host moves the pushed copies into dest ---------------------------------------------------

def _push_copy(path, tmpdir):
    """What the action plugin's transfer leaves on the host: a private copy in its temp dir."""
    os.makedirs(str(tmpdir), exist_ok=True)
    copy = os.path.join(str(tmpdir), os.path.basename(path))
    with open(path, "rb") as src, open(copy, "wb") as out:
        out.write(src.read())
    return copy


def _pushed_in(path, tmpdir, checksum=None):
    item = push.pushed_item(JarRequest(sources.src_source(path)),
                            jar_cache.CachedJar(path, checksums.Checksum("sha256", checksum or jars.sha256_file(path))))
    item["src"] = _push_copy(path, tmpdir)
    return wire.pushed_request(item, str(tmpdir))


def test_pushed_request_may_move_only_the_action_plugins_own_copies():
    item = {"name": "a-1.jar", "checksum": "sha256:" + "a" * 64}
    tmpdir = "/home/u/.ansible/tmp/ansible-tmp-1-2-3"
    assert wire.pushed_request(dict(item, src=tmpdir + "/a-1.jar"), tmpdir).source.movable
    assert wire.pushed_request(dict(item, src=tmpdir + "/a-1.jar"), tmpdir + "/").source.movable
    assert not wire.pushed_request(dict(item, src=tmpdir + "/a-1.jar")).source.movable  # no temp dir named
    assert not wire.pushed_request(dict(item, src="/srv/jars/a-1.jar"), tmpdir).source.movable
    assert not wire.pushed_request(dict(item, src=tmpdir + "/sub/a-1.jar"), tmpdir).source.movable
    assert not wire.pushed_request(dict(item, src=tmpdir + "/../a-1.jar"), tmpdir).source.movable
    assert not wire.pushed_request(item, tmpdir).source.movable  # nothing pushed
    assert not sources.src_source(tmpdir + "/a-1.jar").movable  # a user's src never is


def test_ensure_jars_moves_the_pushed_copies_into_dest(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    tmpdir = tmp_path / "remote-tmp" / "ansible-tmp-1"
    requests = [_pushed_in(new_pg, tmpdir), _pushed_in(new_sr, tmpdir)]
    inodes = {os.path.basename(r.source.src): os.stat(r.source.src).st_ino for r in requests}

    done = ensure.ensure_jars(requests, str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert done["changed"] and [j["checksum"] for j in done["jars"]] == [jars.sha256_file(p) for p in (new_pg, new_sr)]
    assert os.listdir(str(tmpdir)) == []  # moved, not copied
    for name, inode in inodes.items():
        st = os.stat(str(lib / name))
        assert st.st_ino == inode and oct(st.st_mode & 0o7777) == oct(0o644)
    assert sorted(os.listdir(str(lib))) == sorted(inodes)  # no temp left behind


def test_a_pushed_copy_on_another_filesystem_is_copied(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    request = _pushed_in(new_pg, tmp_path / "remote-tmp")
    rename = os.rename

    def cross_device(src, dst):
        if src == request.source.src:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return rename(src, dst)

    monkeypatch.setattr(install.os, "rename", cross_device)
    done = ensure.ensure_jars([request], str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert done["changed"] and os.path.exists(request.source.src)  # left for the action plugin to remove
    assert jars.sha256_file(str(lib / os.path.basename(new_pg))) == jars.sha256_file(new_pg)
    assert os.stat(str(lib / os.path.basename(new_pg))).st_ino != os.stat(request.source.src).st_ino


def test_adopt_pushed_refuses_anything_but_a_private_regular_file(tmp_path):
    target = tmp_path / "lib" / ".a-1.jar.x.part"
    target.parent.mkdir()
    own = tmp_path / "tmp" / "own.jar"
    own.parent.mkdir()
    own.write_bytes(b"jar")
    linked = tmp_path / "tmp" / "linked.jar"
    linked.write_bytes(b"jar")
    os.link(str(linked), str(tmp_path / "elsewhere.jar"))  # someone else keeps a name for it
    symlink = tmp_path / "tmp" / "symlink.jar"
    symlink.symlink_to(own)
    for refused in (linked, symlink, tmp_path / "tmp", tmp_path / "tmp" / "missing.jar"):
        assert download.adopt_pushed(str(refused), str(target)) is None
        assert not target.exists()
    if os.geteuid() == 0:
        foreign = tmp_path / "tmp" / "foreign.jar"
        foreign.write_bytes(b"jar")
        os.chown(str(foreign), 12345, 12345)  # pushed for another user (become): theirs to change
        assert download.adopt_pushed(str(foreign), str(target)) is None and foreign.exists()
    moved = download.adopt_pushed(str(own), str(target))
    assert moved is not None and not own.exists() and target.read_bytes() == b"jar"
    assert download.read_adopted(str(target), moved, ["sha1"]).digests.size == 3


def test_read_adopted_refuses_a_file_replaced_or_linked_after_the_move(tmp_path):
    own, target, other = tmp_path / "own.jar", tmp_path / "target.part", tmp_path / "other.jar"
    own.write_bytes(b"jar")
    moved = download.adopt_pushed(str(own), str(target))
    os.link(str(target), str(tmp_path / "second-name"))
    with pytest.raises(JarError) as err:
        download.read_adopted(str(target), moved)
    assert "replaced by another file" in err.value.msg
    os.unlink(str(tmp_path / "second-name"))
    other.write_bytes(b"other")
    os.replace(str(other), str(target))
    with pytest.raises(JarError) as err:
        download.read_adopted(str(target), moved)
    assert "replaced by another file" in err.value.msg


def test_a_moved_copy_that_does_not_match_changes_nothing(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new_pg, new_sr = jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path)
    tmpdir = tmp_path / "remote-tmp"
    with pytest.raises(ChecksumError) as err:
        ensure.ensure_jars([_pushed_in(new_pg, tmpdir), _pushed_in(new_sr, tmpdir, checksum="0" * 64)], str(lib),
                           options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert "pushed from the controller" in err.value.msg
    assert os.listdir(str(lib)) == []  # neither jar, nor a temp file


def test_a_pushed_jar_is_sent_with_its_sha256_and_hashed_once_on_the_host(tmp_path, monkeypatch):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    pinned = sources.src_source(src, "sha1:" + jars.sha_hex(src, "sha1"))
    cached = jar_cache.cache_jar(pinned, str(tmp_path / "cache"), options.HttpOptions(), run_id="run-1")
    item = push.pushed_item(JarRequest(pinned), cached)
    assert item["checksum"] == "sha256:" + jars.sha256_file(src)
    hashed = []
    hasher_init = checksums.Hasher.__init__

    def recording(self, algorithms=()):
        hasher_init(self, algorithms)
        hashed.append(sorted(self._hashes))

    monkeypatch.setattr(checksums.Hasher, "__init__", recording)
    lib = tmp_path / "lib"
    lib.mkdir()
    item["src"] = _push_copy(cached.path, tmp_path / "remote-tmp")
    ensure.ensure_jars([wire.pushed_request(item, str(tmp_path / "remote-tmp"))], str(lib), options.HttpOptions(),
                       options.InstallOptions(), check_mode=False)
    assert hashed == [["sha256"]]  # one pass, one algorithm
    del hashed[:]
    # In the same module run (the rerun answer, ensure.rerun_record), the jar it just installed is not read again.
    same_run = ensure.ensure_jars([wire.pushed_request(dict(item, src=None))], str(lib), options.HttpOptions(),
                                  options.InstallOptions(), check_mode=True)
    assert not same_run["changed"] and hashed == []
    # A later run is another process, which knows nothing of this one: it reads the jar once.
    monkeypatch.setattr(checksums, "_INSTALLED", {})
    again = ensure.ensure_jars([wire.pushed_request(dict(item, src=None))], str(lib), options.HttpOptions(),
                               options.InstallOptions(), check_mode=False)
    assert not again["changed"] and hashed == [["sha256"]]


# --- what the host imports -------------------------------------------------------------------------

IMPORTS = r"""
import json, os, sys
import ansible.module_utils.basic
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import ensure, options, urls, wire
seen = ["ansible.module_utils.urls" in sys.modules]
item = json.loads(sys.argv[2])
ensure.ensure_jars([wire.pushed_request(item, sys.argv[4])], sys.argv[3], options.HttpOptions(), options.InstallOptions(),
                 False)
seen.append("ansible.module_utils.urls" in sys.modules)
masked = urls.mask_url("https://user:secret@repo.example/m2/a.jar")
seen.append("ansible.module_utils.urls" in sys.modules)
print(json.dumps([seen, masked]))
"""


def test_installing_pushed_jars_never_imports_the_download_code(tmp_path):
    """ansible.module_utils.urls (http.client, email, cryptography...) is a third of an execution's CPU."""
    import subprocess
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    lib = tmp_path / "lib"
    lib.mkdir()
    item = push.pushed_item(JarRequest(sources.maven_source("https://repo.example/m2", "org.apache.flink", PGA, "3.1.0")),
                            jar_cache.CachedJar(src, checksums.Checksum("sha256", jars.sha256_file(src))))
    item["src"] = _push_copy(src, tmp_path / "remote-tmp")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # this checkout's collection
    out = subprocess.run([sys.executable, "-c", IMPORTS, "", json.dumps(item), str(lib), str(tmp_path / "remote-tmp")],
                         capture_output=True, text=True, check=False, env=env)
    assert out.returncode == 0, out.stderr
    seen, masked = json.loads(out.stdout)
    assert seen == [False, False, False], out.stderr  # masking a URL with credentials needs no Ansible either
    assert masked == MASKED["https://user:secret@repo.example/m2/a.jar"] and "secret" not in masked
    if ANSIBLE_MASK_URL:
        assert masked == ANSIBLE_MASK_URL("https://user:secret@repo.example/m2/a.jar")
    assert os.path.exists(str(lib / ("%s-3.1.0.jar" % PGA)))


# What ansible-core 2.19's ansible.module_utils.urls.mask_url answers; older ansible-core has no mask_url, and the
# collection's own masking must give the same there.
MASKED = {
    "https://repo.example/m2/a.jar": "https://repo.example/m2/a.jar",
    "http://127.0.0.1:8081/a.jar?x=@y": "http://127.0.0.1:8081/a.jar?x=@y",
    "https://user@repo.example/a.jar": "https://****@repo.example/a.jar",
    "https://user:pw@repo.example:8443/a.jar": "https://****:****@repo.example:8443/a.jar",
    "https://repo.example/path/with@sign/a.jar": "https://repo.example/path/with@sign/a.jar",
    "https://user:secret@repo.example/m2/a.jar": "https://****:****@repo.example/m2/a.jar",
}
ANSIBLE_MASK_URL = getattr(__import__("ansible.module_utils.urls", fromlist=["urls"]), "mask_url", None)


@pytest.mark.parametrize("url", sorted(MASKED))
def test_mask_url_is_ansibles(url):
    assert urls.mask_url(url) == MASKED[url]
    if ANSIBLE_MASK_URL:
        assert urls.mask_url(url) == ANSIBLE_MASK_URL(url)


# --- controller work done once per run, not once per host -----------------------------------------

def test_a_src_jar_is_hashed_once_per_run_on_the_controller(tmp_path, monkeypatch):
    src = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    cache = str(tmp_path / "cache")
    calls = []
    digests = checksums.file_digests

    def counting(path, algorithms=()):
        calls.append(path)
        return digests(path, algorithms)

    monkeypatch.setattr(checksums, "file_digests", counting)
    first = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1")
    hashed = len(calls)
    for dummy in range(3):  # the other hosts of the run
        assert jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-1") == first
    assert len(calls) == hashed
    jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-2")  # a new run looks again
    assert len(calls) == hashed + 1
    jars.publish_postgres_cdc(str(tmp_path / "repo"), "3.1.0", size=4096)  # the file changes within the run
    changed = jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), run_id="run-2")
    assert changed.checksum.hexdigest == jars.sha256_file(src) != first.checksum.hexdigest
    notes = sorted(os.listdir(os.path.join(cache, "sources")))
    with open(os.path.join(cache, "sources", notes[0])) as f:
        note = f.read()
    hashed = len(calls)
    jar_cache.cache_jar(sources.src_source(src), cache, options.HttpOptions(), check_mode=True, run_id="run-3")
    assert len(calls) == hashed + 1  # check mode hashes, and notes nothing
    assert sorted(os.listdir(os.path.join(cache, "sources"))) == notes
    with open(os.path.join(cache, "sources", notes[0])) as f:
        assert f.read() == note


# --- reading what a jar registers without parsing all its entries ---------------------------------

def _by_zipfile(path):
    import zipfile
    with zipfile.ZipFile(path) as jar:
        return jarfile._services_of(jar)


def _fast(path):
    with open(path, "rb") as f:
        return jarfile._factories_in_central_directory(f, os.path.getsize(path))


def _jar_with(path, entries, comment=b"", compression=None):
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.comment = comment
        for name, data in entries:
            z.writestr(name, data, compress_type=compression)
    return path


SERVICES = "# comment\n%s\n\n%s  \n%s\n" % (PG3, connectors.STARROCKS_FACTORIES[0], PG3)


@pytest.mark.parametrize("entries, comment, compression", [
    ([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"), (jarfile.FACTORY_SERVICE, SERVICES)], b"", None),
    ([(jarfile.FACTORY_SERVICE, SERVICES), ("a/B.class", "x" * 5000)], b"", 0),  # stored
    ([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"), ("a/B.class", "x")], b"", None),  # registers nothing
    ([("x/" + jarfile.FACTORY_SERVICE, "not this one"), (jarfile.FACTORY_SERVICE, SERVICES)], b"", None),
    ([(jarfile.FACTORY_SERVICE, SERVICES)], b"an archive comment", None),
    ([("M" * 40 + jarfile.FACTORY_SERVICE, "a longer name ending in the service name")], b"", None),
])
def test_factories_from_the_central_directory_are_zipfiles(tmp_path, entries, comment, compression):
    path = _jar_with(str(tmp_path / "a-1.jar"), entries, comment, compression)
    assert _fast(path) == _by_zipfile(path) == jarfile.read_factories(path)


def test_factories_of_real_connector_jars_come_from_the_central_directory(tmp_path):
    for path in (jars.published_path(str(tmp_path / "repo"), "3.1.0"), starrocks(tmp_path),
                 jars.published_path(str(tmp_path / "repo"), "2.4.2")):
        assert _fast(path) == _by_zipfile(path) == jarfile.read_factories(path) != ()


def test_unusual_jars_are_left_to_zipfile(tmp_path):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        twice = _jar_with(str(tmp_path / "twice.jar"), [(jarfile.FACTORY_SERVICE, PG2), (jarfile.FACTORY_SERVICE, PG3)])
    assert _fast(twice) is None
    assert jarfile.read_factories(twice) == _by_zipfile(twice) == (PG3,)  # zipfile's answer: the last one
    normal = _jar_with(str(tmp_path / "normal.jar"), [(jarfile.FACTORY_SERVICE, SERVICES)])
    prefixed = tmp_path / "prefixed.jar"  # data before the zip: not what a jar in lib/ looks like
    with open(normal, "rb") as f:
        prefixed.write_bytes(b"#!/bin/sh\nexec java -jar \"$0\"\n" + f.read())
    assert _fast(str(prefixed)) is None
    with pytest.raises(InvalidJarError):
        jarfile.read_factories(str(prefixed))
    damaged = _jar_with(str(tmp_path / "damaged.jar"), [(jarfile.FACTORY_SERVICE, SERVICES * 20)], compression=0)
    jars.corrupt_entry(damaged, jarfile.FACTORY_SERVICE)
    assert _fast(damaged) is None
    with pytest.raises(InvalidJarError) as err:
        jarfile.read_factories(damaged)
    assert "CRC" in err.value.msg
    assert jarfile.safe_factories(damaged) == ()


# --- the rerun without a module execution -----------------------------------------------------------

def _lib_with_two_jars(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    a = jars.build_jar(str(lib / "a-1.jar"), factories=("a.Factory",), title="a", version="1")
    jars.build_jar(str(lib / "b-1.jar"), factories=("b.Factory",), title="b", version="1")
    (lib / "notes.txt").write_text("not a jar: not part of the state")
    return lib, a


def test_dest_state_sees_every_change_a_rerun_depends_on(tmp_path):
    lib, a = _lib_with_two_jars(tmp_path)
    names = ["a-1.jar", "missing-1.jar"]
    first = dest_state.dest_state(str(lib), names)
    assert sorted(first["entries"]) == ["a-1.jar", "b-1.jar"]
    assert first["sha256"] == {"a-1.jar": [jars.sha256_file(a), os.path.getsize(a)]}  # a missing name: absent
    assert dest_state.dest_state(str(lib), names) == first
    (lib / "notes.txt").write_text("changed")
    assert dest_state.dest_state(str(lib), names) == first  # only *.jar entries count

    def changed(change):
        before = dest_state.dest_state(str(lib), names)
        change()
        after = dest_state.dest_state(str(lib), names)
        return after != before and after["entries"] != before["entries"]

    b = str(lib / "b-1.jar")

    def rewrite_in_place():  # same size, same mtime: only the ctime tells
        st = os.stat(b)
        data = bytearray(open(b, "rb").read())
        data[-1] ^= 0xFF
        with open(b, "r+b") as f:
            f.write(bytes(data))
        os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.path.getsize(b) == st.st_size and os.stat(b).st_mtime_ns == st.st_mtime_ns

    assert changed(rewrite_in_place)
    assert changed(lambda: os.chmod(b, 0o600))
    assert changed(lambda: os.symlink(b, str(lib / "c-1.jar")))
    c = jars.build_jar(str(tmp_path / "other.jar"), factories=("c.Factory",), title="c", version="2")
    assert changed(lambda: os.replace(c, b))  # the link now leads to another file
    assert changed(lambda: os.unlink(str(lib / "c-1.jar")))


def test_the_probe_command_prints_dest_state(tmp_path):
    """The controller sends dest_state.py's own source (plugin_utils/_probe.py): run it as the host would."""
    import subprocess
    from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils import _probe

    def parse_probe(out):
        return jar_rerun.probe_state(_probe.answer(out))

    lib, a = _lib_with_two_jars(tmp_path)
    env = dict(os.environ, CDCOPS_LIB=str(lib))
    command = jar_rerun.probe_command([sys.executable], "$CDCOPS_LIB", ["a-1.jar", "b-1.jar"])
    out = subprocess.run(command, shell=True, env=env, stdout=subprocess.PIPE, check=True).stdout.decode()
    assert parse_probe(out) == dest_state.dest_state(str(lib), ["a-1.jar", "b-1.jar"])
    # dest as the module's path option resolves it: variables and ~ expanded.
    assert parse_probe(out)["dest"] == str(lib)
    # A dest that is not a directory: an error, never a state.
    bad = subprocess.run(jar_rerun.probe_command([sys.executable], str(lib / "nope"), []), shell=True,
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    assert "error" in _probe.answer(bad) and parse_probe(bad) is None
    assert parse_probe("") is None and parse_probe("garbage\n") is None


def test_replay_only_when_dest_is_exactly_as_recorded(tmp_path):
    lib, a = _lib_with_two_jars(tmp_path)
    sha = jars.sha256_file(a)
    items = [_item("a-1.jar", "sha256:" + sha), {"state": "absent", "name": "old-1.jar"}]
    state = dest_state.dest_state(str(lib), ["a-1.jar"])
    record = {"state": state, "result": {"changed": False}}
    assert jar_rerun.replay(record, json.loads(json.dumps(state)), items)  # as stored and parsed: JSON both ways
    assert not jar_rerun.replay(record, None, items)
    assert not jar_rerun.replay({"state": state}, state, items)  # no recorded answer
    assert not jar_rerun.replay(record, dict(state, dest=str(tmp_path)), items)
    os.chmod(a, 0o600)
    assert not jar_rerun.replay(record, dest_state.dest_state(str(lib), ["a-1.jar"]), items)
    # An expected checksum the recorded state does not hold: never replayed, and that jar is the one to push.
    other = [_item("a-1.jar", "sha256:" + "0" * 64)]
    assert not jar_rerun.replay(record, state, other)
    assert jar_rerun.probe_mismatches(state, other) == ["a-1.jar"]
    assert jar_rerun.probe_mismatches(state, items) == []
    assert jar_rerun.probe_mismatches({"sha256": {}}, items) == ["a-1.jar"]


def test_rerun_key_covers_the_task_but_not_the_pushed_copies():
    items = [_item("a-1.jar")]
    key = jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, items, False, "/usr/bin/python3")
    assert key == jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, [dict(items[0], src="/tmp/x/a-1.jar")], False,
                                      "/usr/bin/python3")
    for other in (jar_rerun.rerun_key({"dest": "/lib", "mode": "0640"}, items, False, "/usr/bin/python3"),
                  jar_rerun.rerun_key({"dest": "/lib2", "mode": "0644"}, items, False, "/usr/bin/python3"),
                  jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, [_item("a-1.jar", "sha256:" + "b" * 64)], False,
                                      "/usr/bin/python3"),
                  jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, items, True, "/usr/bin/python3"),
                  jar_rerun.rerun_key({"dest": "/lib", "mode": "0644"}, items, False, "/usr/bin/python3.11")):
        assert other != key


def test_rerun_record_is_what_a_rerun_answers(tmp_path):
    lib, a = _lib_with_two_jars(tmp_path)
    sha = jars.sha256_file(a)
    item = dict(_item("a-1.jar", "sha256:" + sha), artifact_id="a", factories=["a.Factory"])
    request = wire.pushed_request(dict(item, src=str(tmp_path / "gone.jar")), str(tmp_path))
    opts = options.InstallOptions(validate=False, remove_other_versions=True, mode=0o644, uid=None, gid=None,
                                  backup=False, force=False)
    http = options.HttpOptions(timeout=5, validate_certs=True, url_username=None, url_password=None, headers={},
                               use_proxy=False, force=False)
    os.chmod(a, 0o644)
    record = ensure.rerun_record([request], str(lib), http, opts)
    rerun = ensure.ensure_jars([wire.pushed_request(item)], str(lib), http, opts, False)
    assert record["result"] == rerun and rerun["changed"] is False  # the pushed copy is not needed for it
    assert record["state"] == dest_state.dest_state(str(lib), ["a-1.jar"])
    os.chmod(a, 0o600)  # a rerun would fix the mode: nothing to replay
    assert ensure.rerun_record([request], str(lib), http, opts) is None


def test_host_memory_keeps_the_rerun_record(tmp_path):
    cache = str(tmp_path / "cache")
    jars_memory = {"a-1.jar": "sha256:" + "a" * 64}
    assert host_records.load_host_memory(cache, "h", "/lib") == {"jars": {}, "rerun": None}
    host_records.write_host_memory(cache, "h", "/lib", jars_memory, {"key": "k", "state": {}, "result": {}})
    assert host_records.load_host_memory(cache, "h", "/lib") == {
        "jars": jars_memory, "rerun": {"key": "k", "state": {}, "result": {}}}
    host_records.write_host_memory(cache, "h", "/lib", jars_memory)
    assert host_records.load_host_memory(cache, "h", "/lib") == {"jars": jars_memory, "rerun": None}
    assert host_records.load_host_memory(cache, "h", "/lib")["jars"] == jars_memory
