# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What a long-running Flink SQL job is, as ``flink_job`` declares it (private to this collection).

* the spec: the SQL (with its ``${name}`` placeholders, never their values) and the user's ``SET`` options;
  its fingerprint is what decides "unchanged" or "upgrade", as the Flink Kubernetes Operator compares the
  last applied spec with the new one (apache/flink-kubernetes-operator ``ReconciliationUtils``,
  ``SpecDiff``): how to upgrade (upgrade mode, allowNonRestoredState) is not part of it.
* the settings the module puts in front of the SQL: the job's name, its fixed job ID, the fingerprint as a
  global job parameter (so the cluster itself says which spec a job runs), checkpoint retention, and the
  state-recovery keys, whose names depend on the Flink version.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t
import uuid

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.sql_job import set_statements
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import flink_at_least

# The global job parameter that carries the spec's fingerprint; ``/jobs/:jobid/config`` shows it under
# ``execution-config.user-config`` (seen on Flink 1.20.3).
FINGERPRINT_PARAMETER = "cdcops.flink_job.spec"
GLOBAL_JOB_PARAMETERS = "pipeline.global-job-parameters"
# The job ID a submission uses (apache/flink ``PipelineOptionsInternal.PIPELINE_FIXED_JOB_ID``, read by
# ``PipelineExecutorUtils.getJobGraph``; the operator submits session jobs the same way). Chosen and recorded
# before the SQL client runs, a retry finds the job it already submitted instead of starting a second one.
FIXED_JOB_ID = "$internal.pipeline.job-id"
# Keep the last checkpoint when a job is cancelled, so upgrade_mode last-state can restore it (apache/flink
# ``CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION``, the same key in 1.17 - 2.x).
CHECKPOINT_RETENTION = "execution.checkpointing.externalized-checkpoint-retention"

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def recovery_keys(flink_version: str) -> t.Tuple[str, str]:
    """(path key, ignore-unclaimed-state key) of the Flink version.

    Flink 1.20 renamed ``execution.savepoint.path`` and ``execution.savepoint.ignore-unclaimed-state`` to
    ``execution.state-recovery.*`` (apache/flink ``StateRecoveryOptions.java``, release notes 1.20); 2.x keeps
    the old names only as deprecated aliases.
    """
    if flink_at_least(flink_version, "1.20"):
        return "execution.state-recovery.path", "execution.state-recovery.ignore-unclaimed-state"
    return "execution.savepoint.path", "execution.savepoint.ignore-unclaimed-state"


def owned_keys(flink_version: str) -> t.Tuple[str, ...]:
    """Keys the module sets itself; a user's ``settings`` may not set them."""
    return ("pipeline.name", FIXED_JOB_ID) + recovery_keys(flink_version)


def normalize_sql(sql: str) -> str:
    """The SQL as it counts for the fingerprint: trailing blanks, blank lines and a final ``;`` do not."""
    lines = [line.rstrip() for line in (sql or "").strip().splitlines()]
    text = "\n".join(line for line in lines if line)
    return text[:-1].rstrip() if text.endswith(";") else text


def spec(sql: str, settings: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The declared spec: what makes two runs the same job."""
    return {"sql": normalize_sql(sql), "settings": {str(k): str(v) for k, v in sorted((settings or {}).items())}}


def fingerprint(job_spec: t.Mapping[str, t.Any]) -> str:
    """A short, stable digest of a spec (16 hex digits of SHA-256 over its canonical JSON)."""
    canonical = json.dumps(job_spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def new_job_id() -> str:
    return uuid.uuid4().hex


def new_trigger_id() -> str:
    return uuid.uuid4().hex


def is_job_id(value: t.Any) -> bool:
    return isinstance(value, str) and bool(_JOB_ID.match(value))


def submit_settings(flink_version: str, name: str, job_id: str, job_spec: t.Mapping[str, t.Any],
                    restore_path: t.Optional[str] = None, allow_non_restored_state: bool = False
                    ) -> t.Dict[str, str]:
    """Every ``SET`` of one submission, in order: the module's defaults, the user's settings, then what the
    module owns (name, job ID, fingerprint, restore path)."""
    out = {CHECKPOINT_RETENTION: "RETAIN_ON_CANCELLATION"}
    out.update(job_spec["settings"])
    marker = "%s:%s" % (FINGERPRINT_PARAMETER, fingerprint(job_spec))
    user_parameters = out.get(GLOBAL_JOB_PARAMETERS)
    out[GLOBAL_JOB_PARAMETERS] = "%s,%s" % (user_parameters, marker) if user_parameters else marker
    out["pipeline.name"] = name
    out[FIXED_JOB_ID] = job_id
    if restore_path:
        path_key, ignore_key = recovery_keys(flink_version)
        out[path_key] = restore_path
        out[ignore_key] = "true" if allow_non_restored_state else "false"
    return out


def settings_problem(flink_version: str, settings: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """Why ``settings`` cannot be used, or None."""
    taken = [key for key in owned_keys(flink_version) if key in (settings or {})]
    old_or_new = [key for key in ("execution.savepoint.path", "execution.state-recovery.path")
                  if key in (settings or {}) and key not in taken]
    taken += old_or_new
    if not taken:
        return None
    return ("settings may not set %s: flink_job sets the job's name from name, its job ID itself and the "
            "restore path from the savepoint or checkpoint it restores (allow_non_restored_state for what "
            "the new SQL cannot map)" % ", ".join(sorted(taken)))


def spec_fingerprint_of(job_config: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """The fingerprint a running job carries (``/jobs/:jobid/config``), or None for a job flink_job did not
    start."""
    user = (job_config.get("execution-config") or {}).get("user-config") or {}
    value = user.get(FINGERPRINT_PARAMETER)
    return str(value) if value else None


def spec_text(job_spec: t.Optional[t.Mapping[str, t.Any]]) -> str:
    """A spec as the user reads it in a diff: its ``SET`` options, then its SQL."""
    if not job_spec:
        return ""
    lines = set_statements(dict(sorted((job_spec.get("settings") or {}).items())))
    sql = job_spec.get("sql") or ""
    return "\n".join(lines + ([sql + ";"] if sql else [])) + "\n"


def same_location(a: t.Optional[str], b: t.Optional[str]) -> bool:
    """Whether two savepoint or checkpoint locations name the same place (``file:///x`` is ``file:/x``; a
    trailing slash or ``/_metadata`` does not count)."""
    def norm(path: t.Optional[str]) -> str:
        path = (path or "").strip().rstrip("/")
        if path.endswith("/_metadata"):
            path = path[: -len("/_metadata")]
        if path.startswith("file:"):
            path = "file:/" + path[len("file:"):].lstrip("/")
        elif path.startswith("/"):
            path = "file:" + path
        return path
    return bool(a) and bool(b) and norm(a) == norm(b)


def local_path(location: str) -> t.Optional[str]:
    """The local file system path of a ``file:`` location (or a bare absolute path), else None."""
    if location.startswith("file:"):
        return "/" + location[len("file:"):].lstrip("/")
    if location.startswith("/"):
        return location
    return None
