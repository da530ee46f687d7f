"""Benchmark: the flink_cdc role's deploy phase against the plain get_url playbook.

Usage (``make bench`` runs it through scripts/bench.sh, from the repository root):

    .venv/bin/python bench/bench.py [--hosts 1,8,24,48] [--forks 8] [--out bench/out]
                                    [--sides baseline,role] [--jar-sets connectors,small]
                                    [--repeat 3] [--skip-module-bench] [--skip-role-bench]

What it measures, in one run, each figure side by side with its comparison:

1. Deploy wall time against the inventory size N: the role's deploy phase
   (``ansible-playbook cdcops.flink_cdc.deploy --tags flink_cdc_deploy`` with its settings
   in group_vars, controller mode, an empty controller cache at the start of
   every first run) against a plain playbook written the way users write it
   today (``ansible.builtin.get_url`` for each jar on each host, verified with
   ``checksum: sha1:<url>.sha1``). Their playbooks also check the JobManager
   with ``uri``/``wait_for``; there is no JobManager here, so the baseline is
   the get_url part only, which makes it a cheaper, stricter baseline.
2. The idempotent rerun of both, on the same directories.
3. Jar-body requests (GET of ``*.jar``) and bytes served by the repository in
   every run, read from its request log.
4. The module figures of bench/jar_bench.py (peak RSS, throughput against get_url).
5. Tasks executed per host, from the collection's ``task_timing`` callback.
6. The full-role figures of bench/role_bench.py (the whole role but restart against a hand-written playbook on
   real TaskManagers of a private bed), run as its own process and merged under ``figures["role"]``.
7. The pipeline figures of bench/pipeline_bench.py (``figures["pipeline"]``) and the restart figures of
   bench/restart_bench.py (the rolling restart one TaskManager at a time against in batches, ``figures["restart"]``).

Every host is ``bench-NN`` (``ansible_host=127.0.1.NN``, local connection,
this venv's Python) with its own fresh ``lib/``. The repository is a private
tests/bed/maven_repo.py on a free loopback port serving real jars from Maven
Central (``JAR_SETS``: the two connectors, ~19 MB + ~13 MB, and two ~200 KB
Flink CDC jars; fetched once with ``mvn`` into ~/.m2 by tests/bed/artifacts.py),
so the shared test bed is never touched. Every run's result is checked (rc 0, the right jars with the right SHA-1 in every ``lib/``)
before its figures count; a run that fails the check is reported as invalid
and left out of the ratios.

It writes ``<out>/bench.json`` and ``<out>/bench.png``, keeps each run's output
and timing file under ``<out>/runs/``, prints a table and whether each target
of the performance issue holds. It is a benchmark: missed targets are printed,
and the exit status is 0 unless the benchmark itself could not run.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))

import artifacts  # noqa: E402  pylint: disable=wrong-import-position
from jars import sha_hex  # noqa: E402  pylint: disable=wrong-import-position
from bench_common import first_error, logger, median, playbook_env  # noqa: E402  pylint: disable=wrong-import-position
import maven_repo  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
COLLECTIONS = os.path.join(os.path.dirname(VENV_BIN), "collections")
MB = 1024 * 1024
DEFAULT_HOSTS = (1, 8, 24, 48)

# The jar sets, all real jars from Maven Central (fetched once with mvn into ~/.m2 by tests/bed/artifacts.py and
# served by the private loopback repository). "connectors": the two connectors of the role (postgres-cdc SQL jar,
# which shades Debezium and the JDBC driver, ~19 MB; StarRocks ~13 MB). "small": two Flink CDC jars of about
# 200 KB, where no download time hides what every host pays besides the module.
JAR_SETS = {
    "connectors": (
        ("postgres-cdc", "org.apache.flink", "flink-sql-connector-postgres-cdc", "3.5.0"),
        ("starrocks", "com.starrocks", "flink-connector-starrocks", "1.2.10_flink-1.19"),
    ),
    "small": (
        ("debezium", "org.apache.flink", "flink-connector-debezium", "3.5.0"),
        ("cdc-base", "org.apache.flink", "flink-cdc-base", "3.5.0"),
    ),
}

# Targets: issue 6 (deploy <= 0.75x at N=24, rerun <= 0.75x), raised by issue 11 to <= 0.5x at N=24 for both
# jar sets.
TARGET_RATIO = 0.5
TARGET_RERUN_RATIO = 0.75
TARGET_N = 24

BASELINE_NOTE = ("plain playbook: one ansible.builtin.get_url task looping over the jars, dest = the jar's path "
                 "in {{ flink_home }}/lib/, checksum: sha1:<url>.sha1, gather_facts: false; the JobManager "
                 "uri/wait_for checks of a real playbook are left out (no JobManager in the benchmark), so "
                 "the baseline is get_url only")
ROLE_NOTE = ("the collection's playbook: ansible-playbook cdcops.flink_cdc.deploy --tags flink_cdc_deploy (the role), "
             "settings in group_vars, flink_cdc_fetch_mode=controller, empty controller cache at the start of every "
             "first run, inventory with only flink_taskmanagers, no PostgreSQL vars, flink_cdc_report_dir=''")


log = logger("bench")


class Repository:
    """A private Maven-layout repository (tests/bed/maven_repo.py) with its own root and request log."""

    def __init__(self, work):
        self.root = os.path.join(work, "repo")
        self.log_path = os.path.join(work, "requests.log")
        os.makedirs(self.root)
        open(self.log_path, "w").close()
        self.proc, self.port = maven_repo.start_server(self.root, self.log_path)
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def requests(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def mark(self):
        return len(self.requests())

    def settled_since(self, mark):
        """Requests logged since ``mark``, once the log stopped growing (the server logs after the body)."""
        count = -1
        entries = self.requests()
        while len(entries) != count:
            count = len(entries)
            time.sleep(0.2)
            entries = self.requests()
        return entries[mark:]


def traffic(entries):
    bodies = [e for e in entries if e["method"] == "GET" and e["path"].endswith(".jar")]
    return {
        "jar_gets": len(bodies),
        "jar_bytes": sum(e["bytes"] for e in bodies),
        "jar_gets_by_path": {p: sum(1 for e in bodies if e["path"] == p) for p in sorted({e["path"] for e in bodies})},
        "requests": len(entries),
        "bytes": sum(e["bytes"] for e in entries),
        "errors": sum(1 for e in entries if e["status"] >= 400),
    }


class Side:
    """One way to deploy the jars: writes its playbook and inventory, prepares a fresh state."""

    name = ""
    note = ""
    home_var = ""
    tags = None
    target = None  # a playbook by name (a collection's); None: the file playbook() writes

    def __init__(self, bench, jar_set):
        self.bench = bench
        self.jar_set = jar_set
        self.connectors = bench.jar_sets[jar_set]

    def playbook(self):
        raise NotImplementedError

    def fresh_state(self, run_dir):
        """Reset side-specific state before a first run."""

    def extra_vars(self, run_dir):  # pylint: disable=unused-argument
        return {}

    def inventory(self, run_dir, n):
        lines = ["[flink_taskmanagers]"]
        homes = {}
        for i in range(1, n + 1):
            host = "bench-%02d" % i
            home = os.path.join(run_dir, "hosts", host)
            os.makedirs(os.path.join(home, "lib"))
            homes[host] = home
            lines.append("%s ansible_host=127.0.1.%d ansible_connection=local ansible_python_interpreter=%s %s=%s"
                         % (host, i, sys.executable, self.home_var, home))
        path = os.path.join(run_dir, "inventory.ini")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path, homes


class Baseline(Side):
    """The hand-written playbook: get_url for each jar on each host, checked against <url>.sha1."""

    name = "baseline"
    note = BASELINE_NOTE
    home_var = "flink_home"

    def playbook(self):
        play = {
            "name": "Install the Flink CDC connector jars with get_url",
            "hosts": "flink_taskmanagers",
            "gather_facts": False,
            "vars": {"maven_repository": self.bench.repo.url,
                     "connector_jars": [c["rel"] for c in self.connectors]},
            "tasks": [{
                "name": "Download each connector jar into lib/, verified against the repository's .sha1",
                "ansible.builtin.get_url": {
                    "url": "{{ maven_repository }}/{{ item }}",
                    "dest": "{{ flink_home }}/lib/{{ item | basename }}",
                    "checksum": "sha1:{{ maven_repository }}/{{ item }}.sha1",
                    "mode": "0644",
                },
                "loop": "{{ connector_jars }}",
            }],
        }
        header = ("# The plain playbook users write today (the JobManager uri/wait_for checks left out:\n"
                  "# the benchmark has no JobManager).\n")
        return header + yaml.safe_dump([play], sort_keys=False, width=160)


class Role(Side):
    """The collection's playbook cdcops.flink_cdc.deploy (the role), deploy phase only, in controller mode, with
    its settings in the inventory's group_vars as users keep them."""

    name = "role"
    note = ROLE_NOTE
    home_var = "flink_cdc_flink_home"
    tags = "flink_cdc_deploy"
    target = "cdcops.flink_cdc.deploy"

    def settings(self):
        return {
            "flink_cdc_maven_repository": self.bench.repo.url,
            "flink_cdc_connectors": [{k: c[k] for k in ("group_id", "artifact_id", "version")}
                                     for c in self.connectors],
            "flink_cdc_fetch_mode": "controller",
            "flink_cdc_report_dir": "",
        }

    def playbook(self):
        header = ("# group_vars/flink_taskmanagers.yml of the inventory; the run is\n"
                  "#   ansible-playbook cdcops.flink_cdc.deploy -i inventory.ini --tags flink_cdc_deploy\n"
                  "# with flink_cdc_controller_cache_dir from -e: a fresh, empty directory for every first run.\n")
        return header + yaml.safe_dump(self.settings(), sort_keys=False, width=160)

    def inventory(self, run_dir, n):
        path, homes = super().inventory(run_dir, n)
        group_vars = os.path.join(run_dir, "group_vars")
        os.makedirs(group_vars, exist_ok=True)
        with open(os.path.join(group_vars, "flink_taskmanagers.yml"), "w") as f:
            f.write(self.playbook())
        return path, homes

    def extra_vars(self, run_dir):
        return {"flink_cdc_controller_cache_dir": self.cache_dir(run_dir)}

    def cache_dir(self, run_dir):
        return os.path.join(run_dir, "controller-cache")

    def fresh_state(self, run_dir):
        shutil.rmtree(self.cache_dir(run_dir), ignore_errors=True)
        os.makedirs(self.cache_dir(run_dir))


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out)
        self.runs_dir = os.path.join(self.out, "runs")
        self.work = tempfile.mkdtemp(prefix="cdcops-bench-", dir=args.work_dir)
        self.repo = None
        self.jar_sets = {}
        self.ansible_cfg = os.path.join(self.work, "ansible.cfg")
        self.sides = {}

    # --- set-up

    def setup(self):
        shutil.rmtree(self.runs_dir, ignore_errors=True)
        os.makedirs(self.runs_dir)
        self.repo = Repository(self.work)
        for set_name in self.args.jar_sets:
            jars = []
            for name, group_id, artifact_id, version in JAR_SETS[set_name]:
                rel = artifacts.publish_real(self.repo.root, group_id, artifact_id, version)
                full = os.path.join(self.repo.root, rel)
                jars.append({"name": name, "group_id": group_id, "artifact_id": artifact_id, "version": version,
                             "rel": rel, "file": os.path.basename(rel), "bytes": os.path.getsize(full),
                             "sha1": sha_hex(full, "sha1")})
            self.jar_sets[set_name] = jars
        # Ansible's defaults (no pipelining unless asked), shielded from any ansible.cfg of this machine.
        with open(self.ansible_cfg, "w") as f:
            f.write("[defaults]\nhost_key_checking = False\nretry_files_enabled = False\n"
                    "callbacks_enabled = cdcops.flink_cdc.task_timing\nlocal_tmp = %s\n"
                    "[connection]\npipelining = %s\n"
                    % (os.path.join(self.work, "ansible-local"), "True" if self.args.pipelining else "False"))
        for set_name in self.args.jar_sets:
            for cls in (Baseline, Role):
                if cls.name in self.args.sides:
                    side = cls(self, set_name)
                    path = os.path.join(self.work, "%s-%s.yml" % (set_name, side.name))
                    text = side.playbook()
                    with open(path, "w") as f:
                        f.write(text)
                    shutil.copy(path, os.path.join(self.runs_dir, "%s-%s-%s.yml" % (
                        set_name, side.name, "group_vars" if side.target else "playbook")))
                    self.sides[(set_name, side.name)] = (side, path)

    def env(self, timing_file):
        return playbook_env(self.ansible_cfg, COLLECTIONS, VENV_BIN, timing_file)

    # --- one measured run

    def run_playbook(self, side, playbook, inventory, label, run_dir):
        timing_file = os.path.join(self.runs_dir, label + ".timing.json")
        log_file = os.path.join(self.runs_dir, label + ".log")
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), side.target or playbook, "-i", inventory,
               "--forks", str(self.args.forks)]
        if side.tags:
            cmd += ["--tags", side.tags]
        extra_vars = side.extra_vars(run_dir)
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        mark = self.repo.mark()
        with open(log_file, "w") as out:
            out.write("$ %s\n" % " ".join(cmd))
            out.flush()
            started = time.monotonic()
            proc = subprocess.run(cmd, env=self.env(timing_file), stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=self.work, timeout=self.args.timeout, check=False)
            seconds = time.monotonic() - started
        served = traffic(self.repo.settled_since(mark))
        try:
            with open(timing_file) as f:
                timing = json.load(f)
        except (OSError, ValueError):
            timing = None
        return {"seconds": round(seconds, 3), "rc": proc.returncode, "log": os.path.relpath(log_file, self.out),
                "timing_file": os.path.relpath(timing_file, self.out), "repository": served,
                "tasks": task_figures(timing)}

    def check_libs(self, homes, connectors):
        """Problems with the jars in every host's lib/: exactly the expected files with the expected SHA-1."""
        want = {c["file"]: c["sha1"] for c in connectors}
        problems = {}
        for host, home in sorted(homes.items()):
            lib = os.path.join(home, "lib")
            have = sorted(n for n in os.listdir(lib) if n.endswith(".jar"))
            if have != sorted(want):
                problems[host] = "lib/ holds %s, expected %s" % (", ".join(have) or "no jar", ", ".join(sorted(want)))
                continue
            wrong = [name for name, sha1 in sorted(want.items()) if sha_hex(os.path.join(lib, name), "sha1") != sha1]
            if wrong:
                problems[host] = "wrong SHA-1: %s" % ", ".join(wrong)
        if not problems:
            return []
        # One line per distinct problem, with the hosts that have it.
        lines = []
        for problem in sorted(set(problems.values())):
            hosts = [h for h, p in problems.items() if p == problem]
            shown = ", ".join(hosts[:3]) + (", ..." if len(hosts) > 3 else "")
            lines.append("%s on %d of %d host(s) (%s)" % (problem, len(hosts), len(homes), shown))
        return lines

    def measure(self, set_name, side_name, n, repeat):
        """First run and idempotent rerun of one side on N fresh hosts."""
        side, playbook = self.sides[(set_name, side_name)]
        run_dir = os.path.join(self.work, "%s-%s-n%02d-r%d" % (set_name, side.name, n, repeat))
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        inventory, homes = side.inventory(run_dir, n)
        side.fresh_state(run_dir)
        label = "%s-%s-n%02d%s" % (set_name, side.name, n, "-r%d" % repeat if self.args.repeat > 1 else "")
        result = {}
        for phase in ("first", "rerun"):
            run = self.run_playbook(side, playbook, inventory, "%s-%s" % (label, phase), run_dir)
            problems = []
            if run["rc"]:
                problems.append("ansible-playbook exited %d (see %s): %s"
                                % (run["rc"], run["log"], first_error(os.path.join(self.out, run["log"]))))
            problems += self.check_libs(homes, side.connectors)
            if phase == "rerun" and run["tasks"] and run["tasks"]["changed_results"]:
                problems.append("the rerun changed %d task result(s)" % run["tasks"]["changed_results"])
            run["valid"] = not problems
            run["problems"] = problems
            result[phase] = run
            log("  %-10s %-8s N=%-2d %-5s %7.2fs  rc=%d  jar GETs=%d (%.1f MB)%s" % (
                set_name, side.name, n, phase, run["seconds"], run["rc"], run["repository"]["jar_gets"],
                run["repository"]["jar_bytes"] / MB, "" if run["valid"] else "  INVALID: " + problems[0]))
            if not run["valid"] and phase == "first":
                break
        shutil.rmtree(run_dir, ignore_errors=True)
        return result

    def warm_up(self):
        """One untimed N=1 run per side, so no measured run pays for cold caches (bytecode, page cache)."""
        for (set_name, name), (side, playbook) in self.sides.items():
            run_dir = os.path.join(self.work, "warmup-%s-%s" % (set_name, name))
            os.makedirs(run_dir)
            inventory, dummy = side.inventory(run_dir, 1)
            side.fresh_state(run_dir)
            self.run_playbook(side, playbook, inventory, "warmup-%s-%s" % (set_name, name), run_dir)
            shutil.rmtree(run_dir, ignore_errors=True)

    def module_bench(self):
        """bench/jar_bench.py's figures (figure 4), run as its own process."""
        return self.sub_bench("jar_bench", "module figures", [], dict(os.environ, ANSIBLE_CONFIG=self.ansible_cfg))

    def role_bench(self):
        """bench/role_bench.py's figures (figure 6), run as its own process."""
        return self.sub_bench("role_bench", "full-role figures",
                              ["--forks", str(self.args.forks), "--repeat", str(self.args.repeat)], None)

    def sub_bench(self, name, what, args, env):
        """Run bench/<name>.py OUT.json [args] and return its figures (the JSON's ``name`` key) with its exit status."""
        script = os.path.join(ROOT, "bench", name + ".py")
        out = os.path.join(self.out, name + ".json")
        if not os.path.exists(script):
            return {"skipped": "bench/%s.py does not exist" % name}
        if os.path.exists(out):
            os.remove(out)
        log("%s: %s %s" % (what, os.path.relpath(script, ROOT), os.path.relpath(out, ROOT)))
        proc = subprocess.run([sys.executable, script, out] + args, cwd=ROOT, stdin=subprocess.DEVNULL, check=False,
                              timeout=self.args.timeout * 4, env=env)
        try:
            with open(out) as f:
                figures = json.load(f)
        except (OSError, ValueError) as exc:
            return {"error": "bench/%s.py exited %d and wrote no figures (%s)" % (name, proc.returncode, exc)}
        figures = figures.get(name, figures)
        figures["exit_status"] = proc.returncode
        return figures

    def cleanup(self):
        if self.repo is not None:
            self.repo.stop()
        if not self.args.keep_work:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log("work directory kept: %s" % self.work)


