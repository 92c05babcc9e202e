# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Is a JS7 instance running? PID file, ``state/lock`` and /proc, checked against each other.

Private to the collection (leading underscore): no compatibility promise.

Facts used (js7-engine.md):

- §2.1: the engine writes its PID as text into ``<data>/state/lock`` and holds an exclusive
  OS lock on that file as long as it runs; the file is never deleted.
- §6.3: the instance script writes ``<data>/logs/controller.pid`` / ``agent.pid``; the installer
  identifies the process by its command line (``js7\\.controller\\.ControllerMain.*--http-port=<port>``).

A PID alone proves nothing: a PID file outlives a crash and the kernel reuses PIDs. A process
counts as the instance only if its command line names the instance's main class and data
directory (or, without ``--data-directory``, its HTTP port), and it lives in our mount
namespace (two lab hosts in network namespaces have the same paths).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os

PROC = '/proc'


def read_pid_file(path):
    """The PID in a PID or lock file, or None when absent, empty or not a number."""
    try:
        with open(path, 'rb') as handle:
            text = handle.read(64).decode('ascii', 'replace')
    except (IOError, OSError):
        return None
    token = text.strip().split()[0] if text.strip() else ''
    if not token.isdigit():
        return None
    pid = int(token)
    return pid if pid > 0 else None


def process_alive(pid, proc=PROC):
    """True when ``pid`` exists and is not a zombie."""
    if not pid:
        return False
    try:
        with open(os.path.join(proc, str(pid), 'stat'), 'rb') as handle:
            stat = handle.read().decode('ascii', 'replace')
    except (IOError, OSError):
        if os.path.isdir(proc) and os.path.exists(os.path.join(proc, 'self')):
            return False
        try:  # no /proc (not Linux): ask the kernel
            os.kill(pid, 0)
        except OSError as exc:
            return exc.errno == errno.EPERM
        return True
    # "pid (comm) S ..." - comm may contain spaces and parentheses: the state follows the last ')'.
    state = stat[stat.rfind(')') + 1:].split()[:1]
    return bool(state) and state[0] not in ('Z', 'X')


def process_cmdline(pid, proc=PROC):
    """The argument vector of ``pid`` as a list, or None when it cannot be read."""
    try:
        with open(os.path.join(proc, str(pid), 'cmdline'), 'rb') as handle:
            raw = handle.read()
    except (IOError, OSError):
        return None
    if not raw:
        return None
    return [part.decode('utf-8', 'replace') for part in raw.rstrip(b'\0').split(b'\0')]


def _same_mount_namespace(pid, proc=PROC):
    """True/False when both mount namespaces can be read, None when not."""
    try:
        return os.readlink(os.path.join(proc, str(pid), 'ns', 'mnt')) == os.readlink(os.path.join(proc, 'self', 'ns', 'mnt'))
    except OSError:
        return None


def _option_values(argv, name):
    prefix = name + '='
    values = []
    for index, arg in enumerate(argv):
        if arg.startswith(prefix):
            values.append(arg[len(prefix):])
        elif arg == name and index + 1 < len(argv):
            values.append(argv[index + 1])
    return values


def http_ports_of(argv):
    """``--http-port`` and ``--https-port`` values of an engine command line (js7-engine.md §1.5)."""
    return _option_values(argv, '--http-port'), _option_values(argv, '--https-port')


def _port_of(value):
    text = value.rsplit(':', 1)[-1]
    return int(text) if text.isdigit() else None


def _resolve(path, pid, proc=PROC):
    if not os.path.isabs(path):
        try:
            path = os.path.join(os.readlink(os.path.join(proc, str(pid), 'cwd')), path)
        except OSError:
            pass
    return os.path.realpath(path)


def cmdline_identifies(argv, location, pid=None, proc=PROC):
    """Does this command line belong to the instance at ``location``?

    Main class as its own argument (``java ... js7.controller.ControllerMain``), then the data
    directory; without ``--data-directory`` the HTTP port decides (the installer's GetPid).
    """
    if not argv or location.main_class not in argv:
        return False
    data_dirs = _option_values(argv, '--data-directory')
    if data_dirs:
        wanted = os.path.realpath(location.data_dir)
        return any(_resolve(value, pid, proc) == wanted for value in data_dirs)
    http, https = http_ports_of(argv)
    return any(_port_of(value) == location.port for value in http + https)


def lock_holders(path, proc=PROC):
    """PIDs holding an OS lock (flock or POSIX) on ``path``, read from /proc/locks.

    Reading the kernel's lock table tests the lock itself without taking it. Returns None when
    /proc/locks cannot be read (not Linux); [] when nobody holds a lock or the file is missing.
    """
    try:
        stat = os.stat(path)
    except OSError:
        return []
    try:
        with open(os.path.join(proc, 'locks'), 'rb') as handle:
            table = handle.read().decode('ascii', 'replace')
    except (IOError, OSError):
        return None
    wanted_dev = '%02x:%02x' % (os.major(stat.st_dev), os.minor(stat.st_dev))
    holders = []
    for line in table.splitlines():
        # "1: POSIX  ADVISORY  WRITE 7403 fe:00:5308845 0 EOF"; waiters carry "->" and hold nothing.
        fields = line.split()
        if len(fields) < 6 or '->' in fields:
            continue
        pid_text, file_id = fields[4], fields[5]
        parts = file_id.split(':')
        if len(parts) != 3 or not pid_text.lstrip('-').isdigit():
            continue
        if parts[2] != str(stat.st_ino) or ':'.join(parts[:2]).lower() != wanted_dev:
            continue
        pid = int(pid_text)
        if pid > 0 and pid not in holders:
            holders.append(pid)
    return holders


