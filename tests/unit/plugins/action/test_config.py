"""The config action plugin with a fake managed node: edits, copy action, check mode, diff, secrets."""

from __future__ import annotations

import json

import pytest

from ansible.utils.display import Display

from ansible_collections.jobscheduler.js7.plugins.action.config import ActionModule

from action_fakes import MAIN, PRIVATE, FakeNode, corpus_bytes, make_action

IS_BACKUP = 'js7.journal.cluster.node.is-backup'


def run(node, args, **kw):
    action = make_action(ActionModule, 'config', node, args, **kw)
    return action.run(task_vars={})


def secondary():
    return FakeNode({MAIN: corpus_bytes('installer', 'controller.conf'), PRIVATE: corpus_bytes('kb', 'private.conf')})


def test_sets_is_backup_through_the_copy_action_then_is_idempotent():
    node = secondary()
    original = node.files[MAIN]
    result = run(node, {'settings': {IS_BACKUP: True}, 'backup': True}, diff=True)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True and result['restart_required'] is True
    assert result['settings'] == {IS_BACKUP: {'file': MAIN, 'action': 'uncomment'}}
    assert node.files[MAIN] == original.replace(b'# js7.journal.cluster.node.is-backup = yes',
                                                b'js7.journal.cluster.node.is-backup = yes')
    assert result['backup_file'] == MAIN + '.1234.backup~'
    assert node.files[result['backup_file']] == original
    copy = node.copies[-1]
    assert copy['args']['dest'] == MAIN and copy['args']['backup'] is True and copy['args']['follow'] is True
    assert copy['diff'] is False  # the plugin makes its own (masked) diff
    assert result['diff']['before_header'] == MAIN
    assert '-# js7' not in result['diff']['before']  # whole texts, not a patch
    assert 'js7.journal.cluster.node.is-backup = yes' in result['diff']['after']

    again = run(node, {'settings': {IS_BACKUP: True}, 'backup': True}, diff=True)
    assert again['changed'] is False and again['restart_required'] is False
    assert again['settings'][IS_BACKUP]['action'] == 'unchanged'
    assert 'diff' not in again
    assert len(node.copies) == 1  # nothing to write: the copy action is not even called


def test_check_mode_predicts_and_writes_nothing():
    node = secondary()
    before = dict(node.files)
    result = run(node, {'settings': {IS_BACKUP: True}}, check_mode=True, diff=True)
    assert result['changed'] is True and result['restart_required'] is True
    assert node.files == before
    assert node.copies[-1]['check_mode'] is True
    assert 'js7.journal.cluster.node.is-backup = yes' in result['diff']['after']


def test_private_conf_is_edited_where_it_sets_the_key_and_the_diff_is_masked():
    node = FakeNode({MAIN: b'js7.journal.cluster.node.is-backup = yes\n',
                     PRIVATE: b'js7.auth.cluster.password = "old-cluster-password"\n'
                              b'js7.journal.cluster.node.is-backup = no\n'})
    result = run(node, {'settings': {IS_BACKUP: True, 'js7.auth.cluster.password': 'new-cluster-password'}}, diff=True)
    assert not result.get('failed'), result.get('msg')
    assert result['settings'] == {IS_BACKUP: {'file': PRIVATE, 'action': 'replace'},
                                  'js7.auth.cluster.password': {'file': PRIVATE, 'action': 'replace'}}
    assert node.files[PRIVATE] == (b'js7.auth.cluster.password = "new-cluster-password"\n'
                                   b'js7.journal.cluster.node.is-backup = yes\n')
    assert node.files[MAIN] == b'js7.journal.cluster.node.is-backup = yes\n'
    dumped = json.dumps(result)
    assert 'old-cluster-password' not in dumped and 'new-cluster-password' not in dumped
    assert result['invocation']['module_args']['settings']['js7.auth.cluster.password'] == '********'
    assert '********' in result['diff']['after']


def test_new_secret_goes_to_private_conf_and_vvvv_shows_no_secret(capsys):
    node = secondary()
    display = Display()
    old = display.verbosity
    display.verbosity = 4
    try:
        result = run(node, {'settings': {'js7.auth.users.JOC2': 'plain:brand-new-secret'}}, diff=True)
    finally:
        display.verbosity = old
    out = capsys.readouterr()
    assert not result.get('failed'), result.get('msg')
    assert result['settings']['js7.auth.users.JOC2']['file'] == PRIVATE
    assert node.files[PRIVATE].endswith(b'js7.auth.users.JOC2 = "plain:brand-new-secret"\n')
    everything = json.dumps(result) + out.out + out.err
    for secret in ('brand-new-secret', 'plain:secret', 'agent-secret', 'b7d3ddc8'):
        assert secret not in everything


def test_show_secrets_shows_them_in_the_diff():
    node = FakeNode({PRIVATE: b'js7.auth.cluster.password = "old-pw-123"\n', MAIN: b''})
    result = run(node, {'settings': {'js7.auth.cluster.password': 'new-pw-456'}, 'show_secrets': True}, diff=True)
    assert 'old-pw-123' in result['diff']['before'] and 'new-pw-456' in result['diff']['after']


