# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""What a rerun's answer depends on in ``dest``: the probe the controller runs on a host instead of the module.

After a successful run the module also answers what a rerun would answer (``ensure.rerun_record``: ``ensure_jars``
in check mode, which reads only), with ``dest_state``. The next run with the same arguments runs ``dest_state``
alone on the host (``probe``, sent as a short ``python -c`` by ``plugins/plugin_utils/_probe.py``, no module
payload: ``plugins/plugin_utils/_connector_jar/rerun.py``);
when dest is as it was, with every jar's SHA-256 as expected, that answer is the result. Anything else, or any
doubt, and the module runs as usual.

This file must stay self-contained: the controller sends its own source (``inspect.getsource``) to the host's
Python, so it uses the standard library only, imported inside the function, runs on Python 3.8, and
its annotations are builtins, which that script can evaluate without this file's imports.
"""

from __future__ import annotations


def dest_state(dest: str, names: list) -> dict:
    """The identity of every ``*.jar`` entry in ``dest`` (lstat, and stat through a link), and the SHA-256 and
    size of each of ``names`` that is a file: all a rerun's answer depends on. Any write to a file changes its
    ctime, which no user can set, so an unchanged state means unchanged jars. A temp file a killed run left
    (``.<name>.jar.<random>.part``) counts too, so that the rerun runs the module, which removes it.

    Stdlib only, self-contained and Python 3.8: the controller sends this function's source as its probe.
    """
    import hashlib
    import os

    def ident(st):
        return [st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_uid, st.st_gid]

    entries = {}
    for entry in os.scandir(dest):
        if entry.name.endswith(".jar") or (entry.name.startswith(".") and ".jar." in entry.name
                                           and entry.name.endswith(".part")):
            st = entry.stat(follow_symlinks=False)
            through = None
            if entry.is_symlink():
                try:
                    through = ident(os.stat(entry.path))
                except OSError:
                    through = "broken"
            entries[entry.name] = [ident(st), through]
    digests = {}
    for name in names:
        path = os.path.join(dest, name)
        if os.path.isfile(path):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            digests[name] = [h.hexdigest(), os.path.getsize(path)]
    return {"dest": dest, "entries": entries, "sha256": digests}


def probe(args: dict) -> dict:
    """The rerun probe: ``dest_state`` of ``args["dest"]`` for ``args["names"]``, with dest resolved as the module's
    type=path option resolves it, on the host (``~`` and variables expanded); ``{"error": ...}`` when dest cannot
    be read, never a state."""
    import os

    dest = os.path.expanduser(os.path.expandvars(args["dest"]))
    try:
        return dest_state(dest, args["names"])
    except (OSError, ValueError) as exc:
        return {"error": str(exc)}
