"""jobscheduler.js7.journal_reset against the lab: refusal while running, reset, restore.

Each test runs in local mode and, as root with sshd, in netns mode (fixture lab_mode).
"""

from __future__ import annotations

import glob
import json
import os
import tarfile
import time

import pytest

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')


def playbook_ok(result):
    assert result.returncode == 0, 'playbook failed rc=%d\nstdout:\n%s\nstderr:\n%s' % (
        result.returncode, result.stdout[-6000:], result.stderr[-3000:])


def run_saved(lab, playbook, **extra_vars):
    result_file = os.path.join(lab.dir, 'result-%s-%f.json' % (os.path.basename(playbook), time.time()))
    extra_vars['result_file'] = result_file
    playbook_ok(lab.playbook(os.path.join(PLAYBOOKS, playbook), extra_vars=extra_vars))
    with open(result_file, encoding='utf-8') as stream:
        return json.load(stream)


def set_state(lab, target, component, state):
    return run_saved(lab, 'instance_state.yml', target=target, component=component, wanted_state=state)


def reset(lab, target, component, **extra):
    return run_saved(lab, 'journal_reset_state.yml', target=target, component=component, **extra)


@pytest.mark.parametrize('target, component', [('c1-secondary', 'controller'), ('c1-agent', 'agent')])
def test_reset_cycle(lab_mode, lab_factory, target, component):
    lab = lab_factory(state='healthy')
    result = lab.playbook(os.path.join(PLAYBOOKS, 'journal_reset_cycle.yml'), extra_vars=dict(target=target, component=component))
    playbook_ok(result)
    data = lab.hosts[target]['js7_%s_data' % component]
    archives = glob.glob(lab.host_path(target, data + '/backups/*.tar.gz'))
    assert len(archives) == 1
    assert os.path.exists(archives[0] + '.sha256')


def test_refused_while_running_deletes_nothing(lab_mode, lab_factory):
    lab = lab_factory(state='healthy')
    data = lab.hosts['c1-secondary']['js7_controller_data']
    state_dir = lab.host_path('c1-secondary', data + '/state')
    before = sorted(os.listdir(state_dir))
    refused = reset(lab, 'c1-secondary', 'controller')
    assert refused.get('failed') is True and 'is locked by PID' in refused['msg'] and 'its HTTP port answers' in refused['msg']
    assert sorted(os.listdir(state_dir)) == before
    assert not os.path.exists(lab.host_path('c1-secondary', data + '/backups'))


def order_count(lab, host):
    status, dummy_headers, overview = lab.http(host, '/controller/api')
    assert status == 200, overview
    return overview.get('orderCount')


def test_restore_from_the_archive_keeps_the_orders(lab_mode, lab_factory):
    """archive -> unpack into state/ -> start: the journal is intact (orders still there)."""
    lab = lab_factory(state='standalone-secondary')
    host = 'c1-secondary'  # an active standalone node: it accepts orders
    for number in range(3):
        order = {'id': 'restore-test-%d' % number, 'workflowPath': '/lab/wf'}
        status, dummy_headers, body = lab.http(host, '/controller/api/command', method='POST', body={'TYPE': 'AddOrder', 'order': order})
        assert status == 200, body
    orders_before = order_count(lab, host)
    assert orders_before >= 3

    assert set_state(lab, host, 'controller', 'stopped')['changed']
    result = reset(lab, host, 'controller')
    assert result.get('failed') is False and result['changed'], result
    data = lab.hosts[host]['js7_controller_data']
    state_dir = lab.host_path(host, data + '/state')
    assert os.listdir(state_dir) == []

    archive = lab.host_path(host, result['archive']['path'])
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(result['archive']['members'])
        tar.extractall(state_dir, filter='tar') if hasattr(tarfile, 'tar_filter') else tar.extractall(state_dir)

    started = set_state(lab, host, 'controller', 'started')
    assert started['ready'], started
    assert order_count(lab, host) == orders_before
    status, dummy_headers, node = lab.http(host, '/controller/api/cluster?return=ClusterNodeState')
    assert status == 200 and node['isBackup'] is False  # still the same standalone journal


