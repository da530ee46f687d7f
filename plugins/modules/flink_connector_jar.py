#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: flink_connector_jar
short_description: Put a connector jar into Flink's lib directory safely, verifiably and idempotently
version_added: 0.1.0
description:
  - Installs one connector jar (for example the Flink CDC postgres-cdc SQL connector or the StarRocks
    connector) into a Flink C(lib/) directory, from Maven coordinates, a URL, or a file already on the host.
  - The jar is streamed in chunks to a temporary file inside O(dest) whose name does not end in C(.jar)
    (Flink loads every C(*.jar) in C(lib/)), hashed while streaming, checked against Content-Length,
    verified against the expected checksum, validated, fsynced, given its mode and owner, and renamed into
    place. Any failure (dropped connection, truncated body, checksum mismatch, invalid jar, HTTP error,
    permission error, full disk) leaves O(dest) exactly as it was.
  - When O(dest) already holds the file with the expected checksum, the jar body is not downloaded again
    (only the small C(.sha1) file may be fetched) and nothing changes.
  - Other versions of the same artifact, and any jar (whatever its name) that registers the same Flink table
    factory identifier, are removed after the new jar is in place. Two jars registering one identifier make
    Flink fail with C(Multiple factories for identifier).
  - Runs against the same O(dest) serialize on a lock on the directory.
  - Flink reads C(lib/) only at process start, so restart the JobManager and TaskManagers after a change.
author:
  - cdcops.flink_cdc maintainers (@cdcops)
options:
  repository_url:
    description:
      - Base URL of the Maven repository, used with O(group_id), O(artifact_id) and O(version).
      - The jar is fetched from C(<repository_url>/<group/as/path>/<artifact_id>/<version>/<artifact_id>-<version>[-<classifier>].jar).
      - Only C(http) and C(https) URLs are accepted.
    type: str
    default: https://repo1.maven.org/maven2
  group_id:
    description:
      - Maven groupId, for example V(org.apache.flink) (Flink CDC 3.1+), V(com.ververica) (Flink CDC 2.x to 3.0)
        or V(com.starrocks).
      - Only letters, digits, V(_), V(-) and dots between parts.
      - Requires O(artifact_id). Mutually exclusive with O(url) and O(src).
    type: str
  artifact_id:
    description:
      - Maven artifactId, for example V(flink-sql-connector-postgres-cdc) or V(flink-connector-starrocks).
      - With O(validate=true), V(flink-connector-postgres-cdc) (the thin jar without Debezium and the JDBC
        driver) is refused.
      - One of O(artifact_id), O(url) or O(src) is required.
    type: str
  version:
    description:
      - Maven version, for example V(3.1.0), V(3.6.0-1.20) or V(1.2.11_flink-1.20).
      - Required for O(state=present) with Maven coordinates; with O(state=absent) every version is removed
        and this is ignored.
      - Checked against Maven's allowed characters, so nothing can be written outside O(dest).
    type: str
  classifier:
    description:
      - Maven classifier, appended to the file name as C(-<classifier>).
    type: str
  url:
    description:
      - An C(http) or C(https) URL of the jar. Its last path segment is the file name in O(dest).
      - Without O(checksum), the jar is verified against C(<url>.sha1), which must exist.
    type: str
  src:
    description:
      - A jar that is already on the managed host. It is copied (not moved) into O(dest).
      - Without O(checksum) the file itself is the expectation; with it, O(src) must match.
    type: path
  dest:
    description:
      - The Flink lib directory, for example C(/opt/flink/lib). It must exist; it is never created.
    type: path
    required: true
  checksum:
    description:
      - The expected checksum of the jar, as V(sha256:<hex>), V(sha512:<hex>) or V(sha1:<hex>).
      - Without it, Maven and URL sources are verified against the repository's C(.sha1) file, which Maven
        Central guarantees. A missing C(.sha1) file fails the task; nothing is ever installed unverified.
      - Ignored with O(state=absent).
    type: str
  validate:
    description:
      - Check that the file is a readable jar before installing it, that is, every zip entry's CRC matches and
        a manifest is present.
      - For known connectors (the postgres-cdc SQL connector under C(com.ververica) or C(org.apache.flink),
        and the StarRocks connector), the expected table factory must be listed in
        C(META-INF/services/org.apache.flink.table.factories.Factory).
      - The thin C(flink-connector-postgres-cdc) jar is refused, with a hint to use
        C(flink-sql-connector-postgres-cdc).
    type: bool
    default: true
  remove_other_versions:
    description:
      - Remove other versions of the same artifact from O(dest) (files named C(<artifact_id>-<version>*.jar)),
        and any jar, whatever its file name, that registers the same Flink table factory identifier or factory
        class (for example a C(com.ververica) 2.x jar beside an C(org.apache.flink) 3.x jar).
      - Removal happens only after the new jar is in place.
      - Factory identifiers are known for the connectors listed under O(validate); for other jars only the same
        factory class counts. In check mode, for a jar that is not yet downloaded, the prediction uses this
        connector data.
      - With O(state=absent), renamed copies of the artifact (jars registering its own factory classes) are
        removed too, but not other connector lines that share the identifier.
    type: bool
    default: true
  state:
    description:
      - V(present) installs the jar.
      - V(absent) removes every version of the artifact from O(dest).
    type: str
    choices: [present, absent]
    default: present
  owner:
    description:
      - Name or numeric id of the user that should own the installed jar. Default is the user running the task.
    type: str
  group:
    description:
      - Name or numeric id of the group that should own the installed jar. Default is the user's group.
    type: str
  mode:
    description:
      - Octal permissions of the installed jar, for example V('0644'). Symbolic modes are not supported.
    type: raw
    default: '0644'
  backup:
    description:
      - Keep the jars this task replaces or removes, renamed in O(dest) to
        C(<name>.<pid>.<timestamp>.bak). The name does not end in C(.jar), so Flink does not load it.
    type: bool
    default: false
  force:
    description:
      - Download the jar body (asking proxies for a fresh copy, C(Cache-Control no-cache)) even when O(dest)
        already holds a file with the expected checksum. The file is replaced only if the bytes differ.
    type: bool
    default: false
  timeout:
    description:
      - Timeout in seconds for connecting and for each read from the repository.
    type: int
    default: 30
  validate_certs:
    description:
      - Verify the repository's TLS certificate. Set to V(false) only for testing.
    type: bool
    default: true
  url_username:
    description:
      - User name for HTTP basic authentication to the repository.
    type: str
  url_password:
    description:
      - Password for HTTP basic authentication to the repository. It is never logged.
    type: str
  headers:
    description:
      - Extra HTTP request headers, for example a repository token such as C(X-JFrog-Art-Api) or C(Authorization).
      - Values are never logged.
    type: dict
  use_proxy:
    description:
      - Use the proxy from the C(http_proxy)/C(https_proxy) environment variables.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description:
      - Reports exactly whether the jar would be installed and which files would be removed, without writing
        and without downloading the jar body. Only the small C(.sha1) file may be fetched.
  diff_mode:
    support: full
    description:
      - Shows the list of jars in O(dest) before and after.
  platform:
    support: full
    platforms: posix
    description:
      - Needs C(fcntl.flock) and atomic C(rename) in O(dest), as on Linux.
