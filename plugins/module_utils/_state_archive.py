# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The logic of the ``jobscheduler.js7.journal_reset`` module: archive, verify, then empty ``state/``.

Private to the collection (leading underscore): no compatibility promise.

js7-engine.md §2.1 lists what ``state/`` holds (``lock``, ``<base>--<EventId>.journal``, the
``<base>-journal`` symlink, ``.tmp`` files, the ``<base>-DELETE!`` marker, ``~TRUNCATED-AFTER-FAILOVER``
and ``~DELETED-AFTER-FAILOVER`` files); §2.4 says emptying it is the documented journal reset.
Everything in it goes, the directory itself (owner, mode) stays.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import gzip
import hashlib
import os
import re
import shutil
import stat
import tarfile
import time
import zlib

from ansible_collections.jobscheduler.js7.plugins.module_utils._js7_paths import (
    INSTANCE_LOCATION_ARGUMENT_SPEC,
    HttpPortError,
    InstanceLocation,
)
from ansible_collections.jobscheduler.js7.plugins.module_utils._process import inspect_instance, lock_holders, lock_is_free
from ansible_collections.jobscheduler.js7.plugins.module_utils._readiness import port_open, probe_urls

CHUNK = 1024 * 1024


def journal_reset_argument_spec():
    spec = dict(INSTANCE_LOCATION_ARGUMENT_SPEC)
    spec.update(
        backup=dict(type='bool', default=True),
        backup_dir=dict(type='path'),
        http_url=dict(type='str'),
    )
    return spec


class ResetRefused(Exception):
    def __init__(self, msg, **extra):
        super(ResetRefused, self).__init__(msg)
        self.msg = msg
        self.extra = extra


class Member:
    """One entry below state/, as it is archived and compared."""

    def __init__(self, name, kind, size=0, linkname=None):
        self.name = name          # relative to state/, '/'-separated
        self.kind = kind          # 'file' | 'dir' | 'symlink'
        self.size = size
        self.linkname = linkname

    def key(self):
        return (self.name, self.kind, self.size if self.kind == 'file' else 0, self.linkname or '')

    def describe(self):
        if self.kind == 'dir':
            return self.name + '/'
        if self.kind == 'symlink':
            return '%s -> %s' % (self.name, self.linkname)
        return '%s (%d bytes)' % (self.name, self.size)


def scan_state(state_dir):
    """Every entry below ``state_dir`` (never following symlinks), sorted; raises ResetRefused for
    entries a tar archive cannot hold (sockets, devices)."""
    members = []

    def visit(rel):
        path = os.path.join(state_dir, rel)
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            members.append(Member(rel, 'symlink', linkname=os.readlink(path)))
        elif stat.S_ISDIR(st.st_mode):
            members.append(Member(rel, 'dir'))
            for child in sorted(os.listdir(path)):
                visit(rel + '/' + child)
        elif stat.S_ISREG(st.st_mode):
            members.append(Member(rel, 'file', size=st.st_size))
        else:
            raise ResetRefused('%s is neither a file, a directory nor a symlink; it cannot be archived. Nothing was deleted. '
                               'Move it away and run again.' % path)

    for name in sorted(os.listdir(state_dir)):
        visit(name)
    return members


def looks_like_state_dir(location, entries):
    """Guard against a wrong data_dir: the directory must look like the component's state/ or
    sit in a data directory with the component's config file."""
    base = location.facts['journal_base']
    other = 'agent' if base == 'controller' else 'controller'
    own = re.compile(r'^%s(--\d+\.journal.*|-journal|-DELETE!)$' % re.escape(base))
    foreign = re.compile(r'^%s(--\d+\.journal.*|-journal|-DELETE!)$' % re.escape(other))
    if any(foreign.match(name) for name in entries) and not any(own.match(name) for name in entries):
        return '%s holds %s journal files, not %s ones: check component and data_dir' % (location.state_dir, other, base)
    config_file = os.path.join(location.data_dir, 'config', '%s.conf' % location.component)
    if 'lock' in entries or any(own.match(name) for name in entries) or os.path.isfile(config_file):
        return None
    return ('%s does not look like the state directory of a JS7 %s: it has no lock or %s journal file, and %s does not exist. '
            'Check data_dir and component.' % (location.state_dir, location.component, base, config_file))


