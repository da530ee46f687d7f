# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Run a short Flink SQL script with Flink's own SQL client and judge its jobs (private to this collection).

Three layers, each testable on its own:

* the script: ``render_script`` puts the module's ``SET`` statements in front of the user's SQL and fills
  ``${name}`` placeholders from secrets; ``redact`` takes every secret out of any text we return.
* the SQL client: ``run_client`` writes the script to a private temporary directory (mode 0700, the file
  0600), runs ``bin/sql-client.sh -f`` with its history file in that directory too, and removes both.
  ``parse_client_output`` reads the job IDs and the errors from what the client printed.
* the jobs: ``wait_for_job`` polls the REST API until a job ends (or cancels it at the deadline),
  ``job_report`` turns its REST bodies into this collection's shape, and ``diagnose`` maps a failure to its
  cause and fix.

Why the SQL client and not ``flink run``: a SQL script needs a planner, and the SQL client is the planner
that ships with every Flink distribution (``bin/sql-client.sh``, apache/flink ``flink-table/flink-sql-client``).
It plans on the host where it runs, with that host's ``lib/``, and submits to the cluster named in that
host's Flink configuration.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import flink_at_least
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.rest import FlinkRestError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import secs, url_secrets

# Job states after which nothing changes any more (apache/flink JobStatus.isGloballyTerminalState).
TERMINAL_STATES = ("FINISHED", "FAILED", "CANCELED")
# Seconds the SQL client may take to plan and submit (it starts a JVM), when a module's wait_timeout is shorter.
CLIENT_TIMEOUT = 120.0

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_JOB_ID = re.compile(r"Job ID:\s*([0-9a-f]{32})")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "********"