def task_figures(timing):
    """Tasks per host and the slowest tasks, from a task_timing callback file."""
    if not timing or not timing.get("hosts"):
        return None
    hosts = timing["hosts"]
    executed = [h["executed"] for h in hosts.values()]
    runs = [h["module_runs"] for h in hosts.values()]
    slowest = sorted(timing["tasks"], key=lambda task: task["seconds"], reverse=True)[:5]
    return {
        "hosts": len(hosts),
        "executed_per_host": {"min": min(executed), "max": max(executed), "mean": round(statistics.mean(executed), 2)},
        "module_runs_per_host": {"min": min(runs), "max": max(runs), "mean": round(statistics.mean(runs), 2)},
        "skipped_per_host": round(statistics.mean(h["skipped"] for h in hosts.values()), 2),
        "changed_results": sum(h["changed"] for h in hosts.values()),
        "ansible_wall_seconds": timing.get("wall_seconds"),
        "slowest_tasks": [{"name": task["name"], "action": task["action"], "seconds": task["seconds"]} for task in slowest],
    }


def summarize(raw, hosts, sides, repeat):
    """Medians of valid runs per side, N and phase, and the role/baseline ratios."""
    figures = {"hosts": list(hosts)}
    for phase in ("first", "rerun"):
        per_side = {}
        for side in sides:
            rows = []
            for n in hosts:
                runs = [r[phase] for r in raw[side][str(n)] if phase in r and r[phase]["valid"]]
                rows.append({
                    "n": n,
                    "valid_runs": len(runs),
                    "of_runs": repeat,
                    "seconds": round(median(r["seconds"] for r in runs), 3) if runs else None,
                    "jar_gets": median(r["repository"]["jar_gets"] for r in runs) if runs else None,
                    "jar_bytes": median(r["repository"]["jar_bytes"] for r in runs) if runs else None,
                    "requests": median(r["repository"]["requests"] for r in runs) if runs else None,
                    "bytes": median(r["repository"]["bytes"] for r in runs) if runs else None,
                    "tasks_executed_per_host": median(r["tasks"]["executed_per_host"]["max"] for r in runs
                                                      if r["tasks"]) if runs else None,
                    "module_runs_per_host": median(r["tasks"]["module_runs_per_host"]["max"] for r in runs
                                                   if r["tasks"]) if runs else None,
                    # run_once tasks make hosts differ: the table shows the busiest host, this the spread.
                    "tasks_executed_per_host_spread": next((r["tasks"]["executed_per_host"] for r in runs
                                                            if r["tasks"]), None),
                })
            per_side[side] = rows
        ratios = []
        if "baseline" in per_side and "role" in per_side:
            for base, role in zip(per_side["baseline"], per_side["role"]):
                ratio = None
                if base["seconds"] and role["seconds"] is not None:
                    ratio = round(role["seconds"] / base["seconds"], 3)
                ratios.append(ratio)
        figures[phase] = {"sides": per_side, "ratio_role_to_baseline": ratios}
    return figures


