"""Benchmark: the whole flink_cdc role against the hand-written playbook, on real Flink TaskManagers.

Usage (from the repository root, with the project venv; bench/bench.py runs it after the module figures):

    .venv/bin/python bench/role_bench.py OUT.json [--taskmanagers auto|N] [--repeat 3] [--forks 8] [--keep-bed]

(``$CDCOPS_ROLE_BENCH_TASKMANAGERS`` sets the default of --taskmanagers, also for bench/bench.py's run of it.)

What it measures, on a PRIVATE test bed (tests/bed/bed.py with its own bed directory under a scratch directory and
its own free ports, so the shared test bed is never touched) with N real TaskManagers of Flink 1.20.3, their
memory lowered (TM_MEMORY, TM_MANAGED_MEMORY), one inventory host per TaskManager:

* role: the collection's playbook as users run it, ``ansible-playbook cdcops.flink_cdc.deploy --skip-tags
  flink_cdc_restart`` (the role on the JobManager and TaskManager hosts, every phase but restart: preflight, deploy, verify,
  and the summary with its report), controller fetch mode, no smoke job, connectors unpinned (the role reads the
  repository's maven-metadata.xml and chooses for the cluster's Flink; ``flink_cdc_starrocks_connector: false``:
  the bed has no StarRocks and serves no StarRocks build for Flink 1.20), a fresh controller cache and report
  directory every run.
* baseline: bench/role_bench_baseline.yml, the same checks the way users write them today with
  ansible.builtin modules (uri, command: java -version, wait_for per endpoint, psql SHOW wal_level, get_url per
  jar with its .sha1, uri again at the end), installing the same jar list the role chooses.

Before every run each TaskManager's lib/ is put back as the bed made it; after it the run counts only when valid:
rc 0, every TaskManager's lib/ holds the distribution's files untouched plus exactly the expected jars with their
published SHA-1, the role's report names the expected connectors, and the task_timing file is there. The sides
alternate which runs first; medians over --repeat runs are reported, with every sample.

Per host figures come from the cdcops.flink_cdc.task_timing callback (CDCOPS_TASK_TIMING_FILE): ``executed``
(task results that were not skipped) and ``module_runs`` (the same with loop items counted). A run_once task,
delegated or not, produces one result, which the callback attributes to the host it ran for: the play's first
host (tm-01 in the baseline's play, the JobManager host in the collection's playbook). So that host carries the
play's once-per-play tasks and the TaskManager hosts show what every host costs. ``module executions`` leave out
the results of controller-side actions (set_fact, assert, debug, include_tasks, validate_argument_spec, ...),
which run no module anywhere.

Writes OUT.json (key ``role_bench``), keeps each run's output and timing file under ``<OUT dir>/role_runs/``,
prints a table and the targets. A benchmark: missed targets are printed, and the exit status is 0 unless it could
not run (the bed did not come up, or the machine holds fewer than MIN_TASKMANAGERS TaskManagers).
"""

import argparse
import datetime
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BED_CODE = os.path.join(ROOT, "tests", "bed")
sys.path.insert(0, BED_CODE)

import jars  # noqa: E402  pylint: disable=wrong-import-position
from bench_common import first_error, free_ports, logger, median, playbook_env  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
# CDCOPS_COLLECTIONS_PATH: a collections path whose cdcops/flink_cdc is this checkout (a git worktree that the
# venv's link does not point at), as in tests/integration/conftest.py.
COLLECTIONS = os.environ.get("CDCOPS_COLLECTIONS_PATH") or os.path.join(os.path.dirname(VENV_BIN), "collections")
MB = 1024 * 1024
BASELINE_PLAYBOOK = os.path.join(ROOT, "bench", "role_bench_baseline.yml")
# The collection's playbook (playbooks/deploy.yml), by its name, as users run it.
ROLE_PLAYBOOK = "cdcops.flink_cdc.deploy"
ROLE_PLAYBOOK_FILE = os.path.join(ROOT, "playbooks", "deploy.yml")

# TaskManager memory. On Flink 1.20.3's defaults the fixed components alone (JVM metaspace 256m, JVM overhead at
# least 192m, framework heap 128m, framework off-heap 128m, network at least 64m) are 768m, and managed memory
# takes 0.4 of the total Flink memory, so the smallest taskmanager.memory.process.size Flink accepts is about
# 982m (448m + 320m / 0.6: 980m is refused at start with "Sum of configured Framework Heap Memory ... exceed
# configured Total Flink Memory", 990m starts). With taskmanager.memory.managed.size 0m (these TaskManagers run
# no job) 768m starts and registers, with no task heap; 800m leaves 32m of task heap. apache/flink
# docs/content/docs/deployment/memory/mem_setup_tm.md ("Detailed Memory Model", "Managed Memory": size overrides
# fraction) and docs/content/docs/deployment/memory/mem_setup.md ("Capped Fractionated Components").
TM_MEMORY = "800m"
TM_MEMORY_MB = 800
TM_MANAGED_MEMORY = "0m"
# What the rest of the bed and the runs need besides the TaskManagers: the JobManager (1024m process), two
# PostgreSQL servers, the repository, ansible-playbook with its forks, and some room for the page cache.
RESERVE_MB = 3072
MAX_TASKMANAGERS = 24
MIN_TASKMANAGERS = 4

TARGET_RATIO = 0.5
# Every phase but restart; the summary is tagged always.
ROLE_SKIP_TAGS = "flink_cdc_restart"
JAR_KEYS = ("group_id", "artifact_id", "version", "file", "bytes", "sha1")
TARGET_PREFLIGHT_EXECUTIONS = 1