def test_check_mode_reports_and_keeps_everything(lab_mode, lab_factory):
    lab = lab_factory(state='healthy')
    assert set_state(lab, 'c1-agent', 'agent', 'stopped')['changed']
    data = lab.hosts['c1-agent']['js7_agent_data']
    state_dir = lab.host_path('c1-agent', data + '/state')
    before = sorted(os.listdir(state_dir))
    predicted = reset(lab, 'c1-agent', 'agent', check=True)
    assert predicted['changed'] and predicted['archive']['sha256'] is None, predicted
    assert sorted(os.path.basename(p) for p in predicted['removed']) == before
    assert 'lock' in before and any(name.startswith('agent--') for name in before)
    assert sorted(os.listdir(state_dir)) == before
    assert not os.path.exists(lab.host_path('c1-agent', data + '/backups'))


def test_examples_run_as_written(lab_mode, lab_factory):
    from test_instance_lab import MODULES, example_playbook
    lab = lab_factory(state='healthy')
    result = lab.playbook(example_playbook(os.path.join(MODULES, 'journal_reset.py')))
    playbook_ok(result)
    assert 'failed=0' in result.stdout
    agent_data = lab.hosts['c1-agent']['js7_agent_data']
    assert glob.glob(lab.host_path('c1-agent', os.path.dirname(agent_data) + '/journal-archives/agent-4445-state-*.tar.gz'))
    secondary_data = lab.hosts['c1-secondary']['js7_controller_data']
    assert len(glob.glob(lab.host_path('c1-secondary', secondary_data + '/backups/controller-controller1-state-*.tar.gz'))) == 1


def test_reset_as_the_js7_user_and_refused_for_another_user(lab_mode, lab_factory, js7_account):
    """become_user: <the JS7 user> archives and empties state/ of a stopped instance (archive owned by that user,
    state/ kept with its owner and mode); another unprivileged account, which cannot look into the data directory,
    is refused with a clear message and nothing is deleted. The account exists before the lab: down keeps it."""
    import pwd
    import subprocess
    subprocess.run(['useradd', '--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', js7_account],
                   check=True)
    try:
        lab = lab_factory(state='healthy', js7_user=js7_account)
        account = pwd.getpwnam(js7_account)
        assert [r['created'] for r in lab.record['resources'] if r['type'] == 'js7_user'] == [False]

        data = lab.hosts['c1-secondary']['js7_controller_data']
        state_dir = lab.host_path('c1-secondary', data + '/state')
        before = os.stat(state_dir)
        assert before.st_uid == account.pw_uid and os.listdir(state_dir)
        mine = run_saved(lab, 'journal_reset_become.yml', target='c1-secondary', component='controller', run_as=js7_account)
        assert mine['stopped']['changed'], mine
        outcome = mine['outcome']
        assert outcome.get('failed') is False and outcome['changed'], outcome
        assert os.listdir(state_dir) == []
        after = os.stat(state_dir)
        assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)
        archive = lab.host_path('c1-secondary', outcome['archive']['path'])
        assert os.stat(archive).st_uid == account.pw_uid and os.stat(archive + '.sha256').st_uid == account.pw_uid
        assert os.stat(os.path.dirname(archive)).st_uid == account.pw_uid
        with tarfile.open(archive) as tar:
            assert 'lock' in tar.getnames()

        agent_data = lab.hosts['c1-agent']['js7_agent_data']
        agent_state = lab.host_path('c1-agent', agent_data + '/state')
        other = run_saved(lab, 'journal_reset_become.yml', target='c1-agent', component='agent', run_as='nobody')
        assert other['stopped']['changed'], other  # stopped as the JS7 user
        refused = other['outcome']
        assert refused.get('failed') is True, refused
        assert 'cannot look into %s' % (agent_data + '/state') in refused['msg'] and 'Permission denied' in refused['msg']
        assert 'Nothing was deleted' in refused['msg'] and 'become_user' in refused['msg']
        assert 'Traceback' not in json.dumps(refused)
        assert 'lock' in os.listdir(agent_state)
        assert not os.path.exists(lab.host_path('c1-agent', agent_data + '/backups'))

        down = lab.down()
        assert down.returncode == 0, down.stderr
        assert pwd.getpwnam(js7_account).pw_uid == account.pw_uid  # not the lab's: kept
    finally:
        subprocess.run(['userdel', js7_account], check=False)
