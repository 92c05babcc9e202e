"""jobscheduler.js7.instance against the lab: real instance scripts, processes, locks and HTTP.

Each test runs in local mode and, as root with sshd, in netns mode (fixture lab_mode).
"""

from __future__ import annotations

import json
import os
import time

import pytest

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')


def playbook_ok(result):
    assert result.returncode == 0, 'playbook failed rc=%d\nstdout:\n%s\nstderr:\n%s' % (
        result.returncode, result.stdout[-6000:], result.stderr[-3000:])


def set_state(lab, target, component, state, **extra):
    """Run instance_state.yml and return the module's result (success or failure)."""
    result_file = os.path.join(lab.dir, 'result-%s-%s-%f.json' % (target, state, time.time()))
    extra_vars = dict(target=target, component=component, wanted_state=state, result_file=result_file)
    extra_vars.update(extra)
    playbook_ok(lab.playbook(os.path.join(PLAYBOOKS, 'instance_state.yml'), extra_vars=extra_vars))
    with open(result_file, encoding='utf-8') as stream:
        return json.load(stream)


def events(lab, host, name):
    return [e for e in lab.timeline() if e.get('host') == host and e.get('event') == name]


@pytest.mark.parametrize('target, component', [('c1-secondary', 'controller'), ('c1-agent', 'agent')])
def test_cycle_through_every_state(lab_mode, lab_factory, target, component):
    lab = lab_factory(state='healthy')
    result = lab.playbook(os.path.join(PLAYBOOKS, 'instance_cycle.yml'), extra_vars=dict(target=target, component=component))
    playbook_ok(result)
    assert 'failed=0' in result.stdout
    path = '/controller/api' if component == 'controller' else '/agent/api'
    status, dummy_headers, dummy_body = lab.http(target, path)
    assert status in (200, 503)


def test_stopping_the_active_primary_never_fails_over(lab_mode, lab_factory):
    lab = lab_factory(state='healthy')
    stopped = set_state(lab, 'c1-primary', 'controller', 'stopped')
    assert stopped['changed'] and not stopped['running'], stopped
    shutdowns = events(lab, 'c1-primary', 'ShutDownCommand')
    assert shutdowns and shutdowns[-1].get('cluster_action') is None  # plain `stop` (js7-engine.md §6.2)
    started = set_state(lab, 'c1-primary', 'controller', 'started')
    assert started['ready'], started
    assert not [e for e in lab.timeline() if e.get('event') == 'ClusterFailedOver']
    status, dummy_headers, cluster = lab.http('c1-primary', '/controller/api/cluster')
    assert status == 200 and cluster['setting']['activeId'] == 'Primary'


def test_aborted_is_the_kill_path_and_fails_over(lab_mode, lab_factory):
    lab = lab_factory(state='healthy')
    aborted = set_state(lab, 'c1-primary', 'controller', 'aborted')
    assert aborted['changed'] and not aborted['running'] and aborted['commands'][0][-1] == 'cancel', aborted
    assert not events(lab, 'c1-primary', 'ShutDownCommand')  # killed, not shut down
    # The standby takes over after the heartbeat timeout (scaled in the lab); the event is the signal.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [e for e in lab.timeline() if e.get('event') == 'ClusterFailedOver']:
        time.sleep(0.2)
    assert [e for e in lab.timeline() if e.get('event') == 'ClusterFailedOver']


def test_start_failure_reports_the_log_lines(lab_mode, lab_factory):
    """A Secondary that ran standalone and is now configured as backup refuses to start
    (PrimaryClusterNodeMayNotBecomeBackup, js7-engine.md §1.3): the task fails and says why."""
    lab = lab_factory(state='standalone-secondary')
    host = lab.hosts['c1-secondary']
    stopped = set_state(lab, 'c1-secondary', 'controller', 'stopped')
    assert stopped['changed'], stopped
    conf = lab.host_path('c1-secondary', host['js7_controller_data'] + '/config/controller.conf')
    with open(conf, 'a', encoding='utf-8') as stream:
        stream.write('\njs7.journal.cluster.node.is-backup = yes\n')
    failed = set_state(lab, 'c1-secondary', 'controller', 'started', wait_timeout=60)
    assert failed.get('failed') is True, failed
    assert 'PrimaryClusterNodeMayNotBecomeBackup' in failed['msg']
    assert failed['running'] is False and failed['ready'] is False
    assert any('PrimaryClusterNodeMayNotBecomeBackup' in line for line in failed['log_tail'] + failed.get('script_stderr', []))


