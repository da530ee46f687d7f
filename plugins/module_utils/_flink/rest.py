# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""The one Flink REST client of this collection (private to it).

It owns URLs, authentication, TLS and the translation of every failure into
one message that names the endpoint (host:port) and the cause, without a
traceback and without credentials. Callers get parsed JSON or a
``FlinkRestError``.

Several URLs are the JobManagers of one highly available cluster. Every JobManager's REST endpoint answers
(apache/flink ``WebMonitorEndpoint`` runs on each of them): a standby's handlers reach the leading Dispatcher
and ResourceManager over RPC through a ``LeaderGatewayRetriever`` (``LeaderRetrievalHandler``), so a standby
serves the leader's answers; it does not redirect. Only what a handler reads from its own process is local:
``/config``'s version, ``/jobmanager/config``, ``/jobmanager/environment``, ``/jobmanager/logs``. While no
leader is known a standby answers 503 ("Service temporarily unavailable due to an ongoing leader election");
seen on the bed (Flink 1.20.3, ZooKeeper HA): after the leader was killed, the standby answered HTTP 500
``RecipientUnreachableException`` (it still sent to the dead leader) for about 30 s, until ZooKeeper's session
of the dead leader expired and it became the leader. The client goes on to the next URL on a connection
failure and on those two answers (``FlinkRestError.failover``), and keeps the URL that answered.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import typing as t
from urllib.error import HTTPError
from urllib.parse import urlsplit

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._http_common import (
    call_within,
    redact_url,
    secs,
    split_urls,
)

try:
    from ansible.module_utils.urls import SSLValidationError
except ImportError:  # pragma: no cover - very old ansible-core
    SSLValidationError = ssl.SSLError


