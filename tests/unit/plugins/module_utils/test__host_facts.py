"""flink_host_check's readers: the Flink configuration, the Java to use and the Flink processes, each with its
inputs given.
"""

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _host_facts as hf
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.host_processes import java


# --- env.java.home in the Flink configuration

@pytest.mark.parametrize("text", [
    "env.java.home: /opt/jdk17\n",
    "env.java.home: '/opt/jdk17'  # the JDK\n",
    'env.java.home: "/opt/jdk17"\n',
    "jobmanager.rpc.address: localhost\nenv:\n  java:\n    home: /opt/jdk17\n  log.dir: /var/log\n",
    "env:\n  java.home: /opt/jdk17 # comment\n",
    "env:\n    java:\n        opts:\n          all: -Xss2m\n        home: /opt/jdk17\n",
    "# env.java.home: /wrong\nenv.java.home: /opt/jdk17\n",
    "env.java.home: /wrong\nenv.java.home: /opt/jdk17\n",  # the last one wins
    "---\nenv:\n  java:\n    home: /opt/jdk17\n",
])
def test_config_value_finds_env_java_home_flat_nested_or_mixed(text):
    assert hf.config_value(text, "env.java.home") == "/opt/jdk17"


@pytest.mark.parametrize("text", [
    "",
    "env.java.opts.all: -Xss2m\n",
    "env:\n  java:\n    opts: x\nhome: /not-it\n",  # a top-level home is not env.java.home
    "other:\n  env:\n    java:\n      home: /not-it\n",
    "env:\n  java:\n    # home: /commented\n    opts: x\n",
])
def test_config_value_is_none_without_the_key(text):
    assert hf.config_value(text, "env.java.home") is None


# --- which java

def which(found):
    return lambda name: found


def test_choose_java_order_java_home_config_env_path():
    env = {"JAVA_HOME": "/env-jdk"}
    assert hf.choose_java("/opt/jdk", "/conf-jdk", "/f/conf/config.yaml", env, which("/usr/bin/java")) == \
        hf.JavaChoice("/opt/jdk/bin/java", "java_home", "")
    assert hf.choose_java("", "/conf-jdk", "/f/conf/config.yaml", env, which("/usr/bin/java")) == \
        hf.JavaChoice("/conf-jdk/bin/java", "config", "/f/conf/config.yaml")
    assert hf.choose_java("", "", "", env, which("/usr/bin/java")) == hf.JavaChoice("/env-jdk/bin/java", "JAVA_HOME", "")
    assert hf.choose_java("", "", "", {}, which("/usr/bin/java")) == hf.JavaChoice("/usr/bin/java", "PATH", "")
    assert hf.choose_java("", "", "", {}, which(None)) == hf.JavaChoice("", "PATH", "")


# --- the Flink processes that run from FLINK_HOME/lib, and whether they run what lib/ holds

TICKS = __import__("os").sysconf("SC_CLK_TCK")


def fake_proc(tmp_path, processes, btime=1796500000):
    """A /proc with /proc/stat and, per process, its cmdline and stat (start time in clock ticks after boot)."""
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "stat").write_text("cpu  1 2 3\nbtime %d\nprocesses 9\n" % btime)
    for pid, argv, started_after_boot in processes:
        d = proc / str(pid)
        d.mkdir()
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
        fields = ["S"] + ["0"] * 18 + [str(int(started_after_boot * TICKS))] + ["0"] * 10
        (d / "stat").write_text("%d (java (x) y) %s\n" % (pid, " ".join(fields)))
    (proc / "self").mkdir()  # not a pid
    return str(proc)


def test_flink_processes_of_this_home(tmp_path):
    home = str(tmp_path / "flink")
    proc = fake_proc(tmp_path, [
        (101, java("org.apache.flink.runtime.taskexecutor.TaskManagerRunner", home, ["--configDir", home + "/conf"]), 50),
        (102, java("org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint", home), 40.5),
        (103, java("org.apache.flink.runtime.taskexecutor.TaskManagerRunner", str(tmp_path / "other")), 10),
        (104, ["python3", "-c", "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"], 5),
        (105, ["sleep", "100"], 1),
    ])
    assert hf.flink_processes(home, proc) == [
        {"kind": "taskmanager", "pid": 101, "started": 1796500050.0},
        {"kind": "jobmanager", "pid": 102, "started": 1796500040.5}]
    assert hf.flink_processes(home + "/", proc)[0]["pid"] == 101  # the path as the user wrote it
    assert hf.flink_processes(str(tmp_path / "none"), proc) == []


def test_flink_processes_through_a_symlinked_home(tmp_path):
    real = tmp_path / "flink-1.20.3"
    real.mkdir()
    (tmp_path / "flink").symlink_to(real)
    proc = fake_proc(tmp_path, [(7, java("org.apache.flink.runtime.taskexecutor.TaskManagerRunner", str(real)), 3)])
    assert [p["pid"] for p in hf.flink_processes(str(tmp_path / "flink"), proc)] == [7]


def test_flink_processes_without_a_proc(tmp_path):
    assert hf.flink_processes("/opt/flink", str(tmp_path / "missing")) == []
