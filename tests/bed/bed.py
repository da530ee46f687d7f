"""The cdcops.flink_cdc test bed: real Flink, PostgreSQL and a Maven repository on loopback.

Usage: bed.py up [--fresh] [--flink VERSION] [--ha | --no-ha] | down | status | tm-stop HOST | tm-start HOST |
       jm-stop [ADDRESS] | jm-start [ADDRESS] | job-start [NAME] | jobs-cancel | demo-flink

``demo-flink`` prints the Flink version of ``make demo``'s sandbox (artifacts.demo_flink_version: the newest of
FLINK_VERSIONS for which every connector and the JDBC sink are served; scripts/demo.sh).

* Apache Flink, standalone: 1.20.3, or the version ``up --flink VERSION`` or ``$CDCOPS_BED_FLINK`` names
  (the flag wins), one of 1.17.2, 1.18.1, 1.19.3, 1.20.3, 2.0.1, 2.1.1, 2.2.0, 2.3.0 (FLINK_VERSIONS; another
  patch release of those minors is tried with a warning). ``state.json`` records the bed's version and every
  later command on that bed directory (and a caller that imports this module) uses it unless told otherwise.
  Each version is assembled once, into ``~/.cache/cdcops-flink-cdc/flink-<version>``, from the PyPI packages
  ``apache-flink`` (``pyflink/bin``, ``pyflink/conf``) and ``apache-flink-libraries`` (``lib``, ``opt``,
  ``plugins``, ``bin/bash-java-utils.jar``), downloaded once with ``pip download --no-deps`` into
  ``~/.cache/cdcops-flink-cdc/pypi``. Nothing is built or installed. Where the versions differ:

  - ``apache-flink`` 1.17 and 1.18 publish CPython 3.7 – 3.10 wheels only, so the wheel is always asked for
    as CPython 3.10 on manylinux (``--only-binary :all: --python-version 3.10``): only its files are read.
  - ``apache-flink-libraries`` is an sdist, ``apache-flink-libraries-V.tar.gz`` up to 1.20 and
    ``apache_flink_libraries-V.tar.gz`` from 2.0 (its top directory keeps the name
    ``apache-flink-libraries-V/``), with the jars under ``<top>/deps/``. For 2.2.0 and 2.3.0 PyPI also has a
    ``py2.py3-none-any`` wheel of it with ``pyflink/{bin,lib,opt,plugins}`` (``bin`` holding only
    ``bash-java-utils.jar``), which pip prefers. Both layouts are read (``_library_members``).
  - Configuration: 1.17 and 1.18 ship ``conf/flink-conf.yaml`` (flat ``key: value`` lines); 1.19 ships
    ``conf/config.yaml`` in standard YAML (FLIP-366, FLINK-33576) and 2.0 reads nothing else (FLINK-33677;
    apache/flink ``docs/content/release-notes/flink-2.0.md``, "Configuration"). The bed writes its settings
    into the file the version ships and keeps every setting Flink shipped in it (``env.java.opts.all``
    above all: ``bin/flink run`` on 2.x under Java 17 needs it too).
  - Java: the machine's Java is 17, which Flink supports from 1.18 (FLINK-15736) with the
    ``--add-exports``/``--add-opens`` list its default configuration puts in ``env.java.opts.all``
    (FLINK-25002, apache/flink PR #22794; FLINK-32536, PR #22955). 1.17 ships no such list, and on Java 17
    its processes die with ``IllegalAccessError ... sun.net.util.IPAddressUtil``: the bed gives 1.17 the
    list 1.18.1 ships (JAVA17_OPTS). 2.3.0 ships the same list in ``config.yaml`` as 2.2.0 and runs on the
    machine's Java 17 with it (its ``bin/config.sh`` adds ``-Djava.security.manager=allow`` itself above Java 17).
  - The TaskManager's address in REST ``/taskmanagers`` ``path`` is ``akka.tcp://flink@host:port/...`` up to
    1.17 and ``pekko.tcp://...`` from 1.18 (FLINK-32468, apache/flink PR #22996); registered_hosts reads both.
  - The SQL client's ``opt/flink-sql-gateway-<v>.jar``, which the PyPI distribution lacks (FACTS.md), comes
    from Maven Central; ``mvn`` here refuses some patch releases (1.19.3, 2.0.1), so those beds take the
    nearest served patch release of the same minor (artifacts.SQL_GATEWAY_SERVED).
  - Connectors: ``demo_connectors`` holds, per connector, the newest real build in artifacts.CONNECTORS that
    fits the version (postgres-cdc 3.5.0 on 1.19/1.20, 3.2.1 on 1.17/1.18; StarRocks only on 1.18/1.19);
    on 2.x it is empty (no postgres-cdc release is served for 2.0 – 2.3).

  ``up --ha``: high availability. A ZooKeeper (Debian's ``zookeeper`` package, ZooKeeperServerMain on
  127.0.0.1, port ``$CDCOPS_BED_ZK_PORT``, default 12181) and two JobManagers, 127.0.0.1 and 127.0.2.1, with the
  same REST port, ``high-availability.type: zookeeper`` and a shared ``high-availability.storageDir`` in the bed
  directory; the inventory lists both (``jobmanager``, ``jobmanager2``) and ``flink_cdc_rest_url`` names both.
  state.json records it; ``up --no-ha`` goes back to one JobManager.

  One JobManager (REST on a non-default port) and two TaskManagers bound to 127.0.0.2 and 127.0.0.3, each
  with its own FLINK_HOME, so a deploy to one "host" never touches the other. ``$CDCOPS_BED_TASKMANAGERS``
  sets their number (127.0.0.2 .. 127.0.0.(N+1)), ``$CDCOPS_BED_TM_MEMORY`` their
  ``taskmanager.memory.process.size`` (1024m) and ``$CDCOPS_BED_TM_MANAGED_MEMORY`` their
  ``taskmanager.memory.managed.size`` (unset: Flink's fraction); ``state.json`` records the hosts and sizes.
* PostgreSQL from Debian's server packages: a ``logical`` cluster and a
  ``replica`` cluster (wal_level), scram password auth on TCP, run as the
  ``postgres`` OS user when started by root (initdb refuses root). That user
  must reach the clusters' files, which a checkout under a directory others
  cannot traverse (``mktemp -d``, root's home: mode 0700) does not allow; so
  when run by root their state lives outside the checkout, one directory per
  bed directory (``pg_root``: ``/var/tmp/cdcops-bed-pg-<hash of the bed
  directory>``, owned by postgres, mode 0700). The password files stay in the
  bed directory, mode 0600.
* A Maven-layout HTTP repository (maven_repo.py) with a request log, serving
  the REAL published connector jars of artifacts.py (postgres-cdc, StarRocks),
  each with the ``.sha1`` Maven Central published. They are fetched once with
  ``mvn`` into ``~/.m2`` (artifacts.fetch) and hard-linked into the repository.
  The built jars of jars.py are for fault injection in the tests only.

``up`` and ``down`` are idempotent. ``up`` writes ``state.json`` and an
Ansible ``inventory.ini`` into the bed directory (``$CDCOPS_BED_DIR``, by
default ``tests/output/bed``). ``up`` on a bed directory whose Flink version
differs stops that bed's Flink processes and makes its FLINK_HOMEs anew.
"""

import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import artifacts  # noqa: E402
import jars  # noqa: E402
import maven_repo  # noqa: E402
import pg_seed  # noqa: E402

CACHE = os.path.join(os.path.expanduser(os.environ.get("XDG_CACHE_HOME", "~/.cache")),
                     "cdcops-flink-cdc")
BED = os.path.abspath(os.environ.get("CDCOPS_BED_DIR", os.path.join(ROOT, "tests", "output", "bed")))

