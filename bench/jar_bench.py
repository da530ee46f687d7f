"""Jar figures for the benchmark: flink_connector_jar's peak memory and download speed.

Usage (from the repository root, with the project venv):

    .venv/bin/python bench/jar_bench.py OUT.json [--big-mb 200] [--small-mb 1] [--runs 3] [--strict]

What it measures, all in one run against one loopback Maven repository
(tests/bed/maven_repo.py serving real jars built by tests/bed/jars.py):

* Peak RSS of the module process installing a ``--big-mb`` jar versus a
  ``--small-mb`` jar. Target: the big one needs at most 32 MB more.
* Download throughput of the module versus ``ansible.builtin.get_url`` for
  the big jar. Target: at least 0.8x get_url.

How: each module is run as users run it (``ansible localhost -m ...``) with
``ansible_python_interpreter`` pointing at a small wrapper that starts the
real interpreter as its only child, waits for it, and records the child's
wall time and ``ru_maxrss`` (RUSAGE_CHILDREN). AnsiballZ runs the module
inside that process, so these are the module process's own figures, free of
the controller's start-up time. Every run starts from an empty dest, so every
run downloads; each result is checked (file present, right size) before its
figures count. Medians over ``--runs`` runs are reported.

Writes the figures as JSON to OUT.json and prints a short table. Exits 0
unless ``--strict`` is given and a target is missed.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "bed"))

import jars  # noqa: E402
import maven_repo  # noqa: E402

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
COLLECTIONS = os.path.join(os.path.dirname(VENV_BIN), "collections")
MB = 1024 * 1024
RSS_DELTA_MAX_MB = 32
MIN_RATIO = 0.8

WRAPPER = """#!{python}
# Runs the real interpreter as the only child and records its peak RSS and wall time.
import json, resource, subprocess, sys, time
start = time.monotonic()
rc = subprocess.call([{real!r}] + sys.argv[1:])
seconds = time.monotonic() - start
with open({log!r}, "a") as log:
    log.write(json.dumps({{"maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                          "seconds": seconds, "rc": rc}}) + "\\n")
sys.exit(rc)
"""


class Repo:
    def __init__(self, work):
        self.root = os.path.join(work, "repo")
        os.makedirs(self.root)
        self.proc, self.port = maven_repo.start_server(self.root, os.path.join(work, "requests.log"))
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Runner:
    def __init__(self, work):
        self.work = work
        self.log = os.path.join(work, "module-runs.jsonl")
        self.wrapper = os.path.join(work, "python-measured")
        with open(self.wrapper, "w") as f:
            f.write(WRAPPER.format(python=sys.executable, real=sys.executable, log=self.log))
        os.chmod(self.wrapper, 0o755)

    def run(self, module, args):
        """Run one module; return the wrapper's record of its process."""
        before = self._records()
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_PYTHON_INTERPRETER=self.wrapper,
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.work, "ansible-local"), ANSIBLE_NOCOLOR="1",
                   PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                               "-m", module, "-a", json.dumps(args)],
                              env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
                              check=False)
        records = self._records()[len(before):]
        if proc.returncode != 0 or len(records) != 1 or records[0]["rc"] != 0:
            raise RuntimeError("%s failed (rc %s):\n%s" % (module, proc.returncode, (proc.stdout + proc.stderr)[-3000:]))
        return records[0]

    def _records(self):
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []


def fresh_dir(work, name):
    path = os.path.join(work, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def measure(runner, work, module, make_args, expect_name, expect_size, runs):
    samples = []
    for i in range(runs):
        dest = fresh_dir(work, "dest")
        record = runner.run(module, make_args(dest))
        path = os.path.join(dest, expect_name)
        if os.path.getsize(path) != expect_size:
            raise RuntimeError("%s wrote %d bytes, expected %d" % (module, os.path.getsize(path), expect_size))
        samples.append(record)
    shutil.rmtree(os.path.join(work, "dest"), ignore_errors=True)
    return {
        "rss_mb": round(statistics.median(s["maxrss_kb"] for s in samples) / 1024.0, 1),
        "seconds": round(statistics.median(s["seconds"] for s in samples), 3),
        "samples": samples,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="where to write the JSON figures")
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--small-mb", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="cdcops-jar-bench-")
    repo = None
    try:
        repo = Repo(work)
        small_rel = jars.publish_postgres_cdc(repo.root, "3.1.0", size=args.small_mb * MB)
        big_rel = jars.publish_postgres_cdc(repo.root, "3.2.0", size=args.big_mb * MB)
        small_size = os.path.getsize(os.path.join(repo.root, small_rel))
        big_size = os.path.getsize(os.path.join(repo.root, big_rel))
        big_sha1 = jars.sha_hex(os.path.join(repo.root, big_rel), "sha1")
        runner = Runner(work)

        def module_args(version):
            return lambda dest: dict(repository_url=repo.url, group_id="org.apache.flink",
                                     artifact_id="flink-sql-connector-postgres-cdc", version=version, dest=dest)

        name = os.path.basename
        small = measure(runner, work, "cdcops.flink_cdc.flink_connector_jar", module_args("3.1.0"),
                        name(small_rel), small_size, args.runs)
        big = measure(runner, work, "cdcops.flink_cdc.flink_connector_jar", module_args("3.2.0"),
                      name(big_rel), big_size, args.runs)
        get_url = measure(runner, work, "ansible.builtin.get_url",
                          lambda dest: dict(url="%s/%s" % (repo.url, big_rel), dest=os.path.join(dest, name(big_rel))),
                          name(big_rel), big_size, args.runs)
        get_url_sum = measure(runner, work, "ansible.builtin.get_url",
                              lambda dest: dict(url="%s/%s" % (repo.url, big_rel), checksum="sha1:" + big_sha1,
                                                dest=os.path.join(dest, name(big_rel))),
                              name(big_rel), big_size, args.runs)
    finally:
        if repo is not None:
            repo.stop()
        shutil.rmtree(work, ignore_errors=True)

    def mbps(m):
        return round(big_size / MB / m["seconds"], 1)

    delta = round(big["rss_mb"] - small["rss_mb"], 1)
    ratio = round(mbps(big) / mbps(get_url), 2)
    ratio_sum = round(mbps(big) / mbps(get_url_sum), 2)
    figures = {
        "jar_bench": {
            "runs": args.runs,
            "small_jar_bytes": small_size,
            "big_jar_bytes": big_size,
            "peak_rss_mb": {"small_jar": small["rss_mb"], "big_jar": big["rss_mb"], "delta": delta,
                            "target_delta_max": RSS_DELTA_MAX_MB, "ok": delta <= RSS_DELTA_MAX_MB},
            "throughput_mb_per_s": {
                "flink_connector_jar": mbps(big),
                "get_url": mbps(get_url),
                "get_url_with_checksum": mbps(get_url_sum),
                "ratio_vs_get_url": ratio,
                "ratio_vs_get_url_with_checksum": ratio_sum,
                "target_min_ratio": MIN_RATIO,
                "ok": ratio >= MIN_RATIO,
            },
            "module_seconds": {"flink_connector_jar_big": big["seconds"], "flink_connector_jar_small": small["seconds"],
                               "get_url": get_url["seconds"], "get_url_with_checksum": get_url_sum["seconds"]},
            "get_url_peak_rss_mb": get_url["rss_mb"],
            "how": "module process measured through an interpreter wrapper (ru_maxrss of its only child, wall "
                   "time of the child); medians; empty dest each run; loopback tests/bed/maven_repo.py",
        }
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(figures, f, indent=2)
        f.write("\n")

    j = figures["jar_bench"]
    rows = [
        ("peak RSS, %d MB jar" % args.small_mb, "%.1f MB" % small["rss_mb"], ""),
        ("peak RSS, %d MB jar" % args.big_mb, "%.1f MB" % big["rss_mb"],
         "delta %+.1f MB (target <= +%d) %s" % (delta, RSS_DELTA_MAX_MB, "OK" if j["peak_rss_mb"]["ok"] else "MISSED")),
        ("flink_connector_jar", "%.1f MB/s" % mbps(big), "%.2fs, sidecar + sha1/sha256 + CRC check + fsync" % big["seconds"]),
        ("get_url", "%.1f MB/s" % mbps(get_url), "%.2fs" % get_url["seconds"]),
        ("get_url checksum=sha1", "%.1f MB/s" % mbps(get_url_sum), "%.2fs" % get_url_sum["seconds"]),
        ("ratio vs get_url", "%.2fx" % ratio,
         "target >= %.1fx %s" % (MIN_RATIO, "OK" if j["throughput_mb_per_s"]["ok"] else "MISSED")),
    ]
    width = max(len(r[0]) for r in rows)
    print("flink_connector_jar benchmark (median of %d runs each)" % args.runs)
    for label, value, note in rows:
        print("  %-*s  %12s  %s" % (width, label, value, note))
    print("figures written to %s" % args.out)
    missed = not (j["peak_rss_mb"]["ok"] and j["throughput_mb_per_s"]["ok"])
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
