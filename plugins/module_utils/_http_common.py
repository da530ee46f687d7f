# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What the collection's two HTTP clients share (private to it): the Flink REST client (``_flink/rest.py``) and the
jar download (``_connector_jar/download.py``). Standard library only, so that importing it costs a module nothing.

* ``call_within``: a deadline for a whole request (connect, headers, body), which a socket timeout is not;
* ``url_secrets``: the passwords written into URLs, for ``AnsibleModule.no_log_values``;
* ``redact_url``: a URL without its userinfo, for messages (the REST client's, and the controller's: the role's
  filters and reports import it from here, which costs them none of Ansible's URL code);
* ``secs``: a duration as the collection's messages write it (the HTTP clients' deadlines, and the waits of
  ``_flink/cluster.py`` and ``_flink/sql_job.py``).
"""

from __future__ import annotations

import socket
import threading
import typing as t
from urllib.parse import unquote, urlsplit, urlunsplit


def split_urls(urls: t.Union[str, t.Sequence[str], None]) -> t.List[str]:
    """The JobManager URLs of ``urls``: a list, or one string with commas between URLs."""
    items = [urls] if isinstance(urls, str) else list(urls or [])
    return [u.strip() for item in items for u in str(item).split(",") if u.strip()]


def url_secrets(*urls: t.Optional[str]) -> t.Set[str]:
    """The passwords in the userinfo of ``urls`` (``http://user:password@host/``), as written and percent-decoded.

    ``no_log=True`` cannot cover part of an option, so the module adds these to ``AnsibleModule.no_log_values``
    (and the action plugin masks its own results with them): Ansible then replaces them with ``********``
    wherever they appear in a result, ``invocation.module_args`` at -vvv included.
    """
    found: t.Set[str] = set()
    for url in urls:
        if not isinstance(url, str) or "@" not in url:
            continue
        try:
            password = urlsplit(url.strip()).password
        except ValueError:  # an invalid port or IPv6 literal: the URL is refused later, maybe with its text
            password = url.partition("://")[2].partition("@")[0].partition(":")[2]
        if password:
            found.update({password, unquote(password)})
    return found


def redact_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def secs(value: float, tenths: bool = True) -> str:
    """Seconds for a message: a whole number without a decimal point (``30``), else to a tenth (``2.5``), or with
    ``tenths`` False as Python writes the number (``2.25``)."""
    if float(value).is_integer():
        return "%d" % value
    return "%.1f" % value if tenths else str(value)


def call_within(seconds: float, func: t.Callable[[], t.Any], on_late: t.Optional[t.Callable[[t.Any], None]] = None,
                name: str = "cdcops-http") -> t.Any:
    """``func()`` within ``seconds``: its result or its exception, or ``socket.timeout`` once ``seconds`` have passed.

    A socket timeout bounds each read, not a request: a server that sends its headers one byte a second never
    trips it. So the request runs in a daemon thread, and the caller waits for it with a deadline. Not SIGALRM:
    it works in the main thread only, and on the controller Ansible uses it for the task keyword ``timeout``.
    A call that is still blocked at the deadline is abandoned: its thread ends when the server lets go, or with
    the process; what it returns after that is handed to ``on_late`` (to close a response nobody reads).
    """
    lock = threading.Lock()
    done = threading.Event()
    box: t.Dict[str, t.Any] = {}

    def run() -> None:
        late = False
        try:
            value = func()
        except BaseException as exc:  # handed to the caller, which raises it
            with lock:
                box["error"] = exc
                done.set()
            return
        with lock:
            late = "abandoned" in box
            box["value"] = value
            done.set()
        if late and on_late is not None:
            try:
                on_late(value)
            except Exception:
                pass  # only tidying up after a caller that has already given up

    worker = threading.Thread(target=run, name=name)
    worker.daemon = True
    worker.start()
    done.wait(max(0.0, seconds))
    with lock:
        if not done.is_set():
            box["abandoned"] = True
            raise socket.timeout("no complete answer within %s s" % secs(seconds))
    if "error" in box:
        raise box["error"]
    return box["value"]
