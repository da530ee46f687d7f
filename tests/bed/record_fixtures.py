"""Record REST responses from the running bed into tests/unit/fixtures/flink/.

Unit tests replay these bodies; they come from a real Flink 1.20.3 JobManager
with two TaskManagers and one running job. Run with the bed up:
``.venv/bin/python tests/bed/record_fixtures.py``.

``record_fixtures.py job <job id> <name>`` records one ended job for the
flink_sql_job unit tests (``fixtures/sql_job/<name>.json``): its
``/jobs/:jobid``, each vertex's ``/taskmanagers`` and ``/exceptions``, with
the bed's passwords masked.
"""

import json
import os
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bed  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "unit", "fixtures", "flink")
ENDPOINTS = ("/overview", "/taskmanagers", "/jobs/overview", "/config", "/jobmanager/config")


def fetch(path):
    url = "http://127.0.0.1:%d%s" % (bed.PORTS["rest"], path)
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read().decode()


def record_job(job_id, name):
    secrets = [bed.pg_password()] + [v["password"] for v in [bed.state()["postgres"]["logical"]["demo"]]]
    job = json.loads(fetch("/jobs/%s" % job_id)[2])
    data = {"job": job, "exceptions": json.loads(fetch("/jobs/%s/exceptions" % job_id)[2]),
            "vertex_taskmanagers": {v["id"]: json.loads(fetch("/jobs/%s/vertices/%s/taskmanagers" % (
                job_id, v["id"]))[2]).get("taskmanagers", []) for v in job.get("vertices", [])}}
    text = json.dumps(data, indent=1, sort_keys=True)
    for secret in secrets:
        text = text.replace(secret, "REDACTED-PW")
    path = os.path.join(os.path.dirname(OUT), "sql_job", "%s.json" % name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text + "\n")
    print("recorded job %s -> %s" % (job_id, path))


def main():
    if sys.argv[1:2] == ["job"]:
        return record_job(sys.argv[2], sys.argv[3])
    os.makedirs(OUT, exist_ok=True)
    bed.job_start("cdcops-fixture-job")
    try:
        for path in ENDPOINTS + ("/no-such-endpoint",):
            status, ctype, body = fetch(path)
            name = "flink-%s%s.json" % (bed.FLINK_VERSION, path.replace("/", "_"))
            with open(os.path.join(OUT, name), "w") as f:
                json.dump({"path": path, "status": status, "content_type": ctype,
                           "body": json.loads(body)}, f, indent=1, sort_keys=True)
                f.write("\n")
            print("recorded %s -> %s" % (path, name))
    finally:
        bed.jobs_cancel()


if __name__ == "__main__":
    main()
