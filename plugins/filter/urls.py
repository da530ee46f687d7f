# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The URL redaction of the REST client and the reports (module_utils/_http_common.py, redact_url) as a filter,
for the role's messages."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import redact_url, split_urls


def url_without_credentials(url):
    """One URL, several separated by commas, or a list of them (the JobManagers of a highly available cluster):
    each without its credentials, joined with ", "."""
    if not isinstance(url, (str, list, tuple)):
        raise AnsibleFilterError("url_without_credentials expects a URL string or a list of them, got %s"
                                 % type(url).__name__)
    return ", ".join(redact_url(u) for u in split_urls(url))


class FilterModule:
    def filters(self):
        return {"url_without_credentials": url_without_credentials}
