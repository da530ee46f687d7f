"""The real, published artifacts the test bed uses: one table, fetched once into ``~/.m2``.

The jars come from Maven Central through ``mvn`` (``scripts/bootstrap.sh`` installs
Debian's ``maven``). ``fetch`` runs ``mvn`` only when the jar or its published ``.sha1``
is missing from ``~/.m2``, so reruns are instant and work offline. ``publish_real`` puts a
jar and that published ``.sha1`` (never one computed here) into a Maven-layout directory,
such as the bed's loopback repository or a test's private one.

Coordinates and what they are (FACTS.md, "Flink CDC postgres connector" and "StarRocks
Flink connector"):

* ``org.apache.flink:flink-sql-connector-postgres-cdc`` — apache/flink-cdc
  ``flink-connector/flink-cdc-source-connectors/flink-sql-connector-postgres-cdc/pom.xml``;
  https://repo.maven.apache.org/maven2/org/apache/flink/flink-sql-connector-postgres-cdc/
  (served here: 3.1.1, 3.2.0, 3.2.1, 3.3.0, 3.5.0). Which Flink minors a line supports: flink-cdc
  ``docs/content/docs/connectors/flink-sources/overview.md`` ("Supported Flink Versions") on each
  release branch: 3.2 supports 1.17 – 1.20; 3.3 – 3.5 support 1.19 and 1.20; only 3.6 has a Flink 2.x
  build (3.6.0-2.2), which Maven Central refuses here.
* ``com.starrocks:flink-connector-starrocks`` — StarRocks/starrocks-connector-for-apache-flink
  (``docs/content/connector-sink.md``, ``common.sh`` ``SUPPORTED_MINOR_VERSION``);
  https://repo.maven.apache.org/maven2/com/starrocks/flink-connector-starrocks/
  (newest served builds: 1.2.10_flink-1.19, 1.2.10_flink-1.18, 1.2.9_flink-1.18, ...). Its
  ``maven-metadata.xml`` lists no ``_flink-1.17`` build after 1.2.8 (1.2.9_flink-1.16, 1.2.9_flink-1.18,
  1.2.10_flink-1.18, 1.2.10_flink-1.19), so a Flink 1.17 cluster gets no StarRocks jar here.
* ``org.apache.flink:flink-sql-gateway:<Flink version>`` — apache/flink ``flink-table/flink-sql-gateway``;
  https://repo.maven.apache.org/maven2/org/apache/flink/flink-sql-gateway/ (FACTS.md, "The SQL client
  needs the SQL gateway jar"). ``mvn`` here does not serve it for every Flink patch release: where it
  refuses one, the bed takes the nearest served patch release of the same minor (SQL_GATEWAY_SERVED).

Plain Python 3 standard library; ``jars.maven_path`` gives the Maven layout.
"""

import os
import re
import shutil
import subprocess
import sys
from typing import NamedTuple, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jars  # noqa: E402

MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
M2 = os.path.join(os.path.expanduser("~"), ".m2", "repository")


class Artifact(NamedTuple):
    """One published connector jar the bed uses."""

    connector: str  # key in state.json "connectors": postgres_cdc, starrocks
    # "current" (what the demo deploys on the bed's default Flink), "older" (the upgrade path's start), or
    # "for_older_flink" (a build only for a bed on an older Flink, which neither of the two fits).
    role: str
    group_id: str
    artifact_id: str
    version: str
    # Flink minors the jar supports when its version carries no Flink suffix (FACTS.md matrices).
    flink: Tuple[str, ...] = ()

    @property
    def coordinates(self) -> str:
        return "%s:%s:%s" % (self.group_id, self.artifact_id, self.version)


PG_CDC = ("org.apache.flink", "flink-sql-connector-postgres-cdc")
STARROCKS = ("com.starrocks", "flink-connector-starrocks")
SQL_GATEWAY = ("org.apache.flink", "flink-sql-gateway")

