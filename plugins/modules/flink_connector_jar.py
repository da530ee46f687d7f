#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: flink_connector_jar
short_description: Put connector jars into Flink's lib directory safely, verifiably and idempotently
version_added: 0.1.0
description:
  - Installs connector jars (for example the Flink CDC postgres-cdc SQL connector or the StarRocks
    connector) into a Flink C(lib/) directory, from Maven coordinates, a URL, or a file.
  - One jar is given with O(group_id)/O(artifact_id)/O(version), O(url) or O(src); several with O(jars), in one
    task and one module execution per host, under one lock and one scan of O(dest).
  - With O(fetch_mode=remote) each host fetches from the repository itself. With O(fetch_mode=controller) each
    jar is fetched, verified and validated once on the controller, whatever the number of hosts, and pushed only
    to the hosts that do not already have it; the hosts need no access to the repository.
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
  - With O(jars), every jar that must change is downloaded, verified and validated before any is installed, then
    all are renamed into place, and only then are the jars they replace removed. A failure before that point
    leaves O(dest) exactly as it was for every jar of the task, not only the failed one. If one of the final
    renames fails, the jars of the task already renamed are put back. A failure while removing replaced jars,
    after all jars are installed, is reported with C(changed=true) and the files to remove by hand.
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
      - A password in its userinfo (C(https://user:password@host/maven2)) is used for basic authentication, like
        O(url_username)/O(url_password), and is never shown; it is masked wherever it would appear in the output,
        C(invocation) at C(-vvv) included, in either O(fetch_mode).
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
      - A password in its userinfo is masked in the output, as for O(repository_url).
    type: str
  src:
    description:
      - A jar that is already on the managed host. It is copied (not moved) into O(dest).
      - With O(fetch_mode=controller), a jar on the controller instead (a relative path is looked up like
        M(ansible.builtin.copy) does, for example in a role's C(files/)).
      - Without O(checksum) the file itself is the expectation; with it, O(src) must match.
    type: path
  jars:
    description:
      - Several jars in one task, each with its own source and optional checksum. Mutually exclusive with the
        single-jar source options O(group_id), O(artifact_id), O(version), O(classifier), O(url), O(src) and
        O(checksum); all other options apply to every jar.
      - All jars are handled under one lock and one scan of O(dest). Every jar that must change is downloaded,
        verified and validated before any of them is installed (see the description).
      - A list whose jars contradict each other (the same file twice, two versions of one artifact, two jars
        registering the same Flink table factory identifier, or one entry removing what another installs) is
        refused before anything is fetched.
      - The result lists each jar under RV(jars), in this order.
    type: list
    elements: dict
    suboptions:
      group_id:
        description:
          - Maven groupId, as O(group_id). Requires O(jars[].artifact_id).
        type: str
      artifact_id:
        description:
          - Maven artifactId, as O(artifact_id). One of O(jars[].artifact_id), O(jars[].url) or O(jars[].src) is
            required.
        type: str
      version:
        description:
          - Maven version, as O(version).
        type: str
      classifier:
        description:
          - Maven classifier, as O(classifier).
        type: str
      url:
        description:
          - An C(http) or C(https) URL of the jar, as O(url). A password in its userinfo is masked in the output.
        type: str
      src:
        description:
          - A jar file, as O(src), on the managed host (with O(fetch_mode=controller), on the controller).
        type: path
      checksum:
        description:
          - The expected checksum of this jar, as O(checksum).
        type: str
      state:
        description:
          - V(present) or V(absent) for this jar. Defaults to O(state).
        type: str
        choices: [present, absent]
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
      - When the jar itself is missing (a version the repository does not have), the task fails saying so, with the
        coordinates, the repository (without credentials), the HTTP status and, where the repository serves
        C(<group path>/<artifact_id>/maven-metadata.xml), the versions it has, nearest first.
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
      - With O(jars), the default for entries that do not set their own O(jars[].state).
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
      - Seconds the repository has to answer each request (connecting, the status line and the headers, and for a
        checksum file or C(maven-metadata.xml) the whole body). A server that sends its headers a byte at a time
        fails the request then.
      - A jar body may take longer, as long as it keeps arriving. The download fails once no data has arrived
        for this many seconds, naming the host and port and how many bytes had arrived.
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
  fetch_mode:
    description:
      - Where the jars are fetched from the repository.
      - V(remote) runs the module on each host, which downloads what it lacks itself, for example from an internal
        mirror. One module execution per host.
      - V(controller) fetches, verifies (pinned checksum or C(.sha1) file) and validates each jar once on the
        controller into O(controller_cache_dir), at most once per run whatever the number of hosts and forks; a
        cached jar is reused without fetching its body again (only the small C(.sha1) file, unless the checksum is
        pinned). The controller remembers, per host and O(dest), the checksums of the jars the last successful run
        left there. Jars it does not know the host to have are transferred to the host's temporary directory first;
        then one execution on each host verifies every checksum, installs, and does the rest. A first deploy
        is one execution per host plus the transfers, and an idempotent rerun one execution and no
        transfer. If a host lacks a jar the controller thought it had, the host installs nothing, that jar is
        transferred, and a second execution installs. Hosts need no access to the repository, and credentials never
        leave the controller.
      - With V(controller), when the controller knows the host's Python (C(ansible_python_interpreter) set, or
        discovered by an earlier task), that execution is one short command on the host that needs nothing but
        that Python and its standard library, with the options checked on the controller first. It costs each host
        about half of what a module run costs, which is what keeps a deploy to many hosts fast. Otherwise (the
        interpreter still to be discovered, a delegated task, a shell other than sh, or a command that gives no
        answer the controller can read) the module runs instead. Both install the same way and give the same
        result.
      - O(repository_url), O(url_username), O(url_password), O(headers), O(validate_certs), O(use_proxy) and
        O(timeout) apply where the jars are fetched.
      - With V(controller), O(force) downloads each jar again into the controller cache, once per run, and a host
        gets a jar only when its bytes differ from what it has.
    type: str
    choices: [remote, controller]
    default: remote
  controller_cache_dir:
    description:
      - Directory on the controller for O(fetch_mode=controller). Jars are kept there by checksum
        (C(<algorithm>/<hex>/<file name>)) with a small metadata file, so later runs reuse them.
      - It also keeps, under C(hosts/), one small file per host and O(dest) with the file names and checksums of
        the jars the last successful run left there (written only by real runs, never in check mode). It decides
        which jars are transferred before the module runs; the host still verifies every checksum.
      - That file also remembers every C(*.jar) in O(dest) as the last run left it.
        A rerun of the same task first makes a quick read-only check on the host; when every C(*.jar) in O(dest)
        is still the same file, unmodified since (same size, times, mode and owner), and each jar to install has
        its expected SHA-256, the task reports the host as it is without running the module or transferring
        anything. Otherwise, or when that check cannot answer, the module runs as usual, and only the jars found
        missing or different are transferred first.
      - Created if missing. Safe to share between concurrent runs, and to delete when no run uses it.
    type: path
    default: ~/.cache/cdcops-flink-cdc/jars
  _pushed:
    description:
      - Internal to O(fetch_mode=controller), set by this module's action plugin on the controller; it refuses the
        option from a task. Not a public interface.
      - The jars resolved on the controller (file name, expected checksum) and, once transferred, their copies in
        the host's temporary directory. Such a copy is moved into O(dest) (same filesystem) rather than copied.
      - With C(remember), a successful real run also returns what a rerun would answer, for the controller's
        memory (see O(controller_cache_dir)).
    type: dict
attributes:
  action:
    support: full
    description:
      - An action plugin of the same name runs on the controller. With O(fetch_mode=controller) it fetches and
        caches the jars and transfers only the missing ones; with V(remote) it runs the module as is.
  async:
    support: none
    description:
      - The action plugin does not run the module asynchronously.
  check_mode:
    support: full
    description:
      - Reports exactly whether each jar would be installed and which files would be removed, without writing and
        without downloading any jar body. Only the small C(.sha1) file may be fetched (on the controller with
        O(fetch_mode=controller), which uses its cache when it has the jar and writes nothing to it).
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
  - "What is guaranteed. B(Atomic install): a jar is renamed into O(dest) only once it is complete, verified and
    validated, and all jars of a task or none; any failure leaves O(dest) as it was. B(No secret in any output):
    O(url_password), O(headers) and a password in the userinfo of O(repository_url), O(url) or O(jars[].url) never
    appear in the result, at C(-vvv), in messages or in the controller cache, in either O(fetch_mode).
    B(Bounded time per request): see O(timeout); a stalled download fails, a slow one that keeps progressing
    finishes. B(Cleanup after interruption): see the next note."
  - A run that is killed (for example mid-download) leaves at most temporary files named
    C(.<jar name>.<random>.part) in O(dest), or in an entry of O(controller_cache_dir) with
    O(fetch_mode=controller). The next run on that O(dest) (or cache entry) removes them, whether or not it has
    anything to install, and with O(fetch_mode=controller) the rerun check sees them, so the module runs and
    removes them. Flink loads every C(*.jar) under C(lib/); nothing this module writes there ends in C(.jar) except a
    verified jar under its final name (temporary files end in C(.part), backups in C(.bak), and the lock is taken
    on the directory itself, with no lock file).
  - Downloads use Ansible's own URL handling, so TaskManager hosts need no extra Python packages.
  - O(fetch_mode=controller) works with pipelining; an up-to-date host then costs one connection round trip.
  - With O(fetch_mode=controller), a jar transferred to the host's temporary directory on the same filesystem as
    O(dest) is moved into O(dest) and verified there, not copied again.
  - A run waits up to 15 minutes for another run holding the lock on the same O(dest).
  - A write refused in O(dest) says why. On a read-only filesystem the message names its mount point (no
    C(become) helps there); when root itself is refused it names the likely causes (the immutable attribute,
    C(root_squash), a security policy); only a user who lacks permission is told to use C(become).
seealso:
  - module: ansible.builtin.get_url
  - module: ansible.builtin.copy
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

- name: Install both connectors in one task, fetched once on the controller and pushed to the hosts that lack them
  cdcops.flink_cdc.flink_connector_jar:
    jars:
      - group_id: org.apache.flink
        artifact_id: flink-sql-connector-postgres-cdc
        version: 3.5.0
      - group_id: com.starrocks
        artifact_id: flink-connector-starrocks
        version: 1.2.11_flink-1.20
        checksum: "sha256:{{ starrocks_connector_sha256 }}"
    dest: /opt/flink/lib
    fetch_mode: controller
    owner: flink
    group: flink
  register: connectors
  notify: Restart Flink

- name: Install one connector and remove another one in the same task, each host fetching from a mirror
  cdcops.flink_cdc.flink_connector_jar:
    repository_url: https://mirror.example.com/maven2
    jars:
      - group_id: org.apache.flink
        artifact_id: flink-sql-connector-postgres-cdc
        version: 3.5.0
      - group_id: com.example
        artifact_id: flink-connector-legacy
        state: absent
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
  returned: without O(jars), when O(state=present), or O(state=absent) with a version, URL or src
  type: str
  sample: /opt/flink/lib/flink-sql-connector-postgres-cdc-3.1.0.jar
checksum:
  description:
    - SHA-256 of the installed jar.
    - In check mode, when the jar would be installed, returned only if its SHA-256 is already known (a pinned
      V(sha256:) O(checksum), or a jar in the controller cache with O(fetch_mode=controller)).
  returned: without O(jars), when O(state=present) and known
  type: str
  sample: 0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
size:
  description: Size of the installed jar in bytes.
  returned: without O(jars), when O(state=present) and known
  type: int
  sample: 31457280
removed:
  description:
    - Paths of the jars removed (in check mode, that would be removed) from O(dest), for all jars of the task.
  returned: always
  type: list
  elements: str
  sample: [/opt/flink/lib/flink-sql-connector-postgres-cdc-3.0.1.jar]
downloaded:
  description:
    - Whether the jar body was downloaded from the repository by this task.
    - With O(fetch_mode=controller), downloaded into the controller cache for this host's task; one host per run
      at most.
  returned: without O(jars)
  type: bool
transferred:
  description:
    - Whether the jar was transferred from the controller to this host by this task.
    - On a host and O(dest) the controller has no memory of (see O(controller_cache_dir)), every jar is transferred
      before the module runs, also one the host turns out to have already.
  returned: without O(jars), with O(fetch_mode=controller) and O(state=present)
  type: bool
url:
  description: The URL the jar is (or would be) fetched from, without credentials.
  returned: without O(jars), when the source is Maven coordinates or O(url)
  type: str
  sample: https://repo1.maven.org/maven2/org/apache/flink/flink-sql-connector-postgres-cdc/3.1.0/flink-sql-connector-postgres-cdc-3.1.0.jar
cache_dir:
  description:
    - The O(controller_cache_dir) that had no room for a jar. The task failed on the controller, before anything
      was transferred to the host, and left nothing of the jar in the cache.
  returned: with O(fetch_mode=controller), when a jar did not fit in the controller cache
  type: str
  version_added: 0.3.0
needed_bytes:
  description:
    - The size of the jar that did not fit in the controller cache (its Content-Length, the size the
      repository's C(HEAD) reports when its C(GET) streams without one, or a local O(src)'s size); null when
      none of them is known.
  returned: with O(fetch_mode=controller), when a jar did not fit in the controller cache
  type: int
  version_added: 0.3.0
free_bytes:
  description: The free space of the controller cache's filesystem at that moment; null when it cannot be read.
  returned: with O(fetch_mode=controller), when a jar did not fit in the controller cache
  type: int
  version_added: 0.3.0
jars:
  description: One result per entry of O(jars), in the same order.
  returned: with O(jars)
  type: list
  elements: dict
  contains:
    path:
      description: Full path of the jar in O(dest).
      returned: when known (not for O(jars[].state=absent) without a version, URL or src)
      type: str
      sample: /opt/flink/lib/flink-sql-connector-postgres-cdc-3.5.0.jar
    checksum:
      description: SHA-256 of the installed jar; in check mode only when already known, as RV(checksum).
      returned: when O(jars[].state=present) and known
      type: str
    size:
      description: Size of the installed jar in bytes.
      returned: when O(jars[].state=present) and known
      type: int
    removed:
      description: Paths of the jars removed (or that would be removed) because of this entry.
      returned: always
      type: list
      elements: str
    downloaded:
      description: Whether this jar's body was downloaded by this task, as RV(downloaded).
      returned: always
      type: bool
    transferred:
      description: Whether this jar was transferred from the controller to this host by this task, as RV(transferred).
      returned: with O(fetch_mode=controller) and O(jars[].state=present)
      type: bool
    url:
      description: The URL the jar is (or would be) fetched from, without credentials.
      returned: when the source is Maven coordinates or a URL
      type: str
    changed:
      description: Whether this entry installed, replaced, fixed or removed something.
      returned: always
      type: bool
    msg:
      description: What was (or, in check mode, would be) done for this entry.
      returned: always
      type: str
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import host_run, options, sources, wire
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError


class FlinkConnectorJar:
    """Maps the module's options onto ``_connector_jar`` and its results back.

    On the host, ``fetch_mode=controller`` arrives as ``_pushed``: the jars the
    action plugin resolved on the controller, and later the copies it pushed
    (``_connector_jar/wire.py`` documents that wire).
    """

    def __init__(self):
        self.module = AnsibleModule(argument_spec=options.argument_spec(), supports_check_mode=True,
                                    **options.argument_rules())
        self.params = self.module.params
        # A password in a URL's userinfo: masked wherever it appears in the result, invocation included.
        self.module.no_log_values.update(options.option_url_secrets(self.params))

    def requests(self):
        """The jars of this call, and whether the result takes the single-jar form."""
        p = self.params
        if p[wire.PUSHED] is not None:
            return wire.pushed_requests(p[wire.PUSHED])
        if p["fetch_mode"] == "controller":
            raise JarError("fetch_mode=controller is carried out by this module's action plugin on the "
                           "controller, which did not run. Use fetch_mode=remote here.")
        if p["jars"] is not None:
            return [sources.jar_request(spec, p["repository_url"], p["state"], "jars[%d]: " % index)
                    for index, spec in enumerate(p["jars"])], False
        return [sources.jar_request(p, p["repository_url"], p["state"])], True

    def run(self):
        try:
            requests, single = self.requests()
            result = host_run.run(requests, single, self.params, self.module.check_mode, self.module._diff)
        except (JarError, OSError) as exc:
            self.module.fail_json(**host_run.failure(exc, self.params["dest"]))
        self.module.exit_json(**result)


def main():
    FlinkConnectorJar().run()


if __name__ == "__main__":
    main()
