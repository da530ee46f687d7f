# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""URLs in messages and results: masked, described, checked. Standard library only: nothing here imports
``ansible.module_utils.urls`` until something downloads (see ``ansible_urls``), so the one-command install of
``fetch_mode=controller`` (which sends this package to a host's bare Python) masks a URL with credentials too.

``mask_url`` answers what ``ansible.module_utils.urls.mask_url`` answers (the user and the password each become
``****``), which the module's results and the tests rely on; the REST client's ``_flink/rest.py`` ``redact_url``
drops the userinfo altogether, and its ``endpoint`` fills in the scheme's default port. Their texts differ, so
each stays.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlparse, urlsplit, urlunparse

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import UnsafeNameError

# Nothing that only downloading needs is imported here: ansible.module_utils.urls pulls in http.client, email,
# cookiejar and (where installed) cryptography, a good part of a module execution's CPU. A host that installs
# jars pushed from the controller never downloads, so it never imports them.


def ansible_urls() -> t.Any:
    """``ansible.module_utils.urls``, imported the first time something downloads."""
    from ansible.module_utils import urls
    return urls


def mask_url(url: str) -> str:
    """The URL with its user and password each masked as ``****``; one without credentials comes back as it is.

    The same text as ansible-core 2.19's ``mask_url`` (ansible/ansible lib/ansible/module_utils/urls.py at
    v2.19.0), written here with the standard library because the host may have no Ansible at all (the one-command
    install), and ansible-core before 2.19 has no ``mask_url``.
    """
    if "@" not in urlsplit(url).netloc:
        return url
    parsed = urlparse(url)
    if not parsed.username and not parsed.password:
        return url
    if parsed.password:
        netloc = parsed.netloc.replace("%s:%s@" % (parsed.username, parsed.password), "****:****@")
    else:
        netloc = parsed.netloc.replace("%s@" % parsed.username, "****@")
    return urlunparse(parsed._replace(netloc=netloc))


def describe_url(url: str) -> str:
    """``host:port path`` for messages, never credentials or query strings."""
    parts = urlsplit(mask_url(url))
    host = parts.hostname or "?"
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return "host %s path %s" % (host, parts.path or "/")


def check_http_url(url: str, what: str = "url") -> str:
    parts = urlsplit(url or "")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UnsafeNameError(
            "%s %r is not an http(s) URL; only http:// and https:// are accepted." % (what, mask_url(url or "")))
    return url