def lock_is_free(path):
    """Try to take the lock on ``path`` without blocking and release it at once.

    Tests both kinds of OS lock, since they do not see each other on Linux: the JVM takes a
    POSIX record lock (FileChannel.tryLock), other runtimes take flock. The file is opened
    without O_CREAT (a missing lock file stays missing) and never written. Exclusive when we
    may write the file, shared otherwise; either conflicts with the engine's exclusive lock.

    Returns True (free), False (held by another process) or None (file missing). Raises
    OSError when the file cannot be opened at all.
    """
    writable = os.access(path, os.W_OK)
    try:
        fd = os.open(path, (os.O_RDWR if writable else os.O_RDONLY) | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.ELOOP:  # a symlink where the lock file should be: look at its target
            fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        else:
            raise
    try:
        for locker in (fcntl.flock, fcntl.lockf):
            try:
                locker(fd, (fcntl.LOCK_EX if writable else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except (IOError, OSError) as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return False
                raise
            locker(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)  # closing also drops any POSIX lock of ours on the file


def _proc_pids(proc=PROC):
    try:
        names = os.listdir(proc)
    except OSError:
        return []
    return sorted(int(name) for name in names if name.isdigit())


class InstanceProcess:
    """What is known about the instance's process: see ``inspect_instance``."""

    def __init__(self):
        self.running = False
        self.pid = None
        self.argv = None
        self.found_by = None          # 'lock' | 'pid_file' | 'lock_holder' | 'scan'
        self.lock_exists = False
        self.lock_held = None         # True/False, None when it could not be tested
        self.lock_holders = []
        self.lock_pid = None          # PID text in state/lock
        self.pid_file_pid = None      # PID in logs/<component>.pid
        self.notes = []               # why a PID was not believed

    def as_dict(self):
        return dict(
            running=self.running, pid=self.pid, found_by=self.found_by,
            lock_exists=self.lock_exists, lock_held=self.lock_held, lock_holders=list(self.lock_holders),
            lock_pid=self.lock_pid, pid_file_pid=self.pid_file_pid, notes=list(self.notes),
        )


def inspect_instance(location, acquire_lock=False, scan=True, proc=PROC):
    """Find the running process of the instance, if any.

    Candidates, in order: the PID in ``state/lock`` (written by the engine itself), the PID file
    of the script, the holders of the lock (/proc/locks), and - when nothing else found it - a
    scan of /proc for the instance's command line (a JVM that has not taken the lock yet, or an
    instance whose lock file was deleted under it). Each candidate must be alive and have a
    matching command line in our mount namespace.

    The lock is read from /proc/locks; ``acquire_lock=True`` also tries to take it (never do that
    while an instance may be starting: a start that meets our brief lock fails with
    "Duplicate start"). Without /proc/locks the acquiring test is the only one and is used.
    """
    info = InstanceProcess()
    info.lock_exists = os.path.lexists(location.lock_file)
    info.lock_pid = read_pid_file(location.lock_file)
    info.pid_file_pid = read_pid_file(location.pid_file)

    holders = lock_holders(location.lock_file, proc) if info.lock_exists else []
    if holders is not None:
        info.lock_holders = holders
        info.lock_held = bool(holders)
    if info.lock_exists and (acquire_lock or holders is None):
        try:
            free = lock_is_free(location.lock_file)
        except OSError as exc:
            info.notes.append('cannot test the lock on %s: %s' % (location.lock_file, exc.strerror or exc))
        else:
            if free is not None:
                info.lock_held = bool(info.lock_held) or not free

    candidates = []
    for pid, source in [(info.lock_pid, 'lock'), (info.pid_file_pid, 'pid_file')] + [(pid, 'lock_holder') for pid in info.lock_holders]:
        if pid and pid not in [c[0] for c in candidates]:
            candidates.append((pid, source))

    for pid, source in candidates:
        if not process_alive(pid, proc):
            if source != 'lock_holder':
                info.notes.append('PID %d from the %s is not running (stale)' % (pid, 'lock file' if source == 'lock' else 'PID file'))
            continue
        argv = process_cmdline(pid, proc)
        if argv is None:
            if source == 'lock_holder':
                # Someone holds the lock but hides its command line (hidepid): the lock decides.
                info.running, info.pid, info.found_by = True, pid, source
                info.notes.append('PID %d holds %s; its command line cannot be read' % (pid, location.lock_file))
                return info
            info.notes.append('PID %d from the %s: command line unreadable, not trusted' % (pid, source))
            continue
        if not cmdline_identifies(argv, location, pid, proc) or _same_mount_namespace(pid, proc) is False:
            info.notes.append('PID %d from the %s belongs to another process: %s' % (pid, source.replace('_', ' '), ' '.join(argv)[:200]))
            continue
        info.running, info.pid, info.argv, info.found_by = True, pid, argv, source
        return info

    if scan:
        for pid in _proc_pids(proc):
            if pid == os.getpid():
                continue
            argv = process_cmdline(pid, proc)
            if argv and cmdline_identifies(argv, location, pid, proc) and process_alive(pid, proc) \
                    and _same_mount_namespace(pid, proc) is not False:
                info.running, info.pid, info.argv, info.found_by = True, pid, argv, 'scan'
                return info

    if info.lock_held:
        # The lock is held but no holder could be identified (no /proc/locks and no match):
        # a held lock means an engine runs on this data directory.
        info.running = True
        info.found_by = 'lock'
        info.pid = info.lock_holders[0] if info.lock_holders else None
        info.notes.append('%s is locked by a process that could not be identified' % location.lock_file)
    return info
