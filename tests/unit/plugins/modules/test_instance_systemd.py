"""Unit tests of jobscheduler.js7.instance with method systemd / auto.

systemctl cannot run on the project's machines (no systemd as init, no D-Bus), so systemd is
mocked at the command boundary: ``AnsibleModule.get_bin_path('systemctl')`` returns a fake path,
``AnsibleModule.run_command`` answers ``systemctl show`` from a dict of unit properties and plays
systemd for ``start``/``stop``/``restart``/``kill`` by running the stand-in instance script (what
the unit's ExecStart/ExecStop would run, js7-engine.md §6.4), and ``systemd_booted`` (the test
for /run/systemd/system) is patched. Everything else - processes, lock, PID file, HTTP - is real.
"""

from __future__ import annotations

import subprocess

import pytest

from ansible.module_utils import basic

from ansible_collections.jobscheduler.js7.plugins.module_utils import _instance_control
from ansible_collections.jobscheduler.js7.plugins.modules import instance

from js7_instance_fakes import FakeInstallation, run_module

SYSTEMCTL = '/usr/bin/systemctl'
UNIT = 'js7_controller_c1.service'


class FakeSystemd:
    def __init__(self, fake, load_state='loaded', exec_stop_args='stop'):
        self.fake = fake
        self.calls = []
        self.props = {
            'LoadState': load_state,
            'ActiveState': 'inactive',
            'SubState': 'dead',
            'MainPID': '0',
            'FragmentPath': '/usr/lib/systemd/system/%s' % UNIT if load_state == 'loaded' else '',
            'ExecStop': '{ path=%s ; argv[]=%s %s ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; '
                        'status=0/0 }' % (fake.script, fake.script, exec_stop_args),
        }
        self.fail_verb = None

    def run_command(self, module, cmd, **kwargs):
        self.calls.append(list(cmd))
        assert cmd[0] == SYSTEMCTL
        if cmd[1] == 'show':
            assert cmd[-2] == '--'
            return 0, ''.join('%s=%s\n' % item for item in self.props.items()), ''
        verb = cmd[2]
        if verb == self.fail_verb:
            return 1, '', 'Job for %s failed because the control process exited with error code.' % cmd[-1]
        script = {'start': ['start'], 'stop': ['stop'], 'kill': ['cancel']}
        if verb == 'restart':
            self._script('stop')
            self._script('start')
        else:
            self._script(*script[verb])
        self.props['ActiveState'] = 'active' if verb in ('start', 'restart') else 'inactive'
        return 0, '', ''

    def run_command_method(self):
        def run_command(module, cmd, **kwargs):
            return self.run_command(module, cmd, **kwargs)
        return run_command

    def _script(self, *args):
        subprocess.run([str(self.fake.script)] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def mutating_calls(self):
        return [call for call in self.calls if call[1] != 'show']


@pytest.fixture
def inst(tmp_path, monkeypatch):
    fake = FakeInstallation(tmp_path)
    yield fake
    fake.kill()


def install_systemd(monkeypatch, inst, booted=True, found=True, **kw):
    systemd = FakeSystemd(inst, **kw)
    monkeypatch.setattr(_instance_control, 'systemd_booted', lambda: booted)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path',
                        lambda self, name, required=False, opt_dirs=None: SYSTEMCTL if (name == 'systemctl' and found) else None)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', systemd.run_command_method())
    return systemd


def run(args, monkeypatch, **kw):
    return run_module(instance.main, args, monkeypatch=monkeypatch, **kw)


def test_auto_picks_systemd_when_the_unit_exists(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst)
    result = run(inst.args(method='auto', state='started'), monkeypatch)
    assert result['failed'] is False, result['msg']
    assert result['method'] == 'systemd' and result['service_name'] == UNIT
    assert result['changed'] and result['ready'] and result['pid'] == inst.lock_pid()
    assert systemd.mutating_calls() == [[SYSTEMCTL, '--no-ask-password', 'start', '--', UNIT]]
    assert systemd.calls[0] == [SYSTEMCTL, 'show', '--property=LoadState,ActiveState,SubState,MainPID,ExecStop,FragmentPath', '--', UNIT]

    result = run(inst.args(method='auto', state='stopped'), monkeypatch)
    assert result['changed'] and not result['running'] and result['method'] == 'systemd'
    assert systemd.mutating_calls()[-1] == [SYSTEMCTL, '--no-ask-password', 'stop', '--', UNIT]


def test_auto_uses_the_script_when_the_unit_does_not_exist(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst, load_state='not-found')
    result = run(inst.args(method='auto', state='started'), monkeypatch)
    assert result['method'] == 'script' and result['changed'] and result['ready']
    assert systemd.mutating_calls() == [] and inst.calls() == ['start']