# The real connectors. Flink CDC 3.3 and 3.5 support Flink 1.19 and 1.20, 3.2 supports 1.17 – 1.20 (flink-cdc
# docs connectors/flink-sources/overview.md at release-3.2, -3.3, -3.5); a StarRocks build's suffix is its
# Flink minor. 3.2.1 is there for a bed on Flink 1.17 or 1.18, which no other postgres-cdc build here fits.
CONNECTORS = (
    Artifact("postgres_cdc", "current", *PG_CDC, "3.5.0", flink=("1.19", "1.20")),
    Artifact("postgres_cdc", "older", *PG_CDC, "3.3.0", flink=("1.19", "1.20")),
    Artifact("postgres_cdc", "for_older_flink", *PG_CDC, "3.2.1", flink=("1.17", "1.18", "1.19", "1.20")),
    Artifact("starrocks", "current", *STARROCKS, "1.2.10_flink-1.19"),
    Artifact("starrocks", "older", *STARROCKS, "1.2.10_flink-1.18"),
)

# Real jars the bed's repository serves besides the connectors the role knows (not in CONNECTORS, which the
# recorded layout test and the role's connector tables cover): a Flink 2.x jar for the Flink 2.x beds, where no
# postgres-cdc or StarRocks build exists or is served, so a deploy and rolling restart still run there
# (tests/integration/test_flink_versions.py). apache/flink-connector-kafka 4.0.x is built for Flink 2.0 (its
# "-2.0" suffix); https://repo.maven.apache.org/maven2/org/apache/flink/flink-sql-connector-kafka/ (mvn here
# serves 4.0.1-2.0 and refuses 4.0.0-2.0).
STAND_INS = (
    Artifact("kafka", "flink2_stand_in", "org.apache.flink", "flink-sql-connector-kafka", "4.0.1-2.0"),
)

# The JDBC connector, the sink of the bed's CDC jobs (a table in a second PostgreSQL database; no StarRocks server
# exists here). apache/flink-connector-jdbc: 3.3.0 is built per Flink minor (3.3.0-1.20, 3.2.0-1.19); its
# flink-connector-jdbc artifact holds the core and every dialect, and no JDBC driver. The PostgreSQL driver
# comes from the postgres-cdc SQL jar beside it, which bundles org.postgresql unrelocated (flink-cdc
# flink-sql-connector-postgres-cdc/pom.xml): a separate driver jar would put the same classes in lib/ twice.
# https://repo.maven.apache.org/maven2/org/apache/flink/flink-connector-jdbc/ (mvn here serves both).
JDBC_SINKS = (
    Artifact("jdbc", "sink", "org.apache.flink", "flink-connector-jdbc", "3.3.0-1.20"),
    Artifact("jdbc", "sink", "org.apache.flink", "flink-connector-jdbc", "3.2.0-1.19"),
)


def jdbc_sink(flink_version: str) -> Optional[Artifact]:
    """The JDBC connector built for the Flink minor of ``flink_version``, or None."""
    return next((a for a in JDBC_SINKS if fits(a, flink_version)), None)


# The thin postgres-cdc jar, which never belongs in lib/ (FACTS.md, "Where jars go"). Not served by the
# bed: record_jars.py records its layout so the unit tests replay the module's thin-jar rule on it.
THIN_PG_CDC = Artifact("postgres_cdc_thin", "wrong", "org.apache.flink", "flink-connector-postgres-cdc", "3.5.0",
                       flink=("1.19", "1.20"))

# Coordinates Maven Central refused ("Could not find artifact"), checked with
# `mvn -B -q dependency:get -Dartifact=G:A:V -Dtransitive=false`. No StarRocks build for Flink 1.20 or 1.17
# is served, so no StarRocks jar fits a bed on Flink 1.20.3 or 1.17.2; nothing is built in its place. No
# postgres-cdc build fits Flink 2.0, 2.1 or 2.3 (no release line has one) and 3.6.0-2.2 is refused, so a bed
# on Flink 2.x gets no connector at all.
REFUSED = {
    "postgres_cdc": ("3.4.0",),
    "starrocks": ("1.2.11_flink-1.20", "1.2.12_flink-1.20", "1.2.13_flink-1.20", "1.2.14_flink-1.20",
                  "1.2.15_flink-1.20", "1.2.10_flink-1.17"),
}