def at(rows, n):
    for row in rows:
        if row["n"] == n:
            return row
    return None


def targets(figures, raw, connectors, set_name):
    """The issue's targets for one jar set, each with the measured facts and whether it holds (None: not
    measured)."""
    out = []
    hosts = figures["hosts"]
    first_ratio = dict(zip(hosts, figures["first"]["ratio_role_to_baseline"]))
    rerun_ratio = dict(zip(hosts, figures["rerun"]["ratio_role_to_baseline"]))
    role_first = figures["first"]["sides"].get("role", [])

    ratio = first_ratio.get(TARGET_N)
    out.append({
        "target": "deploy wall time at N=%d, %s jars: role <= %.2fx baseline" % (TARGET_N, set_name, TARGET_RATIO),
        "value": ratio,
        "holds": None if ratio is None else ratio <= TARGET_RATIO,
        "facts": "ratio %s" % ("not measured" if ratio is None else "%.2f" % ratio),
    })

    # Checked run by run and jar by jar (not on medians): every valid role run counts.
    want = {"/" + c["rel"]: 1 for c in connectors}
    first_runs, rerun_runs = [], []
    for n, runs in sorted(raw.get("role", {}).items(), key=lambda item: int(item[0])):
        for run in runs:
            if run.get("first", {}).get("valid"):
                first_runs.append((int(n), run["first"]["repository"]))
            if run.get("rerun", {}).get("valid"):
                rerun_runs.append((int(n), run["rerun"]["repository"]))
    once = all(r["jar_gets_by_path"] == want for dummy, r in first_runs)
    none_on_rerun = all(r["jar_gets"] == 0 for dummy, r in rerun_runs)
    first_facts = ", ".join("N=%d: %d (per jar %s)" % (n, r["jar_gets"], "/".join(str(v) for v in r["jar_gets_by_path"].values())
                                                       or "none") for n, r in first_runs)
    rerun_facts = ", ".join("N=%d: %d" % (n, r["jar_gets"]) for n, r in rerun_runs)
    value = {"first": [{"n": n, "jar_gets_by_path": r["jar_gets_by_path"]} for n, r in first_runs],
             "rerun": [{"n": n, "jar_gets": r["jar_gets"]} for n, r in rerun_runs]}
    out.append({
        "target": "controller mode, %s jars: each jar body fetched exactly once per run whatever N (%d jars), "
                  "none on rerun" % (set_name, len(want)),
        "value": value,
        "holds": (once and none_on_rerun) if first_runs and rerun_runs else None,
        "facts": "jar-body GETs, first run: %s; rerun: %s" % (first_facts or "not measured", rerun_facts or "not measured"),
    })

    measured = {n: r for n, r in rerun_ratio.items() if r is not None}
    out.append({
        "target": "idempotent rerun, %s jars: role <= %.2fx baseline's rerun" % (set_name, TARGET_RERUN_RATIO),
        "value": measured,
        "holds": all(r <= TARGET_RERUN_RATIO for r in measured.values()) if measured else None,
        "at_n%d" % TARGET_N: measured.get(TARGET_N),
        "facts": ", ".join("N=%d: %.2f" % (n, r) for n, r in sorted(measured.items())) or "not measured",
    })

    r24, r48 = at(role_first, 24), at(role_first, 48)
    growth = None
    if r24 and r48 and r24["seconds"] and r48["seconds"] is not None:
        growth = round(r48["seconds"] / r24["seconds"], 3)
    base24, base48 = at(figures["first"]["sides"].get("baseline", []), 24), at(figures["first"]["sides"].get("baseline", []), 48)
    base_growth = None
    if base24 and base48 and base24["seconds"] and base48["seconds"] is not None:
        base_growth = round(base48["seconds"] / base24["seconds"], 3)
    out.append({
        "target": "N=24 -> N=48, %s jars, grows the role's deploy wall time no more than linearly (x <= 2.0)"
                  % set_name,
        "value": growth,
        "baseline_growth": base_growth,
        "holds": None if growth is None else growth <= 2.0,
        "facts": "role t48/t24 = %s; baseline t48/t24 = %s" % (
            "not measured" if growth is None else "%.2f" % growth,
            "not measured" if base_growth is None else "%.2f" % base_growth),
    })
    return out


