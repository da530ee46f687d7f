# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options to reach a Flink JobManager's REST API."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the JobManager REST API (C(rest.address) and C(rest.port) in the Flink configuration).
      - For example V(http://jobmanager:8081), or V(https://flink.example.com/) behind a proxy.
      - A password in its userinfo (V(https://user:password@flink.example.com/)) is used for basic authentication
        and never shown; it is masked wherever it would appear in the output, C(invocation) at C(-vvv) included.
      - For a cluster with several JobManagers (high availability), a list of every JobManager's URL, or one string
        of them separated by commas. Each standby's REST API serves the leader's answers; the module passes over a
        JobManager that does not answer, or answers that it has no leader during an election, for the next one.
    type: list
    elements: str
    required: true
  url_username:
    description:
      - User name for HTTP basic authentication, for a REST API behind an authenticating proxy.
    type: str
    aliases: [username]
  url_password:
    description:
      - Password for HTTP basic authentication. It is never logged or shown in output.
    type: str
    aliases: [password]
  validate_certs:
    description:
      - Verify the server's TLS certificate. Set to V(false) only for self-signed test set-ups.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates to trust for an V(https) URL.
    type: path
  client_cert:
    description:
      - PEM client certificate for mutual TLS (Flink C(security.ssl.rest.authentication-enabled)).
    type: path
  client_key:
    description:
      - PEM private key for O(client_cert), when it is not in the same file.
    type: path
  timeout:
    description:
      - Seconds each HTTP request may take as a whole (connecting, the status line, the headers and the body). A
        JobManager (or proxy) that answers more slowly, even one byte at a time, fails the request then, with a
        message naming its host and port.
    type: float
    default: 10
"""