def running_reasons(location, http_url=None):
    """Why the instance may be running; empty when it is safe to touch state/.

    Tests the lock itself (a non-blocking attempt on both lock kinds, released at once; the
    file is never created), names the holder from /proc/locks, looks for the instance's process
    and knocks at its HTTP port(s).
    """
    reasons = []
    lock = location.lock_file
    if os.path.lexists(lock):
        try:
            free = lock_is_free(lock)
        except OSError as exc:
            free = False
            reasons.append('cannot test the lock on %s (%s), so it may be held' % (lock, exc.strerror or exc))
        if free is False:
            holders = lock_holders(lock) or []
            reasons.append('%s is locked by %s' % (lock, ', '.join('PID %d' % pid for pid in holders) if holders else 'another process'))
    process = inspect_instance(location, acquire_lock=False)
    if process.running and process.pid and not any('PID %d' % process.pid in reason for reason in reasons):
        reasons.append('the instance runs as PID %d (found by its %s)' % (process.pid, process.found_by.replace('_', ' ')))
    urls = probe_urls(location, process.argv, http_url)
    try:
        with open(location.http_uri_file) as handle:  # the URL of its last run, js7-engine.md §2.1
            last = handle.read().strip()
        if last.startswith(('http://', 'https://')):
            urls.append(last)
    except (IOError, OSError):
        pass
    for url in urls:
        if port_open(url):
            reasons.append('its HTTP port answers at %s' % url)
            break
    return reasons


def archive_name(location, backup_dir, now=None):
    stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))
    base = '%s-state-%s' % (location.label, stamp)
    candidate = os.path.join(backup_dir, base + '.tar.gz')
    counter = 1
    while os.path.lexists(candidate) or os.path.lexists(candidate + '.sha256'):
        counter += 1
        candidate = os.path.join(backup_dir, '%s-%d.tar.gz' % (base, counter))
    return candidate


def inside(path, directory):
    path = os.path.realpath(path)
    directory = os.path.realpath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_archive(state_dir, members, path):
    """Write ``members`` of ``state_dir`` into a new tar.gz at ``path`` (mode 0600: journals hold
    order variables). Raises OSError / tarfile.TarError; the caller removes a partial file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as raw:
        with tarfile.open(fileobj=raw, mode='w:gz', format=tarfile.PAX_FORMAT) as tar:
            for member in members:
                source = os.path.join(state_dir, member.name)
                info = tar.gettarinfo(source, arcname=member.name)
                if info is None:
                    raise tarfile.TarError('%s cannot be archived' % source)
                if info.isreg():
                    with open(source, 'rb') as handle:
                        # A file that grows while we read would leave a tar header with the wrong size.
                        info.size = member.size
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
        raw.flush()
        os.fsync(raw.fileno())


def verify_archive(path, members):
    """Read the archive back: the gzip stream to its end (CRC and length checked), then every
    member's name, type, size and link target against what was meant to go in."""
    with gzip.open(path, 'rb') as stream:
        for dummy in iter(lambda: stream.read(CHUNK), b''):
            pass
    found = []
    with tarfile.open(path, 'r:gz') as tar:
        for info in tar.getmembers():
            if info.issym():
                found.append(Member(info.name, 'symlink', linkname=info.linkname))
            elif info.isdir():
                found.append(Member(info.name, 'dir'))
            elif info.isreg():
                found.append(Member(info.name, 'file', size=info.size))
            else:
                found.append(Member(info.name, 'other'))
    expected = [m.key() for m in members]
    got = [m.key() for m in found]
    if expected != got:
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        raise tarfile.TarError('the archive does not hold what was written (missing %s, unexpected %s)' % (missing[:5], extra[:5]))