def fmt(value, spec="%.2f", none="-"):
    return none if value is None else spec % value


def tasks_cell(row):
    """Tasks executed per host, with the module runs behind them when a loop makes them differ."""
    tasks, runs = row.get("tasks_executed_per_host"), row.get("module_runs_per_host")
    if tasks is None:
        return "-"
    return "%d" % tasks if runs in (None, tasks) else "%d(%d)" % (tasks, runs)


def print_deploy_table(result, set_name):
    figures = result["figures"]["deploy"][set_name]
    connectors = result["setup"]["jar_sets"][set_name]
    hosts = figures["hosts"]
    sides = figures["first"]["sides"]
    base = sides.get("baseline", [{}] * len(hosts))
    role = sides.get("role", [{}] * len(hosts))
    rbase = figures["rerun"]["sides"].get("baseline", [{}] * len(hosts))
    rrole = figures["rerun"]["sides"].get("role", [{}] * len(hosts))
    ratio = figures["first"]["ratio_role_to_baseline"] or [None] * len(hosts)
    rratio = figures["rerun"]["ratio_role_to_baseline"] or [None] * len(hosts)
    sizes = " + ".join("%s %s" % (c["file"], size_text(c["bytes"])) for c in connectors)
    print("")
    print("Deploy phase, %s jars (%s), --forks %d; seconds are wall time of ansible-playbook"
          % (set_name, sizes, result["setup"]["forks"]))
    head = ("%4s | %9s %9s %6s | %9s %9s %6s | %-15s %-17s | %-11s | %-11s"
            % ("N", "base s", "role s", "ratio", "rerun b", "rerun r", "ratio", "jar GETs b/r", "jar MB b/r",
               "rerun GETs", "tasks/host"))
    print(head)
    print("-" * len(head))
    for i, n in enumerate(hosts):
        b, r, rb, rr = base[i], role[i], rbase[i], rrole[i]
        print("%4d | %9s %9s %6s | %9s %9s %6s | %-15s %-17s | %-11s | %-11s" % (
            n, fmt(b.get("seconds")), fmt(r.get("seconds")), fmt(ratio[i]),
            fmt(rb.get("seconds")), fmt(rr.get("seconds")), fmt(rratio[i]),
            "%s/%s" % (fmt(b.get("jar_gets"), "%d"), fmt(r.get("jar_gets"), "%d")),
            "%s/%s" % (fmt(b.get("jar_bytes") and b["jar_bytes"] / MB, "%.1f"),
                       fmt(r.get("jar_bytes") and r["jar_bytes"] / MB, "%.1f")),
            "%s/%s" % (fmt(rb.get("jar_gets"), "%d"), fmt(rr.get("jar_gets"), "%d")),
            "%s/%s" % (tasks_cell(b), tasks_cell(r))))
    for side, rows in result["raw"][set_name].items():
        for n, runs in rows.items():
            for run in runs:
                for phase, data in run.items():
                    if not data["valid"]:
                        print("INVALID %s %s N=%s %s: %s" % (set_name, side, n, phase, "; ".join(data["problems"][:3])))


