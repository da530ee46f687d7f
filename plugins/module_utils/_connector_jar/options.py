# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The module's options, shared by the module and its action plugin: the argument spec and its rules, the
passwords written into URLs, and the HTTP and install options they make."""

from __future__ import annotations

import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import url_secrets
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import wire
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import DEFAULT_REPOSITORY_URL

DEFAULT_CACHE_DIR = "~/.cache/cdcops-flink-cdc/jars"
SOURCE_OPTIONS = ("artifact_id", "url", "src")

# Where a jar comes from: the same options at the top level (one jar) and in each item of ``jars``.
_SOURCE_SPEC = dict(
    group_id=dict(type="str"),
    artifact_id=dict(type="str"),
    version=dict(type="str"),
    classifier=dict(type="str"),
    url=dict(type="str"),
    src=dict(type="path"),
)


def _source_spec() -> t.Dict[str, t.Any]:
    return {name: dict(spec) for name, spec in _SOURCE_SPEC.items()}


JAR_OPTIONS = dict(
    _source_spec(),
    checksum=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"]),
)

_SOURCE_RULES = dict(
    mutually_exclusive=[SOURCE_OPTIONS, ("group_id", "url", "src"), ("version", "url", "src"),
                        ("classifier", "url", "src")],
    required_together=[("group_id", "artifact_id")],
)


def argument_spec(internal: bool = True) -> t.Dict[str, t.Any]:
    """The module's options; ``internal`` adds the one the action plugin passes to hosts (``wire.PUSHED``)."""
    spec: t.Dict[str, t.Any] = dict(
        repository_url=dict(type="str", default=DEFAULT_REPOSITORY_URL),
        **_source_spec(),
        jars=dict(type="list", elements="dict", options=JAR_OPTIONS, required_one_of=[SOURCE_OPTIONS],
                  **_SOURCE_RULES),
        dest=dict(type="path", required=True),
        checksum=dict(type="str"),
        validate=dict(type="bool", default=True),
        remove_other_versions=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        owner=dict(type="str"),
        group=dict(type="str"),
        mode=dict(type="raw", default="0644"),
        backup=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        timeout=dict(type="int", default=30),
        validate_certs=dict(type="bool", default=True),
        url_username=dict(type="str"),
        url_password=dict(type="str", no_log=True),
        headers=dict(type="dict", no_log=True),
        use_proxy=dict(type="bool", default=True),
        fetch_mode=dict(type="str", choices=["remote", "controller"], default="remote"),
        controller_cache_dir=dict(type="path", default=DEFAULT_CACHE_DIR),
    )
    if internal:
        spec[wire.PUSHED] = wire.PUSHED_SPEC
    return spec


def argument_rules(internal: bool = True) -> t.Dict[str, t.Any]:
    """mutually_exclusive, required_one_of and required_together for ``argument_spec``."""
    sources = SOURCE_OPTIONS + ("jars",) + ((wire.PUSHED,) if internal else ())
    jars_only = ("jars", wire.PUSHED) if internal else ("jars",)
    return dict(
        required_one_of=[sources],
        mutually_exclusive=list(_SOURCE_RULES["mutually_exclusive"]) + [sources] + [
            (option,) + jars_only for option in ("group_id", "version", "classifier", "checksum")],
        required_together=list(_SOURCE_RULES["required_together"]),
    )


def option_url_secrets(params: t.Mapping[str, t.Any]) -> t.Set[str]:
    """``url_secrets`` of every option that takes a URL: ``repository_url``, ``url`` and each ``jars[].url``."""
    urls = [params.get("repository_url"), params.get("url")]
    entries = params.get("jars")
    if isinstance(entries, list):
        urls += [entry.get("url") for entry in entries if isinstance(entry, dict)]
    return url_secrets(*urls)


class HttpOptions(t.NamedTuple):
    timeout: float = 30
    validate_certs: bool = True
    url_username: t.Optional[str] = None
    url_password: t.Optional[str] = None
    headers: t.Optional[t.Dict[str, str]] = None
    use_proxy: bool = True
    force: bool = False  # send Cache-Control: no-cache, so proxies do not answer from cache


class InstallOptions(t.NamedTuple):
    validate: bool = True
    remove_other_versions: bool = True
    mode: int = 0o644
    uid: t.Optional[int] = None
    gid: t.Optional[int] = None
    backup: bool = False
    force: bool = False


def http_options(params: t.Mapping[str, t.Any]) -> HttpOptions:
    """The HTTP options of the module's (validated) parameters, on the host or on the controller; also of
    flink_connector_choice's, which has the repository options but no ``force``."""
    return HttpOptions(timeout=params["timeout"], validate_certs=params["validate_certs"],
                       url_username=params["url_username"], url_password=params["url_password"],
                       headers={str(k): str(v) for k, v in (params["headers"] or {}).items()},
                       use_proxy=params["use_proxy"], force=params.get("force", False))
