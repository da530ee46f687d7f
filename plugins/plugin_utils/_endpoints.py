# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The services a TaskManager host must reach over TCP, which its preflight host check tries (only the role's
filters). The JobManager host's, where the pipelines' jobs are planned, are plugin_utils/_pipeline.py's
``planner_endpoints``."""

from __future__ import annotations

import typing as t


def taskmanager_endpoints(pg_host: str, pg_port: t.Any, fe_host: str, fe_http_port: t.Any, fe_query_port: t.Any,
                          be_host: str, be_http_port: t.Any) -> t.List[t.Dict[str, t.Any]]:
    """The PostgreSQL source (the seed's ``telnet <pg> 5432`` from every node) when its host is set, the StarRocks
    FE's HTTP and query ports when the FE is set, and the BE's HTTP port when the BE is set: Stream Load sends each
    batch to the FE's http_port, which redirects it to a BE's http_port (StarRocks docs/en/loading/StreamLoad.md)."""
    out: t.List[t.Dict[str, t.Any]] = []
    if pg_host:
        out.append({"name": "PostgreSQL", "host": pg_host, "port": int(pg_port)})
    if fe_host:
        out.append({"name": "StarRocks FE http", "host": fe_host, "port": int(fe_http_port)})
        out.append({"name": "StarRocks FE query", "host": fe_host, "port": int(fe_query_port)})
    if be_host:
        out.append({"name": "StarRocks BE http", "host": be_host, "port": int(be_http_port)})
    return out
