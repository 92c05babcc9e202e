"""Unit tests of _process: PID files, state/lock and process identification.

Real temporary files, real locks held by real child processes (``flock`` as the lab engine takes
it, POSIX ``lockf`` as the JVM's FileChannel.tryLock takes it), real /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.jobscheduler.js7.plugins.module_utils import _process
from ansible_collections.jobscheduler.js7.plugins.module_utils._js7_paths import InstanceLocation

CONTROLLER_MAIN = 'js7.controller.ControllerMain'

# A stand-in engine: takes the lock the way it is told, writes its PID into state/lock,
# says "locked" and sleeps. Its command line carries the main class and data directory
# like the real one (js7-engine.md §6.3).
HOLDER = textwrap.dedent('''
    import fcntl, os, sys, time
    kind, lock_path = sys.argv[1], sys.argv[2]
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    if kind == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    elif kind == "posix":
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    print("locked", flush=True)
    time.sleep(120)
''')


@pytest.fixture
def location(tmp_path):
    data = tmp_path / 'data'
    (data / 'state').mkdir(parents=True)
    (data / 'logs').mkdir()
    return InstanceLocation('controller', data_dir=str(data), controller_id='c1', http_port='127.0.0.1:4444')


def spawn(tmp_path, kind, lock_path, *extra_args):
    script = tmp_path / 'holder.py'
    script.write_text(HOLDER)
    proc = subprocess.Popen([sys.executable, str(script), kind, lock_path] + list(extra_args), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'locked'
    return proc


def stop(proc):
    proc.kill()
    proc.wait()


@pytest.fixture
def children():
    procs = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            stop(proc)


def engine_args(location):
    return [CONTROLLER_MAIN, '--id=c1', '--http-port=127.0.0.1:4444', '--data-directory=%s' % location.data_dir]


@pytest.mark.parametrize('kind', ['flock', 'posix'])
def test_held_lock_is_seen_from_proc_locks_and_by_trying_it(tmp_path, location, children, kind):
    proc = spawn(tmp_path, kind, location.lock_file, *engine_args(location))
    children.append(proc)
    assert _process.lock_holders(location.lock_file) == [proc.pid]
    assert _process.lock_is_free(location.lock_file) is False
    info = _process.inspect_instance(location, acquire_lock=True)
    assert info.running and info.pid == proc.pid and info.found_by == 'lock'
    assert info.lock_held is True and info.lock_holders == [proc.pid]
    stop(proc)
    assert _process.lock_holders(location.lock_file) == []
    assert _process.lock_is_free(location.lock_file) is True
    info = _process.inspect_instance(location, acquire_lock=True)
    assert not info.running and info.pid is None
    assert any('stale' in note for note in info.notes)


def test_lock_test_never_creates_the_lock_file(location):
    assert _process.lock_is_free(location.lock_file) is None
    assert not os.path.lexists(location.lock_file)
    info = _process.inspect_instance(location, acquire_lock=True)
    assert not info.running and not info.lock_exists
    assert not os.path.lexists(location.lock_file)


def test_lock_test_leaves_content_and_releases(location):
    with open(location.lock_file, 'w') as handle:
        handle.write('12345')
    before = os.stat(location.lock_file)
    assert _process.lock_is_free(location.lock_file) is True
    assert _process.lock_is_free(location.lock_file) is True  # released, so free again
    after = os.stat(location.lock_file)
    assert open(location.lock_file).read() == '12345'
    assert (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    assert _process.lock_holders(location.lock_file) == []


@pytest.mark.parametrize('kind', ['flock', 'posix'])
def test_read_only_lock_file_is_tested_with_a_shared_lock(tmp_path, location, children, monkeypatch, kind):
    # A user who may only read state/lock: the shared attempt still meets the engine's exclusive lock.
    proc = spawn(tmp_path, kind, location.lock_file, *engine_args(location))
    children.append(proc)
    monkeypatch.setattr(_process.os, 'access', lambda path, mode: False)
    assert _process.lock_is_free(location.lock_file) is False
    stop(proc)
    assert _process.lock_is_free(location.lock_file) is True


def test_stale_pid_file_and_lock_pid_are_not_believed(tmp_path, location):
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    with open(location.pid_file, 'w') as handle:
        handle.write('%d\n' % dead.pid)
    with open(location.lock_file, 'w') as handle:
        handle.write('%d' % dead.pid)
    info = _process.inspect_instance(location)
    assert not info.running and info.pid is None
    assert info.pid_file_pid == dead.pid and info.lock_pid == dead.pid


def test_pid_of_another_process_is_not_the_instance(tmp_path, location, children):
    # A live process whose PID sits in the PID file but whose command line is something else:
    # the kernel reused the PID after a crash.
    other = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    children.append(other)
    with open(location.pid_file, 'w') as handle:
        handle.write(str(other.pid))
    info = _process.inspect_instance(location)
    assert not info.running
    assert any('belongs to another process' in note for note in info.notes)


def test_same_main_class_other_data_directory_is_not_the_instance(tmp_path, location, children):
    other_data = tmp_path / 'other'
    (other_data / 'state').mkdir(parents=True)
    proc = spawn(tmp_path, 'flock', str(other_data / 'state' / 'lock'), CONTROLLER_MAIN, '--http-port=127.0.0.1:4444',
                 '--data-directory=%s' % other_data)
    children.append(proc)
    with open(location.pid_file, 'w') as handle:
        handle.write(str(proc.pid))
    info = _process.inspect_instance(location)
    assert not info.running


def test_scan_finds_a_process_that_has_no_lock_yet(tmp_path, location, children):
    # A JVM that is still starting has not written state/lock; the command line finds it.
    proc = spawn(tmp_path, 'none', str(tmp_path / 'elsewhere'), *engine_args(location))
    children.append(proc)
    info = _process.inspect_instance(location)
    assert info.running and info.pid == proc.pid and info.found_by == 'scan'
    assert not _process.inspect_instance(location, scan=False).running


def test_lock_held_by_unidentified_process_counts_as_running(tmp_path, location, children):
    # "a lock held means running", even when the holder's command line does not look like JS7.
    proc = spawn(tmp_path, 'flock', location.lock_file)
    children.append(proc)
    info = _process.inspect_instance(location)
    assert info.running and info.pid == proc.pid
    assert info.argv is None


def test_cmdline_identifies_by_port_without_data_directory(location):
    argv = ['java', '-Xmx500m', CONTROLLER_MAIN, '--id=c1', '--http-port=0.0.0.0:4444']
    assert _process.cmdline_identifies(argv, location)
    assert not _process.cmdline_identifies(argv[:-1] + ['--http-port=4555'], location)
    assert not _process.cmdline_identifies(['java', 'js7.agent.main.AgentMain', '--http-port=4444'], location)
    # the main class must be an argument of its own, not part of another one
    assert not _process.cmdline_identifies(['grep', 'js7.controller.ControllerMain.*', '--http-port=4444'], location)


def test_cmdline_relative_data_directory(location, tmp_path):
    argv = [CONTROLLER_MAIN, '--data-directory=data']
    assert not _process.cmdline_identifies(argv, location, pid='self')  # resolved against /proc/self/cwd
    cwd = os.getcwd()
    os.chdir(str(tmp_path))
    try:
        assert _process.cmdline_identifies(argv, location, pid='self')
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize('content, expected', [('4242', 4242), ('4242\n', 4242), ('  77 extra', 77), ('', None),
                                               ('abc', None), ('0', None), ('-5', None)])
def test_read_pid_file(tmp_path, content, expected):
    path = tmp_path / 'pid'
    path.write_text(content)
    assert _process.read_pid_file(str(path)) == expected
    assert _process.read_pid_file(str(tmp_path / 'missing')) is None


def test_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open('/proc/%d/stat' % proc.pid) as handle:
            if handle.read().rsplit(')', 1)[1].split()[0] == 'Z':
                break
        time.sleep(0.01)
    assert not _process.process_alive(proc.pid)
    proc.wait()
    assert not _process.process_alive(proc.pid)
    assert _process.process_alive(os.getpid())


def test_proc_locks_parsing_ignores_waiters_and_other_files(tmp_path, location):
    with open(location.lock_file, 'w') as handle:
        handle.write('1')
    st = os.stat(location.lock_file)
    dev = '%02x:%02x' % (os.major(st.st_dev), os.minor(st.st_dev))
    fake_proc = tmp_path / 'proc'
    fake_proc.mkdir()
    (fake_proc / 'locks').write_text(
        '1: POSIX  ADVISORY  WRITE 111 %s:%d 0 EOF\n'
        '1: -> POSIX  ADVISORY  WRITE 222 %s:%d 0 EOF\n'
        '2: FLOCK  ADVISORY  WRITE 333 %s:%d 0 EOF\n'
        '3: FLOCK  ADVISORY  WRITE 444 99:99:%d 0 EOF\n'
        'garbage line\n' % (dev, st.st_ino, dev, st.st_ino, dev, st.st_ino + 1, st.st_ino))
    assert _process.lock_holders(location.lock_file, proc=str(fake_proc)) == [111]
    assert _process.lock_holders(location.lock_file, proc=str(tmp_path / 'no-proc')) is None
