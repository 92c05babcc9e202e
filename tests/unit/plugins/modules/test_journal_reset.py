"""Unit tests of jobscheduler.js7.journal_reset on real temporary state directories.

Locks are held by real child processes (flock like the lab engine, POSIX lockf like the JVM);
disk-full is simulated by making the archive writer raise ENOSPC.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
import tarfile
import textwrap

import pytest

from ansible_collections.jobscheduler.js7.plugins.module_utils import _state_archive
from ansible_collections.jobscheduler.js7.plugins.modules import journal_reset

from js7_instance_fakes import free_port, run_module

HOLDER = textwrap.dedent('''
    import fcntl, os, sys, time
    fd = os.open(sys.argv[2], os.O_RDWR)
    (fcntl.flock if sys.argv[1] == "flock" else fcntl.lockf)(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    time.sleep(120)
''')


@pytest.fixture
def data(tmp_path):
    """A stopped Controller's data directory with every kind of entry js7-engine.md §2.1 names."""
    data = tmp_path / 'var'
    state = data / 'state'
    state.mkdir(parents=True)
    (data / 'config').mkdir()
    (data / 'config' / 'controller.conf').write_text('js7.journal.cluster.node.is-backup = no\n')
    (data / 'logs').mkdir()
    (state / 'lock').write_text('4242')
    (state / 'controller--0.journal').write_text('{"TYPE":"JS7.Journal","eventId":0}\n"-------SNAPSHOT-------"\n' * 50)
    (state / 'controller--1700000000000000.journal').write_text('{"TYPE":"JS7.Journal"}\n' * 200)
    (state / 'controller--1700000000000000.journal.tmp').write_text('partial')
    (state / 'controller-DELETE!').write_text('')
    (state / 'controller--1600000000000000.journal~TRUNCATED-AFTER-FAILOVER').write_text('old')
    os.symlink('controller--1700000000000000.journal', str(state / 'controller-journal'))
    outside = tmp_path / 'precious.txt'
    outside.write_text('must survive')
    os.symlink(str(outside), str(state / 'link-to-outside'))
    (state / 'subdir' / 'deeper').mkdir(parents=True)
    (state / 'subdir' / 'deeper' / 'file').write_text('x' * 1000)
    os.chmod(str(state), 0o750)
    return data


def args(data, **extra):
    result = dict(component='controller', data_dir=str(data), controller_id='controller1', http_port='127.0.0.1:%d' % free_port())
    result.update(extra)
    return result


def run(a, monkeypatch, **kw):
    return run_module(journal_reset.main, a, monkeypatch=monkeypatch, **kw)


def entries(state):
    return sorted(os.listdir(str(state)))


EXPECTED_MEMBERS = [
    'controller--0.journal', 'controller--1600000000000000.journal~TRUNCATED-AFTER-FAILOVER', 'controller--1700000000000000.journal',
    'controller--1700000000000000.journal.tmp', 'controller-DELETE!', 'controller-journal', 'link-to-outside', 'lock',
    'subdir', 'subdir/deeper', 'subdir/deeper/file',
]


