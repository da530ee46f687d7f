"""Unit tests for plugins/module_utils/_connector_jar/: pure functions and local files only.

Jars are real zip files built with tests/bed/jars.py in tmp dirs; downloads
over HTTP are covered by tests/integration/test_flink_connector_jar.py.
"""

import hashlib
import io
import os
import stat
import sys
import threading
import time
import zipfile

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import (
    checksums,
    connectors,
    download,
    ensure,
    install,
    jarfile,
    maven,
    options,
    plan as jar_plan,
    sources,
    urls,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import Checksum
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import (
    ChecksumError,
    InvalidJarError,
    JarError,
    UnsafeNameError,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
import jars  # noqa: E402

PG3 = "org.apache.flink.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PG2 = "com.ververica.cdc.connectors.postgres.table.PostgreSQLTableFactory"


# --- data ---------------------------------------------------------------------------------------

def test_known_connector_data_matches_facts_and_bed():
    # The class names of the connectors' META-INF/services files; tests/bed/jars.py builds jars from the same
    # sources independently.
    assert connectors.PG_CDC_FACTORY_2X == jars.PG_CDC_FACTORY_2X
    assert connectors.PG_CDC_FACTORY_3X == jars.PG_CDC_FACTORY_3X
    assert connectors.STARROCKS_FACTORIES == jars.STARROCKS_FACTORIES
    assert connectors.FACTORY_IDENTIFIERS[PG2] == connectors.FACTORY_IDENTIFIERS[PG3] == "postgres-cdc"
    assert {connectors.FACTORY_IDENTIFIERS[f] for f in jars.STARROCKS_FACTORIES} == {"starrocks"}
    assert [c.group_id for c in connectors.connectors_for("flink-sql-connector-postgres-cdc")] == \
        ["com.ververica", "org.apache.flink"]
    assert connectors.connectors_for("flink-sql-connector-postgres-cdc", "com.ververica")[0].required_factory == PG2
    assert all(c.source.startswith(("apache/flink-cdc ", "StarRocks/starrocks-connector-for-apache-flink "))
               for c in connectors.KNOWN_CONNECTORS)


# --- coordinates and paths ------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (("org.apache.flink", "flink-sql-connector-postgres-cdc", "3.1.0"),
     "org/apache/flink/flink-sql-connector-postgres-cdc/3.1.0/flink-sql-connector-postgres-cdc-3.1.0.jar"),
    (("com.starrocks", "flink-connector-starrocks", "1.2.11_flink-1.20"),
     "com/starrocks/flink-connector-starrocks/1.2.11_flink-1.20/flink-connector-starrocks-1.2.11_flink-1.20.jar"),
    (("org.apache.flink", "flink-sql-connector-postgres-cdc", "3.6.0-1.20"),
     "org/apache/flink/flink-sql-connector-postgres-cdc/3.6.0-1.20/flink-sql-connector-postgres-cdc-3.6.0-1.20.jar"),
    (("com.example", "thing", "1.0", "tests"), "com/example/thing/1.0/thing-1.0-tests.jar"),
])
def test_maven_path_follows_the_layout(args, expected):
    assert maven.maven_path(*args) == expected
    assert maven.maven_path(*args) == jars.maven_path(*args)


def test_maven_url_joins_without_double_slash():
    url = maven.maven_url("https://repo1.maven.org/maven2/", "com.starrocks", "flink-connector-starrocks", "1.2.11_flink-1.20")
    assert url == ("https://repo1.maven.org/maven2/com/starrocks/flink-connector-starrocks/1.2.11_flink-1.20/"
                   "flink-connector-starrocks-1.2.11_flink-1.20.jar")


@pytest.mark.parametrize("group, artifact, version, classifier", [
    ("org.apache.flink", "flink-sql-connector-postgres-cdc", "../../x", None),
    ("org.apache.flink", "flink-sql-connector-postgres-cdc", "..", None),
    ("org.apache.flink", "flink-sql-connector-postgres-cdc", "3.1.0/../../../etc", None),
    ("org.apache.flink", "../flink", "3.1.0", None),
    ("org.apache.flink", "a/b", "3.1.0", None),
    ("org..apache", "x", "1", None),
    ("org/apache", "x", "1", None),
    (".hidden", "x", "1", None),
    ("org.apache.flink", ".x", "1", None),
    ("org.apache.flink", "x", "1", "../y"),
    ("org.apache.flink", "x", "1 2", None),
    ("org.apache.flink", "x", "", None),
    ("", "x", "1", None),
])
def test_coordinates_refuse_traversal_and_odd_characters(group, artifact, version, classifier):
    with pytest.raises(UnsafeNameError) as err:
        maven.maven_path(group, artifact, version, classifier)
    assert "Nothing was changed" in err.value.msg


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://h/x.jar", "x.jar", "", "http:///x.jar"])
def test_only_http_urls(url):
    with pytest.raises(UnsafeNameError):
        sources.url_source(url)


