"""Integration harness: the real test bed, and Ansible run as users run it.

The bed (tests/bed/bed.py) is brought up fresh once per pytest session and
torn down at the end, so nothing stays running. Set ``CDCOPS_BED_KEEP=1`` to
reuse an already running bed and leave it up (for developing several test
files side by side).

Private repositories (``maven_repo``) serve the REAL published connector jars
(``publish_real``: tests/bed/artifacts.py, hard links into ~/.m2 with the
published ``.sha1``) for every case about a valid connector, and jars built
by tests/bed/jars.py (``publish``, ``publish_postgres_cdc``, ...) only for
fault injection. At the end of the session every real jar in ~/.m2 is checked
against its published SHA-1, so a test that damaged one through a hard link
fails loudly instead of poisoning later runs.
"""

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))

import artifacts  # noqa: E402
import bed as bed_mod  # noqa: E402
import jars  # noqa: E402
import maven_repo as maven_repo_server  # noqa: E402

import cdc_pipeline  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)
# CDCOPS_COLLECTIONS_PATH: a collections path whose cdcops/flink_cdc is this checkout, for a second checkout (a git
# worktree) that the venv's link does not point at.
COLLECTIONS = os.environ.get("CDCOPS_COLLECTIONS_PATH") or os.path.join(os.path.dirname(VENV_BIN), "collections")


@pytest.fixture(scope="session", autouse=True)
def real_jars_stay_intact():
    """The real jars in ~/.m2 still have their published SHA-1 after the session (hard links are shared)."""
    yield
    damaged = [problem for problem in (artifacts.verify_m2(a) for a in artifacts.CONNECTORS) if problem]
    assert not damaged, "a test altered a real jar through a hard link: %s" % damaged


@pytest.fixture(scope="session")
def bed():
    keep = os.environ.get("CDCOPS_BED_KEEP") == "1"
    bed_mod.up(fresh=not keep)
    try:
        yield bed_mod.state()
    finally:
        if not keep:
            bed_mod.down()