notes:
  - Downloads use Ansible's own URL handling, so TaskManager hosts need no extra Python packages.
  - A run waits up to 15 minutes for another run holding the lock on the same O(dest).
  - Temporary files are named C(.<jar name>.<random>.part) inside O(dest); ones left by a killed run are
    removed by the next run that installs a jar there.
seealso:
  - module: ansible.builtin.get_url
  - name: Maven repository layout
    description: How Maven coordinates map to paths in a repository.
    link: https://maven.apache.org/repositories/layout.html
"""

EXAMPLES = r"""
- name: Install the Flink CDC postgres-cdc SQL connector from Maven Central (verified against its .sha1)
  cdcops.flink_cdc.flink_connector_jar:
    group_id: org.apache.flink
    artifact_id: flink-sql-connector-postgres-cdc
    version: 3.1.0
    dest: /opt/flink/lib
    owner: flink
    group: flink
  notify: Restart Flink

- name: Install the StarRocks connector built for Flink 1.20, pinned to a checksum
  cdcops.flink_cdc.flink_connector_jar:
    group_id: com.starrocks
    artifact_id: flink-connector-starrocks
    version: 1.2.11_flink-1.20
    checksum: "sha256:{{ starrocks_connector_sha256 }}"
    dest: /opt/flink/lib

- name: Install from an internal repository that wants a token
  cdcops.flink_cdc.flink_connector_jar:
    repository_url: https://nexus.example.com/repository/maven-public
    group_id: org.apache.flink
    artifact_id: flink-sql-connector-postgres-cdc
    version: 3.1.0
    headers:
      X-Auth-Token: "{{ nexus_token }}"
    dest: /opt/flink/lib

- name: Install a jar already copied to the host
  cdcops.flink_cdc.flink_connector_jar:
    src: /tmp/flink-sql-connector-postgres-cdc-3.1.0.jar
    checksum: "sha256:{{ pg_cdc_sha256 }}"
    dest: /opt/flink/lib

- name: Remove every version of the connector
  cdcops.flink_cdc.flink_connector_jar:
    group_id: org.apache.flink
    artifact_id: flink-sql-connector-postgres-cdc
    dest: /opt/flink/lib
    state: absent
"""

RETURN = r"""
changed:
  description: Whether a jar was installed or replaced, its mode or owner changed, or a jar was removed.
  returned: always
  type: bool
path:
  description: Full path of the jar in O(dest).
  returned: when O(state=present), or O(state=absent) with a version, URL or src
  type: str
  sample: /opt/flink/lib/flink-sql-connector-postgres-cdc-3.1.0.jar