def test_url_source_takes_the_last_segment_and_guesses_the_artifact():
    src = sources.url_source("https://h.example:8443/a/b/flink-sql-connector-postgres-cdc-3.1.0.jar?x=1")
    assert src.filename == "flink-sql-connector-postgres-cdc-3.1.0.jar"
    assert src.artifact_id == "flink-sql-connector-postgres-cdc"
    assert set(src.expected_factories) == {PG2, PG3}  # group unknown: either line
    with pytest.raises(UnsafeNameError):
        sources.url_source("https://h/download?id=3")
    with pytest.raises(UnsafeNameError):
        sources.url_source("https://h/a/..%2F..%2Fevil.jar")


def test_describe_url_hides_credentials_and_query():
    text = urls.describe_url("https://user:secret@repo.example:8443/m2/a.jar?token=abc")
    assert text == "host repo.example:8443 path /m2/a.jar"
    assert "secret" not in urls.mask_url("https://user:secret@repo.example/m2/a.jar")


@pytest.mark.parametrize("name, expected", [
    ("flink-sql-connector-postgres-cdc-3.1.0.jar", ("flink-sql-connector-postgres-cdc", "3.1.0")),
    ("flink-connector-starrocks-1.2.11_flink-1.20.jar", ("flink-connector-starrocks", "1.2.11_flink-1.20")),
    ("flink-sql-connector-postgres-cdc-3.6.0-1.20.jar", ("flink-sql-connector-postgres-cdc", "3.6.0-1.20")),
    ("foo.jar", None),
])
def test_split_jar_name(name, expected):
    assert maven.split_jar_name(name) == expected


def test_other_versions_matches_only_versions_of_that_artifact():
    names = ["flink-sql-connector-postgres-cdc-2.4.2.jar", "flink-sql-connector-postgres-cdc-3.1.0.jar",
             "flink-sql-connector-postgres-cdc-3.6.0-1.20.jar", "flink-connector-postgres-cdc-3.1.0.jar",
             "flink-sql-connector-postgres-cdc-pipeline-1.0.jar", "flink-dist-1.20.3.jar"]
    assert jar_plan.other_versions(names, "flink-sql-connector-postgres-cdc",
                                   keep="flink-sql-connector-postgres-cdc-3.1.0.jar") == [
        "flink-sql-connector-postgres-cdc-2.4.2.jar", "flink-sql-connector-postgres-cdc-3.6.0-1.20.jar"]
    assert jar_plan.other_versions(names, None) == []


def test_target_path_stays_inside_dest(tmp_path):
    assert install.target_path(str(tmp_path), "a-1.jar") == str(tmp_path / "a-1.jar")
    for bad in ("../a.jar", "a/b.jar", ".a.jar", "a.jar.part", ""):
        with pytest.raises(UnsafeNameError):
            install.target_path(str(tmp_path), bad)


# --- checksums ------------------------------------------------------------------------------------

def test_parse_checksum_accepts_the_three_algorithms():
    assert checksums.parse_checksum("sha256:" + "A" * 64) == Checksum("sha256", "a" * 64)
    assert checksums.parse_checksum(" sha512:" + "0" * 128).algorithm == "sha512"
    assert checksums.parse_checksum("SHA1:" + "f" * 40).hexdigest == "f" * 40


@pytest.mark.parametrize("value", ["md5:" + "0" * 32, "sha256:" + "0" * 63, "sha256:" + "g" * 64,
                                   "0" * 64, "sha1:", "", "sha256 " + "0" * 64])
def test_parse_checksum_refuses_anything_else(value):
    with pytest.raises(ChecksumError):
        checksums.parse_checksum(value)


def test_parse_sidecar_forms():
    digest = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    assert checksums.parse_sidecar(digest + "\n").hexdigest == digest
    assert checksums.parse_sidecar((digest.upper() + "  flink.jar\n").encode()).hexdigest == digest
    with pytest.raises(ChecksumError) as err:
        checksums.parse_sidecar(b"<!DOCTYPE html><html>login</html>", where="host h path /x.jar.sha1")
    assert "host h path /x.jar.sha1" in err.value.msg and "pin" in err.value.msg
    with pytest.raises(ChecksumError):
        checksums.parse_sidecar("")


