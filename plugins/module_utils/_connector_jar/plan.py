# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What a call changes in ``dest``: pure functions over one scan of it. Other versions of an artifact and any jar
that registers the same Flink table factory identifier go; a list whose jars would remove or shadow each other
is refused."""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.connectors import identifiers_of
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.jarfile import read_factories

_VERSION_TAIL = re.compile(r"^[0-9][A-Za-z0-9_.\-+]*\.jar$")


def list_jars(dest: str) -> t.List[str]:
    """Names of the files (or links) Flink would load from ``dest``."""
    names = []
    for entry in os.scandir(dest):
        if entry.name.endswith(".jar") and not entry.is_dir():
            names.append(entry.name)
    return sorted(names)


def scan_factories(dest: str, names: t.Iterable[str]) -> t.Dict[str, t.Optional[t.Tuple[str, ...]]]:
    """Factories registered by each jar; None for a jar that cannot be read."""
    found: t.Dict[str, t.Optional[t.Tuple[str, ...]]] = {}
    for name in names:
        try:
            found[name] = read_factories(os.path.join(dest, name))
        except (JarError, OSError):
            found[name] = None
    return found


def other_versions(names: t.Iterable[str], artifact_id: t.Optional[str], keep: str = "") -> t.List[str]:
    """Jars named ``<artifact_id>-<version>[-<classifier>].jar`` other than ``keep``.

    The version must start with a digit, so ``flink-sql-connector-postgres-cdc``
    never matches ``flink-sql-connector-postgres-cdc-pipeline-1.0.jar``.
    """
    if not artifact_id:
        return []
    prefix = artifact_id + "-"
    return [n for n in names if n != keep and n.startswith(prefix) and _VERSION_TAIL.match(n[len(prefix):])]


def factory_conflicts(factories_by_jar: t.Mapping[str, t.Optional[t.Sequence[str]]],
                      new_factories: t.Sequence[str], keep: str = "",
                      same_identifier: bool = True) -> t.Dict[str, t.List[str]]:
    """Jars that register one of ``new_factories``, or (``same_identifier``) the same identifier.

    Two jars registering one identifier make Flink fail with "Multiple factories
    for identifier" (apache/flink ``FactoryUtil.discoverFactory``, flink-table-common), whatever the jars are
    called.
    Returns ``{jar name: [reasons]}``.
    """
    new = set(new_factories)
    new_ids = identifiers_of(new) if same_identifier else set()
    out: t.Dict[str, t.List[str]] = {}
    for name, factories in factories_by_jar.items():
        if name == keep or not factories:
            continue
        reasons = sorted(["factory %s" % f for f in set(factories) & new]
                         + ["identifier '%s'" % i for i in identifiers_of(factories) & new_ids])
        if reasons:
            out[name] = reasons
    return out


class Plan(t.NamedTuple):
    dest: str
    target: str  # file name in dest ('' for state=absent)
    install: bool
    reason: str
    remove: t.List[str]  # file names in dest
    remove_reasons: t.Dict[str, str]
    before: t.List[str]
    after: t.List[str]

    @property
    def changes(self) -> bool:
        return self.install or bool(self.remove)


def plan_present(dest: str, jars: t.Sequence[str], target: str, target_current: bool,
                 artifact_id: t.Optional[str], factories_by_jar: t.Mapping[str, t.Optional[t.Sequence[str]]],
                 new_factories: t.Sequence[str], remove_other_versions: bool, reason: str = "") -> Plan:
    """What installing ``target`` changes: pure, over a scan of ``dest``."""
    remove_reasons: t.Dict[str, str] = {}
    if remove_other_versions:
        for name in other_versions(jars, artifact_id, keep=target):
            remove_reasons[name] = "another version of %s" % artifact_id
        for name, reasons in factory_conflicts(factories_by_jar, new_factories, keep=target).items():
            remove_reasons.setdefault(name, "registers the same %s" % ", ".join(reasons))
    remove = sorted(remove_reasons)
    after = sorted((set(jars) - set(remove)) | {target})
    return Plan(dest, target, not target_current, reason, remove, remove_reasons, list(jars), after)


def plan_absent(dest: str, jars: t.Sequence[str], artifact_id: t.Optional[str], filename: str,
                factories_by_jar: t.Mapping[str, t.Optional[t.Sequence[str]]], own_factories: t.Sequence[str],
                remove_other_versions: bool) -> Plan:
    """What removing every version of an artifact changes.

    With ``remove_other_versions``, renamed copies (jars registering this
    artifact's own factory classes) go too; other connector lines sharing the
    identifier stay, because removing them is not what "absent" asked for.
    """
    remove_reasons: t.Dict[str, str] = {}
    if filename and filename in jars:
        remove_reasons[filename] = "the requested file"
    for name in other_versions(jars, artifact_id):
        remove_reasons.setdefault(name, "a version of %s" % artifact_id)
    if remove_other_versions:
        for name, reasons in factory_conflicts(factories_by_jar, own_factories, same_identifier=False).items():
            remove_reasons.setdefault(name, "registers %s" % ", ".join(reasons))
    remove = sorted(remove_reasons)
    return Plan(dest, "", False, "", remove, remove_reasons, list(jars), sorted(set(jars) - set(remove)))


def diff_jars(dest: str, before: t.Sequence[str], after: t.Sequence[str],
              replaced: t.Optional[t.Mapping[str, t.Tuple[str, str]]] = None) -> t.Dict[str, str]:
    """Before/after jar lists for --diff.

    ``replaced`` maps a file name that keeps its name but gets new content to
    (old sha256, new sha256, or '' while the new one is not known).
    """
    marked = {n: r for n, r in (replaced or {}).items() if n in before}

    def mark_before(name: str) -> str:
        return name + ("  sha256:%s" % marked[name][0][:16] if name in marked else "")

    def mark_after(name: str) -> str:
        if name not in marked:
            return name
        return name + ("  sha256:%s" % marked[name][1][:16] if marked[name][1] else "  (new content)")

    return {
        "before_header": "%s (jars)" % dest,
        "after_header": "%s (jars)" % dest,
        "before": "".join(mark_before(n) + "\n" for n in before),
        "after": "".join(mark_after(n) + "\n" for n in after),
    }


class Want(t.NamedTuple):
    """What one jar of a call wants of dest, as ``plan_jars`` needs it."""

    state: str  # present | absent
    target: str  # file name in dest; '' for state=absent without a version
    target_current: bool = False
    artifact_id: t.Optional[str] = None
    # present: what the new jar registers; absent: the artifact's own factories
    factories: t.Sequence[str] = ()
    reason: str = ""


class BatchPlan(t.NamedTuple):
    dest: str
    plans: t.List[Plan]  # one per Want; each removal is listed under the first jar that causes it
    remove: t.List[str]
    before: t.List[str]
    after: t.List[str]

    @property
    def changes(self) -> bool:
        return bool(self.remove) or any(p.install for p in self.plans)


def _label(want: Want) -> str:
    return want.target or "every version of %s" % want.artifact_id


def _contradiction(first: Want, second: Want, why: str) -> JarError:
    return JarError("The jars of this call contradict each other: %s and %s %s. List each connector once. Nothing "
                    "was changed." % (_label(first), _label(second), why))


def refuse_contradictions(wants: t.Sequence[Want], remove_other_versions: bool) -> None:
    """Refuse a list whose jars would remove or shadow each other (Flink would load both, or neither)."""
    seen: t.Dict[str, Want] = {}
    for want in wants:
        if want.target in seen:
            raise _contradiction(seen[want.target], want, "name the same file")
        if want.target:
            seen[want.target] = want
    present = [w for w in wants if w.state == "present"]
    for index, first in enumerate(present):
        for second in present[index + 1:]:
            if (other_versions([second.target], first.artifact_id, keep=first.target)
                    or other_versions([first.target], second.artifact_id, keep=second.target)):
                raise _contradiction(first, second, "are two versions of one artifact")
            clash = factory_conflicts({second.target: second.factories}, first.factories, keep=first.target)
            if clash:
                raise _contradiction(first, second, "both register the same %s" % ", ".join(clash[second.target]))
    for gone in (w for w in wants if w.state == "absent"):
        for kept in present:
            if other_versions([kept.target], gone.artifact_id) or (
                    remove_other_versions
                    and factory_conflicts({kept.target: kept.factories}, gone.factories, same_identifier=False)):
                raise _contradiction(gone, kept, "ask to remove and to install the same connector")


def plan_jars(dest: str, jars: t.Sequence[str], wants: t.Sequence[Want],
              factories_by_jar: t.Mapping[str, t.Optional[t.Sequence[str]]],
              remove_other_versions: bool) -> BatchPlan:
    """What one call with several jars changes: pure, over one scan of ``dest``.

    ``factories_by_jar`` covers the jars in dest that this call does not
    install. Each removal is attributed to the first jar that causes it, and a
    jar this call installs is never removed by another entry.
    """
    refuse_contradictions(wants, remove_other_versions)
    keep = {w.target for w in wants if w.state == "present"}
    plans = []
    owned: t.Set[str] = set()
    for want in wants:
        if want.state == "present":
            plan = plan_present(dest, jars, want.target, want.target_current, want.artifact_id, factories_by_jar,
                                want.factories, remove_other_versions, want.reason)
        else:
            plan = plan_absent(dest, jars, want.artifact_id, want.target, factories_by_jar, want.factories,
                               remove_other_versions)
        mine = [n for n in plan.remove if n not in owned and n not in keep]
        owned.update(mine)
        plans.append(plan._replace(remove=mine, remove_reasons={n: plan.remove_reasons[n] for n in mine}))
    remove = sorted(owned)
    return BatchPlan(dest, plans, remove, list(jars), sorted((set(jars) - owned) | keep))