# Actions that run on the controller only and execute no module on any host.
CONTROLLER_ACTIONS = frozenset((
    "add_host", "assert", "debug", "fail", "flink_cdc_report", "flink_connector_choice", "group_by", "import_role",
    "import_tasks", "include_role", "include_tasks", "include_vars", "meta", "pause", "set_fact", "set_stats",
    "validate_argument_spec",
))
EXECUTED = ("ok", "changed", "failed", "ignored", "unreachable")
# The role's phases, by task name prefix; a task without one of these prefixes keeps the phase before it (the
# "Report |" tasks belong to the preflight or the summary that includes them, "Connectors |" is the deploy's).
PHASES = (("Preflight |", "preflight"), ("Connectors |", "deploy"), ("Deploy |", "deploy"), ("Restart |", "restart"),
          ("Smoke |", "smoke"), ("Verify |", "verify"), ("Summary |", "summary"))

BASELINE_NOTE = ("bench/role_bench_baseline.yml, ansible.builtin only: uri GET /overview and /taskmanagers "
                 "(run_once, delegate_to localhost) with an assert that every inventory TaskManager address is "
                 "registered; command java -version per TaskManager host (changed_when false) with an assert on "
                 "the major version; wait_for per endpoint per TaskManager host (PostgreSQL); psql SHOW wal_level "
                 "(run_once on the PostgreSQL check host, PGPASSWORD in its environment, no_log) with an assert; "
                 "get_url per jar with checksum sha1:<url>.sha1 into each TaskManager's lib/; uri GET "
                 "/taskmanagers again with the same assert")
ROLE_NOTE = ("ansible-playbook cdcops.flink_cdc.deploy --skip-tags %s (the collection's playbook: the role on "
             "flink_jobmanager and flink_taskmanagers, every phase but restart: preflight: flink_cluster_info, "
             "flink_connector_choice (reads maven-metadata.xml on the controller), flink_host_check per TaskManager host, "
             "pg_logical_check; deploy: "
             "flink_connector_jar; verify: flink_cluster_info; summary: the report and the printed summary), "
             "flink_cdc_fetch_mode controller, flink_cdc_smoke false, connectors unpinned with "
             "flink_cdc_starrocks_connector false, a fresh controller cache and report directory every run"
             % ROLE_SKIP_TAGS)
COMMON_NOTES = [
    "The JobManager host is in the inventory ([flink_jobmanager]) and in the role's play (the collection's playbook "
    "runs on flink_jobmanager:flink_taskmanagers), not in the baseline's: both sides install into the "
    "TaskManagers' lib/ only, and the per-host figures are per TaskManager host.",
    "StarRocks is not in the bed, and neither side installs a StarRocks jar. Without --starrocks-stand-ins neither "
    "checks a StarRocks endpoint; with it both check three more TCP endpoints (StarRocks FE http, FE query, BE "
    "http), which the bed's JobManager REST port, second PostgreSQL and repository serve.",
    "The role checks more than the baseline: Java against its Flink support matrix from the configured java_home "
    "or env.java.home too, lib/ writable, free space for the jars, the tables, publication, replica identity and "
    "slots in PostgreSQL; it writes a Markdown and JSON readiness report and prints a summary.",
    "Per host figures: run_once tasks (delegated or not) are one result each, attributed by task_timing to the "
    "play's first host (the baseline's tm-01, the role's jobmanager); 'TM host' columns show the median "
    "TaskManager host, 'tm-01' the first.",
]


