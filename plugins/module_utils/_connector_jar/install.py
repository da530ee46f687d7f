# -*- coding: utf-8 -*-
# Copyright: cdcops.flink_cdc contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your option
# the GNU General Public License version 3 or later (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
"""Changing ``dest`` safely: the lock on the directory, temp files that never end in ``.jar``, the atomic
install of several jars (all or none), removals and backups, and errors that say why a write failed.

Flink puts every ``*.jar`` in ``lib/`` on the JVM classpath at start (apache/flink
``flink-dist/src/main/flink-bin/bin/config.sh``, ``constructFlinkClassPath``), so nothing this code leaves in
``dest`` may end in ``.jar`` unless it is the finished, verified jar: temporary files end in ``.part``, backups
in ``.bak``, and the lock is taken on the directory itself.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
import time
import typing as t

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import Hasher
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.download import pump
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.errors import JarError, UnsafeNameError
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.maven import check_jar_name

DEFAULT_LOCK_WAIT = 900.0
TEMP_SUFFIX = ".part"
BACKUP_SUFFIX = ".bak"
_TEMP_NAME = re.compile(r"^\..+\.jar\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$")
_MOUNTINFO_ESCAPE = re.compile(r"\\([0-7]{3})")


def flock_wait(fd: int, exclusive: bool, wait: float, timeout_msg: str) -> None:
    """flock with a deadline, polling so that a stuck holder turns into a clear error."""
    deadline = time.monotonic() + wait
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    delay = 0.02
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            if time.monotonic() >= deadline:
                raise JarError(timeout_msg)
            time.sleep(delay)
            # Short naps: the waiters of a run (its first forks) should not oversleep the holder by much.
            delay = min(delay * 2, 0.1)


@contextlib.contextmanager
def dest_lock(dest: str, exclusive: bool = True, wait: float = DEFAULT_LOCK_WAIT) -> t.Iterator[None]:
    """Serialize runs on ``dest`` with flock on the directory itself.

    Locking the directory leaves no lock file in lib/ and works whatever the
    runs' temp directories are.
    """
    fd = os.open(dest, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        flock_wait(fd, exclusive, wait,
                   "Another run has held the lock on %s for more than %ds; it may be stuck downloading. Check for "
                   "other ansible runs on this host." % (dest, wait))
        yield
    finally:
        os.close(fd)


def check_dest(dest: str) -> str:
    if not os.path.isdir(dest):
        raise JarError("dest %s is not a directory. Point dest at Flink's lib directory (FLINK_HOME/lib); it is "
                       "not created, so a typo cannot scatter jars." % dest)
    return dest


def target_path(dest: str, filename: str) -> str:
    """``dest/filename``, proven to be directly inside ``dest``."""
    check_jar_name(filename, "The jar file name")
    path = os.path.join(dest, filename)
    if os.path.dirname(os.path.abspath(path)) != os.path.abspath(dest):
        raise UnsafeNameError("Refusing %s: it is not directly inside dest %s." % (path, dest))
    return path


def temp_prefix(filename: str) -> str:
    return ".%s." % filename


def open_temp(dest: str, filename: str) -> t.Tuple[t.BinaryIO, str]:
    """A new temp file in ``dest`` (same filesystem, so the rename is atomic); never ``*.jar``."""
    try:
        fd, path = tempfile.mkstemp(prefix=temp_prefix(filename), suffix=TEMP_SUFFIX, dir=dest)
    except OSError as exc:
        raise write_error(dest, exc)
    return os.fdopen(fd, "wb", buffering=0), path


def stale_temps(dest: str) -> t.List[str]:
    """Temp files left by a run that was killed (only ever removed under the lock)."""
    return sorted(n for n in os.listdir(dest) if _TEMP_NAME.match(n))


def remove_stale_temps(dest: str) -> None:
    """Remove ``stale_temps``; the caller holds the exclusive lock on ``dest``, so no live run owns them.

    Best effort: a temp file that cannot be removed is no jar, so Flink ignores it, and a later run tries again.
    """
    for name in stale_temps(dest):
        try:
            discard(os.path.join(dest, name))
        except OSError:
            pass


def mount_of(path: str) -> t.Tuple[str, str]:
    """``(mount point, filesystem type)`` of the filesystem holding ``path``.

    From ``/proc/self/mountinfo`` (the longest mount point above the real path; the last one listed of those
    stacked there), which also knows bind mounts; elsewhere the first directory upward that
    ``os.path.ismount``, type unknown.
    """
    real = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if "-" not in fields[6:] or len(fields) < 5:
                    continue
                point = _MOUNTINFO_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, kind = point, fields[fields.index("-", 6) + 1]
    except (OSError, IndexError, ValueError):
        best = ""
    if best:
        return best, kind
    point = real
    while not os.path.ismount(point) and os.path.dirname(point) != point:
        point = os.path.dirname(point)
    return point, ""


def read_only_reason(where: str) -> str:
    point, kind = mount_of(where)
    return "the filesystem mounted at %s%s is read-only" % (point, " (%s)" % kind if kind else "")


def write_error(where: str, exc: OSError) -> JarError:
    try:
        import pwd
        user = pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        user = str(os.geteuid())
    if exc.errno == errno.EROFS:
        # No user may write there, so become cannot help.
        return JarError("Cannot write in %s: %s. Remount it read-write, or point dest at a directory on a writable "
                        "filesystem. Nothing was changed." % (where, read_only_reason(where)), errno=exc.errno)
    if exc.errno in (errno.EACCES, errno.EPERM) and os.geteuid() == 0:
        return JarError("Cannot write in %s as user root: %s. Root itself is refused, so become cannot help: check for "
                        "the immutable attribute (lsattr -d %s; chattr -i), a network filesystem that maps root to "
                        "nobody (root_squash), or a security policy (SELinux, AppArmor). Nothing was changed." % (
                            where, exc.strerror, where), errno=exc.errno)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return JarError("Cannot write in %s as user %s: %s. Run the task with become: true, or give %s write "
                        "access to %s. Nothing was changed." % (where, user, exc.strerror, user, where),
                        errno=exc.errno)
    if exc.errno == errno.ENOSPC:
        return JarError("No space left in %s: %s. Free some space there; nothing was changed." % (where, exc.strerror),
                        errno=exc.errno)
    return JarError("Cannot write in %s as user %s: %s." % (where, user, exc), errno=exc.errno)


def parse_mode(mode: t.Any) -> int:
    """An octal mode: '0644', '644', 0o644 (YAML 0644 arrives as 420)."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        value = mode
    elif isinstance(mode, str) and re.match(r"^0?[0-7]{3,4}$", mode.strip()):
        value = int(mode.strip(), 8)
    else:
        raise JarError("mode %r must be an octal mode such as '0644' (symbolic modes are not supported)." % (mode,))
    if not 0 <= value <= 0o7777:
        raise JarError("mode %r is out of range." % (mode,))
    return value