def size_text(size):
    return "%.1f MB" % (size / MB) if size >= MB else "%d KB" % round(size / 1024.0)


def print_table(result):
    print("")
    print("baseline = %s" % BASELINE_NOTE)
    print("role     = %s" % ROLE_NOTE)
    for set_name in result["setup"]["jar_sets"]:
        print_deploy_table(result, set_name)
    print("(b = baseline, r = role; '-' = not measured or run invalid; tasks/host = tasks executed per host in the "
          "first run, (module runs) when a loop differs, from the task_timing callback)")

    module = result["figures"].get("module")
    print("")
    if module is None:
        print("Module figures (bench/jar_bench.py): skipped (--skip-module-bench)")
    elif "error" in module or "skipped" in module:
        print("Module figures (bench/jar_bench.py): %s" % (module.get("error") or module.get("skipped")))
    else:
        rss, tput = module.get("peak_rss_mb", {}), module.get("throughput_mb_per_s", {})
        print("Module figures (bench/jar_bench.py): peak RSS %s MB (%d MB jar) vs %s MB (%d MB jar), delta %s MB; "
              "throughput %s MB/s vs get_url %s MB/s (ratio %s)" % (
                  rss.get("big_jar"), module.get("big_jar_bytes", 0) // MB, rss.get("small_jar"),
                  module.get("small_jar_bytes", 0) // MB, rss.get("delta"), tput.get("flink_connector_jar"),
                  tput.get("get_url"), tput.get("ratio_vs_get_url")))

    for key, what, name in (("role", "Full-role figures", "role_bench"), ("pipeline", "Pipeline figures", "pipeline_bench"),
                            ("restart", "Restart figures", "restart_bench")):
        figures = result["figures"].get(key)
        print("")
        if figures is None:
            print("%s (bench/%s.py): skipped (--skip-%s)" % (what, name, name.replace("_", "-")))
        elif "table" not in figures:
            print("%s (bench/%s.py): %s" % (what, name, figures.get("error") or figures.get("skipped")))
        else:
            for line in figures["table"]:
                print(line)

    print("")
    print("Targets (facts, not assertions):")
    for target in result["targets"]:
        verdict = {True: "HOLDS", False: "MISSED", None: "NOT MEASURED"}[target["holds"]]
        print("  %-12s %s: %s" % (verdict, target["target"], target["facts"]))