log = logger("role-bench")


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def auto_taskmanagers():
    """(N, how): as many TaskManagers as the machine holds, capped at MAX_TASKMANAGERS."""
    available = mem_available_mb()
    fits = max(0, (available - RESERVE_MB) // TM_MEMORY_MB)
    n = min(MAX_TASKMANAGERS, fits)
    how = ("auto: MemAvailable %d MB - reserve %d MB = %d MB, / %d MB per TaskManager = %d, capped at %d -> %d"
           % (available, RESERVE_MB, available - RESERVE_MB, TM_MEMORY_MB, fits, MAX_TASKMANAGERS, n))
    return n, how


def task_phases(tasks):
    """The role phase of each task of a timing file, in order ("arguments" before the first phase: the role's
    argument validation). A role task's name is "<role> : <name>"."""
    phase, out = "arguments", []
    for task in tasks:
        name = task["name"].split(" : ", 1)[-1]
        for prefix, label in PHASES:
            if name.startswith(prefix):
                phase = label
                break
        out.append(phase)
    return out


def host_figures(timing, hosts, phased=False):
    """Per host of ``hosts``: tasks executed, module runs and module executions (all from task_timing), and with
    ``phased`` the same per role phase, each split into per-host tasks and once-per-play tasks."""
    all_hosts = set(timing["hosts"])
    phases = task_phases(timing["tasks"]) if phased else [None] * len(timing["tasks"])
    out = {h: {"executed": timing["hosts"].get(h, {}).get("executed", 0),
               "module_runs": timing["hosts"].get(h, {}).get("module_runs", 0),
               "controller_results": 0, "phases": {}} for h in hosts}
    ambiguous = []
    for task, phase in zip(timing["tasks"], phases):
        with_result = set(task["host_seconds"])
        executed = sum(task["hosts"].get(s, 0) for s in EXECUTED)
        if not with_result or executed == 0:
            continue
        once = len(with_result) == 1 and len(all_hosts) > 1
        if executed != len(with_result):
            # Some hosts skipped it, and the file does not say which: count it for none and say so.
            ambiguous.append(task["name"])
            continue
        controller = task["action"].rsplit(".", 1)[-1] in CONTROLLER_ACTIONS
        for h in with_result & set(hosts):
            fig = out[h]
            fig["controller_results"] += 1 if controller else 0
            if phased:
                ph = fig["phases"].setdefault(phase, dict.fromkeys(
                    ("per_host_tasks", "per_host_module_executions", "once_tasks", "once_module_executions"), 0))
                kind = "once" if once else "per_host"
                ph["%s_tasks" % kind] += 1
                ph["%s_module_executions" % kind] += 0 if controller else 1
    for fig in out.values():
        fig["module_executions"] = fig["module_runs"] - fig["controller_results"]
    return out, ambiguous


def summarize_hosts(per_host, first):
    """Median over the TaskManager hosts and the first host's figures."""
    keys = ("executed", "module_runs", "module_executions")
    return {
        "median_host": {k: median(f[k] for f in per_host.values()) for k in keys},
        "first_host": {k: per_host[first][k] for k in keys} if first in per_host else None,
        "min": {k: min(f[k] for f in per_host.values()) for k in keys},
        "max": {k: max(f[k] for f in per_host.values()) for k in keys},
    }


class RoleBench:
    def __init__(self, args):
        self.args = args
        self.out_json = os.path.abspath(args.out)
        self.runs_dir = os.path.join(os.path.dirname(self.out_json), "role_runs")
        self.work = tempfile.mkdtemp(prefix="cdcops-role-bench-", dir=args.work_dir)
        self.bed_dir = os.path.join(self.work, "bed")
        self.bed = None
        self.state = None
        self.pg_root = None
        self.jars = []
        self.tms = []  # [{"name", "host", "home", "lib"}]
        self.lib_snapshot = {}
        self.ansible_cfg = os.path.join(self.work, "ansible.cfg")
        self.sides = {}
        self.bed_up_seconds = None
        self.bed_log = os.path.join(self.runs_dir, "bed.log")

    # --- the private bed

    def bed_up(self, n):
        ports = free_ports(5)
        env = {
            "CDCOPS_BED_DIR": self.bed_dir,
            "CDCOPS_BED_REST_PORT": ports[0], "CDCOPS_BED_JM_RPC_PORT": ports[1], "CDCOPS_BED_PG_PORT": ports[2],
            "CDCOPS_BED_PG_REPLICA_PORT": ports[3], "CDCOPS_BED_MAVEN_PORT": ports[4],
            "CDCOPS_BED_TASKMANAGERS": n, "CDCOPS_BED_TM_MEMORY": TM_MEMORY,
            "CDCOPS_BED_TM_MANAGED_MEMORY": TM_MANAGED_MEMORY,
        }
        os.environ.pop("CDCOPS_BED_FLINK", None)  # the bed's default Flink
        os.environ.update({k: str(v) for k, v in env.items()})
        # bed.py reads its directory, ports and TaskManagers from the environment when imported: import it now.
        self.bed = importlib.import_module("bed")
        self.pg_root = self.bed.pg_root()
        log("private bed in %s: %d TaskManagers (%s, managed %s), REST port %d; bed output in %s" % (
            self.bed_dir, n, TM_MEMORY, TM_MANAGED_MEMORY, ports[0], os.path.relpath(self.bed_log, ROOT)))
        started = time.monotonic()
        self.in_bed_log(self.bed.up)
        self.bed_up_seconds = round(time.monotonic() - started, 1)
        self.state = self.bed.state()
        log("bed up in %.1fs: Flink %s, %d TaskManagers registered" % (
            self.bed_up_seconds, self.state["flink_version"], len(self.bed.registered_hosts())))

    def in_bed_log(self, call):
        """Run ``call()`` with stderr, where the bed logs, going to the bed log: the benchmark's output stays short."""
        stderr = os.dup(2)
        try:
            with open(self.bed_log, "a") as f:
                os.dup2(f.fileno(), 2)
                return call()
        finally:
            os.dup2(stderr, 2)
            os.close(stderr)

    def bed_down(self):
        if self.bed is None:
            return
        if self.args.keep_bed:
            log("bed kept (--keep-bed): CDCOPS_BED_DIR=%s; take it down with CDCOPS_BED_DIR=%s %s tests/bed/bed.py "
                "down" % (self.bed_dir, self.bed_dir, sys.executable))
            return
        self.in_bed_log(self.bed.down)
        if self.pg_root and self.pg_root != os.path.join(self.bed_dir, "pg"):
            shutil.rmtree(self.pg_root, ignore_errors=True)
        log("bed down")

    # --- set-up

    def setup(self):
        st = self.state
        maven_root = st["maven"]["root"]
        # The jar list both sides install: the bed's real connectors for its Flink, without StarRocks (the role runs
        # with flink_cdc_starrocks_connector false); the role must choose the same (checked after each run).
        for c in st["demo_connectors"]:
            if c["artifact_id"] == "flink-connector-starrocks":
                continue
            rel = jars.maven_path(c["group_id"], c["artifact_id"], c["version"])
            path = os.path.join(maven_root, rel)
            with open(path + ".sha1") as f:
                published = f.read().split()[0].strip().lower()
            actual = jars.sha_hex(path, "sha1")
            if actual != published:
                raise SystemExit("[role-bench] %s does not match its published .sha1" % path)
            self.jars.append({"group_id": c["group_id"], "artifact_id": c["artifact_id"], "version": c["version"],
                              "rel": rel, "file": os.path.basename(rel), "bytes": os.path.getsize(path),
                              "sha1": actual})
        if not self.jars:
            raise SystemExit("[role-bench] the bed serves no postgres-cdc build for Flink %s" % st["flink_version"])
        for i, tm in enumerate(st["taskmanagers"], 1):
            self.tms.append({"name": "tm-%02d" % i, "host": tm["host"], "home": tm["home"],
                             "lib": os.path.join(tm["home"], "lib")})
        self.lib_snapshot = {tm["name"]: self.lib_files(tm["lib"]) for tm in self.tms}
        with open(self.ansible_cfg, "w") as f:
            f.write("[defaults]\nhost_key_checking = False\nretry_files_enabled = False\n"
                    "callbacks_enabled = cdcops.flink_cdc.task_timing\nlocal_tmp = %s\n"
                    "[connection]\npipelining = %s\n"
                    % (os.path.join(self.work, "ansible-local"), "True" if self.args.pipelining else "False"))
        pg = st["postgres"]["logical"]
        demo = pg["demo"]
        endpoints = [{"name": "PostgreSQL", "host": pg["host"], "port": pg["port"]}]
        starrocks = {}
        if self.args.starrocks_stand_ins:
            # No StarRocks in the bed: three of its real listening services stand in for the StarRocks FE http and
            # query ports and a BE's http port, so that both sides check as many endpoints as a PostgreSQL to
            # StarRocks pipeline has. Only TCP reachability is checked, on either side.
            stand_ins = {"StarRocks FE http": st["rest_url"].rsplit(":", 1)[1],
                         "StarRocks FE query": st["postgres"]["replica"]["port"],
                         "StarRocks BE http": st["maven"]["url"].rsplit(":", 1)[1]}
            endpoints += [{"name": k, "host": "127.0.0.1", "port": int(v)} for k, v in stand_ins.items()]
            starrocks = {"flink_cdc_starrocks_fe_host": "127.0.0.1",
                         "flink_cdc_starrocks_http_port": int(stand_ins["StarRocks FE http"]),
                         "flink_cdc_starrocks_query_port": int(stand_ins["StarRocks FE query"]),
                         "flink_cdc_starrocks_be_host": "127.0.0.1",
                         "flink_cdc_starrocks_be_http_port": int(stand_ins["StarRocks BE http"])}
        common = ["[flink_jobmanager]",
                  "jobmanager ansible_host=127.0.0.1 %%(home_var)s=%s" % st["jobmanager"]["home"], "",
                  "[flink_taskmanagers]"]
        all_vars = ["ansible_connection=local", "ansible_python_interpreter=%s" % sys.executable]
        sides = {
            "role": {
                "playbook": ROLE_PLAYBOOK, "playbook_file": ROLE_PLAYBOOK_FILE, "home_var": "flink_cdc_flink_home",
                "skip_tags": ROLE_SKIP_TAGS, "first_host": "jobmanager", "note": ROLE_NOTE,
                "vars": {
                    "flink_cdc_rest_url": st["rest_url"],
                    "flink_cdc_maven_repository": st["maven"]["url"],
                    "flink_cdc_fetch_mode": "controller",
                    "flink_cdc_smoke": False,
                    "flink_cdc_starrocks_connector": False,
                    **self.bed.pg_role_vars(pg),
                    **starrocks,
                },
            },
            "baseline": {
                "playbook": BASELINE_PLAYBOOK, "playbook_file": BASELINE_PLAYBOOK, "home_var": "flink_home",
                "skip_tags": None, "first_host": None, "note": BASELINE_NOTE,
                "vars": {
                    "flink_rest_url": st["rest_url"],
                    "maven_repository": st["maven"]["url"],
                    "connector_jars": [j["rel"] for j in self.jars],
                    "cdc_endpoints": endpoints,
                    # Flink 1.20 runs on Java 11 and 17 (8 deprecated).
                    "java_major_versions": [11, 17],
                    "pg_check_host": "localhost",
                    "pg_host": pg["host"],
                    "pg_port": pg["port"],
                    "pg_database": demo["database"],
                    "pg_user": demo["user"],
                    "pg_password": demo["password"],
                },
            },
        }
        for name, side in sides.items():
            lines = [line % {"home_var": side["home_var"]} for line in common]
            lines += ["%s ansible_host=%s %s=%s" % (tm["name"], tm["host"], side["home_var"], tm["home"])
                      for tm in self.tms]
            lines += ["", "[all:vars]"] + all_vars + [""]
            side["inventory"] = os.path.join(self.work, "%s-inventory.ini" % name)
            with open(side["inventory"], "w") as f:
                f.write("\n".join(lines))
            # The settings (with the PostgreSQL password) stay in the scratch directory: only the playbooks and
            # the inventory are copied to the output.
            side["vars_file"] = os.path.join(self.work, "%s-vars.json" % name)
            fd = os.open(side["vars_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(side["vars"], f, indent=1)
            shutil.copy(side["playbook_file"], os.path.join(self.runs_dir, "%s-playbook.yml" % name))
            shutil.copy(side["inventory"], os.path.join(self.runs_dir, "%s-inventory.ini" % name))
            with open(os.path.join(self.runs_dir, "%s-vars.yml" % name), "w") as f:
                shown = dict(side["vars"])
                for key in ("flink_cdc_pg_password", "pg_password"):
                    if key in shown:
                        shown[key] = "<the bed's password>"
                f.write("# -e @vars.json of the %s side (password left out)\n" % name)
                yaml.safe_dump(shown, f, default_flow_style=False, sort_keys=False)
        self.sides = sides

    @staticmethod
    def lib_files(lib):
        out = {}
        for name in os.listdir(lib):
            st = os.lstat(os.path.join(lib, name))
            out[name] = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode)
        return out

    def reset_libs(self):
        """Every TaskManager's lib/ as the bed made it: the deployed jars (anything new) removed."""
        for tm in self.tms:
            keep = self.lib_snapshot[tm["name"]]
            for name in os.listdir(tm["lib"]):
                if name not in keep:
                    os.unlink(os.path.join(tm["lib"], name))

    def check_libs(self):
        want = {j["file"]: j["sha1"] for j in self.jars}
        problems = {}
        for tm in self.tms:
            before = self.lib_snapshot[tm["name"]]
            now = self.lib_files(tm["lib"])
            added = sorted(set(now) - set(before))
            changed = sorted(n for n in before if n in now and now[n] != before[n])
            missing = sorted(set(before) - set(now))
            problem = []
            if added != sorted(want):
                problem.append("new in lib/: %s, expected %s" % (", ".join(added) or "nothing", ", ".join(sorted(want))))
            else:
                wrong = [n for n in added if jars.sha_hex(os.path.join(tm["lib"], n), "sha1") != want[n]]
                if wrong:
                    problem.append("wrong SHA-1: %s" % ", ".join(wrong))
            if changed or missing:
                problem.append("distribution files changed: %s" % ", ".join(changed + missing))
            if problem:
                problems[tm["name"]] = "; ".join(problem)
        lines = []
        for problem in sorted(set(problems.values())):
            hosts = [h for h, p in problems.items() if p == problem]
            lines.append("%s on %d of %d TaskManager host(s) (%s)" % (
                problem, len(hosts), len(self.tms), ", ".join(hosts[:3]) + (", ..." if len(hosts) > 3 else "")))
        return lines

    # --- runs

    def env(self, timing_file):
        return playbook_env(self.ansible_cfg, COLLECTIONS, VENV_BIN, timing_file)

    def maven_log(self):
        try:
            with open(self.state["maven"]["log"]) as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def maven_since(self, mark):
        count, entries = -1, self.maven_log()
        while len(entries) != count:
            count = len(entries)
            time.sleep(0.2)
            entries = self.maven_log()
        bodies = [e for e in entries[mark:] if e["method"] == "GET" and e["path"].endswith(".jar")]
        return {"jar_gets": len(bodies), "jar_bytes": sum(e["bytes"] for e in bodies),
                "requests": len(entries) - mark}

    def run(self, name, label, limit=None):
        side = self.sides[name]
        run_dir = os.path.join(self.work, "run-" + label)
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        timing_file = os.path.join(self.runs_dir, label + ".timing.json")
        log_file = os.path.join(self.runs_dir, label + ".log")
        report_dir = os.path.join(run_dir, "report")
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), side["playbook"], "-i", side["inventory"],
               "--forks", str(self.args.forks), "-e", "@" + side["vars_file"]]
        if side["skip_tags"]:
            cmd += ["--skip-tags", side["skip_tags"]]
        if name == "role":
            cmd += ["-e", json.dumps({"flink_cdc_controller_cache_dir": os.path.join(run_dir, "controller-cache"),
                                      "flink_cdc_report_dir": report_dir})]
        if limit:
            cmd += ["--limit", limit]
        self.reset_libs()
        if os.path.exists(timing_file):
            os.remove(timing_file)
        mark = len(self.maven_log())
        proc, seconds = self.play(cmd, log_file, timing_file, run_dir)
        result = {"side": name, "label": label, "seconds": round(seconds, 3), "rc": proc.returncode,
                  "log": os.path.relpath(log_file, os.path.dirname(self.out_json)),
                  "timing_file": os.path.relpath(timing_file, os.path.dirname(self.out_json)),
                  "repository": self.maven_since(mark)}
        if limit:
            shutil.rmtree(run_dir, ignore_errors=True)
            return result
        problems = []
        if proc.returncode:
            problems.append("ansible-playbook exited %d (see %s): %s"
                            % (proc.returncode, result["log"], first_error(log_file)))
        problems += self.check_libs()
        try:
            with open(timing_file) as f:
                timing = json.load(f)
        except (OSError, ValueError):
            timing = None
            problems.append("no task_timing file")
        if name == "role":
            try:
                with open(os.path.join(report_dir, "flink_cdc_report.json")) as f:
                    report = json.load(f)
                chosen = ["%(group_id)s:%(artifact_id)s:%(version)s" % c for c in report.get("connectors", [])]
                want = ["%(group_id)s:%(artifact_id)s:%(version)s" % j for j in self.jars]
                result["chosen_connectors"] = chosen
                if chosen != want:
                    problems.append("the role chose %s, the baseline installs %s" % (chosen, want))
                if not os.path.exists(os.path.join(report_dir, "flink_cdc_report.md")):
                    problems.append("no Markdown report")
            except (OSError, ValueError) as exc:
                problems.append("no readable JSON report in the report directory (%s)" % exc)
        if timing:
            result.update(self.figures(name, timing))
        result["valid"] = not problems
        result["problems"] = problems
        shutil.rmtree(run_dir, ignore_errors=True)
        return result

    def play(self, cmd, log_file, timing_file, run_dir):
        """Run ``cmd`` (ansible-playbook) in ``run_dir`` with the task_timing callback writing ``timing_file``, its
        output in ``log_file`` after the command line; the finished process and its wall time in seconds."""
        with open(log_file, "w") as out:
            out.write("$ %s\n" % " ".join(cmd))
            out.flush()
            started = time.monotonic()
            proc = subprocess.run(cmd, env=self.env(timing_file), stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=run_dir, timeout=self.args.timeout, check=False)
            return proc, time.monotonic() - started

    def figures(self, name, timing):
        names = [tm["name"] for tm in self.tms]
        # The play's first host carries its run_once results: tm-01 in the baseline's play, the JobManager host in
        # the collection's playbook (hosts: flink_jobmanager:flink_taskmanagers).
        first = self.sides[name]["first_host"] or names[0]
        everyone, ambiguous = host_figures(timing, names + ([first] if first not in names else []),
                                           phased=(name == "role"))
        per_host = {h: everyone[h] for h in names}
        out = {"hosts": summarize_hosts(per_host, names[0]), "ambiguous_tasks": ambiguous,
               "ansible_wall_seconds": timing.get("wall_seconds"),
               "slowest_tasks": [{"name": t["name"], "action": t["action"], "seconds": t["seconds"]}
                                 for t in sorted(timing["tasks"], key=lambda t: t["seconds"], reverse=True)[:5]]}
        if name == "role":
            pre = {h: f["phases"].get("preflight", {}) for h, f in per_host.items()}
            out["preflight_module_executions_per_host"] = {h: p.get("per_host_module_executions", 0)
                                                           for h, p in pre.items()}
            out["preflight_tasks_per_host"] = {h: p.get("per_host_tasks", 0) for h, p in pre.items()}
            out["once_per_play"] = {phase: {"tasks": p["once_tasks"], "module_executions": p["once_module_executions"]}
                                    for phase, p in everyone[first]["phases"].items() if p["once_tasks"]}
            out["per_host_by_phase"] = {phase: {"tasks": p["per_host_tasks"],
                                                "module_executions": p["per_host_module_executions"]}
                                        for phase, p in per_host[names[-1]]["phases"].items()}
            seconds = {}
            for task, phase in zip(timing["tasks"], task_phases(timing["tasks"])):
                seconds[phase] = seconds.get(phase, 0.0) + task["seconds"]
            out["phase_seconds"] = {k: round(v, 2) for k, v in seconds.items()}
        return out

    def warm_up(self):
        """One untimed run per side on tm-01 alone, so no measured run pays for cold caches."""
        for name in self.sides:
            result = self.run(name, "warmup-%s" % name, limit=self.tms[0]["name"])
            log("  warm-up %-8s %6.2fs rc=%d" % (name, result["seconds"], result["rc"]))
        self.reset_libs()

    def cleanup(self):
        if not self.args.keep_bed:
            shutil.rmtree(self.work, ignore_errors=True)


