"""Unit tests of jobscheduler.js7.instance through the instance script.

A stand-in engine and script (js7_instance_fakes.py) make real processes, locks, PID files and
an HTTP port; the lab's real scripts are exercised by tests/integration/test_instance_*.py.
"""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.jobscheduler.js7.plugins.modules import instance

from js7_instance_fakes import FakeInstallation, run_module


@pytest.fixture
def inst(tmp_path, monkeypatch):
    fake = FakeInstallation(tmp_path)
    for var in ('FAKE_DIE', 'FAKE_STATUS', 'FAKE_START_RC', 'FAKE_STOP_IGNORED', 'FAKE_NO_HTTP', 'FAKE_LISTEN_AFTER'):
        monkeypatch.delenv(var, raising=False)
    yield fake
    fake.kill()


def run(args, monkeypatch, **kw):
    return run_module(instance.main, args, monkeypatch=monkeypatch, **kw)


def test_start_stop_idempotent(inst, monkeypatch):
    started = run(inst.args(state='started'), monkeypatch)
    assert started['failed'] is False, started['msg']
    assert started['changed'] is True
    assert started['running'] and started['ready'] and started['method'] == 'script'
    assert started['pid'] == inst.lock_pid()
    assert started['http_status'] == 200
    assert started['api_url'] == 'http://%s:%d/controller/api' % (inst.host, inst.port)
    assert started['commands'] == [[str(inst.script), 'start']]

    again = run(inst.args(state='started'), monkeypatch)
    assert again['changed'] is False and again['pid'] == started['pid'] and again['ready']
    assert again['commands'] == []

    stopped = run(inst.args(state='stopped'), monkeypatch)
    assert stopped['changed'] is True and not stopped['running'] and stopped['pid'] is None and not stopped['ready']
    assert inst.calls() == ['start', 'stop']  # never --fail-over by default

    again = run(inst.args(state='stopped'), monkeypatch)
    assert again['changed'] is False and again['commands'] == []
    assert inst.calls() == ['start', 'stop']


def test_check_mode_predicts_and_never_acts(inst, monkeypatch):
    predicted = run(inst.args(state='started'), monkeypatch, check_mode=True)
    assert predicted['changed'] is True and not predicted['running']
    assert predicted['commands'] == [[str(inst.script), 'start']]
    assert inst.calls() == [] and inst.lock_pid() is None

    run(inst.args(state='started'), monkeypatch)
    pid = inst.lock_pid()
    for state, changed in (('started', False), ('stopped', True), ('restarted', True), ('aborted', True)):
        predicted = run(inst.args(state=state), monkeypatch, check_mode=True)
        assert predicted['changed'] is changed, state
        assert predicted['running'] and predicted['pid'] == pid
    assert inst.calls() == ['start']
    assert inst.lock_pid() == pid and os.path.exists('/proc/%d' % pid)


def test_restart_gives_a_new_process(inst, monkeypatch):
    first = run(inst.args(state='started'), monkeypatch)
    again = run(inst.args(state='restarted'), monkeypatch)
    assert again['changed'] and again['ready'] and again['pid'] != first['pid']
    assert not os.path.exists('/proc/%d' % first['pid']) or open('/proc/%d/stat' % first['pid']).read().split(')')[1].split()[0] == 'Z'
    assert inst.calls() == ['start', 'stop', 'start']


def test_restart_of_stopped_instance_starts_it(inst, monkeypatch):
    result = run(inst.args(state='restarted'), monkeypatch)
    assert result['changed'] and result['running'] and inst.calls() == ['start']


def test_fail_over_is_passed_only_when_asked(inst, monkeypatch):
    run(inst.args(state='started'), monkeypatch)
    run(inst.args(state='stopped', fail_over=True), monkeypatch)
    assert inst.calls() == ['start', 'stop --fail-over']


def test_aborted_uses_cancel(inst, monkeypatch):
    run(inst.args(state='started'), monkeypatch)
    result = run(inst.args(state='aborted'), monkeypatch)
    assert result['changed'] and not result['running']
    assert inst.calls() == ['start', 'cancel']
    assert run(inst.args(state='aborted'), monkeypatch)['changed'] is False


def test_unappointed_backup_503_counts_as_up(inst, monkeypatch):
    monkeypatch.setenv('FAKE_STATUS', '503')
    result = run(inst.args(state='started'), monkeypatch)
    assert result['ready'] and result['http_status'] == 503


