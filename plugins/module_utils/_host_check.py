# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What one Flink host must have before connector jars are deployed to it (private to this collection).

Plain functions over their inputs (file text, ``os.stat``/``os.statvfs`` results, a connect function), so the
unit tests call each rule directly; plugins/modules/flink_host_check.py only gathers the inputs on the host.
Each function returns report rows: ``{host, area, check, status, detail}``, the row shape of the flink_cdc
role's readiness report.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import typing as t

# One import line for the support matrix, so a rename of that file is a one-line change here.
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._support_matrix import flink_at_least, java_check, java_major

Row = t.Dict[str, t.Any]

JAVA_HOME_KEY = "env.java.home"
# Flink 1.19 introduced conf/config.yaml (standard YAML, nested or flat keys) and still reads the legacy
# conf/flink-conf.yaml when config.yaml is absent; Flink 2.0 reads only config.yaml. Sources: apache/flink
# docs/content/docs/deployment/config.md ("Flink Configuration File"), release-1.19 and release-2.0, and
# GlobalConfiguration.loadConfiguration at those tags.
CONFIG_YAML = "config.yaml"
LEGACY_CONFIG = "flink-conf.yaml"
CONFIG_YAML_FROM = "1.19"

MIB = 1024 * 1024


def row(host: str, area: str, check: str, status: str, detail: str) -> Row:
    return {"host": host, "area": area, "check": check, "status": status, "detail": detail}


# --- Flink configuration

def config_files(flink_version: str) -> t.List[str]:
    """The configuration files Flink reads, in the order it looks for them (names under conf/)."""
    if not flink_version:
        return [CONFIG_YAML, LEGACY_CONFIG]
    if not flink_at_least(flink_version, CONFIG_YAML_FROM):
        return [LEGACY_CONFIG]
    if flink_at_least(flink_version, "2.0"):
        return [CONFIG_YAML]
    return [CONFIG_YAML, LEGACY_CONFIG]


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _value_text(text: str) -> str:
    """A scalar value without its trailing comment: ``"/opt/jdk" # x`` -> ``/opt/jdk``."""
    text = text.strip()
    if text[:1] in "'\"":
        end = text.find(text[0], 1)
        return text[1:end] if end > 0 else text[1:]
    return re.split(r"\s+#", text, maxsplit=1)[0].strip()


_KEY_LINE = re.compile(r"""^(?P<indent>[ ]*)(?P<key>"[^"]*"|'[^']*'|[^\s#'"][^:#]*?)[ \t]*:(?:[ \t]+(?P<value>.*))?$""")