DEFAULT_FLINK_VERSION = "1.20.3"
# The versions the bed was brought up on end to end (up, a job, TaskManager and JobManager restarts, the SQL
# client). Another patch release of their minors is accepted with a warning; other minors are refused, since
# what differs between versions (module docstring) is only known for these.
FLINK_VERSIONS = ("1.17.2", "1.18.1", "1.19.3", "1.20.3", "2.0.1", "2.1.1", "2.2.0", "2.3.0")
FLINK_ENV = "CDCOPS_BED_FLINK"
# The ``--add-exports``/``--add-opens`` list Flink 1.18.1 ships in ``env.java.opts.all`` for Java 17, taken from
# that distribution's conf/flink-conf.yaml ("These parameters are required for Java 17 support"): apache/flink
# flink-dist/src/main/resources/flink-conf.yaml at release-1.18.1 (FLINK-25002, PR #22794; java.nio and
# sun.nio.ch from FLINK-32536, PR #22955). 1.19.3 and 1.20.3 ship the same list in config.yaml. Flink 1.17 ships
# none, and on Java 17 its processes die at start (IllegalAccessError ... sun.net.util.IPAddressUtil).
JAVA17_OPTS = " ".join([
    "--add-exports=java.base/sun.net.util=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.text=ALL-UNNAMED",
    "--add-opens=java.base/java.time=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
])
# A FLINK_HOME records the version it was made from in this file. One without it was made when the bed ran only
# Flink 1.20.3.
HOME_VERSION_FILE = ".flink-version"
LEGACY_HOME_VERSION = "1.20.3"

PORTS = {
    "rest": int(os.environ.get("CDCOPS_BED_REST_PORT", "18081")),
    "jm_rpc": int(os.environ.get("CDCOPS_BED_JM_RPC_PORT", "16123")),
    "pg_logical": int(os.environ.get("CDCOPS_BED_PG_PORT", "15432")),
    "pg_replica": int(os.environ.get("CDCOPS_BED_PG_REPLICA_PORT", "15433")),
    "maven": int(os.environ.get("CDCOPS_BED_MAVEN_PORT", "18901")),
    "zookeeper": int(os.environ.get("CDCOPS_BED_ZK_PORT", "12181")),
}
SLOTS_PER_TM = 2
# The TaskManagers ``up`` starts: $CDCOPS_BED_TASKMANAGERS of them (default 2), bound to 127.0.0.2, 127.0.0.3, ...
# 127.0.0.(N+1), each with its own FLINK_HOME. ``down`` and ``status`` cover every TaskManager the bed directory
# knows of (known_taskmanagers: state.json's list and the homes under flink/), also one of a run with more.
TASKMANAGERS_ENV = "CDCOPS_BED_TASKMANAGERS"
DEFAULT_TASKMANAGER_COUNT = 2
# Each TaskManager's taskmanager.memory.process.size ($CDCOPS_BED_TM_MEMORY, default 1024m) and, when
# $CDCOPS_BED_TM_MANAGED_MEMORY is set, its taskmanager.memory.managed.size (default: Flink's managed fraction).
# Flink derives every other component from these and refuses to start a TaskManager whose fixed components do not
# fit (apache/flink docs/content/docs/deployment/memory/mem_setup_tm.md, "Detailed Memory Model"; mem_setup.md,
# "Capped Fractionated Components"). On Flink 1.20.3's defaults (JVM metaspace 256m, JVM overhead at least 192m,
# framework heap and off-heap 128m each, network at least 64m, managed 0.4 of the total Flink memory) the smallest
# process size that starts is about 982m (448m + 320m / 0.6; 980m is refused, 990m starts); with managed memory
# 0m (a TaskManager that runs no job needs none) it is 768m, all of it fixed components and no task heap.
TM_MEMORY_ENV = "CDCOPS_BED_TM_MEMORY"
TM_MANAGED_MEMORY_ENV = "CDCOPS_BED_TM_MANAGED_MEMORY"
DEFAULT_TM_MEMORY = "1024m"


def _taskmanager_hosts(count):
    count = int(count)
    if not 1 <= count <= 253:
        raise SystemExit("[bed] %s=%d: between 1 and 253 TaskManagers (127.0.0.2 - 127.0.0.254)"
                         % (TASKMANAGERS_ENV, count))
    return tuple("127.0.0.%d" % (i + 2) for i in range(count))


try:
    TASKMANAGERS = _taskmanager_hosts(os.environ.get(TASKMANAGERS_ENV) or DEFAULT_TASKMANAGER_COUNT)
except ValueError:
    raise SystemExit("[bed] %s=%r: a number of TaskManagers" % (TASKMANAGERS_ENV, os.environ.get(TASKMANAGERS_ENV)))
TM_MEMORY = os.environ.get(TM_MEMORY_ENV) or DEFAULT_TM_MEMORY
TM_MANAGED_MEMORY = os.environ.get(TM_MANAGED_MEMORY_ENV) or None


def tm_memory_settings():
    """The TaskManagers' memory settings: the process size and, when set, the managed memory size."""
    out = {"taskmanager.memory.process.size": TM_MEMORY}
    if TM_MANAGED_MEMORY is not None:
        out["taskmanager.memory.managed.size"] = TM_MANAGED_MEMORY
    return out


def log(msg):
    sys.stderr.write("[bed] %s\n" % msg)
    sys.stderr.flush()


def check_flink_version(version):
    """``version`` when the bed can run it (FLINK_VERSIONS, or a patch release of their minors, with a warning)."""
    version = str(version).strip()
    known_minors = {artifacts.flink_minor(v) for v in FLINK_VERSIONS}
    if version in FLINK_VERSIONS:
        return version
    if re.fullmatch(r"\d+\.\d+\.\d+", version) and artifacts.flink_minor(version) in known_minors:
        log("Flink %s is not one of the versions the bed was tried on (%s); trying it"
            % (version, ", ".join(FLINK_VERSIONS)))
        return version
    raise SystemExit("[bed] Flink %r: the bed runs %s (or another patch release of those minors)"
                     % (version, ", ".join(FLINK_VERSIONS)))


def recorded_flink_version():
    """The Flink version ``state.json`` of the bed directory records, or None (no bed there yet)."""
    try:
        with open(os.path.join(BED, "state.json")) as f:
            return json.load(f).get("flink_version") or None
    except (OSError, ValueError):
        return None


def set_flink_version(version):
    """Make ``version`` the bed's Flink (FLINK_VERSION, which everything here and the tests read). Returns it."""
    global FLINK_VERSION
    FLINK_VERSION = check_flink_version(version)
    return FLINK_VERSION


# The bed's Flink: $CDCOPS_BED_FLINK, else what the bed directory's state.json records, else the default. A
# command line's --flink (main) and up(flink=...) switch it with set_flink_version.
FLINK_VERSION = DEFAULT_FLINK_VERSION
set_flink_version(os.environ.get(FLINK_ENV) or recorded_flink_version() or DEFAULT_FLINK_VERSION)


# --------------------------------------------------------------------------- high availability

# ``up --ha`` (or $CDCOPS_BED_HA=1): a ZooKeeper of Debian's ``zookeeper`` package on loopback and two JobManagers,
# 127.0.0.1 (the first one started, so the first leader) and STANDBY_JOBMANAGER, on the same ports as a real
# cluster's JobManagers on two hosts would be. ``state.json`` records it, and later commands on that bed directory
# keep it unless ``up --no-ha`` switches it off.
HA_ENV = "CDCOPS_BED_HA"
STANDBY_JOBMANAGER = "127.0.2.1"
ZOOKEEPER_JARS = ("/etc/zookeeper/conf", "/usr/share/java/zookeeper.jar")
HA_CLUSTER_ID = "/cdcops-bed"


def recorded_ha():
    try:
        with open(os.path.join(BED, "state.json")) as f:
            return bool(json.load(f).get("ha"))
    except (OSError, ValueError):
        return False


HA = os.environ.get(HA_ENV, "1" if recorded_ha() else "0") == "1"


def set_ha(on):
    global HA
    HA = bool(on)
    return HA


def jobmanagers():
    """The JobManagers' addresses: the first one, and with HA the standby."""
    return ("127.0.0.1", STANDBY_JOBMANAGER) if HA else ("127.0.0.1",)


