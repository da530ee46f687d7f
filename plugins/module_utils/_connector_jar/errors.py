# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The errors of jar handling: each carries a message fit for the user (what failed, where, and what to do) and
the details the module returns beside it."""

from __future__ import annotations

import typing as t


class JarError(Exception):
    """A failure with a message fit for the user: what, where, and what to do."""

    def __init__(self, msg: str, **details: t.Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


class UnsafeNameError(JarError):
    pass


class ChecksumError(JarError):
    pass


class DownloadError(JarError):
    pass


class InvalidJarError(JarError):
    pass


class NoSpaceError(JarError):
    """A jar does not fit where it is written; ``details``: ``directory``, ``needed_bytes`` (None when unknown),
    ``written_bytes`` and ``free_bytes`` (None when unknown)."""