def test_archives_verifies_and_empties(data, tmp_path, monkeypatch):
    state = data / 'state'
    mode_before = stat.S_IMODE(os.stat(str(state)).st_mode)
    owner_before = (os.stat(str(state)).st_uid, os.stat(str(state)).st_gid)
    result = run(args(data), monkeypatch, diff=True)
    assert result['failed'] is False, result['msg']
    assert result['changed'] is True
    assert entries(state) == []
    assert stat.S_IMODE(os.stat(str(state)).st_mode) == mode_before == 0o750
    assert (os.stat(str(state)).st_uid, os.stat(str(state)).st_gid) == owner_before
    assert (tmp_path / 'precious.txt').read_text() == 'must survive'  # the link went, not its target
    assert sorted(result['removed']) == sorted(str(state / name) for name in
                                               ['controller--0.journal', 'controller--1600000000000000.journal~TRUNCATED-AFTER-FAILOVER',
                                                'controller--1700000000000000.journal', 'controller--1700000000000000.journal.tmp',
                                                'controller-DELETE!', 'controller-journal', 'link-to-outside', 'lock', 'subdir'])

    archive = result['archive']
    assert os.path.dirname(archive['path']) == str(data / 'backups')
    assert os.path.basename(archive['path']).startswith('controller-controller1-state-')
    assert archive['path'].endswith('Z.tar.gz')
    assert archive['members'] == EXPECTED_MEMBERS
    assert archive['size'] == os.path.getsize(archive['path'])
    assert stat.S_IMODE(os.stat(archive['path']).st_mode) == 0o600
    assert archive['checksum_file'] == archive['path'] + '.sha256'
    check = subprocess.run(['sha256sum', '-c', os.path.basename(archive['checksum_file'])], cwd=os.path.dirname(archive['path']),
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert archive['sha256'] in open(archive['checksum_file']).read()

    assert result['diff']['after'] == ''
    assert 'controller-journal -> controller--1700000000000000.journal' in result['diff']['before']
    assert 'subdir/deeper/file (1000 bytes)' in result['diff']['before']

    # Restore: unpack into state/ gives back the same tree, symlinks as symlinks.
    with tarfile.open(archive['path']) as tar:
        tar.extractall(str(state), filter='tar') if hasattr(tarfile, 'tar_filter') else tar.extractall(str(state))
    assert os.readlink(str(state / 'controller-journal')) == 'controller--1700000000000000.journal'
    assert (state / 'controller--0.journal').read_text().startswith('{"TYPE":"JS7.Journal","eventId":0}')
    assert (state / 'subdir' / 'deeper' / 'file').read_text() == 'x' * 1000


def test_second_run_changes_nothing(data, monkeypatch):
    first = run(args(data), monkeypatch)
    second = run(args(data), monkeypatch)
    assert first['changed'] and second['changed'] is False
    assert second['archive'] is None and second['removed'] == []
    assert len(os.listdir(str(data / 'backups'))) == 2  # one archive + its checksum, none for the empty run


def test_check_mode_predicts_and_touches_nothing(data, monkeypatch):
    state = data / 'state'
    before = entries(state)
    result = run(args(data), monkeypatch, check_mode=True, diff=True)
    assert result['changed'] is True
    assert entries(state) == before
    assert not (data / 'backups').exists()
    assert result['archive']['members'] == EXPECTED_MEMBERS
    assert result['archive']['sha256'] is None and result['archive']['path'].startswith(str(data / 'backups') + '/')
    assert len(result['removed']) == len(before)
    assert result['diff']['before'].count('\n') == len(EXPECTED_MEMBERS) and result['diff']['after'] == ''


def test_backup_false_makes_no_archive(data, monkeypatch):
    result = run(args(data, backup=False), monkeypatch)
    assert result['changed'] and result['archive'] is None and entries(data / 'state') == []
    assert not (data / 'backups').exists()


@pytest.mark.parametrize('kind', ['flock', 'posix'])
def test_refuses_while_the_lock_is_held_and_names_the_pid(data, tmp_path, monkeypatch, kind):
    script = tmp_path / 'holder.py'
    script.write_text(HOLDER)
    holder = subprocess.Popen([sys.executable, str(script), kind, str(data / 'state' / 'lock')], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        before = entries(data / 'state')
        for check_mode in (True, False):
            result = run(args(data), monkeypatch, check_mode=check_mode)
            assert result['failed'], result
            assert 'is locked by PID %d' % holder.pid in result['msg']
            assert 'Nothing was deleted' in result['msg']
            assert entries(data / 'state') == before
            assert not (data / 'backups').exists()
    finally:
        holder.kill()
        holder.wait()
    assert run(args(data), monkeypatch)['changed'] is True


def test_refuses_while_the_http_port_answers(data, monkeypatch):
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        result = run(args(data, http_port='127.0.0.1:%d' % port), monkeypatch)
        assert result['failed'] and 'its HTTP port answers at http://127.0.0.1:%d/controller/api' % port in result['msg']
        (data / 'work').mkdir()
        (data / 'work' / 'http-uri').write_text('http://127.0.0.1:%d/controller\n' % port)
        result = run(args(data), monkeypatch)  # http_port points elsewhere; the last run's URL is checked too
        assert result['failed'] and 'its HTTP port answers at http://127.0.0.1:%d/controller' % port in result['msg']
    assert len(entries(data / 'state')) == 9


def test_refuses_while_the_process_runs_without_lock(data, monkeypatch):
    (data / 'state' / 'lock').unlink()  # someone deleted it under the running engine
    proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', 'js7.controller.ControllerMain',
                             '--data-directory=%s' % data])
    try:
        result = run(args(data), monkeypatch)
        assert result['failed'] and 'runs as PID %d' % proc.pid in result['msg']
    finally:
        proc.kill()
        proc.wait()


def test_refuses_backup_dir_inside_state(data, monkeypatch):
    result = run(args(data, backup_dir=str(data / 'state' / 'subdir')), monkeypatch)
    assert result['failed'] and 'inside' in result['msg'] and len(entries(data / 'state')) == 9


def test_archive_that_cannot_be_written_deletes_nothing(data, tmp_path, monkeypatch):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a directory')
    result = run(args(data, backup_dir=str(blocker / 'backups')), monkeypatch)
    assert result['failed'] and 'Nothing was deleted' in result['msg'] and 'Not a directory' in result['msg']
    assert len(entries(data / 'state')) == 9