def write_checksum(path):
    digest = sha256_of(path)
    sum_path = path + '.sha256'
    fd = os.open(sum_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write('%s  %s\n' % (digest, os.path.basename(path)))  # sha256sum -c format
        handle.flush()
        os.fsync(handle.fileno())
    with open(sum_path) as handle:
        if handle.read().split()[0] != digest or sha256_of(path) != digest:
            raise OSError(errno.EIO, 'the checksum file %s does not match the archive when read back' % sum_path)
    return digest, sum_path


def remove_entries(state_dir, names):
    """Remove each top-level entry of state/; symlinks are removed, never followed."""
    removed = []
    for name in names:
        path = os.path.join(state_dir, name)
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        removed.append(path)
    _fsync_dir(state_dir)
    return removed


class JournalReset:

    def __init__(self, module, now=time.time):
        self.module = module
        self.params = module.params
        self.now = now
        self.location = InstanceLocation.from_params(self.params)

    def refuse(self, msg, **extra):
        raise ResetRefused(msg, **extra)

    def run(self):
        loc = self.location
        state_dir = loc.state_dir
        if not os.path.isdir(loc.data_dir):
            self.refuse('data directory %s does not exist. Set data_dir (and component) to the instance\'s JS7_%s_DATA.'
                        % (loc.data_dir, loc.component.upper()))
        try:
            os.lstat(state_dir)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                # os.path.lexists() says False for a state/ this user may not look at (a data directory of mode 0750
                # owned by the JS7 user): that must not pass for "nothing to reset".
                self.refuse('cannot look into %s as this user (uid %d): %s. Nothing was deleted. Run the task as the JS7 '
                            'user (become_user) or root.' % (state_dir, os.getuid(), exc.strerror or exc))
            return dict(changed=False, removed=[], archive=None, state_dir=state_dir,
                        msg='%s does not exist: there is no journal to reset' % state_dir)
        if not os.path.isdir(state_dir):
            self.refuse('%s is not a directory' % state_dir)

        entries = sorted(os.listdir(state_dir))
        if not entries:
            return dict(changed=False, removed=[], archive=None, state_dir=state_dir, msg='%s is already empty' % state_dir)
        doubt = looks_like_state_dir(loc, entries)
        if doubt:
            self.refuse(doubt + ' Nothing was deleted.')

        self.ensure_stopped('')
        members = scan_state(state_dir)
        removed = [os.path.join(state_dir, name) for name in entries]
        diff = dict(before_header=state_dir, after_header=state_dir,
                    before=''.join(m.describe() + '\n' for m in members), after='')

        archive = None
        if self.params['backup']:
            backup_dir = self.params['backup_dir'] or os.path.join(loc.data_dir, 'backups')
            if inside(backup_dir, state_dir):
                self.refuse('backup_dir %s is inside %s, which is about to be emptied. Choose a directory outside state/.'
                            % (backup_dir, state_dir))
            if os.path.isdir(backup_dir) and not os.access(backup_dir, os.W_OK | os.X_OK):
                self.refuse('backup_dir %s is not writable by this user (uid %d). Nothing was deleted. Run as the JS7 user or root, '
                            'or choose another backup_dir.' % (backup_dir, os.getuid()))
            path = archive_name(loc, backup_dir, self.now())
            archive = dict(path=path, sha256=None, size=None, members=[m.name for m in members], checksum_file=path + '.sha256')
            if not self.module.check_mode:
                archive = self.archive(state_dir, members, backup_dir, path)
                # Close the window between the first check and the deletion: nobody may have started
                # the instance or written to state/ meanwhile.
                self.ensure_stopped(' The archive %s was kept.' % path)
                now_members = scan_state(state_dir)
                if [m.key() for m in now_members] != [m.key() for m in members]:
                    self.refuse('%s changed while it was being archived; nothing was deleted. The archive %s was kept; '
                                'make sure the instance is stopped and run again.' % (state_dir, path), archive=archive)

        if self.module.check_mode:
            return dict(changed=True, removed=removed, archive=archive, state_dir=state_dir, diff=diff)

        try:
            removed = remove_entries(state_dir, entries)
        except OSError as exc:
            left = sorted(os.listdir(state_dir)) if os.path.isdir(state_dir) else []
            self.refuse('could not empty %s: %s: %s. Still there: %s.%s'
                        % (state_dir, getattr(exc, 'filename', '') or '', exc.strerror or exc, ', '.join(left),
                           ' The archive %s holds everything that was there.' % archive['path'] if archive else ''),
                        archive=archive)
        return dict(changed=True, removed=removed, archive=archive, state_dir=state_dir, diff=diff)

    def ensure_stopped(self, suffix):
        reasons = running_reasons(self.location, self.params['http_url'])
        if reasons:
            self.refuse('refusing to reset the journal of %s: %s. Nothing was deleted.%s Stop the instance first '
                        '(jobscheduler.js7.instance with state=stopped).' % (self.location.title, '; '.join(reasons), suffix))

    def archive(self, state_dir, members, backup_dir, path):
        created_dir = False
        try:
            if not os.path.isdir(backup_dir):
                os.makedirs(backup_dir, 0o750)
                created_dir = True
            write_archive(state_dir, members, path)
            verify_archive(path, members)
            digest, sum_path = write_checksum(path)
            _fsync_dir(backup_dir)
        except (OSError, IOError, tarfile.TarError, EOFError, zlib.error) as exc:
            for partial in (path, path + '.sha256'):
                try:
                    os.unlink(partial)
                except OSError:
                    pass
            if created_dir:
                try:
                    os.rmdir(backup_dir)
                except OSError:
                    pass
            why = exc.strerror if isinstance(exc, (OSError, IOError)) and exc.strerror else str(exc)
            where = getattr(exc, 'filename', None) or path
            self.refuse('could not write a verified archive of %s to %s (%s: %s). Nothing was deleted and the partial archive was '
                        'removed. Free space or fix permissions in backup_dir, or choose another backup_dir.'
                        % (state_dir, backup_dir, where, why))
        return dict(path=path, sha256=digest, size=os.path.getsize(path), members=[m.name for m in members],
                    checksum_file=sum_path)


def run_module(module):
    try:
        reset = JournalReset(module)
    except (HttpPortError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    try:
        result = reset.run()
    except ResetRefused as exc:
        module.fail_json(msg=exc.msg, **exc.extra)
    except OSError as exc:
        module.fail_json(msg='journal reset failed: %s: %s. Check the paths and that the task runs as the JS7 user or root.'
                         % (getattr(exc, 'filename', '') or '', exc.strerror or exc))
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)
