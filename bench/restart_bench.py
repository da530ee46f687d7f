"""Benchmark: the role's rolling restart on real TaskManagers, one at a time against in batches.

Usage (from the repository root, with the project venv; bench/bench.py runs it after the pipeline figures):

    .venv/bin/python bench/restart_bench.py OUT.json [--taskmanagers auto|N] [--repeat 2] [--batches 1,25%,100%]

On a PRIVATE bed with N real TaskManagers of Flink 1.20.3 (at least 8; memory lowered, the bed, inventory and
settings of bench/role_bench.py), each run is what a connector change costs users: ``ansible-playbook
cdcops.flink_cdc.deploy --tags flink_cdc_deploy,flink_cdc_restart`` with the postgres-cdc jar pinned, every TaskManager's lib/ put back
as the bed made it before the run, so that the deploy changes every TaskManager and the restart phase restarts them
all (``flink_cdc_restart: rolling``, each TaskManager's own ``bin/taskmanager.sh stop && start``,
``flink_cdc_deploy_to_jobmanager: false``, so only TaskManagers restart). One run per ``flink_cdc_restart_batch`` of
--batches, in turn, --repeat times (the order alternates). A run counts when it exits 0 and every TaskManager
registered again under a new ID.

Figures: the restart phase's time (the sum of the "Restart |" tasks of the cdcops.flink_cdc.task_timing file),
the time per TaskManager, the run's wall time, and the ratio of each batched restart to the one-at-a-time restart
(median of the runs). Target: the default batch (25%) at <= 0.35x the one-at-a-time restart.

Writes OUT.json (key ``restart_bench``) and each run's output and timing under ``<OUT dir>/restart_runs/``.
A benchmark: a missed target is printed; the exit status is 0 unless it could not run.
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import role_bench  # noqa: E402  pylint: disable=wrong-import-position
from bench_common import first_error, logger, median  # noqa: E402  pylint: disable=wrong-import-position

log = logger("restart-bench")
MIN_TASKMANAGERS = 8
DEFAULT_BATCH = "25%"
TARGET_RATIO = 0.35


class RestartBench(role_bench.RoleBench):
    def __init__(self, args):
        super().__init__(args)
        self.runs_dir = os.path.join(os.path.dirname(self.out_json), "restart_runs")
        self.bed_log = os.path.join(self.runs_dir, "bed.log")

    def registered(self):
        with urllib.request.urlopen(self.state["rest_url"] + "/taskmanagers", timeout=5) as resp:
            return {tm["id"] for tm in json.load(resp)["taskmanagers"]}

    def restart_run(self, batch, label):
        side = self.sides["role"]
        timing_file = os.path.join(self.runs_dir, label + ".timing.json")
        log_file = os.path.join(self.runs_dir, label + ".log")
        run_dir = os.path.join(self.work, "run-" + label)
        os.makedirs(run_dir, exist_ok=True)
        extra = {
            "flink_cdc_controller_cache_dir": os.path.join(run_dir, "controller-cache"),
            "flink_cdc_report_dir": os.path.join(run_dir, "report"),
            "flink_cdc_connectors": [{k: j[k] for k in ("group_id", "artifact_id", "version")} for j in self.jars],
            "flink_cdc_restart": "rolling",
            "flink_cdc_restart_batch": batch,
            "flink_cdc_deploy_to_jobmanager": False,
            "flink_cdc_taskmanager_restart_command":
                "{{ flink_cdc_flink_home }}/bin/taskmanager.sh stop && {{ flink_cdc_flink_home }}/bin/taskmanager.sh start",
        }
        cmd = [os.path.join(role_bench.VENV_BIN, "ansible-playbook"), side["playbook"], "-i", side["inventory"],
               "--forks", str(self.args.forks), "-e", "@" + side["vars_file"], "-e", json.dumps(extra),
               "--tags", "flink_cdc_deploy,flink_cdc_restart"]
        self.reset_libs()
        before = self.registered()
        proc, wall = self.play(cmd, log_file, timing_file, run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
        problems = []
        if proc.returncode:
            problems.append("ansible-playbook exited %d (see %s): %s" % (proc.returncode, log_file, first_error(log_file)))
        after = self.registered()
        if len(after) != len(self.tms) or after & before:
            problems.append("%d of %d TaskManagers registered under a new ID" % (len(after - before), len(self.tms)))
        restart_s = None
        try:
            with open(timing_file) as f:
                timing = json.load(f)
            phases = role_bench.task_phases(timing["tasks"])
            restart_s = round(sum(t["seconds"] for t, p in zip(timing["tasks"], phases) if p == "restart"), 2)
        except (OSError, ValueError, KeyError):
            problems.append("no task_timing file")
        return {"batch": batch, "label": label, "rc": proc.returncode, "wall_s": round(wall, 2),
                "restart_s": restart_s, "valid": not problems, "problems": problems}


def summarize(runs, batches, n):
    out = {}
    for batch in batches:
        valid = [r for r in runs if r["batch"] == batch and r["valid"]]
        restart = median([r["restart_s"] for r in valid]) if valid else None
        out[batch] = {"runs": len(valid), "restart_s": restart, "wall_s": median([r["wall_s"] for r in valid]) if valid else None,
                      "per_taskmanager_s": round(restart / n, 2) if restart else None}
    base = out.get("1", {}).get("restart_s")
    for batch, fig in out.items():
        fig["ratio"] = round(fig["restart_s"] / base, 3) if base and fig["restart_s"] else None
    return out


def table(body):
    n = body["taskmanagers"]
    lines = ["Restart figures (bench/restart_bench.py, Flink %s, %d TaskManagers, medians of %d run(s)):" % (
        body["flink_version"], n, body["repeat"]),
        "  %-28s %14s %18s %12s %10s" % (
            "flink_cdc_restart_batch", "restart phase s", "per TaskManager s", "run wall s", "x one by one")]
    for batch, fig in body["batches"].items():
        lines.append("  %-28s %14s %18s %12s %10s" % (
            batch + (" (one at a time)" if batch == "1" else " (default)" if batch == DEFAULT_BATCH else ""),
            fig["restart_s"], fig["per_taskmanager_s"], fig["wall_s"], fig["ratio"]))
    for target in body["targets"]:
        lines.append("  target %s: %s (%s)" % (target["target"], "HOLDS" if target["holds"] else "MISSED", target["value"]))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the JSON file to write (key restart_bench)")
    parser.add_argument("--taskmanagers", default=os.environ.get("CDCOPS_ROLE_BENCH_TASKMANAGERS") or "auto",
                        help="number of TaskManagers (at least %d), or auto: as many as the machine holds" % MIN_TASKMANAGERS)
    parser.add_argument("--repeat", type=int, default=2, help="runs per batch setting (default %(default)s)")
    parser.add_argument("--batches", default="1,%s,100%%" % DEFAULT_BATCH,
                        help="flink_cdc_restart_batch values, comma separated; 1 first (default %(default)s)")
    parser.add_argument("--forks", type=int, default=8)
    parser.add_argument("--keep-bed", action="store_true")
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args(argv)
    args.pipelining, args.starrocks_stand_ins = False, False
    batches = [b.strip() for b in args.batches.split(",") if b.strip()]
    if batches[:1] != ["1"]:
        parser.error("--batches must start with 1 (the one-at-a-time restart the others are compared with)")
    out_json = os.path.abspath(args.out)
    try:
        n, how = role_bench.choose_n(args.taskmanagers)
        if n < MIN_TASKMANAGERS:
            raise SystemExit("[restart-bench] %s: the benchmark needs at least %d TaskManagers" % (how, MIN_TASKMANAGERS))
    except SystemExit as exc:
        role_bench.write(out_json, {"restart_bench": {"error": str(exc)}})
        print(exc)
        return 2
    bench = RestartBench(args)
    shutil.rmtree(bench.runs_dir, ignore_errors=True)
    os.makedirs(bench.runs_dir)
    started = time.time()
    runs = []
    try:
        bench.bed_up(n)
        bench.setup()
        log("%s; %d TaskManagers; batches %s" % (how, n, ", ".join(batches)))
        for repeat in range(args.repeat):
            for batch in (batches if repeat % 2 == 0 else list(reversed(batches))):
                result = bench.restart_run(batch, "batch-%s-r%d" % (batch.replace("%", "pct"), repeat))
                runs.append(result)
                log("  batch %-5s r%d restart phase %6ss, run %6.2fs%s" % (
                    batch, repeat, result["restart_s"], result["wall_s"],
                    "" if result["valid"] else "  INVALID: " + result["problems"][0]))
        bench.reset_libs()
    finally:
        bench.bed_down()
        bench.cleanup()
    figures = summarize(runs, batches, n)
    default = figures.get(DEFAULT_BATCH, {})
    body = {"generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "duration_seconds": round(time.time() - started, 1), "flink_version": bench.state["flink_version"],
            "taskmanagers": n, "how": how, "repeat": args.repeat, "batches": figures, "runs": runs,
            "targets": [{"target": "batched restart (%s) <= %.2fx the one-at-a-time restart at N=%d" % (
                DEFAULT_BATCH, TARGET_RATIO, n), "value": default.get("ratio"),
                "facts": "restart phase %s s batched, %s s one at a time" % (
                    default.get("restart_s"), figures.get("1", {}).get("restart_s")),
                "holds": default.get("ratio") is not None and default["ratio"] <= TARGET_RATIO}]}
    body["table"] = table(body)
    role_bench.write(out_json, {"restart_bench": body})
    print("\n".join(body["table"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