# Flink version -> the org.apache.flink:flink-sql-gateway version the bed puts into its opt/. The same version
# where mvn serves it; else the newest served patch release of the same minor (a patch release changes no
# API: the bed's SQL client check runs a batch job with it). Checked with
# `mvn -B -q -U dependency:get -Dartifact=org.apache.flink:flink-sql-gateway:V -Dtransitive=false`.
SQL_GATEWAY_SERVED = {
    "1.17.2": "1.17.2",
    "1.18.1": "1.18.1",
    "1.19.3": "1.19.1",
    "1.20.3": "1.20.3",
    "2.0.1": "2.0.0",
    "2.1.1": "2.1.1",
    "2.2.0": "2.2.0",
    "2.3.0": "2.3.0",
}
# flink-sql-gateway versions mvn refused ("Could not find artifact org.apache.flink:flink-sql-gateway:jar:V
# in central"), although PyPI has apache-flink at each of them.
SQL_GATEWAY_REFUSED = ("1.19.0", "1.19.2", "1.19.3", "2.0.1", "2.0.2")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FLINK_SUFFIX = re.compile(r"(?:_flink)?-(\d+\.\d+)$")  # 1.2.10_flink-1.19; flink-cdc 3.6's 3.6.0-1.20


def flink_minor(flink_version: str) -> str:
    """``1.20.3`` -> ``1.20``."""
    return ".".join(flink_version.split(".")[:2])


def fits(artifact: Artifact, flink_version: str) -> bool:
    """Whether a jar was built for the Flink minor of ``flink_version``: its version's Flink suffix
    (``_flink-1.19``) when it has one, else the supported minors recorded in the table."""
    suffix = _FLINK_SUFFIX.search(artifact.version)
    minor = flink_minor(flink_version)
    return suffix.group(1) == minor if suffix else minor in artifact.flink


def connector(name: str, role: str) -> Artifact:
    return next(a for a in CONNECTORS if a.connector == name and a.role == role)


def connector_names() -> Tuple[str, ...]:
    return tuple(dict.fromkeys(a.connector for a in CONNECTORS))


def version_key(version: str) -> Tuple[int, ...]:
    """``1.2.10_flink-1.19`` -> (1, 2, 10): the connector's own release, its Flink suffix dropped."""
    base = _FLINK_SUFFIX.sub("", version)
    return tuple(int(part) for part in re.findall(r"\d+", base))


def builds(name: str) -> list:
    """Every real build of one connector: its current build first, then the others, newest first."""
    others = sorted((a for a in CONNECTORS if a.connector == name and a.role != "current"),
                    key=lambda a: version_key(a.version), reverse=True)
    return [connector(name, "current")] + others


def demo_connectors(flink_version: str) -> list:
    """The role-style ``flink_cdc_connectors`` list: per connector, its current build when that fits the
    cluster, else the newest other real build that fits; a connector with no fitting build is left out
    (never built instead)."""
    out = []
    for name in connector_names():
        for artifact in builds(name):
            if fits(artifact, flink_version):
                out.append({"group_id": artifact.group_id, "artifact_id": artifact.artifact_id,
                            "version": artifact.version})
                break
    return out


def demo_flink_version(flink_versions: Sequence[str]) -> str:
    """The newest of ``flink_versions`` for which the bed serves every connector (a build of each in CONNECTORS
    fits it) and the JDBC sink the demo's pipeline writes through: the Flink of ``make demo``, which shows both
    connectors in lib/. Flink 1.20 has StarRocks builds on Maven Central (1.2.11_flink-1.20 and later), but the
    registry here refuses them (REFUSED), so today this is 1.19.3. Raises ValueError when no version has all."""
    complete = [v for v in flink_versions
                if all(any(fits(a, v) for a in builds(name)) for name in connector_names()) and jdbc_sink(v)]
    if not complete:
        raise ValueError("no Flink version of %s has a served build of every connector (%s) and of the JDBC sink"
                         % (", ".join(flink_versions), ", ".join(connector_names())))
    return max(complete, key=lambda v: tuple(int(part) for part in v.split(".")))


def sql_gateway_version(flink_version: str) -> str:
    """The flink-sql-gateway version for a Flink version: SQL_GATEWAY_SERVED, else the same version."""
    return SQL_GATEWAY_SERVED.get(flink_version, flink_version)