def summarize(runs, sides, repeat):
    out = {}
    for side in sides:
        valid = [r for r in runs if r["side"] == side and r["valid"]]
        row = {"valid_runs": len(valid), "of_runs": repeat,
               "seconds": round(median(r["seconds"] for r in valid), 3) if valid else None,
               "samples": [r["seconds"] for r in runs if r["side"] == side],
               "jar_gets": median(r["repository"]["jar_gets"] for r in valid) if valid else None,
               "jar_bytes": median(r["repository"]["jar_bytes"] for r in valid) if valid else None}
        for scope in ("median_host", "first_host"):
            row[scope] = {k: median(r["hosts"][scope][k] for r in valid) for k in
                          ("executed", "module_runs", "module_executions")} if valid else None
        if side == "role" and valid:
            per_host = [v for r in valid for v in r["preflight_module_executions_per_host"].values()]
            row["preflight_module_executions_per_host"] = {"min": min(per_host), "max": max(per_host),
                                                           "median": median(per_host)}
            row["once_per_play"] = valid[-1]["once_per_play"]
            row["per_host_by_phase"] = valid[-1]["per_host_by_phase"]
            row["phase_seconds"] = {k: round(median(r["phase_seconds"].get(k) for r in valid), 2)
                                    for k in valid[-1]["phase_seconds"]}
            row["chosen_connectors"] = valid[-1].get("chosen_connectors")
        out[side] = row
    ratio = None
    if out.get("baseline", {}).get("seconds") and out.get("role", {}).get("seconds") is not None:
        ratio = round(out["role"]["seconds"] / out["baseline"]["seconds"], 3)
    return out, ratio


