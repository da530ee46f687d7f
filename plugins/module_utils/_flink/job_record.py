# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The durable record of one ``flink_job`` job, on the host where the module runs (private to this collection).

A standalone JobManager forgets finished jobs after ``jobstore.expiration-time`` and on every restart
(apache/flink ``JobManagerOptions.JOB_STORE_EXPIRATION_TIME``), so what must outlive a job, the savepoint it
was stopped with above all, is kept here, as the Flink Kubernetes Operator keeps it in the resource's status
(apache/flink-kubernetes-operator ``JobStatus.savepointInfo``, ``ReconciliationStatus.lastReconciledSpec``).

Before the module stops or submits anything it writes what it is about to do (``pending``: the trigger ID of
the savepoint, the job ID of the submission), so a run that dies half-way is resumed by the next one instead
of taking a second savepoint or starting a second job. The record holds the SQL with its ``${name}``
placeholders, never a secret. Each write is atomic (a temporary file, fsync, rename), mode 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import time
import typing as t

RECORD_VERSION = 1
# Savepoints kept in the record's history, newest first (the operator keeps 10 by default:
# ``kubernetes.operator.savepoint.history.max.count``).
HISTORY = 10

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class RecordError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def record_path(record_dir: str, name: str) -> str:
    """``<record_dir>/<name>.json``; a name with other characters than letters, digits, ``.``, ``_`` and ``-``
    is spelled with ``_`` there and keeps its real name inside."""
    safe = _UNSAFE.sub("_", name).lstrip(".") or "_"
    return os.path.join(record_dir, safe + ".json")


def read(path: str, name: str) -> t.Optional[t.Dict[str, t.Any]]:
    """The record, or None when there is none. A record of another job name (two names spelled alike) or
    one that cannot be read is an error that names the file."""
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RecordError("cannot read the flink_job record %s: %s. Move it away only if no job of this name "
                          "runs or is suspended: it holds the last savepoint" % (path, exc))
    if not isinstance(data, dict) or data.get("name") != name:
        owner = data.get("name") if isinstance(data, dict) else None
        raise RecordError("the flink_job record %s belongs to the job %r, not %r: give the jobs names that differ "
                          "in more than punctuation" % (path, owner, name))
    return data


def new(name: str) -> t.Dict[str, t.Any]:
    return {"version": RECORD_VERSION, "name": name, "state": None, "job_id": None, "spec": None,
            "fingerprint": None, "savepoint": None, "restored_from": None, "pending": None, "history": []}


def write(path: str, record: t.Mapping[str, t.Any]) -> None:
    """Replace the record atomically (the directory is made, mode 0700, when missing)."""
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        data = dict(record)
        data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise RecordError("cannot write the flink_job record %s: %s. Set record_dir to a directory this user "
                          "can write on this host" % (path, exc.strerror or exc))


def remove(path: str) -> bool:
    """Remove the record and its lock file; whether there was a record."""
    try:
        os.unlink(path)
        existed = True
    except FileNotFoundError:
        existed = False
    except OSError as exc:
        raise RecordError("cannot remove the flink_job record %s: %s" % (path, exc.strerror or exc))
    with contextlib.suppress(OSError):
        os.unlink(path + ".lock")
    return existed


def add_savepoint(record: t.Dict[str, t.Any], location: str) -> None:
    """``location`` becomes the record's savepoint, first in its bounded history."""
    record["savepoint"] = location
    history = [p for p in record.get("history") or [] if p != location]
    record["history"] = ([location] + history)[:HISTORY]


@contextlib.contextmanager
def locked(path: str, timeout: float = 60.0) -> t.Iterator[None]:
    """One run at a time per job on this host: an exclusive lock on ``<record>.lock``."""
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as exc:
        raise RecordError("cannot create the flink_job lock %s.lock: %s. Set record_dir to a directory this "
                          "user can write on this host" % (path, exc.strerror or exc))
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise RecordError("another flink_job run holds %s.lock for more than %d s: wait for it to "
                                      "end" % (path, timeout))
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)