def test_absent_removes_from_both_files():
    node = FakeNode({MAIN: b'# keep me\njs7.journal.cluster.nodes { Primary = "http://a:4444", Backup = "http://b:4444" }\n',
                     PRIVATE: b'js7.journal.cluster.nodes.Primary = "http://c:4444"\n'})
    result = run(node, {'settings': {'js7.journal.cluster.nodes': None}, 'state': 'absent'})
    assert not result.get('failed'), result.get('msg')
    assert node.files[MAIN] == b'# keep me\n'
    assert node.files[PRIVATE] == b''
    assert run(node, {'settings': {'js7.journal.cluster.nodes': None}, 'state': 'absent'})['changed'] is False


def test_crlf_and_bom_survive():
    data = b'\xef\xbb\xbf# w\r\njs7.journal.cluster.node.is-backup = no\r\n'
    node = FakeNode({MAIN: data})
    result = run(node, {'settings': {IS_BACKUP: True}})
    assert result['changed']
    assert node.files[MAIN] == b'\xef\xbb\xbf# w\r\njs7.journal.cluster.node.is-backup = yes\r\n'


def test_new_private_conf_is_created_with_mode_0600():
    node = FakeNode({MAIN: b'a = 1\n'})
    result = run(node, {'path': PRIVATE, 'settings': {'js7.auth.cluster.password': 'pw-for-the-peer'}})
    assert result['changed'] is True
    assert node.copies[-1]['args']['mode'] == '0600'
    assert node.files[PRIVATE] == b'js7.auth.cluster.password = "pw-for-the-peer"\n'
    assert 'pw-for-the-peer' not in json.dumps(result)


def test_owner_group_mode_are_passed():
    node = FakeNode({MAIN: b'a = 1\n', PRIVATE: b''})
    run(node, {'settings': {'b': 2}, 'owner': 'js7', 'group': 'js7', 'mode': '0640'})
    assert {k: node.copies[-1]['args'][k] for k in ('owner', 'group', 'mode')} == {'owner': 'js7', 'group': 'js7', 'mode': '0640'}
    # attributes alone still go through copy (which fixes them), content unchanged
    run(node, {'settings': {'b': 2}, 'mode': '0600'})
    assert node.copies[-1]['args']['mode'] == '0600'


def test_malformed_file_is_not_touched():
    node = FakeNode({MAIN: corpus_bytes('misc', 'malformed.conf')})
    result = run(node, {'settings': {IS_BACKUP: True}})
    assert result['failed'] and result['msg'].startswith(MAIN + ': line ')
    assert node.copies == []


def test_file_changed_meanwhile_is_not_overwritten():
    node = secondary()
    real = node.execute_module
    calls = {'n': 0}

    def racing(module_name=None, module_args=None, task_vars=None, **kw):
        if module_args['src'] == MAIN:
            calls['n'] += 1
            if calls['n'] == 2:  # the re-read just before writing
                node.files[MAIN] = node.files[MAIN] + b'# someone else\n'
        return real(module_name=module_name, module_args=module_args, task_vars=task_vars)

    node.execute_module = racing
    result = run(node, {'settings': {IS_BACKUP: True}})
    assert result['failed'] and 'changed on the managed node' in result['msg']
    assert node.copies == []


def test_second_file_failing_rolls_back_the_first():
    node = FakeNode({MAIN: b'a = 1\n', PRIVATE: b'js7.auth.cluster.password = "pw-one"\n'})
    original = dict(node.files)
    result = run(node, {'settings': {'a': 2, 'js7.auth.cluster.password': 'pw-two'}},
                 copy_fails=lambda dest: dest == PRIVATE)
    assert result['failed']
    assert result['msg'].startswith('writing %s failed' % PRIVATE)
    assert MAIN + ' restored' in result['msg']
    assert node.files[MAIN] == original[MAIN] and node.files[PRIVATE] == original[PRIVATE]


def test_nothing_there_is_refused():
    result = run(FakeNode({}), {'settings': {IS_BACKUP: True}, 'data_dir': '/nowhere'})
    assert result['failed'] and 'Refusing to create' in result['msg']


@pytest.mark.parametrize('args, fragment', [
    ({}, 'settings'),
    ({'settings': {}}, 'settings is empty'),
    ({'settings': {'a..b': 1}}, 'not a HOCON path'),
    ({'settings': {'a': 1}, 'state': 'gone'}, 'state'),
])
def test_bad_arguments(args, fragment):
    result = run(FakeNode({MAIN: b''}), args)
    assert result['failed'] and fragment in result['msg']


def test_path_to_private_conf_edits_it_alone():
    node = secondary()
    result = run(node, {'path': PRIVATE, 'settings': {'js7.journal.users-allowed-to-release-events': ['History', 'JOC']}})
    assert not result.get('failed'), result.get('msg')
    assert b'users-allowed-to-release-events = [History, JOC]' in node.files[PRIVATE]
    assert node.files[MAIN] == corpus_bytes('installer', 'controller.conf')
