"""flink_host_check's rules (module_utils/_host_check.py) and readers (module_utils/_host_facts.py), each with its
inputs given."""

import errno
import socket

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _host_check as hc
from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _host_facts as hf
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.host_processes import PATH_JAVA


@pytest.mark.parametrize("version, files", [
    ("1.17.2", ["flink-conf.yaml"]),
    ("1.18.1", ["flink-conf.yaml"]),
    ("1.19.3", ["config.yaml", "flink-conf.yaml"]),
    ("1.20.3", ["config.yaml", "flink-conf.yaml"]),
    ("2.0.1", ["config.yaml"]),
    ("2.2.0", ["config.yaml"]),
    ("", ["config.yaml", "flink-conf.yaml"]),
])
def test_config_files_follow_the_flink_version(version, files):
    assert hc.config_files(version) == files


def test_configured_java_home_reads_the_first_file_that_exists():
    files = {"/f/conf/flink-conf.yaml": "env.java.home: /legacy\n", "/f/conf/config.yaml": "env:\n  java:\n    home: /new\n"}
    assert hc.configured_java_home("/f", "1.20.3", files.get) == ("/new", "/f/conf/config.yaml")
    assert hc.configured_java_home("/f", "1.18.1", files.get) == ("/legacy", "/f/conf/flink-conf.yaml")
    # config.yaml exists without the key: Flink does not fall back to the legacy file.
    files["/f/conf/config.yaml"] = "taskmanager.numberOfTaskSlots: 2\n"
    assert hc.configured_java_home("/f", "1.20.3", files.get) == ("", "")
    # Only the legacy file in 1.19/1.20: it is read.
    del files["/f/conf/config.yaml"]
    assert hc.configured_java_home("/f", "1.19.3", files.get) == ("/legacy", "/f/conf/flink-conf.yaml")
    # Flink 2 reads only config.yaml.
    assert hc.configured_java_home("/f", "2.0.1", files.get) == ("", "")


JAVA17 = 'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6)\n'
JAVA8 = 'openjdk version "1.8.0_392"\n'
JAVA21 = 'openjdk version "21.0.2" 2024-01-16\n'


def test_java_row_ok_for_a_supported_java():
    assert hc.java_row("tm1", PATH_JAVA, 0, JAVA17, "1.20.3", "") == {
        "host": "tm1", "area": "Java/config", "check": "java", "status": "ok",
        "detail": "Java 17 for Flink 1.20.3 (/usr/bin/java, JAVA_HOME unset)"}


def test_java_row_fails_below_the_minimum_and_warns_above_the_list():
    old = hc.java_row("tm1", PATH_JAVA, 0, JAVA8, "1.20.3", "/usr/lib/jvm/java-8")
    assert old["status"] == "fail"
    assert old["detail"] == ("Java 8 is older than Flink 1.20.3's minimum, Java 11 (supported: 11, 17) "
                             "(/usr/bin/java, JAVA_HOME=/usr/lib/jvm/java-8)")
    new = hc.java_row("tm1", PATH_JAVA, 0, JAVA21, "1.20.3", "")
    assert new["status"] == "warn" and "Java 21 is not among the Java versions Flink 1.20.3 supports" in new["detail"]


def test_release_version_follows_links_to_the_java_image(tmp_path):
    home = tmp_path / "jvm" / "java-17"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("")
    (home / "release").write_text('IMPLEMENTOR="Debian"\nJAVA_VERSION="17.0.15"\nJAVA_VERSION_DATE="2025-04-15"\n')
    link = tmp_path / "usr-bin-java"
    link.symlink_to(home / "bin" / "java")
    found = hf.release_version(str(link), lambda path: open(path).read() if __import__("os").path.exists(path) else None)
    assert found == ("17.0.15", str(home / "release"))
    output = hf.release_output(*found)
    assert hc.java_row("tm1", PATH_JAVA, 0, output, "1.20.3", "")["detail"] == \
        "Java 17 for Flink 1.20.3 (/usr/bin/java, JAVA_HOME unset)"
    assert hc.java_row("tm1", PATH_JAVA, 0, output, "1.20.3", "")["status"] == "ok"


def test_release_version_of_a_java_8_jre_and_without_a_release_file(tmp_path):
    files = {str(tmp_path / "jdk8" / "release"): 'JAVA_VERSION="1.8.0_392"\n'}
    found = hf.release_version(str(tmp_path / "jdk8" / "jre" / "bin" / "java"), files.get)
    assert found == ("1.8.0_392", str(tmp_path / "jdk8" / "release"))
    assert hc.java_row("tm1", PATH_JAVA, 0, hf.release_output(*found), "1.20.3", "")["status"] == "fail"
    # No release file, or one without a version: None, and the module runs java -version instead.
    assert hf.release_version(str(tmp_path / "other" / "bin" / "java"), files.get) is None
    assert hf.release_version(str(tmp_path / "x" / "bin" / "java"),
                              {str(tmp_path / "x" / "release"): 'JAVA_VERSION=""\n'}.get) is None


def test_java_row_names_the_config_file_it_came_from():
    choice = hf.JavaChoice("/conf-jdk/bin/java", "config", "/f/conf/config.yaml")
    assert hc.java_row("tm1", choice, 0, JAVA17, "2.0.1", "")["detail"] == \
        "Java 17 for Flink 2.0.1 (/conf-jdk/bin/java, env.java.home in /f/conf/config.yaml)"


def test_java_row_without_a_java():
    row = hc.java_row("tm1", hf.JavaChoice("", "PATH", ""), None, "no java on PATH", "1.20.3", "")
    assert row["status"] == "fail"
    assert row["detail"] == "cannot tell the Java version from: no java on PATH (java, JAVA_HOME unset)"