class SqlJobError(Exception):
    """A failure with a message fit for the user, and what was known when it happened."""

    def __init__(self, message: str, **details: t.Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


# ---------------------------------------------------------------------------
# The script
# ---------------------------------------------------------------------------


def default_settings(flink_version: str, job_name: str) -> t.Dict[str, str]:
    """The ``SET`` statements the module puts before every script.

    * ``pipeline.name``: the job is found by it when the client fails before it prints a job ID.
    * no restarts: a short verification job that fails must end, not retry until the deadline.
    * no operator chaining: each operator is its own vertex, so the REST API shows how many records the
      source emitted (a chained vertex reports only what enters and leaves the whole chain).

    Flink 1.19 renamed the keys (``restart-strategy`` -> ``restart-strategy.type``,
    ``pipeline.operator-chaining`` -> ``pipeline.operator-chaining.enabled``) and keeps the old ones as
    deprecated keys (apache/flink ``RestartStrategyOptions.java`` and ``PipelineOptions.java`` at release-1.19
    and later); 2.x reads only the new ones, 1.17 and 1.18 only the old ones.
    """
    new_keys = flink_at_least(flink_version, "1.19")
    return {
        "pipeline.name": job_name,
        ("restart-strategy.type" if new_keys else "restart-strategy"): "none",
        ("pipeline.operator-chaining.enabled" if new_keys else "pipeline.operator-chaining"): "false",
    }


def _sql_string(value: str) -> str:
    return "'%s'" % str(value).replace("'", "''")


def set_statements(settings: t.Mapping[str, t.Any]) -> t.List[str]:
    """``SET 'key' = 'value';`` per setting, in order, each a SQL string literal."""
    return ["SET %s = %s;" % (_sql_string(key), _sql_string(value)) for key, value in settings.items()]


def render_script(sql: str, settings: t.Mapping[str, t.Any], secrets: t.Mapping[str, t.Any]) -> str:
    """The script the SQL client runs: ``SET`` statements, then ``sql`` with ``${name}`` filled in.

    Only names in ``secrets`` are replaced; any other ``${...}`` is left alone, since it may be part of a
    string literal. A secret is put in as it is: quote it in the SQL (``'password' = '${pg_password}'``);
    a single quote inside a secret is doubled, as SQL string literals need.
    """
    def fill(match: t.Match) -> str:
        name = match.group(1)
        if name not in secrets:
            return match.group(0)
        return str(secrets[name]).replace("'", "''")

    lines = set_statements(settings)
    body = _PLACEHOLDER.sub(fill, sql.strip())
    if not body.rstrip().endswith(";"):
        body += ";"
    return "\n".join(lines + [body]) + "\n"


def secret_values(secrets: t.Mapping[str, t.Any]) -> t.List[str]:
    """Every value to hide, longest first (so a secret that contains another is masked whole)."""
    values = {str(v) for v in secrets.values() if v is not None and str(v) != ""}
    values |= {v.replace("'", "''") for v in values}
    return sorted(values, key=len, reverse=True)


def hide_secrets(module: t.Any) -> t.List[str]:
    """The values of the module's ``sql_secrets``, which its messages redact. Ansible masks them, and a
    password in the REST URL's userinfo, in everything the module returns too (invocation included), as a
    second line of defence."""
    secrets = secret_values(module.params["sql_secrets"])
    module.no_log_values.update(secrets)
    module.no_log_values.update(url_secrets(*module.params["url"]))
    return secrets


def redact(text: str, secrets: t.Iterable[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


# ---------------------------------------------------------------------------
# The SQL client
# ---------------------------------------------------------------------------


class ClientResult(t.NamedTuple):
    rc: t.Optional[int]
    output: str  # stdout and stderr, colour codes removed, secrets masked
    timed_out: bool
    argv: t.List[str]


def client_argv(flink_home: str, script: str, history: str) -> t.List[str]:
    """``sql-client.sh`` with the script and a history file of our own: by default the client appends every
    statement, secrets included, to ``~/.flink-sql-history`` (apache/flink ``CliOptionsParser``, ``--history``).
    """
    return [os.path.join(flink_home, "bin", "sql-client.sh"), "--history", history, "-f", script]


def client_env(flink_home: str, java_home: t.Optional[str] = None,
               base: t.Optional[t.Mapping[str, str]] = None) -> t.Dict[str, str]:
    env = dict(os.environ if base is None else base)
    # The client must use this distribution and its configuration, not another one from the environment.
    env["FLINK_HOME"] = flink_home
    env["FLINK_CONF_DIR"] = os.path.join(flink_home, "conf")
    if java_home:
        env["JAVA_HOME"] = java_home
    return env


def run_client(flink_home: str, script: str, secrets: t.Iterable[str], timeout: float,
               java_home: t.Optional[str] = None, run: t.Callable[..., t.Any] = subprocess.run) -> ClientResult:
    """Run ``script`` with the SQL client of ``flink_home``; nothing of it stays on disk afterwards."""
    workdir = tempfile.mkdtemp(prefix="cdcops-sql-")  # mode 0700
    try:
        script_path = os.path.join(workdir, "job.sql")
        fd = os.open(script_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(script)
        argv = client_argv(flink_home, script_path, os.path.join(workdir, "history"))
        timed_out = False
        try:
            # subprocess.run, not AnsibleModule.run_command (ansible-test 2.21's pylint ansible-bad-function):
            # run_command has no timeout (ansible/ansible lib/ansible/module_utils/basic.py, v2.21.5), and a SQL
            # client whose job never ends must be stopped after ``timeout``.
            proc = run(argv, env=client_env(flink_home, java_home), cwd=workdir, stdin=subprocess.DEVNULL,  # pylint: disable=ansible-bad-function
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=max(1.0, timeout), check=False)
            rc, raw = proc.returncode, proc.stdout or b""
        except subprocess.TimeoutExpired as exc:
            rc, raw, timed_out = None, exc.output or b"", True
        except OSError as exc:
            raise SqlJobError("cannot run the Flink SQL client %s: %s" % (argv[0], exc.strerror or exc))
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        return ClientResult(rc, redact(_ANSI.sub("", raw), list(secrets)), timed_out, argv)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def client_problem(flink_home: str, flink_version: str, here: str) -> t.Optional[str]:
    """Why the SQL client of ``flink_home`` cannot run on this host (``here``), or None."""
    client = os.path.join(flink_home, "bin", "sql-client.sh")
    if not os.path.isfile(client):
        return "%s does not exist: flink_home must be a Flink installation on %s" % (client, here)
    if not os.access(client, os.X_OK):
        return "%s is not executable by this user" % client
    # The SQL client puts opt/flink-sql-gateway-<v>.jar on its classpath (Flink 1.16+, bin/sql-client.sh);
    # without it it dies with ClassNotFoundException ...gateway.service.context.DefaultContext.
    gateway = glob.glob(os.path.join(flink_home, "opt", "flink-sql-gateway-*.jar"))
    if flink_at_least(flink_version or "", "1.16") and not gateway:
        return ("%s has no opt/flink-sql-gateway-%s.jar, which the SQL client needs (the official binary "
                "distribution ships it; some packagings drop it). Put org.apache.flink:flink-sql-gateway:%s from "
                "Maven Central into %s/opt." % (flink_home, flink_version, flink_version, flink_home))
    return None


def parse_client_output(output: str) -> t.Dict[str, t.List[str]]:
    """Job IDs the client printed, and each ``[ERROR]`` with its reason.

    The client ends with exit code 0 even when a statement failed (seen with Flink 1.20.3), so the printed
    ``[ERROR]`` is what tells.
    """
    output = _ANSI.sub("", output)
    job_ids: t.List[str] = []
    for job_id in _JOB_ID.findall(output):
        if job_id not in job_ids:
            job_ids.append(job_id)
    errors = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if "[ERROR]" not in line:
            continue
        text = [line.split("[ERROR]", 1)[1].strip()]
        for follow in lines[i + 1:]:
            if not follow.strip() or follow.startswith("Flink SQL>") or "[ERROR]" in follow:
                break
            text.append(follow.strip())
        errors.append(" ".join(p for p in text if p))
    return {"job_ids": job_ids, "errors": errors}


def tail(output: str, lines: int = 40) -> str:
    """The end of the client's output, without the statements it echoes back (``>`` continuation lines)."""
    kept = [line for line in _ANSI.sub("", output).splitlines() if line.strip() and not line.startswith(">")]
    return "\n".join(kept[-lines:])


# ---------------------------------------------------------------------------
# The jobs
# ---------------------------------------------------------------------------


def new_jobs(before: t.Iterable[t.Mapping[str, t.Any]], after: t.Iterable[t.Mapping[str, t.Any]],
             job_name: str) -> t.List[str]:
    """IDs of jobs named ``job_name`` that are in ``after`` (``/jobs/overview``) but not in ``before``."""
    seen = {job.get("jid") for job in before}
    found = [job for job in after if job.get("jid") not in seen and job.get("name") == job_name]
    return [job["jid"] for job in sorted(found, key=lambda j: j.get("start-time") or 0)]


def wait_for_job(client: t.Any, job_id: str, timeout: float, clock: t.Callable[[], float] = time.monotonic,
                 sleep: t.Callable[[float], None] = time.sleep, budget: t.Optional[float] = None) -> t.Dict[str, t.Any]:
    """Poll ``/jobs/:jobid`` until the job ends; at the deadline cancel it and raise ``SqlJobError``.

    A REST error while waiting is retried until the deadline (the JobManager may be busy). ``budget`` is the
    deadline as the user set it, for the message, when ``timeout`` is what is left of it.
    """
    deadline = clock() + max(0.0, timeout)
    delay = 0.5
    last: t.Optional[t.Dict[str, t.Any]] = None
    error: t.Optional[FlinkRestError] = None
    while True:
        try:
            last = client.job(job_id)
            error = None
        except FlinkRestError as exc:
            error = exc
        if last is not None and error is None and last.get("state") in TERMINAL_STATES:
            return last
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(delay, remaining))
        delay = min(delay * 1.5, 3.0)
    state = (last or {}).get("state", "unknown")
    cancelled = ""
    cancel_sent = False
    if state not in TERMINAL_STATES:
        try:
            client.cancel_job(job_id)
            cancelled = " It was cancelled."
            cancel_sent = True
        except FlinkRestError as exc:
            cancelled = " Cancelling it failed (%s): cancel it by hand (flink cancel %s)." % (exc.message, job_id)
    why = " (last REST error: %s)" % error.message if error else ""
    raise SqlJobError(
        "job %s did not end within %ss: it is %s%s.%s A bounded job that runs this long reads more than "
        "expected, waits for slots, or is not bounded at all; raise the deadline, or check that the source "
        "is bounded." % (job_id, secs(timeout if budget is None else budget, tenths=False), state, why, cancelled),
        job=last, state=state, timed_out=True, cancelled=cancel_sent)


def _host(endpoint: t.Optional[str]) -> t.Optional[str]:
    if not endpoint:
        return None
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 or endpoint.startswith("[") else endpoint
    return host.strip("[]")


def is_source(vertex: t.Mapping[str, t.Any]) -> bool:
    return str(vertex.get("name", "")).startswith("Source:")


def job_report(job: t.Mapping[str, t.Any],
               vertex_taskmanagers: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]]) -> t.Dict[str, t.Any]:
    """One job in this collection's shape, from ``/jobs/:jobid`` and each vertex's ``.../taskmanagers``.

    ``source_records`` is what the source vertices wrote (their ``write-records``); it is None when a source
    is chained to the next operator (the vertex name holds ``->``), since the vertex then counts only what
    leaves the whole chain.
    """
    vertices = []
    taskmanagers: t.Dict[str, t.Dict[str, t.Any]] = {}
    sources = []
    for vertex in job.get("vertices") or []:
        metrics = vertex.get("metrics") or {}
        ran_on = []
        for tm in vertex_taskmanagers.get(vertex.get("id"), ()):
            endpoint = tm.get("endpoint") or tm.get("host")  # 2.0 removed "host" (FLINK-33146)
            tm_id = tm.get("taskmanager-id") or endpoint
            ran_on.append(tm_id)
            taskmanagers.setdefault(tm_id, {"id": tm_id, "endpoint": endpoint, "host": _host(endpoint)})
        entry = {
            "id": vertex.get("id"),
            "name": vertex.get("name"),
            "parallelism": vertex.get("parallelism"),
            "status": vertex.get("status"),
            "read_records": metrics.get("read-records"),
            "write_records": metrics.get("write-records"),
            "taskmanagers": ran_on,
        }
        vertices.append(entry)
        if is_source(vertex):
            sources.append(entry)
    countable = sources and all("->" not in (s["name"] or "") for s in sources) \
        and all(isinstance(s["write_records"], int) for s in sources)
    return {
        "job_id": job.get("jid"),
        "name": job.get("name"),
        "state": job.get("state"),
        "start_time": job.get("start-time"),
        "end_time": job.get("end-time") if (job.get("end-time") or 0) > 0 else None,
        "duration_ms": job.get("duration"),
        "source_records": sum(s["write_records"] for s in sources) if countable else None,
        "vertices": vertices,
        "taskmanagers": sorted(taskmanagers.values(), key=lambda tm: (tm["host"] or "", tm["id"] or "")),
    }


def exception_text(exceptions: t.Mapping[str, t.Any]) -> t.Tuple[str, t.List[str]]:
    """(root cause, every message of the chain) from ``/jobs/:jobid/exceptions``.

    The root cause is the deepest ``Caused by`` of the root exception, or of the first task failure in the
    exception history when that is more specific (the root exception of a task failure only says that
    recovery is suppressed).
    """
    traces = []
    if exceptions.get("root-exception"):
        traces.append(exceptions["root-exception"])
    for entry in (exceptions.get("exceptionHistory") or {}).get("entries") or []:
        for concurrent in entry.get("concurrentExceptions") or []:
            if concurrent.get("stacktrace"):
                traces.append(concurrent["stacktrace"])
        if entry.get("stacktrace"):
            traces.append(entry["stacktrace"])
    chain: t.List[str] = []
    root = ""
    for trace in traces:
        messages = _messages(trace)
        for message in messages:
            if message not in chain:
                chain.append(message)
        if messages and (not root or "Recovery is suppressed" in root):
            root = messages[-1]
    return root, chain


def _messages(trace: str) -> t.List[str]:
    out = []
    for line in trace.splitlines():
        line = line.strip()
        if not line or line.startswith("at ") or line.startswith("..."):
            continue
        if line.startswith("Caused by:"):
            line = line[len("Caused by:"):].strip()
        elif out:
            continue  # a multi-line message: keep only its first line
        out.append(line[:500])
    return out


def failure_location(exceptions: t.Mapping[str, t.Any]) -> t.List[str]:
    """Hosts of the TaskManagers where tasks failed, from the exception history (``endpoint``/``location``)."""
    hosts = []
    for entry in (exceptions.get("exceptionHistory") or {}).get("entries") or []:
        for item in [entry] + list(entry.get("concurrentExceptions") or []):
            host = _host(item.get("endpoint") or item.get("location"))
            if host and host not in hosts:
                hosts.append(host)
    return hosts


# ---------------------------------------------------------------------------
# Diagnosis: a failure's text -> its cause and fix
# ---------------------------------------------------------------------------

# Each rule: (pattern, where it can happen, what it means and what to do). First match wins, so the specific
# rules come first. Sources: apache/flink FactoryUtil.discoverFactory (the factory messages); flink-cdc issues
# #6 and #1847 (missing or not yet loaded jar), #2100/#2883/#36 (mixed jars), #1058/#3192 (slot in use),
# #37/#1874 (decoderbufs); PostgreSQL's own error texts.
_RULES = (
    (r"Could not find any factory for identifier '([^']+)'", "client",
     "no connector jar for '{0}' is in lib/ of {flink_home} on this host, where the SQL client plans the job. "
     "Deploy the connector (cdcops.flink_cdc.flink_connector_jar) into lib/ of this host and of every "
     "TaskManager, then restart the JobManager and the TaskManagers: Flink reads lib/ only when a process "
     "starts."),
    (r"Multiple factories for identifier '([^']+)'", "client",
     "two connector jars in lib/ register '{0}' with different factory classes (for example a com.ververica "
     "2.x/3.0 jar beside an org.apache.flink 3.1+ jar). Keep one: flink_connector_jar with "
     "remove_other_versions removes the others."),
    (r"Cannot instantiate the coordinator for operator", "jobmanager",
     "the JobManager cannot load the connector's classes: it was started before the connector jar landed "
     "in its lib/ (Flink reads lib/ only at start), or its lib/ lacks the jar. Restart the JobManager "
     "(flink_cdc_restart: rolling does it when its lib/ changed)."),
    (r"Cannot instantiate user function|Cannot load user class|ClassNotFoundException: "
     r"(?:org\.apache\.flink\.cdc|com\.ververica\.cdc|io\.debezium)", "taskmanager",
     "a TaskManager cannot load the connector's classes{where}: it was started before the connector jar "
     "landed in its lib/, or its lib/ lacks the jar. Restart that TaskManager (flink_cdc_restart: rolling "
     "restarts every TaskManager whose lib/ changed)."),
    (r"NoSuchMethodError|NoClassDefFoundError|AbstractMethodError", "any",
     "the connector was built for another Flink version, or two versions of it are in lib/. Check the "
     "connector against the cluster's Flink version and keep one jar per connector."),
    (r"replication slot \"?([A-Za-z0-9_]+)\"? is active for PID (\d+)", "any",
     "the replication slot {0} is in use by another consumer (PID {1}). Give this job its own slot.name, or "
     "stop the other consumer."),
    (r"must be superuser to create FOR ALL TABLES publication|permission denied to create publication", "any",
     "Debezium tried to create a publication, which needs superuser. Name an existing publication that "
     "covers the table (debezium.publication.name) and set debezium.publication.autocreate.mode = disabled."),
    (r"publication \"?([A-Za-z0-9_]+)\"? does not exist", "any",
     "the publication {0} does not exist in the source database. Create it (CREATE PUBLICATION {0} FOR TABLE "
     "...) or name the right one."),
    (r"must be superuser or replication role|must have replication permission|"
     r"permission denied to start WAL sender", "any",
     "the PostgreSQL user lacks REPLICATION: ALTER ROLE <user> REPLICATION (on RDS: GRANT rds_replication)."),
    (r"permission denied for (?:table|relation|schema) ([A-Za-z0-9_.]+)", "any",
     "the PostgreSQL user may not read {0}: GRANT SELECT (and USAGE on its schema) to it."),
    (r"all replication slots are in use|max_replication_slots", "any",
     "PostgreSQL has no free replication slot: raise max_replication_slots (the job needs 1 + its source "
     "parallelism) or drop unused slots."),
    (r"password authentication failed for user \"?([^\"\s]+)\"?", "any",
     "PostgreSQL refused the password of {0}."),
    (r"no pg_hba\.conf entry", "any",
     "PostgreSQL's pg_hba.conf has no entry for this connection (a logical replication connection matches "
     "an ordinary database entry)."),
    (r"logical decoding requires wal_level >= logical|wal_level", "any",
     "PostgreSQL runs with wal_level below logical: ALTER SYSTEM SET wal_level = logical, then restart it."),
    (r"could not access file \"decoderbufs\"|decoderbufs", "any",
     "the decoderbufs plugin is not installed on PostgreSQL: set 'decoding.plugin.name' = 'pgoutput'."),
    (r"Connection refused|UnknownHostException|Connection attempt failed|The connection attempt failed", "any",
     "a TaskManager cannot reach the database: check host, port and the firewall from every TaskManager."),
)


def diagnose(texts: t.Iterable[str], flink_home: str = "", failed_hosts: t.Sequence[str] = ()) -> t.Optional[str]:
    """The cause and fix for the first rule that matches any of ``texts``, or None."""
    joined = "\n".join(x for x in texts if x)
    for pattern, _where, advice in _RULES:
        match = re.search(pattern, joined)
        if match:
            where = " (on %s)" % ", ".join(failed_hosts) if failed_hosts else ""
            return advice.format(*match.groups(), flink_home=flink_home or "FLINK_HOME", where=where)
    return None