def resolve_owner(owner: t.Optional[t.Union[str, int]], group: t.Optional[t.Union[str, int]]
                  ) -> t.Tuple[t.Optional[int], t.Optional[int]]:
    import grp
    import pwd
    uid = gid = None
    if owner not in (None, ""):
        try:
            uid = int(owner) if str(owner).isdigit() else pwd.getpwnam(str(owner)).pw_uid
        except KeyError:
            raise JarError("owner %s does not exist on this host." % owner)
    if group not in (None, ""):
        try:
            gid = int(group) if str(group).isdigit() else grp.getgrnam(str(group)).gr_gid
        except KeyError:
            raise JarError("group %s does not exist on this host." % group)
    return uid, gid


def attributes_differ(path: str, mode: int, uid: t.Optional[int], gid: t.Optional[int]) -> bool:
    st = os.stat(path)
    return (stat.S_IMODE(st.st_mode) != mode or (uid is not None and st.st_uid != uid)
            or (gid is not None and st.st_gid != gid))


def apply_attributes(path: str, mode: int, uid: t.Optional[int], gid: t.Optional[int]) -> None:
    try:
        if uid is not None or gid is not None:
            os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
        os.chmod(path, mode)
    except OSError as exc:
        raise write_error(path, exc)


def _fsync_dir(dest: str) -> None:
    fd = os.open(dest, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def backup_name(filename: str) -> str:
    """``<name>.<pid>.<timestamp>.bak``: beside the jar, but never loaded by Flink."""
    return "%s.%d.%s%s" % (filename, os.getpid(), time.strftime("%Y%m%dT%H%M%S"), BACKUP_SUFFIX)


def _keep_copy(final: str, keep: str) -> str:
    """A second name ``keep`` for the file at ``final``: a hard link, else a copy."""
    try:
        os.link(final, keep)
    except OSError:  # no hard links on this filesystem, or an immutable file: copy it instead
        try:
            with open(final, "rb", buffering=0) as src, open(keep, "xb", buffering=0) as out:
                pump(src.readinto, out, Hasher())
            os.chmod(keep, stat.S_IMODE(os.stat(final).st_mode))
        except OSError:
            discard(keep)
            raise
    return keep


def install_temps(dest: str, installs: t.Sequence[t.Tuple[str, str]], mode: int, uid: t.Optional[int],
                  gid: t.Optional[int], backup: bool) -> t.Dict[str, str]:
    """Rename verified temp files into place: all of them, or none.

    ``installs`` is ``[(temp path, file name in dest)]``. Every temp is fsynced
    and given its mode and owner first (where permission problems show up),
    while dest is still untouched. One rename is atomic but several are not, so
    the files they replace are kept under a second name until the last rename
    has succeeded, and a failed rename puts back the ones before it. The second
    name is the backup (``*.bak``) with ``backup``, else a temp name that the
    next run removes if this one is killed; neither ends in ``.jar``.
    Returns ``{file name: backup path}``.
    """
    finals = [target_path(dest, filename) for dummy, filename in installs]
    for temp, dummy in installs:
        try:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise write_error(dest, exc)
        apply_attributes(temp, mode, uid, gid)
    # A single rename cannot half-fail: it needs a second name only for a backup.
    need_keep = backup or len(installs) > 1
    keeps: t.List[t.Optional[str]] = []
    renamed = 0
    try:
        for final, (dummy, filename) in zip(finals, installs):
            if need_keep and os.path.lexists(final):
                keep = os.path.join(dest, backup_name(filename) if backup else "%s%s%s" % (
                    temp_prefix(filename), os.urandom(6).hex(), TEMP_SUFFIX))
                keeps.append(_keep_copy(final, keep))
            else:
                keeps.append(None)
        for final, (temp, dummy) in zip(finals, installs):
            os.replace(temp, final)
            renamed += 1
    except OSError as exc:
        failed = write_error(dest, exc)
        for keep in keeps[renamed:]:
            discard(keep)  # their files were never replaced
        try:
            for final, keep in zip(finals[:renamed], keeps[:renamed]):
                if keep:
                    os.replace(keep, final)
                else:
                    os.unlink(final)
        except OSError as undo:
            # Whatever keep is left is the only copy of a replaced jar: leave it for the user.
            left = [k for k in keeps[:renamed] if k and os.path.exists(k)]
            raise JarError("%s Putting back the jars renamed into place before it failed too (%s): check %s by "
                           "hand%s." % (failed.msg.replace(" Nothing was changed.", ""), undo,
                                        ", ".join(finals[:renamed]),
                                        "; the replaced files are kept as %s" % ", ".join(left) if left else ""),
                           changed=True)
        if renamed:
            raise JarError("%s (%d jar(s) of this call had already been renamed into place; they were put back.)" % (
                failed.msg, renamed), **failed.details)
        raise failed
    saved: t.Dict[str, str] = {}
    for keep, (dummy, filename) in zip(keeps, installs):
        if keep and backup:
            saved[filename] = keep
        else:
            discard(keep)
    _fsync_dir(dest)
    return saved


def remove_jars(dest: str, names: t.Iterable[str], backup: bool) -> t.Tuple[t.List[str], t.List[str]]:
    """Remove (or, with ``backup``, rename to ``*.bak``) jars in ``dest``. Returns (removed, backups)."""
    removed, saved = [], []
    for name in names:
        path = os.path.join(dest, name)
        try:
            if backup:
                keep = os.path.join(dest, backup_name(name))
                os.rename(path, keep)
                saved.append(keep)
            else:
                os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise write_error(dest, exc)
        removed.append(path)
    if removed:
        _fsync_dir(dest)
    return removed, saved


def discard(path: t.Optional[str]) -> None:
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