def ha_settings():
    """Flink's ZooKeeper HA services (apache/flink docs/content/docs/deployment/ha/zookeeper_ha.md): the key
    ``high-availability.type`` is read by 1.17 - 2.x (HighAvailabilityOptions.HA_MODE; ``high-availability``, its
    older name, is a deprecated key of it up to 1.20 and gone in 2.0)."""
    return {
        "high-availability.type": "zookeeper",
        "high-availability.zookeeper.quorum": "127.0.0.1:%d" % PORTS["zookeeper"],
        "high-availability.storageDir": "file://%s" % os.path.join(BED, "ha"),
        "high-availability.cluster-id": HA_CLUSTER_ID,
    } if HA else {}


def zk_dir():
    return os.path.join(BED, "zookeeper")


def start_zookeeper():
    """A standalone ZooKeeper (ZooKeeperServerMain) with its data in the bed directory, bound to loopback."""
    if port_open("127.0.0.1", PORTS["zookeeper"]):
        return
    if not os.path.isfile(ZOOKEEPER_JARS[1]):
        raise SystemExit("[bed] --ha needs Debian's zookeeper package (%s): run make bootstrap" % ZOOKEEPER_JARS[1])
    os.makedirs(os.path.join(zk_dir(), "data"), exist_ok=True)
    cfg = os.path.join(zk_dir(), "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                "admin.enableServer=false\n" % (os.path.join(zk_dir(), "data"), PORTS["zookeeper"]))
    log("starting ZooKeeper on 127.0.0.1:%d" % PORTS["zookeeper"])
    with open(os.path.join(zk_dir(), "zookeeper.out"), "ab") as out:
        proc = subprocess.Popen(["java", "-cp", ":".join(ZOOKEEPER_JARS),
                                 "org.apache.zookeeper.server.ZooKeeperServerMain", cfg],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    with open(os.path.join(zk_dir(), "server.pid"), "w") as f:
        f.write(str(proc.pid))
    wait_for("ZooKeeper on port %d" % PORTS["zookeeper"], lambda: port_open("127.0.0.1", PORTS["zookeeper"]),
             timeout=30)


def stop_zookeeper():
    stop_by_pidfile(os.path.join(zk_dir(), "server.pid"), "ZooKeeper", timeout=10)


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, **kw)


def port_open(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(what, predicate, timeout=90.0, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit("[bed] timed out after %ss waiting for %s" % (timeout, what))


# --------------------------------------------------------------------------- Flink


PYPI_WHEEL_PYTHON = "3.10"  # the newest CPython every apache-flink version here has a wheel for (1.17, 1.18: 3.7 - 3.10)
PYPI_WHEEL_PLATFORM = "manylinux2014_x86_64"  # pip also accepts manylinux1 wheels (1.17, 1.18) for it


def _pypi_downloads():
    downloads = os.path.join(CACHE, "pypi")
    os.makedirs(downloads, exist_ok=True)
    return downloads


def _flink_wheel(downloads):
    """The ``apache-flink`` wheel of FLINK_VERSION in ``downloads`` (any Python tag), or None."""
    names = sorted(f for f in os.listdir(downloads)
                   if f.startswith("apache_flink-%s-" % FLINK_VERSION) and f.endswith(".whl"))
    return os.path.join(downloads, names[-1]) if names else None


def _flink_libraries(downloads):
    """The ``apache-flink-libraries`` download of FLINK_VERSION in ``downloads``, or None: the sdist
    ``apache-flink-libraries-V.tar.gz`` (up to 1.20), ``apache_flink_libraries-V.tar.gz`` (2.x) or the
    ``apache_flink_libraries-V-py2.py3-none-any.whl`` wheel (2.2, 2.3)."""
    for name in ("apache-flink-libraries-%s.tar.gz" % FLINK_VERSION, "apache_flink_libraries-%s.tar.gz" % FLINK_VERSION):
        if os.path.isfile(os.path.join(downloads, name)):
            return os.path.join(downloads, name)
    wheels = sorted(f for f in os.listdir(downloads)
                    if f.startswith("apache_flink_libraries-%s-" % FLINK_VERSION) and f.endswith(".whl"))
    return os.path.join(downloads, wheels[-1]) if wheels else None


def _download_flink(downloads):
    """``pip download --no-deps`` of FLINK_VERSION's two packages, each only when missing. The apache-flink wheel
    is asked for as CPython 3.10 on manylinux, whatever runs this: only its scripts and conf/ are read, and
    1.17 and 1.18 have no wheel for a newer CPython (pip would build the sdist instead)."""
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", downloads]
    if not _flink_wheel(downloads):
        log("downloading apache-flink %s (wheel) from PyPI into %s (once)" % (FLINK_VERSION, downloads))
        run(pip + ["--only-binary", ":all:", "--python-version", PYPI_WHEEL_PYTHON,
                   "--platform", PYPI_WHEEL_PLATFORM, "apache-flink==%s" % FLINK_VERSION])
    if not _flink_libraries(downloads):
        log("downloading apache-flink-libraries %s from PyPI into %s (once, about 300 MB)" % (FLINK_VERSION, downloads))
        run(pip + ["apache-flink-libraries==%s" % FLINK_VERSION])
    wheel, libraries = _flink_wheel(downloads), _flink_libraries(downloads)
    if not (wheel and libraries):
        raise SystemExit("[bed] pip left no apache-flink %s wheel or apache-flink-libraries %s in %s"
                         % (FLINK_VERSION, FLINK_VERSION, downloads))
    return wheel, libraries


def _library_members(path):
    """(part/rel path, open file) for each file of ``bin``, ``lib``, ``opt`` and ``plugins`` in an
    apache-flink-libraries download: ``<top>/deps/<part>/...`` in the sdist, ``pyflink/<part>/...`` in the
    wheel."""
    parts = ("bin", "lib", "opt", "plugins")
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as whl:
            for info in whl.infolist():
                names = info.filename.split("/")
                if len(names) > 2 and names[0] == "pyflink" and names[1] in parts and not info.is_dir():
                    with whl.open(info) as src:
                        yield "/".join(names[1:]), src
        return
    with tarfile.open(path) as tar:
        for member in tar:
            names = member.name.split("/")
            if len(names) > 3 and names[1] == "deps" and names[2] in parts and member.isfile():
                with tar.extractfile(member) as src:
                    yield "/".join(names[2:]), src


def flink_dist():
    """Assemble (once per version, cached) a complete Flink distribution of FLINK_VERSION from the PyPI packages.

    Every call also makes sure ``opt/`` has the SQL gateway jar (a cheap stat once it is there), so a
    distribution cached before that jar was added gets it too.
    """
    dist = os.path.join(CACHE, "flink-%s" % FLINK_VERSION)
    if os.path.exists(os.path.join(dist, ".complete")):
        add_sql_gateway(dist)
        return dist
    wheel, libraries = _download_flink(_pypi_downloads())
    tmp = "%s.%d.tmp" % (dist, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    log("assembling FLINK_HOME %s from %s and %s" % (dist, os.path.basename(wheel), os.path.basename(libraries)))
    with zipfile.ZipFile(wheel) as whl:
        for info in whl.infolist():
            for part in ("bin", "conf"):
                prefix = "pyflink/%s/" % part
                if info.filename.startswith(prefix) and not info.is_dir():
                    target = os.path.join(tmp, part, info.filename[len(prefix):])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with whl.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
    for rel, src in _library_members(libraries):
        target = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            shutil.copyfileobj(src, out)
    missing = [p for p in ("bin/config.sh", "bin/bash-java-utils.jar", "lib/flink-dist-%s.jar" % FLINK_VERSION,
                           "opt", "plugins") if not os.path.exists(os.path.join(tmp, p))]
    if missing or not _shipped_conf_name(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit("[bed] %s and %s make no complete Flink %s (missing: %s)" % (
            wheel, libraries, FLINK_VERSION, ", ".join(missing) or "conf/config.yaml or conf/flink-conf.yaml"))
    for name in os.listdir(os.path.join(tmp, "bin")):
        os.chmod(os.path.join(tmp, "bin", name), 0o755)
    open(os.path.join(tmp, ".complete"), "w").close()
    shutil.rmtree(dist, ignore_errors=True)
    os.rename(tmp, dist)
    add_sql_gateway(dist)
    return dist


def add_sql_gateway(dist):
    """``opt/flink-sql-gateway-<v>.jar``, which ``bin/sql-client.sh`` puts on its classpath (any
    ``flink-sql-gateway*.jar`` in opt/): the official tarball ships it, the PyPI packages do not (FACTS.md, "The
    SQL client needs the SQL gateway jar"). Its version is artifacts.sql_gateway's: the Flink version, or the
    nearest patch release Maven Central serves. A copy (1 MB), not a link into ~/.m2, so the cached
    distribution stands alone; written atomically, since other beds on this machine share the cache."""
    gateway = artifacts.sql_gateway(FLINK_VERSION)
    target = os.path.join(dist, "opt", "%s-%s.jar" % (gateway.artifact_id, gateway.version))
    if os.path.exists(target):
        return target
    src = artifacts.fetch(gateway.group_id, gateway.artifact_id, gateway.version)
    tmp = "%s.%d.tmp" % (target, os.getpid())
    shutil.copyfile(src, tmp)
    if jars.sha_hex(tmp, "sha1") != artifacts.published_sha1(src):
        os.unlink(tmp)
        raise SystemExit("[bed] %s does not match its published .sha1; delete it from ~/.m2 and rerun" % src)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    log("added %s to the cached distribution's opt/" % os.path.basename(target))
    return target


def _link_tree(src, dst):
    """Copy a tree with hard links (same filesystem) or plain copies."""
    def link(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
    shutil.copytree(src, dst, copy_function=link, symlinks=True)


def _shipped_conf_name(dist):
    """The configuration file the distribution ships and its version reads: ``flink-conf.yaml`` (1.17, 1.18;
    also taken first by 1.19 and 1.20 when present), else ``config.yaml`` (1.19+, the only one 2.x reads)."""
    for name in ("flink-conf.yaml", "config.yaml"):
        if os.path.isfile(os.path.join(dist, "conf", name)):
            if name == "flink-conf.yaml" and int(FLINK_VERSION.split(".", maxsplit=1)[0]) >= 2:
                continue
            return name
    return None


def home_version(home):
    """The Flink version a FLINK_HOME was made from (HOME_VERSION_FILE), or None when there is no home."""
    try:
        with open(os.path.join(home, HOME_VERSION_FILE)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return LEGACY_HOME_VERSION if os.path.isfile(os.path.join(home, "conf", "config.yaml")) else None


def _stop_daemons(home):
    """Stop whatever Flink daemon a home's run/ has a live pid file for (before the home goes away)."""
    for kind in ("standalonesession", "taskexecutor"):
        pid = daemon_pid(home, kind)
        if pid:
            log("stopping the %s of %s (pid %d): that home is Flink %s, the bed is now %s"
                % (kind, home, pid, home_version(home), FLINK_VERSION))
            _terminate(pid)


def _flat_conf(text, settings):
    """``flink-conf.yaml`` (1.17, 1.18: one ``key: value`` a line, read by Flink's own line parser) with
    ``settings`` set: a shipped line of the same key is replaced in place, the others are appended."""
    pending = dict(settings)
    out = []
    for line in text.splitlines():
        key = line.split(":", 1)[0].strip() if ":" in line and not line.lstrip().startswith("#") else None
        if key in pending:
            out.append("%s: %s" % (key, pending.pop(key)))
        else:
            out.append(line)
    if pending:
        out += ["", "# cdcops test bed"] + ["%s: %s" % item for item in pending.items()]
    return "\n".join(out) + "\n"


def _nested_conf(text, settings):
    """``config.yaml`` (1.19+, standard YAML) with ``settings`` set as nested keys."""
    conf = yaml.safe_load(text) or {}
    for dotted, value in settings.items():
        node = conf
        keys = dotted.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return yaml.safe_dump(conf, default_flow_style=False)


def _flatten(node, prefix=""):
    """Standard-YAML configuration as Flink reads it: nested keys joined with dots."""
    out = {}
    for key, value in (node or {}).items():
        dotted = "%s%s" % (prefix, key)
        out.update(_flatten(value, dotted + ".") if isinstance(value, dict) else {dotted: value})
    return out


def _shipped_java_opts(name, text):
    """Whether the shipped configuration sets ``env.java.opts.all`` (1.18+ do, with the Java 17 flags)."""
    if name == "flink-conf.yaml":
        return any(line.split(":", 1)[0].strip() == "env.java.opts.all"
                   for line in text.splitlines() if not line.lstrip().startswith("#"))
    return bool(_flatten(yaml.safe_load(text)).get("env.java.opts.all"))


def make_home(dist, home, settings):
    """A FLINK_HOME of its own: lib/ and conf/ are private to this process. A home made from another Flink
    version (its HOME_VERSION_FILE) is made anew, after its daemon, if one runs, is stopped."""
    made = home_version(home)
    if made != FLINK_VERSION:
        if made:
            _stop_daemons(home)
            log("making %s anew: it is Flink %s, the bed is %s" % (home, made, FLINK_VERSION))
        tmp = home + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for part in ("bin", "opt", "plugins"):
            _link_tree(os.path.join(dist, part), os.path.join(tmp, part))
        # lib/ gets real copies: tests replace, chmod and delete files in it.
        shutil.copytree(os.path.join(dist, "lib"), os.path.join(tmp, "lib"))
        shutil.copytree(os.path.join(dist, "conf"), os.path.join(tmp, "conf"))
        for part in ("log", "run"):
            os.makedirs(os.path.join(tmp, part))
        with open(os.path.join(tmp, HOME_VERSION_FILE), "w") as f:
            f.write(FLINK_VERSION + "\n")
        shutil.rmtree(home, ignore_errors=True)
        os.rename(tmp, home)
    # A home made before the distribution's opt/ gained a jar (the SQL gateway) gets it now.
    for name in os.listdir(os.path.join(dist, "opt")):
        target = os.path.join(home, "opt", name)
        if not os.path.lexists(target):
            try:
                os.link(os.path.join(dist, "opt", name), target)
            except OSError:
                shutil.copy2(os.path.join(dist, "opt", name), target)
    # Settings go into the file this version ships, over what it ships (never a file of the bed's own).
    name = _shipped_conf_name(dist)
    with open(os.path.join(dist, "conf", name)) as f:
        text = f.read()
    if not _shipped_java_opts(name, text):
        # Flink 1.17: no Java 17 module flags shipped (JAVA17_OPTS).
        settings = dict({"env.java.opts.all": JAVA17_OPTS}, **settings)
    with open(os.path.join(home, "conf", name), "w") as f:
        f.write(_flat_conf(text, settings) if name == "flink-conf.yaml" else _nested_conf(text, settings))
    return home


def jm_home(address="127.0.0.1"):
    name = "jobmanager" if address == "127.0.0.1" else "jobmanager-%s" % address
    return os.path.join(BED, "flink", name)


def tm_home(host):
    return os.path.join(BED, "flink", "tm-%s" % host)


def common_settings(home):
    return {
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": PORTS["jm_rpc"],
        "rest.address": "127.0.0.1",
        "rest.port": PORTS["rest"],
        "env.pid.dir": os.path.join(home, "run"),
        "env.log.dir": os.path.join(home, "log"),
        # A standalone TaskManager notices a restarted JobManager only when its heartbeat times out (there is
        # no leader change to tell it; default 50 s). 20 s keeps the role's JobManager restart short in the
        # tests and still leaves a loaded 2-core machine room for GC pauses.
        "heartbeat.timeout": 20000,
        **ha_settings(),
    }


def rest(path, timeout=2.0, address="127.0.0.1"):
    url = "http://%s:%d%s" % (address, PORTS["rest"], path)
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


# A TaskManager's RPC address in /taskmanagers "path": akka.tcp://flink@127.0.0.2:41321/user/rpc/taskmanager_0 up to
# Flink 1.17, pekko.tcp://... from 1.18 (pekko.ssl.tcp with internal SSL).
_TM_PATH = re.compile(r"^(?:akka|pekko)(?:\.ssl)?\.tcp://[^@/]+@([^:/]+)")


def registered_hosts(heartbeat=False):
    """Hosts of the TaskManagers the JobManager lists; with ``heartbeat``, only those it has had a heartbeat
    from (FACTS.md: timeSinceLastHeartbeat is 0 before the first one). The bed is up only then, so that what
    the tests read of a TaskManager is complete."""
    try:
        tms = rest("/taskmanagers")["taskmanagers"]
    except (OSError, ValueError):
        return []
    hosts = []
    for tm in tms:
        match = _TM_PATH.match(tm.get("path") or "")
        if match and (not heartbeat or (tm.get("timeSinceLastHeartbeat") or 0) > 0):
            hosts.append(match.group(1))
    return hosts


def daemon_pid(home, kind):
    """The live pid of the ``kind`` daemon of ``home``. flink-daemon.sh appends each start's pid to its pid file
    and never drops a dead one, and pids wrap quickly on a busy machine (pid_max 32768), so a pid counts only
    when its command line names this home: else a stale line could make tm-stop kill another bed's Flink."""
    run_dir = os.path.join(home, "run")
    if not os.path.isdir(run_dir):
        return None
    for name in os.listdir(run_dir):
        if kind in name and name.endswith(".pid"):
            with open(os.path.join(run_dir, name)) as f:
                pids = [int(line) for line in f if line.strip().isdigit()]
            for pid in reversed(pids):
                if pid_alive(pid) and _runs_from(pid, home):
                    return pid
    return None


def _runs_from(pid, home):
    """Whether process ``pid`` is a Flink daemon of ``home`` (its -Dlog.file and classpath are under it)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().decode("utf-8", "replace")
    except OSError:
        return not os.path.isdir("/proc/self")  # no /proc to tell: trust the pid file
    return os.path.join(home, "") in cmdline


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def flink_env():
    env = dict(os.environ)
    env.pop("FLINK_HOME", None)
    env.pop("FLINK_CONF_DIR", None)
    return env


def start_jobmanager(dist, address="127.0.0.1"):
    settings = dict(common_settings(jm_home(address)), **{
        "jobmanager.rpc.address": address,
        "rest.address": address,
        "jobmanager.bind-host": address,
        "rest.bind-address": address,
        "jobmanager.memory.process.size": "1024m",
    })
    if HA:
        # The leader's REST handler uploads a submitted job's files to the BlobServer of its own process at
        # "localhost" (a local RPC gateway has no host: apache/flink PekkoRpcService#connect falls back to
        # "localhost"; JobSubmitHandler connects to gateway.getHostname()), and the BlobServer binds
        # jobmanager.bind-host. Bound to 127.0.2.1, the standby's submissions failed once it led ("Could not connect
        # to BlobServer at address localhost/127.0.0.1"): the JobManagers bind the wildcard address (Flink ships
        # jobmanager.bind-host: localhost, which the other JobManager cannot reach). Their RPC and BLOB ports are
        # ephemeral with HA, and their REST ports are bound by rest.bind-address.
        settings["jobmanager.bind-host"] = "0.0.0.0"
    home = make_home(dist, jm_home(address), settings)
    if not daemon_pid(home, "standalonesession"):
        log("starting JobManager, REST on %s:%d" % (address, PORTS["rest"]))
        run([os.path.join(home, "bin", "jobmanager.sh"), "start"], env=flink_env(),
            stdout=subprocess.DEVNULL)
    wait_for("JobManager REST on %s:%d" % (address, PORTS["rest"]), lambda: _rest_ok(address))


def start_jobmanagers(dist):
    for address in jobmanagers():
        start_jobmanager(dist, address)


def stop_jobmanager(address="127.0.0.1"):
    pid = daemon_pid(jm_home(address), "standalonesession")
    if pid:
        log("stopping JobManager %s (pid %d)" % (address, pid))
        _terminate(pid)


def stop_jobmanagers():
    for address in (STANDBY_JOBMANAGER, "127.0.0.1"):
        stop_jobmanager(address)


def _rest_ok(address="127.0.0.1"):
    try:
        return rest("/overview", address=address).get("flink-version") == FLINK_VERSION
    except (OSError, ValueError):
        return False


def start_taskmanager(host, dist=None):
    start_taskmanagers([host], dist)


def _launch_taskmanager(host, dist):
    """Start the TaskManager of ``host`` unless it runs; do not wait for it to register."""
    home = make_home(dist, tm_home(host), dict(common_settings(tm_home(host)), **dict({
        "taskmanager.host": host,
        "taskmanager.bind-host": host,
        "taskmanager.numberOfTaskSlots": SLOTS_PER_TM,
    }, **tm_memory_settings())))
    if not daemon_pid(home, "taskexecutor"):
        log("starting TaskManager %s" % host)
        # taskmanager.sh derives the JVM's memory options first (Flink's memory model) and starts nothing when
        # the configured sizes do not fit: its error goes to the caller, not to the daemon's log.
        proc = run([os.path.join(home, "bin", "taskmanager.sh"), "start"], env=flink_env(), check=False,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            cause = [line for line in (proc.stdout or "").splitlines() if "Exception" in line][-1:]
            raise SystemExit("[bed] TaskManager %s did not start (%s): %s" % (
                host, ", ".join("%s=%s" % item for item in tm_memory_settings().items()),
                cause[0].strip() if cause else (proc.stdout or "").strip()[-600:]))


def start_taskmanagers(hosts, dist=None):
    """Start the TaskManagers of ``hosts`` one after the other, then wait for all of them to register and send a
    heartbeat (their JVMs start side by side instead of one registration after the other)."""
    dist = dist or flink_dist()
    hosts = list(hosts)
    for host in hosts:
        _launch_taskmanager(host, dist)

    def all_registered():
        registered = set(registered_hosts(heartbeat=True))
        dead = [h for h in hosts if h not in registered and not daemon_pid(tm_home(h), "taskexecutor")]
        if dead:
            raise SystemExit("[bed] TaskManager(s) %s stopped before registering; see %s" % (
                ", ".join(dead), os.path.join(tm_home(dead[0]), "log")))
        return registered.issuperset(hosts)

    # 90 s for one, and some more per TaskManager: on a 2-core machine their JVMs start in turn.
    wait_for("TaskManager(s) %s to register and send a heartbeat" % _hosts_shown(hosts), all_registered,
             timeout=90.0 + 5.0 * max(0, len(hosts) - 1))


def _hosts_shown(hosts):
    hosts = list(hosts)
    return ", ".join(hosts) if len(hosts) <= 4 else "%s ... %s (%d)" % (hosts[0], hosts[-1], len(hosts))


def recorded_taskmanagers():
    """The TaskManager hosts ``state.json`` of the bed directory records ([] without one)."""
    try:
        with open(state_path()) as f:
            return [tm["host"] for tm in json.load(f).get("taskmanagers", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def known_taskmanagers():
    """Every TaskManager host of the bed directory: TASKMANAGERS, those state.json records and those with a home
    under ``flink/`` (a run with more TaskManagers than now, or one that stopped before writing state.json)."""
    hosts = set(TASKMANAGERS) | set(recorded_taskmanagers())
    flink_dir = os.path.join(BED, "flink")
    if os.path.isdir(flink_dir):
        hosts |= {name[len("tm-"):] for name in os.listdir(flink_dir)
                  if name.startswith("tm-") and not name.endswith(".tmp")}
    return sorted(hosts, key=lambda h: [int(p) if p.isdigit() else p for p in h.split(".")])


def stop_taskmanager(host):
    home = tm_home(host)
    pid = daemon_pid(home, "taskexecutor")
    if pid:
        log("stopping TaskManager %s (pid %d)" % (host, pid))
        _terminate(pid)


def _terminate(pid, timeout=30):
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- jobs


def job_jar():
    """A tiny streaming job (datagen -> blackhole) so the bed can have RUNNING jobs, compiled against the
    JobManager's lib/ (again when the bed's Flink version changed)."""
    src_dir = os.path.join(BED, "job")
    jar = os.path.join(src_dir, "bedjob.jar")
    marker = os.path.join(src_dir, HOME_VERSION_FILE)
    made = None
    if os.path.exists(jar):
        made = LEGACY_HOME_VERSION
        if os.path.exists(marker):
            with open(marker) as f:
                made = f.read().strip()
    if made == FLINK_VERSION:
        return jar
    os.makedirs(src_dir, exist_ok=True)
    with open(os.path.join(src_dir, "BedJob.java"), "w") as f:
        f.write("""
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;

public class BedJob {
    public static void main(String[] args) throws Exception {
        TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        t.getConfig().set("pipeline.name", args.length > 0 ? args[0] : "cdcops-bed-datagen");
        t.executeSql("CREATE TABLE src (id BIGINT) WITH ('connector'='datagen','rows-per-second'='1')");
        t.executeSql("CREATE TABLE snk (id BIGINT) WITH ('connector'='blackhole')");
        t.executeSql("INSERT INTO snk SELECT id FROM src");
    }
}
""")
    run(["javac", "-cp", os.path.join(jm_home(), "lib", "*"), "BedJob.java"], cwd=src_dir)
    run(["jar", "cfe", "bedjob.jar", "BedJob", "BedJob.class"], cwd=src_dir)
    with open(marker, "w") as f:
        f.write(FLINK_VERSION + "\n")
    return jar


def job_start(name="cdcops-bed-datagen"):
    run([os.path.join(jm_home(), "bin", "flink"), "run", "-d", "-m",
         "127.0.0.1:%d" % PORTS["rest"], job_jar(), name], env=flink_env(),
        stdout=subprocess.DEVNULL)
    wait_for("job %s to run" % name, lambda: any(
        j["name"] == name and j["state"] == "RUNNING" for j in rest("/jobs/overview")["jobs"]))


def job_cancel(jid):
    req = urllib.request.Request("http://127.0.0.1:%d/jobs/%s?mode=cancel" % (PORTS["rest"], jid), method="PATCH")
    urllib.request.urlopen(req, timeout=5).close()


def jobs_cancel():
    for job in rest("/jobs/overview")["jobs"]:
        if job["state"] in ("RUNNING", "CREATED", "RESTARTING", "INITIALIZING"):
            job_cancel(job["jid"])
    wait_for("jobs to stop", lambda: not any(
        j["state"] in ("RUNNING", "CANCELLING") for j in rest("/jobs/overview")["jobs"]))


# --------------------------------------------------------------------------- PostgreSQL


def pg_bin():
    base = "/usr/lib/postgresql"
    versions = sorted((d for d in os.listdir(base) if d.isdigit()), key=int) if os.path.isdir(base) else []
    if not versions:
        raise SystemExit("[bed] no PostgreSQL server under /usr/lib/postgresql; "
                         "run scripts/bootstrap.sh (it installs the Debian package)")
    return os.path.join(base, versions[-1], "bin")


def as_pg(cmd, **kw):
    """Run a PostgreSQL server command as the postgres OS user when we are root (from ``/``, a directory that user
    can always enter, not from wherever the caller stands)."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
        kw.setdefault("cwd", "/")
    return run(cmd, **kw)


# Run by root, the clusters' state lives here, outside the checkout (see the module docstring).
PG_STATE_BASE = "/var/tmp"


def pg_root():
    """The directory of this bed's PostgreSQL clusters: ``BED/pg`` when PostgreSQL runs as the user running the
    bed; run by root, one directory per bed directory under PG_STATE_BASE, which the postgres OS user owns and
    can always reach, wherever the checkout is."""
    if os.geteuid() != 0:
        return os.path.join(BED, "pg")
    return os.path.join(PG_STATE_BASE, "cdcops-bed-pg-%s" % hashlib.sha256(BED.encode("utf-8")).hexdigest()[:16])


def _private_pg_root():
    """``pg_root()``, made if missing. Run by root: a real directory (not a link someone planted in the shared
    PG_STATE_BASE), of root or postgres, then owned by postgres with mode 0700."""
    root = pg_root()
    if os.geteuid() != 0:
        os.makedirs(root, exist_ok=True)
        return root
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        pass
    owner = pwd.getpwnam("postgres")
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (0, owner.pw_uid):
        raise SystemExit("[bed] %s is not a directory of root or postgres (uid %d); remove it and run again"
                         % (root, st.st_uid))
    os.chown(root, owner.pw_uid, owner.pw_gid)
    os.chmod(root, 0o700)
    return root


def pg_dir(name):
    legacy = os.path.join(BED, "pg", name)
    if os.geteuid() == 0 and os.path.exists(os.path.join(legacy, "data", "PG_VERSION")):
        return legacy  # a bed made before its PostgreSQL state moved out of the checkout keeps it there
    return os.path.join(pg_root(), name)


def _private_file(path, text):
    """Write ``text`` to a new file that only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)  # also when it existed with another mode


def pg_password():
    path = os.path.join(BED, "pg", "superuser.password")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _private_file(path, secrets.token_urlsafe(18))
    os.chmod(path, 0o600)  # a bed made when it was 0644
    with open(path) as f:
        return f.read().strip()


def start_postgres(name, port, wal_level):
    base = pg_dir(name)
    data = os.path.join(base, "data")
    sock = os.path.join(base, "sock")
    password = pg_password()
    if not os.path.exists(os.path.join(data, "PG_VERSION")):
        log("initdb PostgreSQL cluster %s (wal_level=%s, port %d) in %s" % (name, wal_level, port, base))
        _private_pg_root()
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(sock)
        pwfile = os.path.join(base, "pwfile")
        _private_file(pwfile, password)
        if os.geteuid() == 0:
            for path in (base, sock, pwfile):
                shutil.chown(path, "postgres", "postgres")
        try:
            as_pg([os.path.join(pg_bin(), "initdb"), "-D", data, "-U", "postgres", "--pwfile", pwfile,
                   "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                   "--locale=C"], stdout=subprocess.DEVNULL)
        finally:
            os.unlink(pwfile)
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": "'%s'" % sock,
            "wal_level": wal_level,
            "max_replication_slots": "10",
            "max_wal_senders": "10",
            "password_encryption": "'scram-sha-256'",
            "fsync": "off",
            "log_min_messages": "warning",
        }
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("\n# cdcops test bed\n")
            for key, value in conf.items():
                f.write("%s = %s\n" % (key, value))
    if not port_open("127.0.0.1", port):
        log("starting PostgreSQL %s on 127.0.0.1:%d" % (name, port))
        as_pg([os.path.join(pg_bin(), "pg_ctl"), "-D", data, "-l", os.path.join(base, "server.log"),
               "-w", "-t", "60", "start"], stdout=subprocess.DEVNULL)
    return {"host": "127.0.0.1", "port": port, "socket_dir": sock, "wal_level": wal_level,
            "user": "postgres", "password": password, "data": data}


def stop_postgres(name):
    data = os.path.join(pg_dir(name), "data")
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        log("stopping PostgreSQL %s" % name)
        as_pg([os.path.join(pg_bin(), "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"],
              check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------- Maven repository


def maven_root():
    return os.path.join(BED, "maven", "repo")


def maven_log():
    return os.path.join(BED, "maven", "requests.log")


def publish_connectors(root):
    """Every real jar of artifacts.CONNECTORS and artifacts.STAND_INS, with its published .sha1, into ``root``,
    and per artifact a ``maven-metadata.xml`` listing the versions ``root`` holds, as a hosted repository
    does (the role's unpinned choice reads it; maven_repo.write_metadata).

    A jar a bed from before the real jars built under the same coordinates is replaced; one under a
    coordinate Maven Central refuses (the old demo's 1.2.11_flink-1.20) can only be built, and goes.
    """
    for name, versions in artifacts.REFUSED.items():
        known = artifacts.connector(name, "current")
        for version in versions:
            stale = os.path.dirname(os.path.join(root, jars.maven_path(known.group_id, known.artifact_id, version)))
            if os.path.isdir(stale):
                log("removing %s: Maven Central serves no such version, so it was built" % stale)
                shutil.rmtree(stale)
    real = artifacts.CONNECTORS + artifacts.STAND_INS + artifacts.JDBC_SINKS
    rels = [artifacts.publish_real(root, a.group_id, a.artifact_id, a.version) for a in real]
    for group_id, artifact_id in dict.fromkeys((a.group_id, a.artifact_id) for a in real):
        maven_repo.write_metadata(root, group_id, artifact_id)
    return rels


def start_maven():
    root = maven_root()
    os.makedirs(root, exist_ok=True)
    # The real connectors (every build of artifacts.py), published into the sandbox repository.
    publish_connectors(root)
    pidfile = os.path.join(BED, "maven", "server.pid")
    if not port_open("127.0.0.1", PORTS["maven"]):
        log("starting Maven repository on http://127.0.0.1:%d" % PORTS["maven"])
        proc, _port = maven_repo.start_server(root, maven_log(), port=PORTS["maven"], timeout=20)
        with open(pidfile, "w") as f:
            f.write(str(proc.pid))


def stop_maven():
    stop_by_pidfile(os.path.join(BED, "maven", "server.pid"), "Maven repository", timeout=5)


def stop_by_pidfile(pidfile, what, timeout):
    """Stop the server the bed started and whose pid it wrote into ``pidfile`` (if it still runs), and remove the
    file."""
    if os.path.exists(pidfile):
        with open(pidfile) as f:
            pid = int(f.read().strip() or 0)
        if pid and pid_alive(pid):
            log("stopping %s (pid %d)" % (what, pid))
            _terminate(pid, timeout=timeout)
        os.unlink(pidfile)


# --------------------------------------------------------------------------- state


def state_path():
    return os.path.join(BED, "state.json")


def state():
    with open(state_path()) as f:
        return json.load(f)


def demo_connectors():
    """The role-style list of the real connectors that fit the bed's Flink (artifacts.demo_connectors)."""
    return artifacts.demo_connectors(FLINK_VERSION)


def connectors_state():
    """state.json "connectors": per connector its coordinates, current and older build, whether the current
    build fits the bed's Flink minor, every real build by role with whether it fits, and the coordinates
    Maven Central refused."""
    out = {}
    for name in artifacts.connector_names():
        current, older = artifacts.connector(name, "current"), artifacts.connector(name, "older")
        out[name] = {"group_id": current.group_id, "artifact_id": current.artifact_id,
                     "current": current.version, "older": older.version,
                     "fits_bed": artifacts.fits(current, FLINK_VERSION),
                     "builds": [{"role": a.role, "version": a.version, "fits_bed": artifacts.fits(a, FLINK_VERSION)}
                                for a in artifacts.builds(name)],
                     "refused": list(artifacts.REFUSED.get(name, ()))}
    return out


def pg_role_vars(logical):
    """The flink_cdc role's PostgreSQL source settings (``flink_cdc_pg_*``) for the bed's logical server
    (``state()["postgres"]["logical"]``): its demo database, user, tables, publication and slot."""
    demo = logical["demo"]
    return {
        "flink_cdc_pg_host": logical["host"],
        "flink_cdc_pg_port": logical["port"],
        "flink_cdc_pg_database": demo["database"],
        "flink_cdc_pg_user": demo["user"],
        "flink_cdc_pg_password": demo["password"],
        "flink_cdc_pg_tables": demo["tables"],
        "flink_cdc_pg_publication": demo["publication"],
        "flink_cdc_pg_slot_name": demo["slot_name"],
    }


def sandbox_role_vars(pg, maven_url, cache_dir, report_dir, connectors=None):
    """The flink_cdc role's settings for this sandbox: its repository, its PostgreSQL source, the real
    connectors that fit its Flink (``connectors``, by default ``demo_connectors()``), the smoke table, and
    the real Flink scripts of each host's FLINK_HOME as the TaskManager and JobManager restart commands."""
    if connectors is None:
        connectors = demo_connectors()
    return {
        "flink_cdc_maven_repository": maven_url,
        "flink_cdc_controller_cache_dir": cache_dir,
        "flink_cdc_report_dir": report_dir,
        **pg_role_vars(pg["logical"]),
        "flink_cdc_taskmanager_restart_command":
            "{{ flink_cdc_flink_home }}/bin/taskmanager.sh stop && {{ flink_cdc_flink_home }}/bin/taskmanager.sh start",
        "flink_cdc_connectors": [dict(c) for c in connectors],
        "flink_cdc_jobmanager_restart_command":
            "{{ flink_cdc_flink_home }}/bin/jobmanager.sh stop && {{ flink_cdc_flink_home }}/bin/jobmanager.sh start",
        "flink_cdc_smoke_table": pg_seed.DEMO_SMOKE_TABLE,
    }


def demo_pipeline_vars(pg, maven_connectors=None):
    """The demo's pipeline, for ``-e @demo_pipeline.yml``: the sandbox's three tables streamed into the ``sink``
    database through the JDBC connector (no StarRocks server exists here), which the deploy installs beside the
    connectors; its savepoints and flink_job records in the bed directory."""
    demo = pg["logical"]["demo"]
    connectors = [dict(c) for c in (maven_connectors if maven_connectors is not None else demo_connectors())]
    jdbc = artifacts.jdbc_sink(FLINK_VERSION)
    if jdbc:
        connectors.append({"group_id": jdbc.group_id, "artifact_id": jdbc.artifact_id, "version": jdbc.version})
    return {
        "flink_cdc_connectors": connectors,
        "flink_cdc_pipelines": [{
            "name": "shop-to-sink",
            "sink": {"connector": "jdbc",
                     "url": "jdbc:postgresql://%s:%d/%s" % (pg["logical"]["host"], pg["logical"]["port"],
                                                            demo["sink_database"]),
                     "username": demo["user"], "password": demo["password"],
                     "sink.buffer-flush.interval": "1s"},
        }],
        "flink_cdc_pipeline_checkpoint_interval": "5s",
        "flink_cdc_pipeline_savepoint_dir": "file://%s" % os.path.join(BED, "savepoints"),
        "flink_cdc_pipeline_record_dir": os.path.join(BED, "flink-job-records"),
    }


def write_state(pg):
    python = sys.executable
    data = {
        "bed_dir": BED,
        "flink_version": FLINK_VERSION,
        "sql_gateway": artifacts.sql_gateway(FLINK_VERSION).coordinates,
        "rest_url": "http://127.0.0.1:%d" % PORTS["rest"],
        "jobmanager": {"host": "127.0.0.1", "home": jm_home()},
        "ha": HA,
        "jobmanagers": [{"host": a, "home": jm_home(a), "rest_url": "http://%s:%d" % (a, PORTS["rest"])}
                        for a in jobmanagers()],
        "zookeeper": "127.0.0.1:%d" % PORTS["zookeeper"] if HA else None,
        "taskmanagers": [{"host": h, "home": tm_home(h), "slots": SLOTS_PER_TM} for h in TASKMANAGERS],
        "taskmanager_memory": tm_memory_settings(),
        "postgres": pg,
        "maven": {"url": "http://127.0.0.1:%d" % PORTS["maven"], "root": maven_root(),
                  "log": maven_log()},
        "connectors": connectors_state(),
        "demo_connectors": demo_connectors(),
        "python": python,
    }
    with open(state_path(), "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(state_path(), 0o600)
    lines = [
        "# Written by tests/bed/bed.py: the local sandbox as an Ansible inventory.",
        "[flink_jobmanager]",
        "jobmanager ansible_host=127.0.0.1 flink_cdc_flink_home=%s" % jm_home(),
    ] + [
        "jobmanager%d ansible_host=%s flink_cdc_flink_home=%s" % (i, a, jm_home(a))
        for i, a in enumerate(jobmanagers()[1:], 2)
    ] + [
        "",
        "[flink_taskmanagers]",
    ]
    for i, host in enumerate(TASKMANAGERS, 1):
        lines.append("tm%d ansible_host=%s flink_cdc_flink_home=%s" % (i, host, tm_home(host)))
    lines += [
        "",
        "[all:vars]",
        "ansible_connection=local",
        "ansible_python_interpreter=%s" % python,
        # With HA, every JobManager's REST URL (the modules find the leader among them).
        "flink_cdc_rest_url=%s" % ",".join("http://%s:%d" % (a, PORTS["rest"]) for a in jobmanagers()),
        "",
    ]
    with open(os.path.join(BED, "inventory.ini"), "w") as f:
        f.write("\n".join(lines))
    # The role's settings for the sandbox, next to the inventory (Ansible reads group_vars/ there).
    role_vars = sandbox_role_vars(pg, "http://127.0.0.1:%d" % PORTS["maven"],
                                  os.path.join(BED, "controller-cache"), os.path.join(BED, "report"))
    os.makedirs(os.path.join(BED, "group_vars"), exist_ok=True)
    path = os.path.join(BED, "group_vars", "all.yml")
    with open(path, "w") as f:
        f.write("# Written by tests/bed/bed.py: the flink_cdc role's settings for the sandbox.\n")
        yaml.safe_dump(role_vars, f, default_flow_style=False, sort_keys=True)
    os.chmod(path, 0o600)
    path = os.path.join(BED, "demo_pipeline.yml")
    with open(path, "w") as f:
        f.write("# Written by tests/bed/bed.py: the demo's CDC pipeline (make demo passes it with -e @).\n")
        yaml.safe_dump(demo_pipeline_vars(pg), f, default_flow_style=False, sort_keys=True)
    os.chmod(path, 0o600)


def up(fresh=False, flink=None, ha=None):
    """Bring the bed up (idempotent); ``fresh`` first takes it down and removes its state. ``flink`` switches the
    bed's Flink version (set_flink_version); without it the bed keeps its version (FLINK_VERSION). On a bed
    directory of another version, make_home stops that version's daemons and makes their homes anew."""
    if flink:
        set_flink_version(flink)
    if ha is not None:
        set_ha(ha)
    if fresh:
        down()
        for part in ("flink", "pg", "maven", "job", "ha", "zookeeper") + DEMO_PIPELINE_STATE:
            shutil.rmtree(os.path.join(BED, part), ignore_errors=True)
        shutil.rmtree(pg_root(), ignore_errors=True)
    os.makedirs(BED, exist_ok=True)
    recorded = recorded_flink_version()
    if recorded and recorded != FLINK_VERSION:
        log("the bed in %s was Flink %s; it becomes Flink %s" % (BED, recorded, FLINK_VERSION))
        for host in known_taskmanagers():
            stop_taskmanager(host)
        stop_jobmanagers()
    elif os.path.isfile(state_path()) and recorded_ha() != HA:
        # Every process reads the HA services from its configuration at start: all of them start anew.
        log("the bed in %s becomes %s" % (BED, "highly available (ZooKeeper)" if HA else "one JobManager, no HA"))
        for host in known_taskmanagers():
            stop_taskmanager(host)
        stop_jobmanagers()
        shutil.rmtree(os.path.join(BED, "ha"), ignore_errors=True)
        shutil.rmtree(zk_dir(), ignore_errors=True)
    if not HA:
        stop_jobmanager(STANDBY_JOBMANAGER)
        stop_zookeeper()
    # TaskManagers of an earlier run with more of them stop (their homes stay, for down and status).
    for host in known_taskmanagers():
        if host not in TASKMANAGERS:
            stop_taskmanager(host)
    dist = flink_dist()
    pg = {
        "logical": start_postgres("logical", PORTS["pg_logical"], "logical"),
        "replica": start_postgres("replica", PORTS["pg_replica"], "replica"),
    }
    # The demo's PostgreSQL source (database shop, role flink_cdc, a publication).
    pg["logical"]["demo"] = pg_seed.seed_demo(pg["logical"])
    start_maven()
    new_cluster = not any(daemon_pid(jm_home(a), "standalonesession") for a in jobmanagers())
    if HA:
        start_zookeeper()
    start_jobmanagers(dist)
    start_taskmanagers(TASKMANAGERS, dist)
    if new_cluster:
        forget_demo_pipeline(pg["logical"])
    write_state(pg)
    log("up: Flink %s%s REST http://127.0.0.1:%d, TaskManagers %s, PostgreSQL %d/%d, "
        "Maven http://127.0.0.1:%d; inventory %s" % (
            FLINK_VERSION, " HA (ZooKeeper 127.0.0.1:%d, JobManagers %s)" % (
                PORTS["zookeeper"], ", ".join(jobmanagers())) if HA else "", PORTS["rest"], _hosts_shown(TASKMANAGERS), PORTS["pg_logical"],
            PORTS["pg_replica"], PORTS["maven"], os.path.join(BED, "inventory.ini")))


# Where the demo's pipeline keeps its savepoints and flink_job records (demo_pipeline_vars).
DEMO_PIPELINE_STATE = ("savepoints", "flink-job-records")


def forget_demo_pipeline(pg):
    """A JobManager started anew knows none of the demo pipeline's jobs: its flink_job records, savepoints and
    replication slots (``<demo slot>_<table>``) from an earlier cluster are dropped, so the demo submits it afresh
    (a record of a job the JobManager does not know makes flink_job refuse, as it should on a real cluster)."""
    for part in DEMO_PIPELINE_STATE:
        shutil.rmtree(os.path.join(BED, part), ignore_errors=True)
    pg_seed.drop_slots(pg, pg_seed.DEMO_SLOT + "_")


def down():
    for host in known_taskmanagers():
        stop_taskmanager(host)
    stop_jobmanagers()
    stop_zookeeper()
    for name in ("logical", "replica"):
        stop_postgres(name)
    stop_maven()


def status():
    out = {
        "jobmanager": bool(daemon_pid(jm_home(), "standalonesession")),
        "jobmanagers": {a: bool(daemon_pid(jm_home(a), "standalonesession")) for a in jobmanagers()},
        "zookeeper": port_open("127.0.0.1", PORTS["zookeeper"]) if HA else None,
        "taskmanagers": {h: bool(daemon_pid(tm_home(h), "taskexecutor")) for h in known_taskmanagers()},
        "registered": registered_hosts(),
        "postgres": {n: port_open("127.0.0.1", PORTS["pg_" + n]) for n in ("logical", "replica")},
        "maven": port_open("127.0.0.1", PORTS["maven"]),
    }
    print(json.dumps(out, indent=2))
    return out


def _flink_option(args):
    """``args`` without ``--flink VERSION`` / ``--flink=VERSION``, and that version (or None)."""
    rest_args, version = [], None
    it = iter(args)
    for arg in it:
        if arg == "--flink":
            version = next(it, None)
            if not version:
                raise SystemExit("[bed] --flink needs a version (%s)" % ", ".join(FLINK_VERSIONS))
        elif arg.startswith("--flink="):
            version = arg.split("=", 1)[1]
        else:
            rest_args.append(arg)
    return rest_args, version


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    cmd, args = argv[0], argv[1:]
    args, flink = _flink_option(args)
    if flink:
        set_flink_version(flink)
    if cmd == "up":
        up(fresh="--fresh" in args, ha=True if "--ha" in args else False if "--no-ha" in args else None)
    elif cmd == "down":
        down()
    elif cmd == "status":
        status()
    elif cmd == "tm-stop":
        stop_taskmanager(args[0])
    elif cmd == "jm-stop":
        stop_jobmanager(*args[:1])
    elif cmd == "jm-start":
        start_jobmanager(flink_dist(), *args[:1])
        for host in recorded_taskmanagers() or TASKMANAGERS:
            wait_for("TaskManager %s to register again and send a heartbeat" % host,
                     lambda h=host: h in registered_hosts(heartbeat=True))
    elif cmd == "tm-start":
        start_taskmanager(args[0])
    elif cmd == "job-start":
        job_start(*args)
    elif cmd == "jobs-cancel":
        jobs_cancel()
    elif cmd == "demo-flink":
        print(artifacts.demo_flink_version(FLINK_VERSIONS))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