def test_auto_uses_the_script_when_systemd_is_not_running(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst, booted=False)
    result = run(inst.args(method='auto', state='started'), monkeypatch)
    assert result['method'] == 'script' and systemd.calls == []


@pytest.mark.parametrize('booted, found', [(False, True), (True, False)])
def test_method_systemd_without_systemd_fails_clearly(inst, monkeypatch, booted, found):
    install_systemd(monkeypatch, inst, booted=booted, found=found)
    result = run(inst.args(method='systemd', state='started'), monkeypatch)
    assert result['failed'] and 'systemd is not usable' in result['msg'] and 'method=script' in result['msg']
    assert inst.calls() == []


def test_method_systemd_with_missing_unit_fails_clearly(inst, monkeypatch):
    install_systemd(monkeypatch, inst, load_state='not-found')
    result = run(inst.args(method='systemd', state='started', service_name='js7_other'), monkeypatch)
    assert result['failed'] and 'js7_other.service does not exist' in result['msg']


def test_unit_that_would_fail_over_is_refused_by_default(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst, exec_stop_args='stop --fail-over')
    run(inst.args(method='systemd', state='started'), monkeypatch)
    for state in ('stopped', 'restarted'):
        result = run(inst.args(method='systemd', state=state), monkeypatch)
        assert result['failed'] and '--fail-over' in result['msg'] and 'method=script' in result['msg'], state
        assert result['running'] is True
    assert [c[2] for c in systemd.mutating_calls()] == ['start']
    # With fail_over the same unit may stop.
    result = run(inst.args(method='systemd', state='stopped', fail_over=True), monkeypatch)
    assert result['changed'] and not result['running']


def test_fail_over_through_a_plain_unit_is_refused(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst)
    run(inst.args(method='systemd', state='started'), monkeypatch)
    result = run(inst.args(method='systemd', state='stopped', fail_over=True), monkeypatch)
    assert result['failed'] and 'stops without --fail-over' in result['msg']
    assert [c[2] for c in systemd.mutating_calls()] == ['start']


def test_instance_started_outside_systemd(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst)
    run(inst.args(method='script', state='started'), monkeypatch)  # unit stays inactive
    result = run(inst.args(method='systemd', state='stopped'), monkeypatch)
    assert result['failed'] and 'started outside systemd' in result['msg']
    result = run(inst.args(method='auto', state='stopped'), monkeypatch)
    assert result['changed'] and result['method'] == 'script' and not result['running']
    assert any('started outside systemd' in w for w in result['warnings'])
    assert systemd.mutating_calls() == [] and inst.calls() == ['start', 'stop']


def test_aborted_kills_through_systemd(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst)
    run(inst.args(method='systemd', state='started'), monkeypatch)
    result = run(inst.args(method='systemd', state='aborted'), monkeypatch)
    assert result['changed'] and not result['running']
    assert systemd.mutating_calls()[-1] == [SYSTEMCTL, '--no-ask-password', 'kill', '--signal=SIGKILL', '--', UNIT]


def test_restarted_through_systemd_waits_for_the_new_process(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst)
    first = run(inst.args(method='systemd', state='started'), monkeypatch)
    result = run(inst.args(method='systemd', state='restarted'), monkeypatch)
    assert result['changed'] and result['ready'] and result['pid'] != first['pid']
    assert systemd.mutating_calls()[-1] == [SYSTEMCTL, '--no-ask-password', 'restart', '--', UNIT]


def test_systemctl_failure_is_reported(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst)
    systemd.fail_verb = 'start'
    result = run(inst.args(method='systemd', state='started'), monkeypatch)
    assert result['failed'] and 'systemctl start %s failed (rc=1)' % UNIT in result['msg']
    assert 'control process exited' in result['msg']


def test_check_mode_only_reads(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst)
    result = run(inst.args(method='auto', state='started'), monkeypatch, check_mode=True)
    assert result['changed'] and result['method'] == 'systemd'
    assert result['commands'] == [[SYSTEMCTL, '--no-ask-password', 'start', '--', UNIT]]
    assert systemd.mutating_calls() == [] and inst.lock_pid() is None


def test_unit_names(inst, monkeypatch):
    systemd = install_systemd(monkeypatch, inst)
    run(inst.args(method='auto', state='stopped', service_name='my_js7'), monkeypatch)
    assert systemd.calls[-1][-1] == 'my_js7.service'
    run(inst.args(method='auto', state='stopped', component='agent', http_port='127.0.0.1:4999',
                  script=str(inst.script)), monkeypatch)
    assert systemd.calls[-1][-1] == 'js7_agent_4999.service'