def test_file_digests_and_verify(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * (3 * checksums.CHUNK_SIZE + 17))
    data = path.read_bytes()
    d = checksums.file_digests(str(path), ["sha1", "sha512"])
    assert d.size == len(data)
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    assert d.get("sha1") == hashlib.sha1(data).hexdigest()
    assert d.get("sha512") == hashlib.sha512(data).hexdigest()
    checksums.verify_checksum(d, Checksum("sha1", hashlib.sha1(data).hexdigest()), "f.bin")
    with pytest.raises(ChecksumError) as err:
        checksums.verify_checksum(d, Checksum("sha256", "0" * 64, "sha1 file at somewhere"), "f.bin")
    assert "expected sha256:" + "0" * 64 in err.value.msg and d.sha256 in err.value.msg
    with pytest.raises(ChecksumError) as err:
        checksums.verify_checksum(d, Checksum("sha256", "0" * 64), "f.bin", b"<!DOCTYPE html>", "text/html")
    assert "HTML page" in err.value.msg


def test_installed_digests_are_not_read_again_until_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "a-1.jar"
    path.write_bytes(b"a" * 1000)
    installed = checksums.file_digests(str(path), ["sha1"])
    checksums.remember_installed(str(path), installed)
    reads = []
    real = checksums.hash_file
    monkeypatch.setattr(checksums, "hash_file", lambda readinto, hasher: reads.append(1) or real(readinto, hasher))
    assert checksums.file_digests(str(path), ["sha1"]) == installed and reads == []
    # An algorithm that was not computed is read for.
    assert checksums.file_digests(str(path), ["sha512"]).get("sha512") == hashlib.sha512(b"a" * 1000).hexdigest()
    assert reads == [1]
    # Same size and mtime put back: the ctime moved, so the new bytes are read.
    st = os.stat(str(path))
    time.sleep(0.01)
    path.write_bytes(b"b" * 1000)
    os.utime(str(path), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert checksums.file_digests(str(path), ["sha1"]).sha256 == hashlib.sha256(b"b" * 1000).hexdigest()
    assert reads == [1, 1]
    # A size that does not match what was hashed is never remembered.
    other = tmp_path / "b-1.jar"
    other.write_bytes(b"c" * 10)
    checksums.remember_installed(str(other), installed)
    assert checksums.file_digests(str(other)).size == 10


def test_copy_to_hashes_while_copying(tmp_path):
    src = tmp_path / "s.bin"
    src.write_bytes(os.urandom(2 * checksums.CHUNK_SIZE + 5))
    out = io.BytesIO()
    got = download.copy_to(str(src), out, ["sha1"])
    assert out.getvalue() == src.read_bytes()
    assert got.digests.get("sha1") == hashlib.sha1(src.read_bytes()).hexdigest()
    assert got.first_bytes == src.read_bytes()[:512]


# --- jar validation -------------------------------------------------------------------------------

def test_valid_sql_connector_jars(tmp_path):
    path = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    info = jarfile.validate_jar(path, "pg", [PG3])
    assert info.factories == (PG3,)
    assert jarfile.read_factories(path) == (PG3,)
    old = jars.published_path(str(tmp_path / "repo"), "2.4.2")
    assert jarfile.validate_jar(old, "pg", [PG2, PG3]).factories == (PG2,)
    sr = str(tmp_path / "repo" / jars.publish_starrocks(str(tmp_path / "repo"), "1.2.11_flink-1.20"))
    assert set(jarfile.validate_jar(sr, "sr", [connectors.STARROCKS_FACTORIES[0]]).factories) == set(connectors.STARROCKS_FACTORIES)


def test_thin_jar_is_refused_with_a_hint(tmp_path):
    thin = jars.published_path(str(tmp_path / "repo"), "3.1.0", thin=True)
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(thin, "thin", [PG3])
    assert "thin connector jar" in err.value.msg and "flink-sql-connector-postgres-cdc" in err.value.msg
    with pytest.raises(InvalidJarError) as err:
        jarfile.refuse_wrong_artifact("flink-connector-postgres-cdc")
    assert "artifact_id: flink-sql-connector-postgres-cdc" in err.value.msg
    jarfile.refuse_wrong_artifact("flink-sql-connector-postgres-cdc")


def test_wrong_factory_is_refused(tmp_path):
    sr = str(tmp_path / "repo" / jars.publish_starrocks(str(tmp_path / "repo"), "1.2.11_flink-1.20"))
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(sr, "sr as pg", [PG3])
    assert "does not register " + PG3 in err.value.msg


def test_missing_manifest_is_refused(tmp_path):
    path = jars.build_jar(str(tmp_path / "x-1.jar"), factories=(PG3,), manifest=False)
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(path, "x")
    assert "MANIFEST.MF" in err.value.msg


@pytest.mark.parametrize("size", [0, 300_000])
def test_test_jars_are_reproducible(tmp_path, size):
    # The tests compare hosts' lib/ byte for byte: a jar must not carry the time it was built.
    kw = dict(factories=(PG3,), classes=("a.B",), title="t", version="1", size=size)
    one, two = (jars.build_jar(str(tmp_path / n), **kw) for n in ("one.jar", "two.jar"))
    assert open(one, "rb").read() == open(two, "rb").read()
    with zipfile.ZipFile(one) as z:
        assert {i.date_time for i in z.infolist()} == {jars.ZIP_DATE}


@pytest.mark.parametrize("size", [0, 300_000])
def test_bad_crc_is_refused(tmp_path, size):
    path = jars.build_jar(str(tmp_path / "x-1.jar"), factories=("x.Factory",), classes=("a.B", "c.D"), size=size)
    jarfile.validate_jar(path, "x")
    entry = jars.corrupt_entry(path)
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(path, "x")
    assert "corrupt" in err.value.msg
    # The central directory is intact, so only reading every entry finds it.
    assert jarfile.validate_jar(path, "x", check_entries=False).entries > 0
    assert entry


def test_truncated_and_html_files_are_not_jars(tmp_path):
    good = jars.published_path(str(tmp_path / "repo"))
    data = open(good, "rb").read()
    cut = tmp_path / "cut.jar"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(str(cut), "cut")
    assert "truncated or corrupt" in err.value.msg
    page = tmp_path / "page.jar"
    page.write_bytes(b"<!DOCTYPE html><html><body>Please sign in</body></html>")
    with pytest.raises(InvalidJarError) as err:
        jarfile.validate_jar(str(page), "page")
    assert "HTML page" in err.value.msg
    junk = tmp_path / "junk.jar"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InvalidJarError):
        jarfile.read_factories(str(junk))


