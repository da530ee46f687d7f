"""What bench/bench.py, bench/role_bench.py and bench/pipeline_bench.py share: their log line, medians, why an
ansible-playbook run failed, the environment of a timed ansible-playbook run, and free ports for a private bed. Checksums come from tests/bed/jars.py
(``sha_hex``), as everywhere in the bed."""

import os
import socket
import statistics
import sys


def logger(prefix):
    """A ``log(msg)`` that writes ``[prefix] msg`` to stdout at once."""
    def log(msg):
        sys.stdout.write("[%s] %s\n" % (prefix, msg))
        sys.stdout.flush()
    return log


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def first_error(path):
    """The first failure line of an ansible-playbook output, to say why a run is invalid."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(("fatal:", "ERROR", "[ERROR]", "failed:")):
                    return line.strip()[:400]
    except OSError:
        pass
    return "no failure line found"


def playbook_env(ansible_cfg, collections, venv_bin, timing_file):
    """The environment of a timed ansible-playbook run: the bench's ansible.cfg, this checkout's collection, no
    colour, and the task_timing callback's output file."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": ansible_cfg,
        "ANSIBLE_COLLECTIONS_PATH": collections,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "CDCOPS_TASK_TIMING_FILE": timing_file,
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
    })
    return env


def free_ports(count):
    """``count`` distinct free loopback ports (all bound at once, then released)."""
    socks = []
    try:
        for dummy in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