checksum:
  description:
    - SHA-256 of the installed jar.
    - In check mode, when the jar would be downloaded, returned only if O(checksum) pins a SHA-256.
  returned: when O(state=present) and known
  type: str
  sample: 0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
size:
  description: Size of the installed jar in bytes.
  returned: when O(state=present) and known
  type: int
  sample: 31457280
removed:
  description:
    - Paths of the jars removed (in check mode, that would be removed) from O(dest).
  returned: always
  type: list
  elements: str
  sample: [/opt/flink/lib/flink-sql-connector-postgres-cdc-3.0.1.jar]
downloaded:
  description: Whether the jar body was downloaded in this run.
  returned: always
  type: bool
url:
  description: The URL the jar is (or would be) fetched from, without credentials.
  returned: when the source is Maven coordinates or O(url)
  type: str
  sample: https://repo1.maven.org/maven2/org/apache/flink/flink-sql-connector-postgres-cdc/3.1.0/flink-sql-connector-postgres-cdc-3.1.0.jar
backup_files:
  description: Backups made of replaced or removed jars (names end in C(.bak), so Flink does not load them).
  returned: when O(backup=true)
  type: list
  elements: str
msg:
  description: What was (or, in check mode, would be) done.
  returned: always
  type: str
diff:
  description: The jars in O(dest) before and after, one file name per line.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: Jars before.
      type: str
      returned: in diff mode
    after:
      description: Jars after.
      type: str
      returned: in diff mode
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _jar


class FlinkConnectorJar:
    """Maps the module's options onto ``_jar`` and its results back."""

    argument_spec = dict(
        repository_url=dict(type="str", default=_jar.DEFAULT_REPOSITORY_URL),
        group_id=dict(type="str"),
        artifact_id=dict(type="str"),
        version=dict(type="str"),
        classifier=dict(type="str"),
        url=dict(type="str"),
        src=dict(type="path"),
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
    )

    def __init__(self):
        self.module = AnsibleModule(
            argument_spec=self.argument_spec,
            required_one_of=[("artifact_id", "url", "src")],
            mutually_exclusive=[("artifact_id", "url", "src"), ("group_id", "url", "src"),
                                ("version", "url", "src"), ("classifier", "url", "src")],
            required_together=[("group_id", "artifact_id")],
            supports_check_mode=True,
        )
        self.params = self.module.params

    def fail(self, msg, **details):
        self.module.fail_json(msg=msg, changed=bool(details.pop("changed", False)), **details)

    def source(self):
        p = self.params
        if p["artifact_id"]:
            if p["state"] == "absent":
                source = _jar.maven_artifact(p["group_id"], p["artifact_id"])
                if p["version"]:
                    _jar.validate_coordinates(p["group_id"], p["artifact_id"], p["version"], p["classifier"])
                    source = source._replace(filename=_jar.jar_filename(
                        p["artifact_id"], p["version"], p["classifier"]))
                return source
            if not p["version"]:
                self.fail("version is required to install %s:%s (state=present)." % (p["group_id"], p["artifact_id"]))
            return _jar.maven_source(p["repository_url"], p["group_id"], p["artifact_id"], p["version"],
                                     p["classifier"], p["checksum"])
        if p["url"]:
            return _jar.url_source(p["url"], p["checksum"])
        return _jar.src_source(p["src"], p["checksum"])

    def http(self):
        p = self.params
        return _jar.HttpOptions(timeout=p["timeout"], validate_certs=p["validate_certs"],
                                url_username=p["url_username"], url_password=p["url_password"],
                                headers={str(k): str(v) for k, v in (p["headers"] or {}).items()},
                                use_proxy=p["use_proxy"], force=p["force"])

    def options(self):
        p = self.params
        uid, gid = _jar.resolve_owner(p["owner"], p["group"])
        return _jar.InstallOptions(validate=p["validate"], remove_other_versions=p["remove_other_versions"],
                                   mode=_jar.parse_mode(p["mode"]), uid=uid, gid=gid, backup=p["backup"],
                                   force=p["force"])

    def run(self):
        p = self.params
        check = self.module.check_mode
        try:
            source = self.source()
            opts = self.options()
            dest = _jar.check_dest(p["dest"])
            # Check mode only reads: a shared lock keeps it from seeing a half-finished run.
            with _jar.dest_lock(dest, exclusive=not check):
                if p["state"] == "present":
                    result = _jar.ensure_present(source, dest, self.http(), opts, check)
                else:
                    result = _jar.ensure_absent(source, dest, opts, check)
        except _jar.JarError as exc:
            self.fail(exc.msg, **exc.details)
        except OSError as exc:
            self.fail("flink_connector_jar failed on %s: %s" % (p["dest"], exc), exception=traceback.format_exc())
        if not self.module._diff:
            result.pop("diff", None)
        self.module.exit_json(**result)


def main():
    FlinkConnectorJar().run()


if __name__ == "__main__":
    main()