def config_value(text: str, key: str) -> t.Optional[str]:
    """The value of a dotted key in a Flink configuration file, or None.

    Hosts may lack PyYAML, so this reads only block mappings of scalars, enough for ``env.java.home``: a flat key
    (``env.java.home: /opt/jdk``, the legacy flink-conf.yaml form, also valid in config.yaml), nested keys
    (``env:`` / ``  java:`` / ``    home: /opt/jdk``) or a mix (``env:`` / ``  java.home: ...``). The last
    occurrence wins, as in both of Flink's parsers.
    """
    found = None
    stack: t.List[t.Tuple[int, str]] = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith(("#", "-")) or raw.startswith(("---", "...")):
            continue
        match = _KEY_LINE.match(raw.rstrip())
        if not match:
            continue
        indent = len(match.group("indent"))
        name = _unquote(match.group("key"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        full = ".".join([entry[1] for entry in stack] + [name])
        value = match.group("value")
        if value is None or not value.strip() or value.strip().startswith("#"):
            stack.append((indent, name))
            continue
        if full == key:
            found = _value_text(value)
    return found


def configured_java_home(flink_home: str, flink_version: str,
                         read: t.Callable[[str], t.Optional[str]]) -> t.Tuple[str, str]:
    """``(env.java.home, file it is set in)`` from the first configuration file Flink would read; ``("", "")``
    when none sets it. ``read(path)`` returns a file's text, or None when it does not exist."""
    for name in config_files(flink_version):
        path = os.path.join(flink_home, "conf", name)
        text = read(path)
        if text is None:
            continue
        value = config_value(text, JAVA_HOME_KEY)
        return (value, path) if value else ("", "")
    return "", ""


# --- Java

class JavaChoice(t.NamedTuple):
    java: str  # the java binary, or "" when none was found
    source: str  # java_home, config, JAVA_HOME or PATH
    where: str  # the configuration file, for source == config


def choose_java(java_home: str, config_home: str, config_file: str, env: t.Mapping[str, str],
                which: t.Callable[[str], t.Optional[str]]) -> JavaChoice:
    """The java a Flink process started on this host runs: the role's ``java_home`` first (what it starts Flink
    with), then ``env.java.home`` of the Flink configuration, then ``JAVA_HOME``, then ``java`` on ``PATH``
    (apache/flink flink-dist/src/main/flink-bin/bin/config.sh: ``MY_JAVA_HOME``, ``JAVA_RUN``)."""
    if java_home:
        return JavaChoice(os.path.join(java_home, "bin", "java"), "java_home", "")
    if config_home:
        return JavaChoice(os.path.join(config_home, "bin", "java"), "config", config_file)
    if env.get("JAVA_HOME"):
        return JavaChoice(os.path.join(env["JAVA_HOME"], "bin", "java"), "JAVA_HOME", "")
    return JavaChoice(which("java") or "", "PATH", "")


# A JDK or JRE image carries a ``release`` file with ``JAVA_VERSION="17.0.15"`` (openjdk/jdk
# make/ReleaseFile.gmk; ``1.8.0_392`` in Java 8): reading it tells the version without starting a JVM.
_RELEASE_VERSION = re.compile(r'^JAVA_VERSION="([0-9][^"]*)"\s*$', re.MULTILINE)


def release_version(java: str, read: t.Callable[[str], t.Optional[str]]) -> t.Optional[t.Tuple[str, str]]:
    """``(version, release file)`` of the Java image ``java`` belongs to (``<home>/bin/java``; a Java 8 JDK's
    ``<home>/jre/bin/java`` too), its symbolic links followed; None when no release file names a version."""
    home = os.path.dirname(os.path.dirname(os.path.realpath(java)))
    homes = [home] + ([os.path.dirname(home)] if os.path.basename(home) == "jre" else [])
    for candidate in homes:
        path = os.path.join(candidate, "release")
        found = _RELEASE_VERSION.search(read(path) or "")
        if found:
            return found.group(1), path
    return None


def release_output(version: str, path: str) -> str:
    """A release file's version in the form of ``java -version``'s first line, which java_row judges."""
    return 'version "%s" (JAVA_VERSION in %s)' % (version, path)


def java_row(host: str, choice: JavaChoice, rc: t.Optional[int], output: str, flink_version: str,
             env_java_home: str) -> Row:
    """The ``java`` row: the chosen java's ``-version`` output (``rc`` None: it could not be run) against the
    Java versions the cluster's Flink supports."""
    java = choice.java or "java"
    if flink_version:
        error, warning = java_check(flink_version, output)
        status = "fail" if error else ("warn" if warning else "ok")
        detail = error or warning or "Java %s for Flink %s" % (java_major(output), flink_version)
    else:
        status = "fail" if rc != 0 else "skip"
        found = re.search(r'version "[^"]+"', output or "")
        detail = (found.group(0) if found else "no java found") + "; Flink version unknown"
    if choice.source == "config":
        where = "%s, %s in %s" % (java, JAVA_HOME_KEY, choice.where)
    else:
        where = "%s, %s" % (java, ("JAVA_HOME=" + env_java_home) if env_java_home else "JAVA_HOME unset")
    return row(host, "Java/config", "java", status, "%s (%s)" % (detail, where))


# --- lib/

def lib_row(host: str, lib: str, is_dir: t.Optional[bool], writable: bool, user: str,
            read_only_fs: bool = False) -> Row:
    """The ``lib/`` row. ``is_dir`` None: lib/ does not exist."""
    if is_dir is None:
        return row(host, "Java/config", "lib/", "fail", "%s does not exist; set flink_cdc_flink_home for %s" % (lib, host))
    if not is_dir:
        return row(host, "Java/config", "lib/", "fail", "%s is not a directory" % lib)
    if not writable:
        if read_only_fs:
            return row(host, "Java/config", "lib/", "fail", "%s is not writable by %s: its filesystem is mounted "
                                                            "read-only; remount it read-write" % (lib, user))
        return row(host, "Java/config", "lib/", "fail", "%s is not writable by %s; use become or fix its owner"
                   % (lib, user))
    return row(host, "Java/config", "lib/", "ok", "%s is writable" % lib)


def _mib(size: int) -> str:
    return "%.1f MiB" % (size / float(MIB))


def free_space_row(host: str, lib: str, free_bytes: int, needed_bytes: int) -> Row:
    """The ``free space`` row: the jars to deploy must fit in lib/'s filesystem (each is written there in full
    before it replaces anything)."""
    if free_bytes < needed_bytes:
        return row(host, "Java/config", "free space", "fail",
                   "%s free in the filesystem of %s, the connector jars need about %s; free %s there"
                   % (_mib(free_bytes), lib, _mib(needed_bytes), _mib(needed_bytes - free_bytes)))
    return row(host, "Java/config", "free space", "ok",
               "%s free in the filesystem of %s, the connector jars need about %s"
               % (_mib(free_bytes), lib, _mib(needed_bytes)))


# --- network

Connect = t.Callable[[str, int, float], None]


def _connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


def connect_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, socket.timeout):
        return "no answer within %gs" % timeout
    if isinstance(exc, socket.gaierror):
        return "cannot resolve the host name (%s)" % (exc.strerror or exc)
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def endpoint_row(host: str, endpoint: t.Mapping[str, t.Any], timeout: float, connect: Connect = _connect) -> Row:
    """A ``Network`` row: whether this host opens a TCP connection to ``endpoint`` ({name, host, port})."""
    check = "%s %s:%s" % (endpoint["name"], endpoint["host"], endpoint["port"])
    try:
        connect(str(endpoint["host"]), int(endpoint["port"]), timeout)
    except (OSError, socket.timeout) as exc:
        return row(host, "Network", check, "fail", "not reachable from %s: %s" % (host, connect_error(exc, timeout)))
    return row(host, "Network", check, "ok", "reachable from %s" % host)


def endpoint_problems(endpoints: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[str]:
    """What is wrong with the endpoint list itself."""
    problems = []
    for index, endpoint in enumerate(endpoints):
        missing = [key for key in ("name", "host", "port") if not endpoint.get(key) and endpoint.get(key) != 0]
        if missing:
            problems.append("endpoints[%d] lacks %s" % (index, ", ".join(missing)))
            continue
        try:
            port = int(endpoint["port"])
        except (TypeError, ValueError):
            problems.append("endpoints[%d] port %r is not a number" % (index, endpoint["port"]))
            continue
        if not 0 < port < 65536:
            problems.append("endpoints[%d] port %d is not between 1 and 65535" % (index, port))
    return problems
