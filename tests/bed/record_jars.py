"""Record what the REAL connector jars contain, for the unit tests: tests/unit/fixtures/jars/real_connectors.json.

Usage: python tests/bed/record_jars.py [OUT]

For every connector of artifacts.CONNECTORS it reads the jar Maven Central published (from ~/.m2; fetched
with mvn when missing) and writes: coordinates, Maven Central URL, the published SHA-1, size, entry and
class counts, the raw text of META-INF/services/org.apache.flink.table.factories.Factory (license header
included), the list of META-INF/services files, the manifest's Implementation-Title/-Version and the
artifact's own pom.properties when present, class counts per package prefix of three path components
(``io/debezium/connector``), and class counts per relocated package (three components after a ``shaded``
or ``shade`` path segment: ``org/apache/flink/cdc/connectors/shaded/org/apache/kafka``). Counts only,
so the file stays small. FACTS.md says the layout facts come from the sources and that the real jars are
the test of record: this file is that record. ``thin`` is the same record for the thin
``flink-connector-postgres-cdc`` jar (artifacts.THIN_PG_CDC), which the module must refuse.
"""

import collections
import json
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import artifacts  # noqa: E402
import jars  # noqa: E402

OUT = os.path.join(ROOT, "tests", "unit", "fixtures", "jars", "real_connectors.json")
SERVICES_DIR = "META-INF/services/"
SHADE_SEGMENTS = ("shaded", "shade")


def _manifest(jar):
    try:
        text = jar.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except KeyError:
        return {}
    fields, last = {}, None
    for line in text.splitlines():
        if line.startswith(" ") and last:  # a continuation line
            fields[last] += line[1:]
        elif ":" in line:
            last, value = line.split(":", 1)
            fields[last] = value.strip()
    return {k: fields[k] for k in ("Implementation-Title", "Implementation-Version") if k in fields}


def _pom_properties(jar, artifact):
    name = "META-INF/maven/%s/%s/pom.properties" % (artifact.group_id, artifact.artifact_id)
    try:
        text = jar.read(name).decode("utf-8", "replace")
    except KeyError:
        return None
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {k: props[k].strip() for k in ("groupId", "artifactId", "version") if k in props}


def _package(name):
    """The package directories of a class entry (its file name dropped)."""
    return name.split("/")[:-1]


def _relocated_prefix(package):
    for i, part in enumerate(package):
        if part in SHADE_SEGMENTS:
            return "/".join(package[:i + 4])
    return None


def factory_lines(raw):
    """The class names a services file lists: java.util.ServiceLoader's rule (``#`` starts a comment)."""
    names = []
    for line in (raw or "").splitlines():
        name = line.split("#", 1)[0].strip()
        if name and name not in names:
            names.append(name)
    return names


def describe(artifact):
    """What one real jar holds (see the module docstring)."""
    path = artifacts.fetch(artifact.group_id, artifact.artifact_id, artifact.version)
    with zipfile.ZipFile(path) as jar:
        infos = jar.infolist()
        names = [i.filename for i in infos]
        classes = [n for n in names if n.endswith(".class")]
        try:
            factory_raw = jar.read(jars.FACTORY_SERVICE).decode("utf-8")
        except KeyError:
            factory_raw = None
        packages = collections.Counter("/".join(_package(n)[:3]) or "(default package)" for n in classes)
        relocated = collections.Counter(p for p in (_relocated_prefix(_package(n)) for n in classes) if p)
        record = {
            "connector": artifact.connector,
            "role": artifact.role,
            "group_id": artifact.group_id,
            "artifact_id": artifact.artifact_id,
            "version": artifact.version,
            "url": "%s/%s" % (artifacts.MAVEN_CENTRAL,
                              jars.maven_path(artifact.group_id, artifact.artifact_id, artifact.version)),
            "sha1": artifacts.published_sha1(path),
            "size": os.path.getsize(path),
            "entries": len(infos),
            "classes": len(classes),
            "factory_service": factory_raw,
            "factories": factory_lines(factory_raw),
            "services": sorted(n for n in names if n.startswith(SERVICES_DIR) and n != SERVICES_DIR),
            "manifest": _manifest(jar),
            "pom_properties": _pom_properties(jar, artifact),
            "packages": dict(sorted(packages.items())),
            "relocated": dict(sorted(relocated.items())),
        }
    if jars.sha_hex(path, "sha1") != record["sha1"]:
        raise SystemExit("[record_jars] %s does not match its published .sha1; delete it from ~/.m2" % path)
    return record


def main(argv):
    out = argv[0] if argv else OUT
    data = {
        "recorded_from": "tests/bed/record_jars.py: the jars Maven Central publishes (%s), fetched with "
                         "mvn dependency:get into ~/.m2 and checked against their published .sha1"
                         % artifacts.MAVEN_CENTRAL,
        "refused": {name: list(versions) for name, versions in sorted(artifacts.REFUSED.items())},
        "artifacts": [describe(a) for a in artifacts.CONNECTORS],
        "thin": describe(artifacts.THIN_PG_CDC),
    }
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    sys.stderr.write("[record_jars] wrote %s (%d bytes)\n" % (out, os.path.getsize(out)))


if __name__ == "__main__":
    main(sys.argv[1:])