def sql_gateway(flink_version: str) -> Artifact:
    return Artifact("sql_gateway", "current", *SQL_GATEWAY, sql_gateway_version(flink_version),
                    flink=(flink_minor(flink_version),))


def m2_path(group_id: str, artifact_id: str, version: str) -> str:
    return os.path.join(M2, jars.maven_path(group_id, artifact_id, version))


def fetch(group_id: str, artifact_id: str, version: str, timeout: float = 600) -> str:
    """The jar's path in ``~/.m2``; runs ``mvn dependency:get`` only when the jar or its ``.sha1`` is missing.

    Raises SystemExit naming the coordinates and the tail of mvn's output when Maven cannot get it.
    """
    path = m2_path(group_id, artifact_id, version)
    if os.path.isfile(path) and os.path.isfile(path + ".sha1"):
        return path
    coordinates = "%s:%s:%s" % (group_id, artifact_id, version)
    mvn = shutil.which("mvn")
    if not mvn:
        raise SystemExit("[bed] mvn is not on PATH, needed to fetch %s from Maven Central; "
                         "run scripts/bootstrap.sh (it installs Debian's maven)" % coordinates)
    sys.stderr.write("[bed] fetching %s from Maven Central into %s (once)\n" % (coordinates, M2))
    try:
        # -U: retry what Maven cached as missing ("not reattempted until the update interval"), for this only
        # runs when the jar is not in ~/.m2.
        proc = subprocess.run([mvn, "-B", "-q", "-U", "dependency:get", "-Dartifact=" + coordinates,
                               "-Dtransitive=false"], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
        output, failed = proc.stdout + proc.stderr, proc.returncode != 0
    except subprocess.TimeoutExpired as exc:
        output, failed = "%s\n(timed out after %ss)" % (exc.output or "", timeout), True
    if failed or not (os.path.isfile(path) and os.path.isfile(path + ".sha1")):
        lines = [_ANSI.sub("", line) for line in output.strip().splitlines()]
        # mvn's first [ERROR] line says what was refused; the rest is boilerplate, so show it, then the tail.
        first = [line for line in lines if line.startswith("[ERROR]") and len(line) > 8][:1]
        tail = first + [line for line in lines[-10:] if line not in first]
        raise SystemExit("[bed] Maven could not fetch %s (no %s%s); mvn said:\n%s" % (
            coordinates, path, "'s .sha1" if os.path.isfile(path) else "", "\n".join(tail)))
    return path


def published_sha1(path: str) -> str:
    """The checksum Maven Central published for a jar in ~/.m2 (the ``.sha1`` it downloaded beside it)."""
    with open(path + ".sha1") as f:
        return f.read().split()[0].strip().lower()


def _place(src: str, dst: str, link: bool) -> None:
    """``dst`` becomes ``src``'s bytes (a hard link when ``link`` and possible), atomically."""
    if os.path.exists(dst) and link and os.path.samefile(src, dst):
        return
    tmp = "%s.%d.tmp" % (dst, os.getpid())
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    try:
        if not link:
            raise OSError("copy wanted")
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
    os.replace(tmp, dst)


def publish_real(repo_root: str, group_id: str, artifact_id: str, version: str,
                 copy: bool = False) -> str:
    """Put a real jar (from ``fetch``) and its published ``.sha1`` into ``repo_root`` at the Maven path.

    The jar is a hard link into ~/.m2 (a copy across filesystems, or with ``copy`` for a test that alters
    the bytes); the small ``.sha1`` is always a copy, so rewriting it never touches ~/.m2. Returns the
    path relative to ``repo_root``.
    """
    src = fetch(group_id, artifact_id, version)
    rel = jars.maven_path(group_id, artifact_id, version)
    full = os.path.join(repo_root, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    _place(src, full, link=not copy)
    _place(src + ".sha1", full + ".sha1", link=False)
    return rel


def verify_m2(artifact: Artifact) -> Optional[str]:
    """None when the jar in ~/.m2 still has its published SHA-1, else what is wrong."""
    path = m2_path(artifact.group_id, artifact.artifact_id, artifact.version)
    if not os.path.isfile(path):
        return None
    actual = jars.sha_hex(path, "sha1")
    want = published_sha1(path)
    return None if actual == want else "%s: sha1 %s, published %s" % (path, actual, want)
