# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""``ensure_jars``: several jars brought into (or out of) one ``dest`` under the caller's ``dest_lock``, with one
scan and one plan, every jar verified before any is renamed into place; and the module's answer built from it,
``rerun_record`` included (what a rerun would answer, for the action plugin's replay)."""

from __future__ import annotations

import os
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import (
    Checksum,
    Digests,
    file_digests,
    matches,
    remember_installed,
    verify_checksum,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.dest_state import dest_state
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.download import (
    Download,
    adopt_pushed,
    copy_to,
    download,
    fetch_sidecar,
    read_adopted,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.install import (
    apply_attributes,
    attributes_differ,
    check_dest,
    discard,
    install_temps,
    open_temp,
    remove_jars,
    remove_stale_temps,
    target_path,
    write_error,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.jarfile import (
    refuse_wrong_artifact,
    safe_factories,
    validate_jar,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.options import HttpOptions, InstallOptions
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.plan import (
    BatchPlan,
    Plan,
    Want,
    diff_jars,
    list_jars,
    plan_jars,
    refuse_contradictions,
    scan_factories,
)
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.sources import JarRequest, JarSource
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.urls import mask_url
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.wire import NEEDED, needed_answer


def _plan_message(plan: Plan, attrs: bool, check_mode: bool) -> str:
    would = "would " if check_mode else ""
    parts = []
    if plan.target:
        if plan.install:
            parts.append("%sinstall %s (%s)" % (would, plan.target, plan.reason))
        elif attrs:
            parts.append("%sfix mode/owner of %s" % (would, plan.target))
        else:
            parts.append("%s is up to date" % plan.target)
    for name in plan.remove:
        parts.append("%sremove %s (%s)" % (would, name, plan.remove_reasons[name]))
    if not parts:
        parts.append("nothing to remove")
    return "; ".join(parts)


class _Jar:
    """One request while ``ensure_jars`` works on it; filled in phase by phase."""

    def __init__(self, request: JarRequest, dest: str) -> None:
        self.source = request.source
        self.state = request.state
        if self.state == "present":
            self.final = target_path(dest, self.source.filename)
        else:
            self.final = os.path.join(dest, self.source.filename) if self.source.filename else ""
        self.expected: t.Optional[Checksum] = None
        self.src_digests: t.Optional[Digests] = None
        self.current: t.Optional[Digests] = None
        self.target_current = False
        self.reason = ""
        self.new_factories = self.source.planned_factories
        if self.state == "present" and self.source.kind == "src" and self.source.src:
            # A local file can tell now what it registers, so a list that contradicts itself
            # is refused before any request.
            self.new_factories = safe_factories(self.source.src) or self.new_factories
        self.plan: t.Optional[Plan] = None
        self.attrs = False
        self.temp: t.Optional[str] = None
        self.got: t.Optional[Download] = None
        self.replaced: t.Optional[t.Tuple[str, str]] = None
        self.downloaded = False
        self.removed: t.List[str] = []

    def want(self) -> Want:
        if self.state == "absent":
            return Want("absent", self.source.filename, artifact_id=self.source.artifact_id,
                        factories=self.source.known_factories)
        return Want("present", self.source.filename, self.target_current and self.got is None,
                    self.source.artifact_id, self.new_factories, self.reason)


def expected_checksum(source: JarSource, http_options: HttpOptions) -> t.Optional[Checksum]:
    """The checksum the jar must have: pinned, else the repository's ``.sha1``.

    ``src`` without a pinned checksum has none: the file on the host is the truth.
    """
    if source.checksum is not None:
        return source.checksum
    if source.kind in ("maven", "url"):
        # Maven Central requires .sha1 (and .md5) files beside every artifact
        # (https://central.sonatype.org/publish/requirements/, "Supply File Checksums").
        return fetch_sidecar(source.url or "", http_options, "sha1", source)
    return None


def _expect(jar: _Jar, http_options: HttpOptions, opts: InstallOptions, check_mode: bool) -> None:
    """The expected checksum, and whether dest already has it (so that a current jar is never downloaded)."""
    source = jar.source
    expected = expected_checksum(source, http_options)
    if source.kind == "src" and source.src and not source.pushed:
        jar.src_digests = file_digests(source.src, [expected.algorithm] if expected else [])
        if expected is not None:
            verify_checksum(jar.src_digests, expected, source.what)
        if opts.validate and check_mode:
            # A real run validates the copy it installs; check mode has only the source.
            validate_jar(source.src, source.what, source.expected_factories)
        # From here on the file itself is the expectation.
        expected = Checksum("sha256", jar.src_digests.sha256, "src file %s" % source.src)
    jar.expected = expected
    if os.path.isfile(jar.final) and expected is not None:
        jar.current = file_digests(jar.final, [expected.algorithm])
    jar.target_current = jar.current is not None and expected is not None and matches(jar.current, expected)
    if not os.path.lexists(jar.final):
        jar.reason = "not present"
    elif jar.target_current:
        jar.reason = "up to date"
    else:
        jar.reason = "replaces a file with other content"
    # The factories the new jar registers: exact when we can read the jar
    # without downloading it, else what the controller or our data says.
    if source.kind == "src" and source.src:
        jar.new_factories = safe_factories(source.src) or source.planned_factories
    elif jar.target_current:
        jar.new_factories = safe_factories(jar.final) or source.planned_factories


def _fetch(jar: _Jar, dest: str, http_options: HttpOptions, opts: InstallOptions) -> None:
    """Stream or copy one jar into a temp file in dest, then verify and validate it there."""
    source = jar.source
    out, jar.temp = open_temp(dest, source.filename)
    algorithms = [jar.expected.algorithm] if jar.expected else []
    try:
        with out:
            # The action plugin's pushed copy is moved into dest rather than copied: one write of the jar on
            # the host (the transfer), one read (the checksum).
            adopted = adopt_pushed(source.src, jar.temp) if source.movable and source.src else None
            if adopted is not None:
                got = read_adopted(jar.temp, adopted, algorithms)
            elif source.kind == "src":
                got = copy_to(source.src or "", out, algorithms)
            else:
                got = download(source, http_options, out, algorithms, space_check_dir=dest)
                jar.downloaded = True
    except OSError as exc:
        raise write_error(dest, exc)
    if jar.expected is not None:
        verify_checksum(got.digests, jar.expected, source.what, got.first_bytes, got.content_type)
    if opts.validate and not source.pushed:
        jar.new_factories = validate_jar(jar.temp, source.what, source.expected_factories).factories
    else:
        # A pushed jar was validated on the controller, and its checksum just proved these are those bytes.
        jar.new_factories = safe_factories(jar.temp)
    if jar.current is not None and got.digests.sha256 == jar.current.sha256:
        # force fetched the same bytes again: nothing to replace.
        discard(jar.temp)
        jar.temp = None
    else:
        jar.got = got


def _jar_result(jar: _Jar, check_mode: bool) -> t.Dict[str, t.Any]:
    plan = jar.plan or Plan("", jar.source.filename, False, "", [], {}, [], [])
    result: t.Dict[str, t.Any] = {"removed": jar.removed, "downloaded": jar.downloaded}
    if jar.final:
        result["path"] = jar.final
    if jar.source.url:
        result["url"] = mask_url(jar.source.url)
    if jar.state == "present":
        if jar.replaced and jar.got is not None:
            result.update(checksum=jar.got.digests.sha256, size=jar.got.digests.size)
        elif jar.target_current and jar.current is not None:
            result.update(checksum=jar.current.sha256, size=jar.current.size)
        elif jar.src_digests is not None:
            result.update(checksum=jar.src_digests.sha256, size=jar.src_digests.size)
        elif jar.expected is not None and jar.expected.algorithm == "sha256":
            result["checksum"] = jar.expected.hexdigest
    if check_mode:
        result.update(changed=plan.install or jar.attrs or bool(plan.remove),
                      msg=_plan_message(plan, jar.attrs, True))
    else:
        result.update(changed=bool(jar.replaced) or jar.attrs or bool(jar.removed),
                      msg=_plan_message(plan._replace(install=bool(jar.replaced)), jar.attrs, False))
    if jar.source.pushed:
        result["transferred"] = bool(jar.source.src)
    return result


def _batch_result(work: t.Sequence[_Jar], plan: BatchPlan, check_mode: bool, removed: t.Sequence[str],
                  opts: InstallOptions, backups: t.Sequence[str]) -> t.Dict[str, t.Any]:
    if check_mode:
        replaced = {j.source.filename: (j.current.sha256, "") for j in work
                    if j.plan is not None and j.plan.install and j.current is not None}
    else:
        replaced = {j.source.filename: j.replaced for j in work if j.replaced and j.replaced[0]}
    jars = [_jar_result(j, check_mode) for j in work]
    result: t.Dict[str, t.Any] = {
        "changed": any(r["changed"] for r in jars),
        "jars": jars,
        "removed": list(removed),
        "msg": "; ".join(r["msg"] for r in jars) or "no jars given",
        "diff": diff_jars(plan.dest, plan.before, plan.after, replaced),
    }
    if opts.backup and not check_mode:
        result["backup_files"] = list(backups)
    return result


def ensure_jars(requests: t.Sequence[JarRequest], dest: str, http_options: HttpOptions, opts: InstallOptions,
                check_mode: bool) -> t.Dict[str, t.Any]:
    """Bring several jars into (or out of) ``dest`` at once (see the module documentation for the contract).

    One scan of dest and one plan for all of them. Order matters: refuse a
    list that contradicts itself before any request; verify each expected
    checksum against what is on disk (so a current jar is never downloaded);
    then fetch, verify and validate every jar that must change into temp files
    in dest; only when all of them are good, rename them all into place (or
    none: ``install_temps``); only then remove the jars they replace.

    A pushed jar (fetch_mode=controller) without ``src`` that must be
    installed makes the call change nothing and answer ``_needed`` instead:
    the file names the controller has to transfer before calling again.
    """
    check_dest(dest)
    work = [_Jar(r, dest) for r in requests]
    present = [j for j in work if j.state == "present"]
    for jar in present:
        if opts.validate:
            refuse_wrong_artifact(jar.source.artifact_id)
        if jar.source.kind == "src" and jar.source.src is not None and not os.path.isfile(jar.source.src):
            raise JarError("src %s is not a file on this host. src names a jar already on the managed host; use url "
                           "or Maven coordinates to download one." % jar.source.src)
    # Refuse a self-contradicting list before any request, on what our data says of each jar.
    refuse_contradictions([j.want() for j in work], opts.remove_other_versions)

    for jar in present:
        _expect(jar, http_options, opts, check_mode)
    jars = list_jars(dest)
    keep = {j.source.filename for j in present}
    scan = opts.remove_other_versions and (present or any(j.source.known_factories for j in work))
    factories_by_jar = scan_factories(dest, [n for n in jars if n not in keep]) if scan else {}
    plan = plan_jars(dest, jars, [j.want() for j in work], factories_by_jar, opts.remove_other_versions)
    for jar, jar_plan in zip(work, plan.plans):
        jar.plan = jar_plan
        jar.removed = [os.path.join(dest, n) for n in jar_plan.remove]
        jar.attrs = jar.target_current and attributes_differ(jar.final, opts.mode, opts.uid, opts.gid)
    if check_mode:
        return _batch_result(work, plan, True, [os.path.join(dest, n) for n in plan.remove], opts, [])

    # What a killed run left (its temp files, and the second names of a half-done install_temps) goes now,
    # under the exclusive lock, whether or not this run has anything to fetch.
    remove_stale_temps(dest)
    fetch = [j for j in present if j.plan is not None and (j.plan.install or (opts.force and j.source.kind != "src"))]
    needed = [j.source.filename for j in fetch if j.source.pushed and not j.source.src]
    if needed:
        return needed_answer(needed)

    backups: t.List[str] = []
    try:
        for jar in fetch:
            _fetch(jar, dest, http_options, opts)
        installs = [j for j in fetch if j.temp]
        if installs:
            # Plan again on what the jars really register, now that they are here.
            plan = plan_jars(dest, jars, [j.want() for j in work], factories_by_jar, opts.remove_other_versions)
            saved = install_temps(dest, [(j.temp or "", j.source.filename) for j in installs],
                                  opts.mode, opts.uid, opts.gid, opts.backup)
            backups += [saved[j.source.filename] for j in installs if j.source.filename in saved]
            for jar in installs:
                jar.temp = None
                jar.replaced = (jar.current.sha256 if jar.current else "", jar.got.digests.sha256 if jar.got else "")
                if jar.got is not None:
                    remember_installed(jar.final, jar.got.digests)
    finally:
        for jar in fetch:
            discard(jar.temp)
    for jar, jar_plan in zip(work, plan.plans):
        jar.plan = jar_plan

    installed = [j.source.filename for j in present if j.replaced]
    fixed: t.List[str] = []
    try:
        for jar in present:
            if jar.attrs and not jar.replaced:
                apply_attributes(jar.final, opts.mode, opts.uid, opts.gid)
                fixed.append(jar.source.filename)
    except JarError as exc:
        if installed or fixed:
            raise JarError("%s Already done in %s: %s." % (exc.msg, dest, ", ".join(
                ["installed %s" % n for n in installed] + ["fixed mode/owner of %s" % n for n in fixed])),
                changed=True)
        raise
    try:
        removed, saved_removed = remove_jars(dest, plan.remove, opts.backup)
    except JarError as exc:
        if installed:
            raise JarError("%s %s installed, but removing the jars %s replace%s failed: %s Flink will load both; "
                           "remove %s by hand." % (", ".join(installed), "was" if len(installed) == 1 else "were",
                                                   "it" if len(installed) == 1 else "they",
                                                   "s" if len(installed) == 1 else "", exc.msg,
                                                   ", ".join(plan.remove)), changed=True)
        if fixed:
            exc.details["changed"] = True
        raise
    backups += saved_removed
    for jar in work:
        mine = {os.path.join(dest, n) for n in (jar.plan.remove if jar.plan else [])}
        jar.removed = [p for p in removed if p in mine]
    return _batch_result(work, plan, False, removed, opts, backups)


def single_result(batch: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """The result of a one-jar call, in the single-jar form (the module without ``jars``)."""
    if NEEDED in batch:
        return batch
    result = dict(batch["jars"][0])
    result.update(changed=batch["changed"], diff=batch["diff"])
    if "backup_files" in batch:
        result["backup_files"] = batch["backup_files"]
    return result


def final_result(batch: t.Dict[str, t.Any], single: bool, diff: bool) -> t.Dict[str, t.Any]:
    """The module's answer from ``ensure_jars``'s: in the single-jar form when asked, with the diff in diff mode."""
    result = single_result(batch) if single else batch
    if not diff:
        result.pop("diff", None)
    return result


def rerun_record(requests: t.Sequence[JarRequest], dest: str, http_options: HttpOptions,
                 opts: InstallOptions) -> t.Optional[t.Dict[str, t.Any]]:
    """After a successful run (under its ``dest_lock``): what a rerun would answer, and ``dest_state``.

    None when a rerun would change something: then there is nothing to replay.
    """
    again = [JarRequest(r.source._replace(src=None, movable=False), r.state) for r in requests]
    result = ensure_jars(again, dest, http_options, opts, True)
    if result["changed"]:
        return None
    # Every jar to install is current, so the answer holds its SHA-256 and size, just read: not read again.
    state = dest_state(dest, [])
    state["sha256"] = {r.source.filename: [entry["checksum"], entry["size"]]
                       for r, entry in zip(again, result["jars"]) if r.state == "present"}
    return {"state": state, "result": result}