def test_unauthorized_401_counts_as_up(inst, monkeypatch):
    monkeypatch.setenv('FAKE_STATUS', '401')
    result = run(inst.args(state='started'), monkeypatch)
    assert result['ready'] and result['http_status'] == 401


def test_engine_dies_during_start_fails_with_log_lines(inst, monkeypatch):
    monkeypatch.setenv('FAKE_DIE', 'PrimaryClusterNodeMayNotBecomeBackup: The cluster node has already been started as a primary node')
    result = run(inst.args(state='started', timeout=30), monkeypatch)
    assert result['failed']
    assert 'did not come up' in result['msg']
    assert 'PrimaryClusterNodeMayNotBecomeBackup' in result['msg']
    assert any('PrimaryClusterNodeMayNotBecomeBackup' in line for line in result['log_tail'])
    assert result['running'] is False
    assert 'ended during start-up' in result['msg']  # it noticed the death, it did not run into the timeout


def test_engine_dies_before_we_see_it(inst, monkeypatch):
    # Dies at once: the lock file written after the start and a dead PID in it tell the story.
    monkeypatch.setenv('FAKE_DIE', 'Duplicate something')
    monkeypatch.setenv('FAKE_DIE_AFTER', '0')
    result = run(inst.args(state='started', timeout=30), monkeypatch)
    assert result['failed'] and 'did not come up' in result['msg'] and 'Duplicate something' in result['msg']


def test_start_script_failure_reports_its_stderr(inst, monkeypatch):
    monkeypatch.setenv('FAKE_START_RC', '5')
    result = run(inst.args(state='started'), monkeypatch)
    assert result['failed'] and 'rc=5' in result['msg'] and 'start refused' in result['msg']
    assert result['script_stderr'] == ['start refused']


def test_no_http_answer_times_out_with_a_clear_message(inst, monkeypatch):
    monkeypatch.setenv('FAKE_NO_HTTP', '1')
    result = run(inst.args(state='started', timeout=2), monkeypatch)
    assert result['failed'] and 'did not answer within timeout=2s' in result['msg']
    assert result['running'] is True and result['ready'] is False


def test_wait_false_returns_without_waiting_for_http(inst, monkeypatch):
    monkeypatch.setenv('FAKE_LISTEN_AFTER', '5')
    result = run(inst.args(state='started', wait=False), monkeypatch)
    assert result['changed'] and not result['ready']  # the engine listens only after 5 s


def test_stop_that_does_not_end_the_instance_times_out(inst, monkeypatch):
    run(inst.args(state='started'), monkeypatch)
    monkeypatch.setenv('FAKE_STOP_IGNORED', '1')
    result = run(inst.args(state='stopped', timeout=1), monkeypatch)
    assert result['failed'] and 'still runs' in result['msg'] and 'state=aborted' in result['msg']
    assert result['running'] is True


def test_stale_pid_file_does_not_fool_started(inst, monkeypatch):
    (inst.data / 'logs' / 'controller.pid').write_text('%d\n' % os.getpid())  # alive, but not the engine
    (inst.data / 'state' / 'lock').write_text('999999')
    result = run(inst.args(state='started'), monkeypatch)
    assert result['changed'] is True and result['running'] and result['pid'] != os.getpid()


def test_missing_script_is_a_clear_failure(inst, monkeypatch):
    result = run(inst.args(state='started', script=str(inst.home / 'bin' / 'nope.sh')), monkeypatch)
    assert result['failed'] and 'instance script' in result['msg'] and 'not found' in result['msg']


def test_bad_http_port_is_a_clear_failure(inst, monkeypatch):
    result = run(inst.args(http_port='host:port'), monkeypatch)
    assert result['failed'] and 'not a port number' in result['msg']


def test_a_stale_lock_written_just_before_start_is_not_taken_for_the_new_process(inst, monkeypatch):
    # mtime resolution is coarse: a stale PID written moments before `start` can look as if the
    # start wrote it. The module must not report the start as failed because that PID is gone.
    lock = inst.data / 'state' / 'lock'
    lock.write_text('999999')
    future = time.time() + 30
    os.utime(str(lock), (future, future))
    result = run(inst.args(state='started'), monkeypatch)
    assert result.get('changed') is True, result.get('msg')
    assert result['running'] and result['pid'] != 999999