def test_disk_full_while_archiving_deletes_nothing_and_removes_the_partial_archive(data, monkeypatch):
    real_addfile = tarfile.TarFile.addfile
    calls = []

    def addfile(self, tarinfo, fileobj=None, **kw):
        calls.append(tarinfo.name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_addfile(self, tarinfo, fileobj, **kw)

    monkeypatch.setattr(tarfile.TarFile, 'addfile', addfile)
    result = run(args(data), monkeypatch)
    assert result['failed'] and 'No space left on device' in result['msg'] and 'Nothing was deleted' in result['msg']
    assert len(entries(data / 'state')) == 9
    assert not (data / 'backups').exists()
    print(result['msg'])


def test_corrupt_archive_is_caught_before_deleting(data, monkeypatch):
    real_write = _state_archive.write_archive

    def write_then_truncate(state_dir, members, path):
        real_write(state_dir, members, path)
        with open(path, 'r+b') as handle:
            handle.truncate(os.path.getsize(path) // 2)

    monkeypatch.setattr(_state_archive, 'write_archive', write_then_truncate)
    result = run(args(data), monkeypatch)
    assert result['failed'] and 'Nothing was deleted' in result['msg']
    assert len(entries(data / 'state')) == 9
    assert not (data / 'backups').exists()  # the partial archive and the directory made for it are gone


def test_state_changing_during_archiving_deletes_nothing(data, monkeypatch):
    real_write = _state_archive.write_archive

    def write_and_meddle(state_dir, members, path):
        real_write(state_dir, members, path)
        with open(os.path.join(state_dir, 'controller--0.journal'), 'a') as handle:
            handle.write('one more event\n')

    monkeypatch.setattr(_state_archive, 'write_archive', write_and_meddle)
    result = run(args(data), monkeypatch)
    assert result['failed'] and 'changed while it was being archived' in result['msg']
    assert len(entries(data / 'state')) == 9
    assert os.path.exists(result['archive']['path'])  # kept


def test_missing_data_dir_and_foreign_directories_are_refused(tmp_path, data, monkeypatch):
    result = run(args(tmp_path / 'nope'), monkeypatch)
    assert result['failed'] and 'does not exist' in result['msg']

    stranger = tmp_path / 'stranger'
    (stranger / 'state').mkdir(parents=True)
    (stranger / 'state' / 'important.db').write_text('keep me')
    result = run(args(stranger), monkeypatch)
    assert result['failed'] and 'does not look like the state directory' in result['msg']
    assert (stranger / 'state' / 'important.db').exists()

    result = run(args(data, component='agent'), monkeypatch)
    assert result['failed'] and 'controller journal files, not agent ones' in result['msg']
    assert len(entries(data / 'state')) == 9


def test_missing_or_empty_state_is_no_change(tmp_path, monkeypatch):
    data = tmp_path / 'var'
    data.mkdir()
    result = run(args(data), monkeypatch)
    assert result['changed'] is False and 'does not exist' in result['msg'] and result['archive'] is None
    (data / 'state').mkdir()
    result = run(args(data), monkeypatch, check_mode=True)
    assert result['changed'] is False and result['removed'] == []


def test_state_the_user_may_not_look_at_is_refused_not_missing(data, monkeypatch):
    """A data directory of mode 0750 owned by the JS7 user hides state/ from other users: os.path.lexists()
    says False there, which must not pass for 'there is no journal to reset' (found on the lab with
    --js7-user; the tests run as root, so the EACCES is simulated at the lstat boundary)."""
    state_dir = str(data / 'state')
    real_lstat = os.lstat

    def lstat(path, *a, **kw):
        if os.fspath(path) == state_dir:
            raise OSError(errno.EACCES, 'Permission denied', state_dir)
        return real_lstat(path, *a, **kw)

    monkeypatch.setattr(_state_archive.os, 'lstat', lstat)
    result = run(args(data), monkeypatch)
    assert result['failed'] and 'cannot look into %s' % state_dir in result['msg'], result
    assert 'Permission denied' in result['msg'] and 'Nothing was deleted' in result['msg']
    monkeypatch.setattr(_state_archive.os, 'lstat', real_lstat)
    assert len(entries(data / 'state')) == 9


def test_agent_archive_name_and_default_port(tmp_path, monkeypatch):
    data = tmp_path / 'var_4445'
    (data / 'state').mkdir(parents=True)
    (data / 'state' / 'agent--0.journal').write_text('{}\n')
    os.symlink('agent--0.journal', str(data / 'state' / 'agent-journal'))
    result = run(dict(component='agent', data_dir=str(data), http_port='127.0.0.1:%d' % free_port()), monkeypatch)
    assert result['changed'] and os.path.basename(result['archive']['path']).startswith('agent-')
    assert result['archive']['members'] == ['agent--0.journal', 'agent-journal']
