"""Build jars shaped like the connectors, for FAULT INJECTION only, and the Maven-layout helpers.

The bed, the demo and every test about a valid connector use the REAL
published jars (tests/bed/artifacts.py: fetched from Maven Central into
~/.m2, served with their published .sha1). The jars built here exist for
what no published jar can give: a corrupt entry, a thin jar, a
``com.ververica`` 2.x/3.0 jar whose factory clashes with the 3.1+ one, a
truncated or padded body, a file small enough for a 1 MB filesystem, or a
version the registry does not serve. They have the same shape as the
published connectors: a manifest, the Flink table-factory service file with
the factory classes the real jars register (FACTS.md, "Flink CDC postgres
connector" and "StarRocks Flink connector"), and class entries.
``bench/bench.py`` builds its jars here too, to size them at will.

``maven_path``, ``sha_hex``, ``snapshot_dir`` and ``install_copy`` serve both
kinds of jar.
"""

import hashlib
import os
import shutil
import stat
import zipfile

FACTORY_SERVICE = "META-INF/services/org.apache.flink.table.factories.Factory"

# FACTS.md: factory classes per connector line.
PG_CDC_FACTORY_2X = "com.ververica.cdc.connectors.postgres.table.PostgreSQLTableFactory"
PG_CDC_FACTORY_3X = "org.apache.flink.cdc.connectors.postgres.table.PostgreSQLTableFactory"
STARROCKS_FACTORIES = (
    "com.starrocks.connector.flink.table.sink.StarRocksDynamicTableSinkFactory",
    "com.starrocks.connector.flink.table.source.StarRocksDynamicTableSourceFactory",
    "com.starrocks.connector.flink.catalog.FlinkCatalogFactory",
)


# Every entry carries this timestamp, so the same arguments build the same bytes: jars built a second apart
# (four hosts' lib/ made in turn, on a loaded CI machine) must not differ by their zip dates.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _entry(name, compress_type=zipfile.ZIP_DEFLATED):
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16
    return info


def _class_bytes(name):
    # A minimal class-file header; the content only has to be stable per name.
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + hashlib.sha256(name.encode()).digest()