def lib_state(home):
    """Name -> sha256 of every file in FLINK_HOME/lib."""
    lib = os.path.join(home, "lib")
    out = {}
    for name in sorted(os.listdir(lib)):
        with open(os.path.join(lib, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def all_libs(state):
    """Every bed host's lib/: FLINK_HOME -> lib_state."""
    homes = [state["jobmanager"]["home"]] + [tm["home"] for tm in state["taskmanagers"]]
    return {home: lib_state(home) for home in homes}


def reset_libs(state):
    """Every lib/ of the bed back to the Flink distribution's own jars (the processes keep running)."""
    dist = set(os.listdir(os.path.join(bed_mod.flink_dist(), "lib")))
    for home in all_libs(state):
        lib = os.path.join(home, "lib")
        for name in os.listdir(lib):
            if name not in dist:
                os.unlink(os.path.join(lib, name))


def restart_processes(bed, reset=True):
    """Every Flink process restarted; with ``reset``, with lib/ holding only the distribution's jars, as before a
    first deploy."""
    if reset:
        reset_libs(bed)
    for tm in bed["taskmanagers"]:
        bed_mod.stop_taskmanager(tm["host"])
    bed_mod.stop_jobmanager()
    bed_mod.start_jobmanager(bed_mod.flink_dist())
    for tm in bed["taskmanagers"]:
        bed_mod.start_taskmanager(tm["host"])


@pytest.fixture(scope="module")
def cdc_bed(bed):
    """The bed's processes restarted with the postgres-cdc jar that fits its Flink and the JDBC connector (the real
    jars from Maven Central) in every lib/, for the CDC jobs of a test module; restarted without them after it."""
    wanted = [c for c in bed["demo_connectors"] if c["artifact_id"] == "flink-sql-connector-postgres-cdc"]
    jdbc = artifacts.jdbc_sink(bed["flink_version"])
    assert wanted and jdbc, "the bed's Flink %s has no postgres-cdc or JDBC build here" % bed["flink_version"]
    paths = [artifacts.fetch(c["group_id"], c["artifact_id"], c["version"]) for c in wanted]
    paths.append(artifacts.fetch(jdbc.group_id, jdbc.artifact_id, jdbc.version))
    reset_libs(bed)
    for home in all_libs(bed):
        for path in paths:
            shutil.copyfile(path, os.path.join(home, "lib", os.path.basename(path)))
    restart_processes(bed, reset=False)
    yield bed
    restart_processes(bed)


@pytest.fixture
def pipelines(cdc_bed, tmp_path):
    """``make(table, rows)``: a Pipeline; afterwards every job on the cluster is cancelled and each pipeline's slots
    are dropped, so no test leaves a replication slot (the bed's PostgreSQL has 10)."""
    made = []

    def make(table, rows=20):
        made.append(cdc_pipeline.Pipeline(cdc_bed, tmp_path, table, rows))
        return made[-1]

    yield make
    bed_mod.jobs_cancel()
    for pipeline in made:
        pipeline.drop_slot()


@pytest.fixture
def fresh_cluster(bed):
    """Processes that never had a connector jar on their classpath; lib/ reset again afterwards."""
    restart_processes(bed)
    yield
    reset_libs(bed)


@pytest.fixture
def pristine_libs(bed):
    """Each test starts from, and leaves, lib/ dirs holding only the distribution's jars."""
    reset_libs(bed)
    yield
    reset_libs(bed)


@contextlib.contextmanager
def tmpfs(point, size="1m"):
    """A real tmpfs of ``size`` mounted on ``point`` (made here) for a test, unmounted after it: a small or
    read-only filesystem as a host may have. Mounting needs root; the test command runs as root."""
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


@pytest.fixture
def lib(tmp_path):
    """A Flink-like lib/ with an unrelated jar that must never be touched."""
    dest = tmp_path / "lib"
    dest.mkdir()
    jars.build_jar(str(dest / "flink-dist-1.20.3.jar"), classes=("org.apache.flink.runtime.Main",),
                   title="flink-dist", version="1.20.3")
    return dest


class Run:
    """One ansible / ansible-playbook run: rc, output and recorded task results."""

    def __init__(self, cmd, proc, records):
        self.cmd = cmd
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.records = records

    @property
    def output(self):
        return self.stdout + self.stderr

    def results(self, host=None, action=None, status=None):
        return [r for r in self.records
                if (host is None or r["host"] == host)
                and (action is None or r["action"].endswith(action))
                and (status is None or r["status"] == status)]

    @property
    def result(self):
        """The last recorded result (the module's, for ``Ansible.module``)."""
        assert self.records, "no task result recorded; output:\n%s" % self.output
        return self.records[-1]["result"]

    @property
    def failed(self):
        return any(r["status"] == "failed" for r in self.records) or self.rc != 0

    def __repr__(self):
        return "<Run rc=%s %s>\n%s" % (self.rc, " ".join(self.cmd), self.output[-4000:])


class Ansible:
    """Runs ansible and ansible-playbook against the collection from this checkout."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir

    def env(self, extra=None):
        env = dict(os.environ)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
            "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback"),
            "ANSIBLE_CALLBACKS_ENABLED": "record_json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCAL_TEMP": os.path.join(self.tmpdir, "ansible-local"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
        })
        env.update(extra or {})
        return env

    def _run(self, cmd, env=None, timeout=600):
        fd, record = tempfile.mkstemp(prefix="record-", suffix=".jsonl", dir=self.tmpdir)
        os.close(fd)
        environ = self.env(env)
        environ["CDCOPS_RECORD_FILE"] = record
        proc = subprocess.run(cmd, env=environ, capture_output=True, text=True, check=False,
                              timeout=timeout, stdin=subprocess.DEVNULL, cwd=ROOT)
        with open(record) as f:
            records = [json.loads(line) for line in f if line.strip()]
        return Run(cmd, proc, records)

    def module(self, name, args, check=False, diff=False, verbosity=0, env=None, timeout=600):
        """Run one module on localhost (local connection) with JSON arguments."""
        if "." not in name:
            name = "cdcops.flink_cdc." + name
        cmd = [os.path.join(VENV_BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local",
               "-m", name, "-a", json.dumps(args)]
        cmd += ["--check"] if check else []
        cmd += ["--diff"] if diff else []
        cmd += ["-" + "v" * verbosity] if verbosity else []
        return self._run(cmd, env=env, timeout=timeout)

    def playbook(self, playbook, inventory=None, check=False, diff=False, extra_vars=None,
                 tags=None, skip_tags=None, limit=None, verbosity=0, forks=None, env=None,
                 timeout=900):
        """Run a playbook: a path, or YAML text written to a temporary file."""
        if "\n" in playbook:
            fd, path = tempfile.mkstemp(prefix="play-", suffix=".yml", dir=self.tmpdir)
            with os.fdopen(fd, "w") as f:
                f.write(playbook)
            playbook = path
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), playbook,
               "-i", inventory or "localhost,"]
        if inventory is None:
            cmd += ["-c", "local"]
        cmd += ["--check"] if check else []
        cmd += ["--diff"] if diff else []
        cmd += ["--tags", tags] if tags else []
        cmd += ["--skip-tags", skip_tags] if skip_tags else []
        cmd += ["--limit", limit] if limit else []
        cmd += ["--forks", str(forks)] if forks else []
        cmd += ["-" + "v" * verbosity] if verbosity else []
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        return self._run(cmd, env=env, timeout=timeout)


@pytest.fixture
def ansible(tmp_path):
    return Ansible(str(tmp_path))


class MavenRepo:
    """A private Maven-layout repository server (tests/bed/maven_repo.py) on a free port."""

    def __init__(self, root, port, proc):
        self.root = root
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.log_path = os.path.join(root, "..", "requests.log")
        self.proc = proc

    def publish(self, *args, **kw):
        return jars.publish(self.root, *args, **kw)

    def publish_postgres_cdc(self, version, **kw):
        return jars.publish_postgres_cdc(self.root, version, **kw)

    def publish_starrocks(self, version, **kw):
        return jars.publish_starrocks(self.root, version, **kw)

    def publish_real(self, group_id, artifact_id, version, copy=False):
        """The published jar (a hard link into ~/.m2; a private copy with ``copy``, for a test that alters
        its bytes) and its published .sha1 (always a copy) at the Maven path; returns the rel path."""
        return artifacts.publish_real(self.root, group_id, artifact_id, version, copy=copy)

    def unshare(self, rel):
        """Make a published jar a private copy before a test alters it in place."""
        full = os.path.join(self.root, rel)
        if os.stat(full).st_nlink > 1:
            tmp = full + ".unshared"
            shutil.copyfile(full, tmp)
            os.replace(tmp, full)
        return rel

    def set_fault(self, rel_path, **fault):
        """Make requests for ``rel_path`` fail; see maven_repo.py for modes."""
        faults = self._read(".faults.json")
        faults["/" + rel_path.lstrip("/")] = fault
        self._write(".faults.json", faults)

    def clear_faults(self):
        self._write(".faults.json", {})

    def require(self, auth=None, header=None):
        access = {}
        if auth:
            access["auth"] = auth
        if header:
            access["header"] = header
        self._write(".access.json", access)

    def _read(self, name):
        try:
            with open(os.path.join(self.root, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _write(self, name, data):
        with open(os.path.join(self.root, name), "w") as f:
            json.dump(data, f)

    def requests(self):
        try:
            with open(self.log_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def mark(self):
        """Position in the request log; pass to ``requests_since``."""
        return len(self.requests())

    def requests_since(self, mark):
        return self.requests()[mark:]

    def jar_body_requests(self, mark=0):
        return [r for r in self.requests_since(mark)
                if r["path"].endswith(".jar") and r["method"] == "GET"]


@pytest.fixture
def maven_repo(tmp_path):
    root = tmp_path / "maven" / "repo"
    root.mkdir(parents=True)
    proc, port = maven_repo_server.start_server(str(root), str(tmp_path / "maven" / "requests.log"))
    repo = MavenRepo(str(root), port, proc)
    try:
        yield repo
    finally:
        proc.terminate()
        proc.wait(timeout=10)