class FlinkRestError(Exception):
    """A failed REST call, with a message fit for the user."""

    def __init__(self, message: str, url: t.Optional[str] = None, status: t.Optional[int] = None,
                 not_flink: bool = False, failover: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status
        self.not_flink = not_flink
        # The JobManager did not answer, or cannot reach its leader: another JobManager of the cluster may.
        self.failover = failover


def rest_argument_spec() -> t.Dict[str, t.Any]:
    """Options shared by every module that talks to the JobManager REST API.

    Documented once in the ``cdcops.flink_cdc.flink_rest`` doc fragment.
    """
    return dict(
        url=dict(type="list", elements="str", required=True),
        url_username=dict(type="str", aliases=["username"]),
        url_password=dict(type="str", no_log=True, aliases=["password"]),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        timeout=dict(type="float", default=10.0),
    )


# Answers of a JobManager that has no leader to ask (module docstring): HTTP 503 of LeaderRetrievalHandler, and
# HTTP 500 with the RPC failure of a request to a leader that is gone.
_NO_LEADER = ("RecipientUnreachableException", "leader election", "No leader", "FencingTokenException")


def _headline(error: str) -> str:
    """The line of a Flink REST error that says what failed: for "<Exception on server side:" followed by a
    stack trace, the exception's own line (its class shortened to its simple name)."""
    lines = [line.strip() for line in error.rstrip().rstrip(">").splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("<Exception on server side"):
        name, text = (lines[1].split(": ", 1) + [""])[:2]
        return "%s: %s" % (name.rsplit(".", 1)[-1], text) if text else name.rsplit(".", 1)[-1]
    return lines[0] if lines else ""


def endpoint(url: str) -> str:
    """``host:port`` of a URL, with the scheme's default port filled in."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    if ":" in host:
        host = "[%s]" % host
    return "%s:%d" % (host, port)


def _cause(exc: BaseException) -> str:
    """A short human description of a low-level failure."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, (socket.timeout,)) or "timed out" in to_native(reason).lower():
        return "timed out"
    if isinstance(reason, ConnectionRefusedError) or "refused" in to_native(reason).lower():
        return "connection refused"
    if isinstance(reason, (ssl.SSLError, SSLValidationError)) or "certificate" in to_native(reason).lower() \
            or "ssl" in to_native(reason).lower():
        return "TLS failure: %s" % to_native(reason)
    if isinstance(reason, socket.gaierror):
        return "cannot resolve host name: %s" % to_native(reason)
    return to_native(reason)


class FlinkRestClient:
    """GET JSON from a Flink JobManager's REST API.

    ``timeout`` bounds each whole request (connect, status line, headers and body), whatever the server does;
    ``deadline`` (a ``time.monotonic()`` value), when set, bounds every request of a wait.
    """

    def __init__(self, base_url: t.Union[str, t.Sequence[str]], url_username: t.Optional[str] = None,
                 url_password: t.Optional[str] = None, validate_certs: bool = True, ca_path: t.Optional[str] = None,
                 client_cert: t.Optional[str] = None, client_key: t.Optional[str] = None,
                 timeout: float = 10.0) -> None:
        urls = split_urls(base_url) or [""]
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FlinkRestError(
                    "url %r is not an http(s) URL of a Flink JobManager REST API, "
                    "for example http://jobmanager:8081" % redact_url(url))
        # Every JobManager's URL; the client talks to the one that answered last (``use``).
        self.urls = [url.rstrip("/") for url in urls]
        self.use(self.urls[0])
        self._username = url_username
        self._password = url_password
        self._validate_certs = validate_certs
        self._ca_path = ca_path
        self._client_cert = client_cert
        self._client_key = client_key
        self.timeout = timeout
        self.deadline: t.Optional[float] = None
        self.last_error: t.Optional[FlinkRestError] = None

    def use(self, url: str) -> None:
        """Talk to ``url`` (one of ``urls``) from now on."""
        self.base_url = url
        self.display_url = redact_url(url)
        self.endpoint = endpoint(url)

    def each(self) -> t.List[FlinkRestClient]:
        """A client of each JobManager URL alone, with the same credentials, TLS and timeout: for what a
        JobManager answers of its own process (``/jobmanager/config``, ``/jobmanager/environment``)."""
        out = []
        for url in self.urls:
            one = FlinkRestClient(url, url_username=self._username, url_password=self._password,
                                  validate_certs=self._validate_certs, ca_path=self._ca_path,
                                  client_cert=self._client_cert, client_key=self._client_key, timeout=self.timeout)
            one.deadline = self.deadline
            out.append(one)
        return out

    @classmethod
    def from_params(cls, params: t.Mapping[str, t.Any]) -> FlinkRestClient:
        return cls(params["url"], url_username=params.get("url_username"),
                   url_password=params.get("url_password"),
                   validate_certs=params.get("validate_certs", True),
                   ca_path=params.get("ca_path"), client_cert=params.get("client_cert"),
                   client_key=params.get("client_key"), timeout=params.get("timeout") or 10.0)

    def _where(self, path: str) -> str:
        return "%s%s (%s)" % (self.display_url, path, self.endpoint)

    def get(self, path: str) -> t.Any:
        """GET ``path`` and return the decoded JSON body."""
        return self.request("GET", path)

    def request(self, method: str, path: str, body: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Any:
        """Send ``method`` to ``path`` (with ``body`` as JSON) and return the decoded JSON body (``{}`` for an
        empty one). With several URLs, a JobManager that does not answer or has no leader to ask is passed over
        for the next one (module docstring); when none answers, the error names each one's failure."""
        if len(self.urls) == 1:
            return self._request_here(method, path, body)
        start = self.urls.index(self.base_url)
        failures = []
        for url in self.urls[start:] + self.urls[:start]:
            self.use(url)
            try:
                return self._request_here(method, path, body)
            except FlinkRestError as exc:
                if not exc.failover:
                    raise
                failures.append(exc.message)
        self.use(self.urls[start])
        self.last_error = FlinkRestError("no JobManager of the cluster answered %s: %s" % (
            path.split("?", 1)[0], "; ".join(failures)), url=self.display_url + path, failover=True)
        raise self.last_error

    def _request_here(self, method: str, path: str, body: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Any:
        url = self.base_url + path
        where = self._where(path)
        budget, bound = self.timeout, "timeout"
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                # Said once more, the last failure is what the wait reports at its end.
                raise self.last_error or FlinkRestError(
                    "cannot reach the Flink REST API at %s: the wait's deadline has passed" % where,
                    url=self.display_url + path)
            if left < budget:
                budget, bound = left, "what was left of the wait"
        try:
            answer = self._request(method, path, url, where, budget, bound, body)
        except FlinkRestError as exc:
            self.last_error = exc
            raise
        self.last_error = None
        return answer

    def _request(self, method: str, path: str, url: str, where: str, budget: float, bound: str,
                 body: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"

        def fetch() -> t.Tuple[bytes, str]:
            resp = open_url(
                url, method=method, headers=headers, data=data,
                timeout=budget, validate_certs=self._validate_certs,
                url_username=self._username, url_password=self._password,
                force_basic_auth=bool(self._username), ca_path=self._ca_path,
                client_cert=self._client_cert, client_key=self._client_key,
                http_agent="cdcops.flink_cdc", use_netrc=False)
            try:
                return resp.read(), resp.headers.get("Content-Type", "") if resp.headers else ""
            finally:
                resp.close()

        try:
            body, ctype = call_within(budget, fetch)
        except HTTPError as exc:
            raise self._http_error(exc, path, where)
        except Exception as exc:  # URLError, OSError, TLS errors, and a few odd types (ValueError on a bad URL)
            cause = _cause(exc)
            if cause.startswith("timed out"):
                cause = "timed out: no complete answer within %s s (%s)" % (secs(budget), bound)
            raise FlinkRestError("cannot reach the Flink REST API at %s: %s"
                                 % (where, cause), url=self.display_url + path, failover=True)
        return self._decode(body, ctype, path, where)

    def _http_error(self, exc: HTTPError, path: str, where: str) -> FlinkRestError:
        status = exc.code
        if status in (401, 403):
            hint = "check url_username/url_password" if status == 401 else \
                "the credentials were refused for this resource"
            return FlinkRestError("the Flink REST API at %s answered HTTP %d (%s): %s"
                                  % (where, status, exc.reason, hint),
                                  url=self.display_url + path, status=status)
        errors: t.List[str] = []
        try:
            errors = [to_native(e) for e in json.loads(exc.read()).get("errors") or []]
        except Exception:
            pass
        # Flink answers a resource it does not know (a job id) with its JSON error and a NotFoundException; a path
        # that is no endpoint with "Unable to load requested file" (seen on 1.20.3). Only the second, or a body
        # that is not Flink's, says that url points elsewhere.
        first = errors[0].splitlines()[0] if errors else ""
        # A savepoint trigger it does not know: "RestHandlerException: There is no savepoint operation with
        # triggerId=..." (seen on 1.20.3).
        if status == 404 and ("NotFoundException" in first or "RestHandlerException" in first):
            return FlinkRestError("the Flink REST API at %s answered HTTP 404: %s"
                                  % (where, first.split("Exception:", 1)[-1].strip()),
                                  url=self.display_url + path, status=status)
        if status == 404:
            return FlinkRestError(
                "%s is not a Flink REST API: HTTP 404 for %s. Point url at the JobManager's "
                "REST endpoint (rest.address:rest.port, default port 8081)"
                % (self.display_url, path), url=self.display_url + path, status=status,
                not_flink=True)
        detail = ""
        if errors:
            detail = ": " + "; ".join(_headline(e) for e in errors)[:500]
        no_leader = status == 503 or (status == 500 and any(
            mark in line for line in errors for mark in _NO_LEADER))
        return FlinkRestError("the Flink REST API at %s answered HTTP %d (%s)%s%s"
                              % (where, status, exc.reason, detail,
                                 " (this JobManager has no leader to ask: a leader election is under way)"
                                 if no_leader else ""),
                              url=self.display_url + path, status=status, failover=no_leader)

    def _decode(self, body: bytes, ctype: str, path: str, where: str) -> t.Any:
        if not body.strip():
            return {}  # PATCH /jobs/:jobid answers 202 with no body on some versions
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            kind = ctype.split(";")[0].strip() or "a non-JSON body"
            raise FlinkRestError(
                "%s is not a Flink REST API: %s answered with %s, not Flink's JSON. Point url at "
                "the JobManager's REST endpoint (rest.address:rest.port, default port 8081)"
                % (self.display_url, where, kind), url=self.display_url + path, not_flink=True)
        return data

    # The endpoints this collection reads (apache/flink docs/content/docs/ops/rest_api.md).

    def overview(self) -> t.Dict[str, t.Any]:
        data = self.get("/overview")
        if not isinstance(data, dict) or "flink-version" not in data:
            raise FlinkRestError(
                "%s is not a Flink REST API: /overview has no flink-version field"
                % self.display_url, url=self.display_url + "/overview", not_flink=True)
        return data

    def taskmanagers(self) -> t.List[t.Dict[str, t.Any]]:
        return self._expect(self.get("/taskmanagers"), "taskmanagers", "/taskmanagers")

    def jobs(self) -> t.List[t.Dict[str, t.Any]]:
        return self._expect(self.get("/jobs/overview"), "jobs", "/jobs/overview")

    def jobmanager_config(self) -> t.List[t.Dict[str, t.Any]]:
        data = self.get("/jobmanager/config")
        if not isinstance(data, list):
            raise FlinkRestError("unexpected body from %s: expected a list of {key, value}"
                                 % self._where("/jobmanager/config"))
        return data

    def dashboard_config(self) -> t.Dict[str, t.Any]:
        """``/config``: the answering JobManager's own ``flink-version`` (a constant of its process)."""
        data = self.get("/config")
        return data if isinstance(data, dict) else {}

    def leader_thread_names(self) -> t.List[str]:
        """``/jobmanager/thread-dump``: the names of the threads of the LEADING JobManager (its handler asks the
        leader's Dispatcher for them: apache/flink ``JobManagerThreadDumpHandler``, ``RestfulGateway
        #requestThreadDump``)."""
        data = self.get("/jobmanager/thread-dump")
        infos = data.get("threadInfos") if isinstance(data, dict) else None
        return [i.get("threadName") or "" for i in infos or [] if isinstance(i, dict)]

    def jobmanager_classpath(self) -> t.List[str]:
        """``/jobmanager/environment``'s ``classpath``: the jars the JobManager loaded at start."""
        data = self.get("/jobmanager/environment")
        if not isinstance(data, dict) or not isinstance(data.get("classpath"), list):
            raise FlinkRestError("unexpected body from %s: no classpath list"
                                 % self._where("/jobmanager/environment"))
        return data["classpath"]

    def job(self, job_id: str) -> t.Dict[str, t.Any]:
        """``/jobs/:jobid``: state, timestamps and each vertex with its I/O metrics."""
        path = "/jobs/%s" % job_id
        data = self.get(path)
        if not isinstance(data, dict) or "state" not in data:
            raise FlinkRestError("unexpected body from %s: no job state" % self._where(path))
        return data

    def job_exceptions(self, job_id: str) -> t.Dict[str, t.Any]:
        """``/jobs/:jobid/exceptions``: the root exception and the exception history."""
        data = self.get("/jobs/%s/exceptions" % job_id)
        return data if isinstance(data, dict) else {}

    def vertex_taskmanagers(self, job_id: str, vertex_id: str) -> t.List[t.Dict[str, t.Any]]:
        """``/jobs/:jobid/vertices/:vertexid/taskmanagers``: where each vertex's subtasks ran."""
        data = self.get("/jobs/%s/vertices/%s/taskmanagers" % (job_id, vertex_id))
        return data.get("taskmanagers") or [] if isinstance(data, dict) else []

    def cancel_job(self, job_id: str) -> t.Any:
        """``PATCH /jobs/:jobid?mode=cancel`` (Flink REST API, "jobs/:jobid" PATCH)."""
        return self.request("PATCH", "/jobs/%s?mode=cancel" % job_id)

    def job_config(self, job_id: str) -> t.Dict[str, t.Any]:
        """``/jobs/:jobid/config``: the job's execution config; ``user-config`` holds its global job parameters."""
        data = self.get("/jobs/%s/config" % job_id)
        return data if isinstance(data, dict) else {}

    def checkpoints(self, job_id: str) -> t.Dict[str, t.Any]:
        """``/jobs/:jobid/checkpoints``: ``counts``, ``latest.completed``, ``latest.savepoint``, ``latest.restored``."""
        data = self.get("/jobs/%s/checkpoints" % job_id)
        return data if isinstance(data, dict) else {}

    def job_metrics(self, job_id: str, names: t.Sequence[str]) -> t.Dict[str, t.Any]:
        """``/jobs/:jobid/metrics?get=...``: name -> value (a string, as Flink gives it) of the job's metrics."""
        data = self.get("/jobs/%s/metrics?get=%s" % (job_id, ",".join(names)))
        return {m.get("id"): m.get("value") for m in data if isinstance(m, dict)} if isinstance(data, list) else {}

    def stop_with_savepoint(self, job_id: str, target_directory: str, trigger_id: str) -> str:
        """``POST /jobs/:jobid/stop``: stop the job with a savepoint into ``target_directory``; the answer's
        ``request-id``. ``triggerId`` is chosen by the caller so a retry of the same request is recognised
        instead of taking a second savepoint (FLINK-24208, Flink 1.15+; apache/flink
        ``docs/static/generated/rest_v1_dispatcher.yml``, ``StopWithSavepointRequestBody``)."""
        data = self.request("POST", "/jobs/%s/stop" % job_id,
                            {"targetDirectory": target_directory, "drain": False, "triggerId": trigger_id})
        return (data or {}).get("request-id") or trigger_id

    def savepoint_status(self, job_id: str, trigger_id: str) -> t.Dict[str, t.Any]:
        """``GET /jobs/:jobid/savepoints/:triggerid``: ``status.id`` (``IN_PROGRESS``, ``COMPLETED``) and, once
        completed, ``operation.location`` or ``operation.failure-cause``."""
        data = self.get("/jobs/%s/savepoints/%s" % (job_id, trigger_id))
        return data if isinstance(data, dict) else {}

    def _expect(self, data: t.Any, key: str, path: str) -> t.List[t.Dict[str, t.Any]]:
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise FlinkRestError("unexpected body from %s: no %r list"
                                 % (self._where(path), key), not_flink=True)
        return data[key]