def build_jar(path, factories=(), classes=(), title="test", version="0", size=0,
              manifest=True, seed=b""):
    """Write a jar at ``path``; pad with incompressible data up to ``size`` bytes. Same arguments, same bytes."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".building"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as jar:
        if manifest:
            jar.writestr(_entry("META-INF/MANIFEST.MF"),
                         "Manifest-Version: 1.0\r\nImplementation-Title: %s\r\n"
                         "Implementation-Version: %s\r\nCreated-By: cdcops test bed\r\n\r\n"
                         % (title, version))
        if factories:
            jar.writestr(_entry(FACTORY_SERVICE), "".join(f + "\n" for f in factories))
        for cls in tuple(classes) + tuple(factories):
            jar.writestr(_entry(cls.replace(".", "/") + ".class"), _class_bytes(cls + version))
        if size:
            # Stored (not deflated), so the file really is about ``size`` bytes.
            info = _entry("META-INF/padding.bin", zipfile.ZIP_STORED)
            want = max(0, size - jar.fp.tell() - 200)
            block = hashlib.sha512(seed + title.encode() + version.encode()).digest() * 16384
            with jar.open(info, "w", force_zip64=want > 0x7FFFFFFF) as out:
                while want > 0:
                    out.write(block[:want])
                    want -= min(want, len(block))
    os.replace(tmp, path)
    return path


def maven_path(group_id, artifact_id, version, classifier=None, ext="jar"):
    """FACTS.md "Maven repository layout"."""
    name = "%s-%s%s.%s" % (artifact_id, version, "-" + classifier if classifier else "", ext)
    return "/".join(group_id.split(".") + [artifact_id, version, name])


def sha_hex(path, algo="sha1"):
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def publish(repo_root, group_id, artifact_id, version, classifier=None, sidecars=("sha1",),
            **jar_args):
    """Build a jar into the repository at its Maven path; write checksum sidecars."""
    rel = maven_path(group_id, artifact_id, version, classifier)
    full = os.path.join(repo_root, rel)
    jar_args.setdefault("title", artifact_id)
    jar_args.setdefault("version", version)
    build_jar(full, **jar_args)
    for algo in sidecars:
        with open(full + "." + algo, "w") as f:
            f.write(sha_hex(full, algo) + "\n")
    return rel


def publish_postgres_cdc(repo_root, version, thin=False, **kw):
    """The postgres-cdc SQL connector (or the thin jar) at ``version``."""
    group = "com.ververica" if version.split(".")[0] == "2" or version.startswith("3.0") \
        else "org.apache.flink"
    factory = PG_CDC_FACTORY_2X if group == "com.ververica" else PG_CDC_FACTORY_3X
    base = factory.rsplit(".", 3)[0]
    if thin:
        # Like the real thin jar: connector code plus a few patched Debezium connector classes, no engine, no driver.
        return publish(repo_root, group, "flink-connector-postgres-cdc", version, factories=(factory,),
                       classes=(base + ".PostgreSQLSource", "io.debezium.connector.postgresql.PostgresStreamingChangeEventSource"),
                       **kw)
    # Like the real SQL jar: Debezium (with its embedded engine) and the PostgreSQL JDBC driver, not relocated.
    shaded = (base + ".PostgreSQLSource", "io.debezium.connector.postgresql.PostgresConnector",
              "io.debezium.embedded.EmbeddedEngine", "org.postgresql.Driver", "org.postgresql.jdbc.PgConnection")
    return publish(repo_root, group, "flink-sql-connector-postgres-cdc", version,
                   factories=(factory,), classes=shaded, **kw)


def publish_starrocks(repo_root, version, **kw):
    """``com.starrocks:flink-connector-starrocks:<v>_flink-<minor>``."""
    return publish(repo_root, "com.starrocks", "flink-connector-starrocks", version,
                   factories=STARROCKS_FACTORIES, classes=("com.mysql.cj.jdbc.Driver",), **kw)


def write_sidecars(path, sidecars=("sha1",)):
    """(Re)write checksum sidecars for a file, e.g. after ``corrupt_entry``."""
    for algo in sidecars:
        with open(path + "." + algo, "w") as f:
            f.write(sha_hex(path, algo) + "\n")


def corrupt_entry(path, entry=None):
    """Flip one byte of an entry's data in place, so its CRC no longer checks out.

    The zip structure (headers, central directory, sizes) stays intact, so the
    file still opens as a zip: only reading the entry reveals the damage.
    Prefers a stored entry (``size`` padding) so the failure is a clean CRC
    mismatch rather than a deflate error. Returns the entry name. A file with
    other hard links (a real jar linked from ~/.m2) is first replaced by a
    private copy, so the damage never reaches the other names.
    """
    if os.stat(path).st_nlink > 1:
        tmp = path + ".unshared"
        shutil.copyfile(path, tmp)
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    with zipfile.ZipFile(path) as jar:
        infos = [i for i in jar.infolist() if i.file_size > 0 and not i.is_dir()]
        if entry is not None:
            infos = [i for i in infos if i.filename == entry]
        stored = [i for i in infos if i.compress_type == zipfile.ZIP_STORED]
        info = (stored or infos)[0]
    with open(path, "r+b") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
        data_at = info.header_offset + 30 + name_len + extra_len
        pos = data_at + info.compress_size // 2
        f.seek(pos)
        byte = f.read(1)
        f.seek(pos)
        f.write(bytes([byte[0] ^ 0xFF]))
    return info.filename


def sha256_file(path):
    return sha_hex(path, "sha256")


def snapshot_dir(dest):
    """Every entry of a directory, hidden ones too: name -> (sha256 | "link:<target>" | "dir", mode, uid).

    Two equal snapshots mean the directory is byte-for-byte and attribute-for-attribute unchanged.
    """
    out = {}
    for name in sorted(os.listdir(str(dest))):
        path = os.path.join(str(dest), name)
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            content = "link:" + os.readlink(path)
        elif stat.S_ISDIR(st.st_mode):
            content = "dir"
        else:
            content = sha256_file(path)
        out[name] = (content, stat.S_IMODE(st.st_mode), st.st_uid)
    return out


def install_copy(repo_root, rel, dest, name=None):
    """Copy a published jar into ``dest`` (as ``name``), mode 0644, as if installed earlier."""
    target = os.path.join(str(dest), name or os.path.basename(rel))
    shutil.copyfile(os.path.join(repo_root, rel), target)
    os.chmod(target, 0o644)
    return target


def published_path(repo_root, version="3.1.0", **kw):
    """Publish the postgres-cdc SQL connector into ``repo_root``; return the jar's full path."""
    return os.path.join(repo_root, publish_postgres_cdc(repo_root, version, **kw))