def test_stale_pid_file_and_reused_pid(lab_mode, lab_factory):
    """A PID file naming a live process that is not the instance does not make it 'running'."""
    lab = lab_factory(state='healthy')
    host = lab.hosts['c1-agent']
    assert set_state(lab, 'c1-agent', 'agent', 'stopped')['changed']
    pid_file = lab.host_path('c1-agent', host['js7_agent_data'] + '/logs/agent.pid')
    lock_file = lab.host_path('c1-agent', host['js7_agent_data'] + '/state/lock')
    with open(pid_file, 'w', encoding='utf-8') as stream:
        stream.write('1\n')  # init: alive, and certainly not the Agent
    with open(lock_file, 'w', encoding='utf-8') as stream:
        stream.write('999999')
    again = set_state(lab, 'c1-agent', 'agent', 'stopped')
    assert again['changed'] is False and again['running'] is False and again['pid'] is None, again
    started = set_state(lab, 'c1-agent', 'agent', 'started')
    assert started['changed'] and started['ready'] and started['pid'] not in (1, 999999), started


def example_playbook(module_file):
    """The module's EXAMPLES as a playbook for the lab: each task runs on the host it is about
    (Agent variables -> c1-agent, fail_over -> c1-primary, otherwise c1-secondary; a task without
    a JS7 module stays with the one before), consecutive tasks for one host in one play."""
    import ast
    import yaml
    with open(module_file, encoding='utf-8') as stream:
        tree = ast.parse(stream.read())
    examples = next(node.value.value for node in tree.body
                    if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == 'EXAMPLES')
    plays = []
    host = 'c1-secondary'
    for task in yaml.safe_load(examples):
        module = next((key for key in task if key.startswith('jobscheduler.js7.')), None)
        if module:
            text = yaml.safe_dump(task)
            host = 'c1-agent' if 'js7_agent_' in text else 'c1-primary' if task[module].get('fail_over') else 'c1-secondary'
        if not plays or plays[-1]['hosts'] != host:
            plays.append({'name': 'EXAMPLES on %s' % host, 'hosts': host, 'gather_facts': False, 'tasks': []})
        plays[-1]['tasks'].append(task)
    return yaml.safe_dump(plays, sort_keys=False)


MODULES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'plugins', 'modules')


def test_examples_run_as_written(lab_mode, lab_factory):
    lab = lab_factory(state='healthy')
    result = lab.playbook(example_playbook(os.path.join(MODULES, 'instance.py')))
    playbook_ok(result)
    assert 'failed=0' in result.stdout
    shutdowns = events(lab, 'c1-primary', 'ShutDownCommand')
    assert shutdowns and shutdowns[-1].get('cluster_action') == 'Failover'  # the last example asked for it


@pytest.mark.parametrize('target, component, pipelining', [
    ('c1-secondary', 'controller', False), ('c1-secondary', 'controller', True), ('c1-agent', 'agent', False)],
    ids=['controller-tmpfiles', 'controller-pipelining', 'agent-tmpfiles'])
def test_become_the_js7_user(lab_mode, lab_factory, js7_account, target, component, pipelining):
    """become_user: <the JS7 user> (sudo) stops, starts and restarts an instance the lab runs as that account
    (up --js7-user; the instance script switches to JS7_CONTROLLER_USER/JS7_AGENT_USER when root starts it,
    js7-engine.md §6.3). Without pipelining ansible hands the module file to the account (root connection: chown);
    with pipelining no file is needed. docs/instance.md explains both."""
    import pwd
    lab = lab_factory(state='healthy', js7_user=js7_account)
    account = pwd.getpwnam(js7_account)
    assert lab.hosts[target]['js7_user'] == js7_account
    assert [r['created'] for r in lab.record['resources'] if r['type'] == 'js7_user'] == [True]
    data = lab.hosts[target]['js7_%s_data' % component]
    assert os.stat(lab.host_path(target, data + '/state')).st_uid == account.pw_uid

    result_file = os.path.join(lab.dir, 'result-become-%s.json' % target)
    result = lab.playbook(os.path.join(PLAYBOOKS, 'instance_become.yml'),
                          extra_vars=dict(target=target, component=component, result_file=result_file),
                          env={'ANSIBLE_PIPELINING': 'true' if pipelining else 'false'})
    playbook_ok(result)
    with open(result_file, encoding='utf-8') as stream:
        r = json.load(stream)
    assert r['who'] == js7_account
    assert r['stopped']['changed'] and not r['stopped']['running'], r['stopped']
    assert r['stopped_again']['changed'] is False
    assert r['started']['changed'] and r['started']['ready'], r['started']
    assert r['restarted']['changed'] and r['restarted']['ready'] and r['restarted']['pid'] != r['started']['pid']
    assert r['already']['changed'] is False and r['already']['pid'] == r['restarted']['pid']
    # the engine started by the JS7 user runs as the JS7 user, and so does the one the lab started as root
    assert os.stat('/proc/%d' % r['already']['pid']).st_uid == account.pw_uid
    other = 'c1-primary' if target != 'c1-primary' else 'c1-secondary'
    with open(lab.host_path(other, lab.hosts[other]['js7_controller_data'] + '/state/lock'), encoding='utf-8') as stream:
        assert os.stat('/proc/%s' % stream.read().strip()).st_uid == account.pw_uid

    # down removes the account, because the lab created it
    down = lab.down()
    assert down.returncode == 0, down.stderr
    with pytest.raises(KeyError):
        pwd.getpwnam(js7_account)