def test_services_file_comments_and_blank_lines(tmp_path):
    path = str(tmp_path / "x-1.jar")
    import zipfile
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(jarfile.MANIFEST, "Manifest-Version: 1.0\r\n\r\n")
        z.writestr(jarfile.FACTORY_SERVICE, "# licence header\n\n  %s  # trailing\n%s\n" % (PG3, PG3))
    assert jarfile.read_factories(path) == (PG3,)


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


# --- install, remove, lock ------------------------------------------------------------------------

def test_open_temp_never_ends_in_jar(tmp_path):
    out, temp = install.open_temp(str(tmp_path), "a-1.jar")
    out.close()
    assert os.path.dirname(temp) == str(tmp_path)
    assert not temp.endswith(".jar") and temp.endswith(".part")
    assert install.stale_temps(str(tmp_path)) == [os.path.basename(temp)]


def test_install_temp_sets_mode_and_backs_up(tmp_path):
    final = tmp_path / "a-1.jar"
    final.write_bytes(b"old")
    out, temp = install.open_temp(str(tmp_path), "a-1.jar")
    with out:
        out.write(b"new")
    saved = install.install_temps(str(tmp_path), [(temp, "a-1.jar")], 0o640, None, None, backup=True).get("a-1.jar")
    assert final.read_bytes() == b"new"
    assert stat.S_IMODE(final.stat().st_mode) == 0o640
    assert saved and not saved.endswith(".jar") and open(saved, "rb").read() == b"old"
    assert not os.path.exists(temp)
    assert jar_plan.list_jars(str(tmp_path)) == ["a-1.jar"]


def test_remove_jars_with_and_without_backup(tmp_path):
    for n in ("a-1.jar", "a-2.jar"):
        (tmp_path / n).write_bytes(n.encode())
    removed, saved = install.remove_jars(str(tmp_path), ["a-1.jar", "gone.jar"], backup=True)
    assert removed == [str(tmp_path / "a-1.jar")]
    assert len(saved) == 1 and saved[0].endswith(".bak") and open(saved[0]).read() == "a-1.jar"
    removed, saved = install.remove_jars(str(tmp_path), ["a-2.jar"], backup=False)
    assert removed == [str(tmp_path / "a-2.jar")] and saved == []
    assert jar_plan.list_jars(str(tmp_path)) == []


