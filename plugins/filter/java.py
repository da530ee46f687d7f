# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Jinja filter over the support matrix's Java rules (module_utils/_support_matrix.py): java_verdict."""

from __future__ import annotations

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import java_check, java_major


def java_verdict(version_output, flink_version):
    """``java -version`` output judged against a Flink version: {major, error, warning}."""
    error, warning = java_check(flink_version, version_output)
    return {"major": java_major(version_output), "error": error, "warning": warning}


class FilterModule:
    def filters(self):
        return {
            "java_verdict": java_verdict,
        }