def targets(sides, ratio, n, runs):
    out = [{
        "target": "full role (all phases but restart) <= %.1fx the hand-written playbook's wall time at the largest "
                  "N (N=%d real TaskManagers)" % (TARGET_RATIO, n),
        "value": ratio,
        "holds": None if ratio is None else ratio <= TARGET_RATIO,
        "facts": "role %s s / baseline %s s = %s" % (
            fmt(sides.get("role", {}).get("seconds")), fmt(sides.get("baseline", {}).get("seconds")),
            "not measured" if ratio is None else "%.2f" % ratio),
    }]
    # Checked run by run and host by host: every valid role run, every TaskManager host.
    per_run = [r["preflight_module_executions_per_host"] for r in runs if r["side"] == "role" and r["valid"]]
    values = sorted({v for run in per_run for v in run.values()})
    out.append({
        "target": "preflight: %d module execution per TaskManager host" % TARGET_PREFLIGHT_EXECUTIONS,
        "value": values,
        "holds": all(v == TARGET_PREFLIGHT_EXECUTIONS for v in values) if values else None,
        "facts": ("per TaskManager host, in %d valid role run(s): %s; besides, once per play (attributed to "
                  "the play's first host): %s" % (len(per_run), "/".join(str(v) for v in values), once_text(sides, "preflight"))
                  if values else "not measured"),
    })
    return out