@pytest.mark.parametrize("mode, expected", [("0644", 0o644), ("644", 0o644), (420, 0o644), ("0755", 0o755)])
def test_parse_mode(mode, expected):
    assert install.parse_mode(mode) == expected


@pytest.mark.parametrize("mode", ["u=rw", "999", True, "0o644x", 0o17777])
def test_parse_mode_refuses(mode):
    with pytest.raises(JarError):
        install.parse_mode(mode)


def test_resolve_owner():
    assert install.resolve_owner("root", "0") == (0, 0)
    assert install.resolve_owner(None, None) == (None, None)
    with pytest.raises(JarError):
        install.resolve_owner("no-such-user-cdcops", None)


def test_lock_serializes_and_times_out(tmp_path):
    order = []
    entered = threading.Event()

    def holder():
        with install.dest_lock(str(tmp_path)):
            entered.set()
            time.sleep(0.3)
            order.append("first")

    th = threading.Thread(target=holder)
    th.start()
    entered.wait(5)
    with pytest.raises(JarError) as err:
        with install.dest_lock(str(tmp_path), wait=0.05):
            pass
    assert str(tmp_path) in err.value.msg
    with install.dest_lock(str(tmp_path), wait=10):
        order.append("second")
    th.join()
    assert order == ["first", "second"]
    assert os.listdir(str(tmp_path)) == []  # the lock leaves nothing in lib/


# --- one jar end to end from a local src ----------------------------------------------------------

def _one_jar(source, state, dest, http_options, opts, check_mode):
    """One jar, as the module runs it without ``jars``: ``ensure_jars`` and its answer in the single-jar form."""
    return ensure.final_result(ensure.ensure_jars([JarRequest(source, state)], dest, http_options, opts, check_mode),
                               True, True)


def test_ensure_present_from_src_check_install_rerun(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    old = jars.published_path(str(tmp_path / "repo"), "2.4.2")
    os.link(old, str(lib / "foo.jar"))  # a renamed com.ververica 2.x jar
    new = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    source = sources.src_source(new)
    opts = options.InstallOptions()

    before = sorted(os.listdir(str(lib)))
    check = _one_jar(source, "present", str(lib), options.HttpOptions(), opts, check_mode=True)
    assert check["changed"] and not check["downloaded"]
    assert check["removed"] == [str(lib / "foo.jar")]
    assert check["checksum"] == jars.sha256_file(new)
    assert sorted(os.listdir(str(lib))) == before

    done = _one_jar(source, "present", str(lib), options.HttpOptions(), opts, check_mode=False)
    assert done["changed"] and done["removed"] == [str(lib / "foo.jar")]
    assert os.listdir(str(lib)) == ["flink-sql-connector-postgres-cdc-3.1.0.jar"]
    assert jars.sha256_file(str(lib / "flink-sql-connector-postgres-cdc-3.1.0.jar")) == jars.sha256_file(new) == done["checksum"]

    again = _one_jar(source, "present", str(lib), options.HttpOptions(), opts, check_mode=False)
    assert not again["changed"] and again["removed"] == []


def test_ensure_present_src_checksum_mismatch_changes_nothing(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    new = jars.published_path(str(tmp_path / "repo"), "3.1.0")
    source = sources.src_source(new, "sha256:" + "0" * 64)
    with pytest.raises(ChecksumError):
        _one_jar(source, "present", str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert os.listdir(str(lib)) == []


def test_ensure_absent(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for v in ("2.4.2", "3.1.0"):
        p = jars.published_path(str(tmp_path / "repo"), v)
        os.link(p, str(lib / os.path.basename(p)))
    os.link(jars.published_path(str(tmp_path / "repo"), "2.4.2"), str(lib / "renamed.jar"))
    source = sources.maven_artifact("com.ververica", "flink-sql-connector-postgres-cdc")
    check = _one_jar(source, "absent", str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=True)
    assert check["changed"] and len(os.listdir(str(lib))) == 3
    done = _one_jar(source, "absent", str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)
    assert sorted(os.path.basename(p) for p in done["removed"]) == [
        "flink-sql-connector-postgres-cdc-2.4.2.jar", "flink-sql-connector-postgres-cdc-3.1.0.jar", "renamed.jar"]
    assert os.listdir(str(lib)) == []
    assert not _one_jar(source, "absent", str(lib), options.HttpOptions(), options.InstallOptions(), check_mode=False)["changed"]
