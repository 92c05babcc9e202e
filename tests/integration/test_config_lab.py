"""jobscheduler.js7.config_info and jobscheduler.js7.config through ansible-playbook against the lab.

The lab hosts' Python has no pyhocon (the playbook proves it on every run); the plugins parse on
the control node. Every playbook uses become as root (su when the machine has no sudo); in netns mode the
hosts are reached over real SSH.
"""

from __future__ import annotations

import json
import os
import re
import shutil

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')
IS_BACKUP = 'js7.journal.cluster.node.is-backup'
# Secrets of the lab's private.conf (tests/lab installer).
LAB_SECRETS = ('js7-lab-cluster-password', '5105ae272eb341255454a28dab31bc13175341a9aa900d175cfdf6f252def808')


def become_vars():
    # As another user than root (make test may run so, with the local lab only), the lab's
    # files are that user's own and there is nothing to become: become is for root runs.
    if os.geteuid() != 0:
        return {'use_become': False}
    # The lab machines may have no sudo; root can always su.
    return {} if shutil.which('sudo') else {'ansible_become_method': 'ansible.builtin.su'}


def conf_path(lab, host, name='controller.conf'):
    data = lab.hosts[host]['js7_controller_data']
    rel = 'config/private/private.conf' if name == 'private.conf' else 'config/' + name
    return lab.host_path(host, data + '/' + rel)


def read_bytes(path):
    with open(path, 'rb') as handle:
        return handle.read()


def info(lab, tmp_path, host, verbosity=0, **extra):
    result_file = str(tmp_path / ('info-%s.json' % host))
    extra_vars = dict(become_vars(), target=host, result_file=result_file, **extra)
    run = lab.playbook(os.path.join(PLAYBOOKS, 'config_info_state.yml'), extra_vars=extra_vars, verbosity=verbosity)
    assert run.returncode == 0, run.stdout + run.stderr
    with open(result_file) as handle:
        return json.load(handle), run


def edit(lab, tmp_path, host, settings, check=False, diff=False, name='set', **extra):
    result_file = str(tmp_path / ('%s-%s.json' % (name, host)))
    extra_vars = dict(become_vars(), target=host, result_file=result_file, settings=settings, **extra)
    run = lab.playbook(os.path.join(PLAYBOOKS, 'config_set_state.yml'), extra_vars=extra_vars, check=check, diff=diff)
    assert run.returncode == 0, run.stdout + run.stderr
    with open(result_file) as handle:
        return json.load(handle), run


def test_read_primary_and_standalone_secondary(lab_mode, lab_factory, tmp_path):
    lab = lab_factory(state='standalone-secondary')
    primary = info(lab, tmp_path, 'c1-primary', expected_role='primary')[0]
    assert not primary.get('failed'), primary.get('msg')
    assert primary['cluster']['is_backup'] is False
    assert [f for f in primary['findings'] if f['severity'] == 'error'] == []

    secondary, run = info(lab, tmp_path, 'c1-secondary', expected_role='secondary', verbosity=4)
    assert not secondary.get('failed'), secondary.get('msg')
    assert secondary['cluster']['is_backup'] is False
    assert secondary['cluster']['node_id'] == 'Primary'
    assert [f['code'] for f in secondary['findings']] == ['not-backup']
    assert secondary['auth']['users'] == ['controller1', 'History', 'JOC']
    assert secondary['auth']['cluster_password_set'] is True
    assert [(f['role'], f['exists']) for f in secondary['files']] == [('main', True), ('private', True)]
    assert secondary['config']['js7']['auth']['cluster']['password'] == '********'
    everything = run.stdout + run.stderr + json.dumps(secondary)
    for secret in LAB_SECRETS:
        assert secret not in everything
    # the secret really is in the file the plugin read (so the test above can fail)
    assert LAB_SECRETS[0] in read_bytes(conf_path(lab, 'c1-secondary', 'private.conf')).decode()


def test_set_is_backup_on_the_secondary(lab_mode, lab_factory, tmp_path):
    lab = lab_factory(state='standalone-secondary')
    path = conf_path(lab, 'c1-secondary')
    original = read_bytes(path)
    settings = {IS_BACKUP: True}

    # check mode predicts and writes nothing
    predicted = edit(lab, tmp_path, 'c1-secondary', settings, check=True, diff=True, name='check', backup=True)[0]
    assert predicted['changed'] is True and predicted['restart_required'] is True
    assert read_bytes(path) == original
    assert os.listdir(os.path.dirname(path)).count('controller.conf') == 1
    assert not [n for n in os.listdir(os.path.dirname(path)) if n.startswith('controller.conf.')]

    done, run = edit(lab, tmp_path, 'c1-secondary', settings, diff=True, backup=True)
    assert done['changed'] is True and done['restart_required'] is True
    assert done['settings'][IS_BACKUP]['action'] == 'uncomment'
    assert re.search(r'^-# js7\.journal\.cluster\.node\.is-backup = yes$', run.stdout, re.M), run.stdout
    assert re.search(r'^\+js7\.journal\.cluster\.node\.is-backup = yes$', run.stdout, re.M), run.stdout
    assert read_bytes(path) == original.replace(b'# js7.journal.cluster.node.is-backup = yes',
                                                b'js7.journal.cluster.node.is-backup = yes')
    backup = lab.host_path('c1-secondary', done['backup_file'])
    assert read_bytes(backup) == original

    again, run = edit(lab, tmp_path, 'c1-secondary', settings, diff=True, name='again', backup=True)
    assert again['changed'] is False and again['restart_required'] is False
    assert re.search(r'TASK \[Run jobscheduler\.js7\.config\][^\n]*\nok: \[c1-secondary\]', run.stdout), run.stdout

    after = info(lab, tmp_path, 'c1-secondary', expected_role='secondary')[0]
    assert after['cluster']['is_backup'] is True and after['findings'] == []


def test_private_conf_edit_hides_passwords(lab_mode, lab_factory, tmp_path):
    lab = lab_factory(state='healthy')
    settings = {'js7.auth.cluster.password': 'a-new-lab-password'}
    done, run = edit(lab, tmp_path, 'c1-primary', settings, check=True, diff=True, name='pw')
    assert done['changed'] is True
    assert done['settings']['js7.auth.cluster.password']['file'].endswith('/config/private/private.conf')
    everything = run.stdout + run.stderr + json.dumps(done)
    for secret in LAB_SECRETS + ('a-new-lab-password',):
        assert secret not in everything
    assert '********' in run.stdout


def test_malformed_hocon_is_a_clean_failure(lab_mode, lab_factory, tmp_path):
    lab = lab_factory(state='healthy')
    path = conf_path(lab, 'c1-secondary')
    with open(path, 'ab') as handle:
        handle.write(b'\njs7 {\n  journal.cluster.node.id = Backup\n')  # no closing brace
    broken = read_bytes(path)
    remote = lab.hosts['c1-secondary']['js7_controller_data'] + '/config/controller.conf'
    failed, run = info(lab, tmp_path, 'c1-secondary')
    assert failed['failed'] is True
    assert re.match(re.escape(remote) + r': line \d+, column \d+: malformed HOCON', failed['msg']), failed['msg']
    assert 'Traceback' not in run.stdout + run.stderr
    outcome = edit(lab, tmp_path, 'c1-secondary', {IS_BACKUP: True})[0]
    assert outcome['failed'] is True and outcome['msg'].startswith(remote + ': line ')
    assert read_bytes(path) == broken