def plot(result, path):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    set_names = list(result["setup"]["jar_sets"])
    fig, all_axes = plt.subplots(len(set_names), 3, figsize=(16, 4.8 * len(set_names)), squeeze=False)
    styles = {"baseline": ("get_url playbook (baseline)", "tab:red", "o"),
              "role": ("flink_cdc role, deploy phase", "tab:blue", "s")}
    for axes, set_name in zip(all_axes, set_names):
        figures = result["figures"]["deploy"][set_name]
        hosts = figures["hosts"]
        panels = (
            (axes[0], "first", "seconds", 1.0, "%s jars: deploy wall time, first run (labels: role/baseline)", "seconds"),
            (axes[1], "rerun", "seconds", 1.0, "%s jars: idempotent rerun wall time (labels: role/baseline)", "seconds"),
            (axes[2], "first", "jar_bytes", float(MB), "%s jars: jar bytes served by the repository (first run)", "MB"),
        )
        for ax, phase, key, scale, title, unit in panels:
            for side, rows in figures[phase]["sides"].items():
                points = [(row["n"], row[key] / scale) for row in rows if row[key] is not None]
                if points:
                    label, color, marker = styles[side]
                    ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker, color=color, label=label)
            if key == "seconds" and "role" in figures[phase]["sides"]:
                for i, ratio in enumerate(figures[phase]["ratio_role_to_baseline"]):
                    role = figures[phase]["sides"]["role"][i]
                    if ratio is not None:
                        ax.annotate("%.2fx" % ratio, (hosts[i], role["seconds"]), textcoords="offset points",
                                    xytext=(0, -14), ha="center", fontsize=8, color="tab:blue")
            ax.set_title(title % set_name, fontsize=10)
            ax.set_xlabel("hosts (N), --forks %d" % result["setup"]["forks"])
            ax.set_ylabel(unit)
            ax.set_xticks(hosts)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle("cdcops.flink_cdc deploy benchmark: %s" % "; ".join(
        "%s jars %s" % (name, " + ".join(size_text(c["bytes"]) for c in result["setup"]["jar_sets"][name]))
        for name in set_names), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def environment():
    def git(*args):
        try:
            return subprocess.run(["git"] + list(args), cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    try:
        import ansible.release  # pylint: disable=import-outside-toplevel
        ansible_version = ansible.release.__version__
    except ImportError:
        ansible_version = None
    return {
        "ansible_core": ansible_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default=",".join(str(n) for n in DEFAULT_HOSTS),
                        help="comma-separated host counts (default %(default)s)")
    parser.add_argument("--forks", type=int, default=8)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out"), help="output directory (default bench/out)")
    parser.add_argument("--sides", default="baseline,role", help="which sides to run (default %(default)s)")
    # One run per point is noisy on a small VM (±20 %); the default reports the median of three.
    parser.add_argument("--repeat", type=int, default=3,
                        help="measured runs per side and N; medians are reported (default %(default)s)")
    parser.add_argument("--skip-module-bench", action="store_true", help="do not run bench/jar_bench.py")
    parser.add_argument("--skip-role-bench", action="store_true", help="do not run bench/role_bench.py")
    parser.add_argument("--skip-pipeline-bench", action="store_true", help="do not run bench/pipeline_bench.py")
    parser.add_argument("--skip-restart-bench", action="store_true", help="do not run bench/restart_bench.py")
    parser.add_argument("--jar-sets", default=",".join(JAR_SETS),
                        help="which jar sets to deploy: %s (default %%(default)s)" % ", ".join(JAR_SETS))
    parser.add_argument("--pipelining", action="store_true", help="enable SSH pipelining for both sides")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false", help="skip the untimed N=1 warm-up")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per ansible-playbook run")
    parser.add_argument("--work-dir", default=None, help="parent of the scratch directory (default: the system's)")
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    try:
        args.hosts = sorted({int(n) for n in args.hosts.split(",") if n.strip()})
    except ValueError:
        parser.error("--hosts takes comma-separated integers, e.g. 1,8")
    if not args.hosts or args.hosts[0] < 1 or args.hosts[-1] > 254:
        parser.error("--hosts must be between 1 and 254")
    args.sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    args.jar_sets = [s.strip() for s in args.jar_sets.split(",") if s.strip()]
    if not args.jar_sets or set(args.jar_sets) - set(JAR_SETS):
        parser.error("--jar-sets takes %s" % " and/or ".join(JAR_SETS))
    if not args.sides or set(args.sides) - {"baseline", "role"}:
        parser.error("--sides takes baseline and/or role")
    return args


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)
    started = time.time()
    try:
        bench.setup()
        for set_name, jars in bench.jar_sets.items():
            log("repository %s (private), %s jars: %s" % (bench.repo.url, set_name, ", ".join(
                "%s (%s)" % (c["file"], size_text(c["bytes"])) for c in jars)))
        if args.warm_up:
            log("warm-up (untimed)")
            bench.warm_up()
        raw = {set_name: {side: {str(n): [] for n in args.hosts} for side in args.sides} for set_name in args.jar_sets}
        for set_name in args.jar_sets:
            for i, n in enumerate(args.hosts):
                # Alternate which side goes first, so neither always runs on a warmer machine.
                order = list(args.sides) if i % 2 == 0 else list(reversed(args.sides))
                for repeat in range(args.repeat):
                    for side in order:
                        raw[set_name][side][str(n)].append(bench.measure(set_name, side, n, repeat))
        module = None if args.skip_module_bench else bench.module_bench()
        role = None if args.skip_role_bench else bench.role_bench()
        pipeline = None if args.skip_pipeline_bench else bench.sub_bench("pipeline_bench", "pipeline figures", [], None)
        restart = None if args.skip_restart_bench else bench.sub_bench("restart_bench", "restart figures", [], None)
    finally:
        bench.cleanup()

    figures = {"deploy": {set_name: summarize(raw[set_name], args.hosts, args.sides, args.repeat)
                          for set_name in args.jar_sets},
               "module": module,
               "role": role,
               "pipeline": pipeline,
               "restart": restart}
    jar_fields = ("name", "group_id", "artifact_id", "version", "file", "bytes", "sha1")
    result = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_seconds": round(time.time() - started, 1),
        "environment": environment(),
        "setup": {
            "forks": args.forks,
            "hosts": args.hosts,
            "repeat": args.repeat,
            "pipelining": args.pipelining,
            "jar_sets": {set_name: [{k: c[k] for k in jar_fields} for c in jars]
                         for set_name, jars in bench.jar_sets.items()},
            "sides": {"baseline": BASELINE_NOTE, "role": ROLE_NOTE},
            "playbooks": {"%s-%s" % key: "runs/%s-%s-%s.yml" % (key + ("group_vars" if side.target else "playbook",))
                          for key, (side, dummy) in bench.sides.items()},
            "measure": "wall time of the ansible-playbook process (start-up included); repository figures from "
                       "its JSON-lines request log between the run's start and end; tasks from the "
                       "cdcops.flink_cdc.task_timing callback",
        },
        "figures": figures,
        "targets": [target for set_name in args.jar_sets
                    for target in targets(figures["deploy"][set_name], raw[set_name], bench.jar_sets[set_name],
                                          set_name)] + ((role or {}).get("targets") or [])
        + ((pipeline or {}).get("targets") or []) + ((restart or {}).get("targets") or []),
        "raw": raw,
    }
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(os.path.abspath(args.out), "bench.json")
    png_path = os.path.join(os.path.abspath(args.out), "bench.png")
    plot(result, png_path)
    result["plot"] = os.path.basename(png_path)
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print_table(result)
    print("")
    print("figures: %s" % json_path)
    print("plot:    %s" % png_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