def once_text(sides, phase):
    once = (sides.get("role") or {}).get("once_per_play", {}).get(phase)
    return "%d tasks, %d module executions" % (once["tasks"], once["module_executions"]) if once else "none"


def fmt(value, spec="%.2f", none="-"):
    return none if value is None else spec % value


def table(result):
    r = result["role_bench"]
    setup, sides = r["setup"], r["sides"]
    jar_text = " + ".join("%s %.1f MB" % (j["file"], j["bytes"] / MB) for j in setup["jars"])
    lines = ["Full role (all phases but restart) vs hand-written playbook: N=%d real TaskManagers (Flink %s, %s "
             "each, managed %s), --forks %d, %d jar(s) (%s), median of %d; bed up in %ss"
             % (setup["taskmanagers"], setup["flink_version"], setup["tm_memory"], setup["tm_managed_memory"],
                setup["forks"], len(setup["jars"]), jar_text, setup["repeat"], fmt(r["bed_up_seconds"], "%.0f")),
             "endpoints each TaskManager host checks: %s%s" % (
                 ", ".join(e["name"] for e in setup.get("endpoints", [])),
                 " (StarRocks: stand-ins, the bed has none)" if setup.get("starrocks_stand_ins") else "")]
    head = "%-8s | %8s | %-23s | %-13s | %-13s | %-13s | %-9s | %-8s" % (
        "side", "seconds", "samples", "tasks/host", "runs/host", "modexec/host", "preflight", "jar GETs")
    lines += [head, "-" * len(head)]
    for name in ("baseline", "role"):
        s = sides.get(name)
        if not s:
            continue

        def cell(key, s=s):
            m, f = s.get("median_host"), s.get("first_host")
            if not m:
                return "-"
            return "%s (tm-01 %s)" % (fmt(m[key], "%g"), fmt(f[key], "%g"))
        pre = s.get("preflight_module_executions_per_host")
        pre_cell = "-" if not pre else ("%g" % pre["median"] if pre["min"] == pre["max"] else
                                        "%g-%g" % (pre["min"], pre["max"]))
        lines.append("%-8s | %8s | %-23s | %-13s | %-13s | %-13s | %-9s | %-8s" % (
            name, fmt(s["seconds"]), " ".join("%.1f" % v for v in s["samples"])[:23],
            cell("executed"), cell("module_runs"), cell("module_executions"), pre_cell,
            fmt(s.get("jar_gets"), "%g")))
    lines.append("ratio role/baseline: %s" % fmt(r["ratio_role_to_baseline"]))
    role = sides.get("role") or {}
    if role.get("phase_seconds"):
        lines.append("role phases (s, task wall time summed): %s" % ", ".join(
            "%s %.1f" % kv for kv in role["phase_seconds"].items()))
    if role.get("per_host_by_phase"):
        lines.append("role per TaskManager host by phase (tasks/module executions): %s; once per play: %s"
                     % (", ".join("%s %d/%d" % (k, v["tasks"], v["module_executions"])
                                  for k, v in role["per_host_by_phase"].items()),
                        ", ".join("%s %d/%d" % (k, v["tasks"], v["module_executions"])
                                  for k, v in role.get("once_per_play", {}).items())))
    lines.append("(tasks/host = task results not skipped, runs/host = with loop items, modexec/host = without "
                 "controller-side actions (set_fact, assert, debug, validate_argument_spec); median TaskManager "
                 "host, tm-01 carries the run_once tasks; preflight = module executions of the role's preflight "
                 "per TaskManager host, run_once tasks apart)")
    for run in r["runs"]:
        if not run["valid"]:
            lines.append("INVALID %s: %s" % (run["label"], "; ".join(run["problems"][:3])))
        if run.get("ambiguous_tasks"):
            lines.append("note %s: tasks some hosts skipped, left out of the per-host split: %s"
                         % (run["label"], ", ".join(run["ambiguous_tasks"])))
    return lines


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="where to write the JSON figures")
    parser.add_argument("--taskmanagers", default=os.environ.get("CDCOPS_ROLE_BENCH_TASKMANAGERS") or "auto",
                        help="number of TaskManagers, or auto: as many as the machine holds (default "
                             "$CDCOPS_ROLE_BENCH_TASKMANAGERS, else auto; now %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per side (default %(default)s)")
    parser.add_argument("--forks", type=int, default=8)
    parser.add_argument("--keep-bed", action="store_true", help="leave the private bed up (and its scratch directory)")
    parser.add_argument("--pipelining", action="store_true", help="enable pipelining for both sides")
    parser.add_argument("--starrocks-stand-ins", action="store_true",
                        help="both sides also check three TCP endpoints for StarRocks (FE http, FE query, BE http), "
                             "served by the bed's JobManager REST, second PostgreSQL and repository: the bed has no "
                             "StarRocks")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false", help="skip the untimed warm-up runs")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per ansible-playbook run")
    parser.add_argument("--work-dir", default=None, help="parent of the scratch directory (default: the system's)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def choose_n(spec):
    """(N, how), or raise SystemExit with the reason the machine cannot hold the benchmark."""
    if spec == "auto":
        n, how = auto_taskmanagers()
    else:
        try:
            n = int(spec)
        except ValueError:
            raise SystemExit("[role-bench] --taskmanagers takes auto or a number, not %r" % spec)
        how = "--taskmanagers %d" % n
        if n > 253:
            raise SystemExit("[role-bench] --taskmanagers %d: at most 253 (127.0.0.2 - 127.0.0.254)" % n)
        need = RESERVE_MB + n * TM_MEMORY_MB
        if need > mem_available_mb():
            log("warning: %d TaskManagers of %s and a reserve of %d MB need %d MB, MemAvailable is %d MB"
                % (n, TM_MEMORY, RESERVE_MB, need, mem_available_mb()))
    if n < MIN_TASKMANAGERS:
        raise SystemExit("[role-bench] %s: the benchmark needs at least %d TaskManagers of %s (%s)" % (
            how, MIN_TASKMANAGERS, TM_MEMORY, "free some memory" if spec == "auto" else "ask for more"))
    return n, how


def write(path, result):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def main(argv=None):
    args = parse_args(argv)
    out_json = os.path.abspath(args.out)
    started = time.time()
    try:
        n, how = choose_n(args.taskmanagers)
    except SystemExit as exc:
        write(out_json, {"role_bench": {"error": str(exc)}})
        print(exc)
        return 2
    bench = RoleBench(args)
    shutil.rmtree(bench.runs_dir, ignore_errors=True)
    os.makedirs(bench.runs_dir)
    log("%s; output %s" % (how, os.path.relpath(bench.runs_dir, ROOT)))
    linked = os.path.realpath(os.path.join(COLLECTIONS, "ansible_collections", "cdcops", "flink_cdc"))
    if linked != os.path.realpath(ROOT):
        log("warning: the collection at %s is %s, not this checkout (set CDCOPS_COLLECTIONS_PATH)" % (COLLECTIONS, linked))
    runs = []
    try:
        try:
            bench.bed_up(n)
        except SystemExit as exc:
            write(out_json, {"role_bench": {"error": "the private bed did not come up: %s (see %s)"
                                                     % (exc, bench.bed_log)}})
            print("[role-bench] the private bed did not come up: %s (see %s)" % (exc, bench.bed_log))
            return 1
        bench.setup()
        jar_text = ", ".join("%s (%.1f MB)" % (j["file"], j["bytes"] / MB) for j in bench.jars)
        log("jars: %s; sides: %s" % (jar_text, ", ".join(bench.sides)))
        if args.warm_up:
            log("warm-up (untimed, tm-01 only)")
            bench.warm_up()
        order = list(bench.sides)
        for repeat in range(args.repeat):
            # Alternate which side goes first, so neither always runs on a warmer machine.
            for name in (order if repeat % 2 == 0 else list(reversed(order))):
                label = "%s-n%02d-r%d" % (name, n, repeat)
                result = bench.run(name, label)
                runs.append(result)
                log("  %-8s N=%d r%d %7.2fs rc=%d jar GETs=%d%s" % (
                    name, n, repeat, result["seconds"], result["rc"], result["repository"]["jar_gets"],
                    "" if result["valid"] else "  INVALID: " + result["problems"][0]))
        bench.reset_libs()
    finally:
        bench.bed_down()
        bench.cleanup()

    sides, ratio = summarize(runs, list(bench.sides), args.repeat)
    st = bench.state
    body = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_seconds": round(time.time() - started, 1),
        "bed_up_seconds": bench.bed_up_seconds,
        "setup": {
            "taskmanagers": n,
            "taskmanagers_how": how,
            "tm_memory": TM_MEMORY,
            "tm_managed_memory": TM_MANAGED_MEMORY,
            "tm_memory_note": "taskmanager.memory.process.size %s with taskmanager.memory.managed.size %s: Flink "
                              "1.20.3 refuses a process size below about 982m on its default managed fraction, and "
                              "768m with managed memory 0m (no task heap left); 800m leaves 32m of task heap"
                              % (TM_MEMORY, TM_MANAGED_MEMORY),
            "flink_version": st["flink_version"],
            "forks": args.forks,
            "repeat": args.repeat,
            "pipelining": args.pipelining,
            "starrocks_stand_ins": args.starrocks_stand_ins,
            "endpoints": bench.sides["baseline"]["vars"]["cdc_endpoints"],
            "collection": linked,
            "jars": [dict((k, j[k]) for k in JAR_KEYS) for j in bench.jars],
            "sides": {name: side["note"] for name, side in bench.sides.items()},
            "notes": COMMON_NOTES,
            "playbooks": {name: "role_runs/%s-playbook.yml" % name for name in bench.sides},
            "measure": "wall time of the ansible-playbook process (start-up included); per host figures from the "
                       "cdcops.flink_cdc.task_timing callback; jar GETs from the bed repository's request log",
        },
        "sides": sides,
        "ratio_role_to_baseline": ratio,
        "targets": targets(sides, ratio, n, runs),
        "runs": runs,
    }
    result = {"role_bench": body}
    result["role_bench"]["table"] = table(result)
    write(out_json, result)
    print("")
    for line in result["role_bench"]["table"]:
        print(line)
    print("")
    print("Targets (facts, not assertions):")
    for target in result["role_bench"]["targets"]:
        verdict = {True: "HOLDS", False: "MISSED", None: "NOT MEASURED"}[target["holds"]]
        print("  %-12s %s: %s" % (verdict, target["target"], target["facts"]))
    print("figures: %s" % out_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