def test_java_row_with_an_unknown_flink_version():
    assert hc.java_row("tm1", PATH_JAVA, 0, JAVA17, "", "")["status"] == "skip"
    assert hc.java_row("tm1", PATH_JAVA, 0, JAVA17, "", "")["detail"] == \
        'version "17.0.15"; Flink version unknown (/usr/bin/java, JAVA_HOME unset)'
    missing = hc.java_row("tm1", PATH_JAVA, None, "", "", "")
    assert missing["status"] == "fail" and missing["detail"].startswith("no java found; Flink version unknown")


# --- lib/

def test_lib_row_each_case():
    lib = "/opt/flink/lib"
    assert hc.lib_row("tm1", lib, None, False, "flink") == hc.row(
        "tm1", "Java/config", "lib/", "fail", "/opt/flink/lib does not exist; set flink_cdc_flink_home for tm1")
    assert hc.lib_row("tm1", lib, False, False, "flink")["detail"] == "/opt/flink/lib is not a directory"
    assert hc.lib_row("tm1", lib, True, False, "deploy")["detail"] == \
        "/opt/flink/lib is not writable by deploy; use become or fix its owner"
    read_only = hc.lib_row("tm1", lib, True, False, "root", read_only_fs=True)
    assert read_only["status"] == "fail" and "mounted read-only" in read_only["detail"]
    assert "become" not in read_only["detail"]
    assert hc.lib_row("tm1", lib, True, True, "flink") == hc.row("tm1", "Java/config", "lib/", "ok",
                                                                 "/opt/flink/lib is writable")


# --- free space

def test_free_space_row_ok_and_fail_with_the_numbers():
    mib = 1024 * 1024
    ok = hc.free_space_row("tm1", "/opt/flink/lib", 500 * mib, 40 * mib)
    assert ok["status"] == "ok" and ok["check"] == "free space"
    assert ok["detail"] == "500.0 MiB free in the filesystem of /opt/flink/lib, the connector jars need about 40.0 MiB"
    fail = hc.free_space_row("tm1", "/opt/flink/lib", 10 * mib, 40 * mib)
    assert fail["status"] == "fail"
    assert fail["detail"] == ("10.0 MiB free in the filesystem of /opt/flink/lib, the connector jars need about "
                              "40.0 MiB; free 30.0 MiB there")
    assert hc.free_space_row("tm1", "/l", 40 * mib, 40 * mib)["status"] == "ok"


# --- network

PG = {"name": "PostgreSQL", "host": "db", "port": 5432}


def refuse(host, port, timeout):
    raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")


def test_endpoint_row_reachable_and_not():
    assert hc.endpoint_row("tm1", PG, 5, connect=lambda h, p, t: None) == hc.row(
        "tm1", "Network", "PostgreSQL db:5432", "ok", "reachable from tm1")
    assert hc.endpoint_row("tm1", PG, 5, connect=refuse) == hc.row(
        "tm1", "Network", "PostgreSQL db:5432", "fail", "not reachable from tm1: connection refused")


@pytest.mark.parametrize("exc, said", [
    (socket.timeout("timed out"), "no answer within 2.5s"),
    (socket.gaierror(-2, "Name or service not known"), "cannot resolve the host name (Name or service not known)"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "no route to host"),
])
def test_endpoint_row_says_why(exc, said):
    def connect(host, port, timeout):
        raise exc
    assert hc.endpoint_row("tm1", PG, 2.5, connect=connect)["detail"] == "not reachable from tm1: " + said


def test_endpoint_row_connects_for_real():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        assert hc.endpoint_row("tm1", {"name": "x", "host": "127.0.0.1", "port": port}, 2)["status"] == "ok"
    finally:
        server.close()
    assert hc.endpoint_row("tm1", {"name": "x", "host": "127.0.0.1", "port": port}, 2)["detail"] == \
        "not reachable from tm1: connection refused"


def test_endpoint_problems():
    assert hc.endpoint_problems([PG]) == []
    assert hc.endpoint_problems([{"name": "x", "host": "", "port": 1}, {"name": "y", "host": "h", "port": 70000}]) == [
        "endpoints[0] lacks host", "endpoints[1] port 70000 is not between 1 and 65535"]


def test_restart_pending_and_the_running_jars_row():
    processes = [{"kind": "taskmanager", "pid": 101, "started": 1796500050.0},
                 {"kind": "jobmanager", "pid": 102, "started": 1796500100.0}]
    assert hc.restart_pending(processes, 1796500060.0) == ["taskmanager"]
    assert hc.restart_pending(processes, 1796500000.0) == []
    assert hc.restart_pending([{"kind": "taskmanager", "pid": 1, "started": None}], 1.0) == []
    row = hc.running_jars_row("tm1", "/opt/flink/lib", processes, 1796500060.0)
    assert row["status"] == "warn" and row["check"] == "running jars" and row["area"] == "Java/config"
    assert row["detail"] == ("the TaskManager (pid 101) started at 2026-12-05 19:47:30 UTC, before /opt/flink/lib "
                             "changed at 2026-12-05 19:47:40 UTC: it does not run the jars /opt/flink/lib holds; "
                             "restart it to load them")
    row = hc.running_jars_row("tm1", "/opt/flink/lib", processes, 1796500000.0)
    assert row["status"] == "ok"
    assert row["detail"] == ("the TaskManager (pid 101) started after /opt/flink/lib last changed: it runs the jars "
                             "there; the JobManager (pid 102) started after /opt/flink/lib last changed: it runs "
                             "the jars there")
    assert hc.running_jars_row("tm1", "/opt/flink/lib", [], 1.0) is None
