"""The config_info action plugin with a fake managed node (slurp payloads)."""

from __future__ import annotations

import json

import pytest

from ansible.utils.display import Display

from ansible_collections.jobscheduler.js7.plugins.action.config_info import ActionModule

from action_fakes import DATA, MAIN, PRIVATE, FakeNode, corpus_bytes, make_action

SECRETS = ('plain:secret', 'b7d3ddc8', '0a1b2c3d', 'agent-secret', 'PRIMARY-CONTROLLER-PASSWORD')


def run(node, args, task_vars=None, **kw):
    action = make_action(ActionModule, 'config_info', node, args, **kw)
    return action.run(task_vars=task_vars or {})


def standalone_secondary():
    return FakeNode({MAIN: corpus_bytes('installer', 'controller.conf'),
                     PRIVATE: corpus_bytes('kb', 'private.conf')})


def test_reads_merges_masks_and_finds_the_standalone_secondary():
    node = standalone_secondary()
    result = run(node, {'expected_role': 'secondary'})
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is False
    assert node.slurped == [MAIN, PRIVATE]
    assert result['cluster']['is_backup'] is False
    assert [f['code'] for f in result['findings']] == ['not-backup']
    assert result['auth']['users'] == ['Controller', 'History', 'JOC']
    assert result['config']['js7']['auth']['users']['Controller']['password'] == '********'
    assert [(f['path'], f['role'], f['exists']) for f in result['files']] == [(MAIN, 'main', True), (PRIVATE, 'private', True)]
    assert len(result['files'][0]['sha256']) == 64
    dumped = json.dumps(result)
    for secret in SECRETS:
        assert secret not in dumped
    assert result['invocation']['module_args']['expected_role'] == 'secondary'


def test_show_secrets_returns_them():
    result = run(standalone_secondary(), {'show_secrets': True})
    assert result['config']['js7']['auth']['users']['Controller']['password'] == 'plain:secret'


def test_secrets_stay_hidden_at_vvvv(capsys):
    display = Display()
    old = display.verbosity
    display.verbosity = 4
    try:
        result = run(standalone_secondary(), {})
    finally:
        display.verbosity = old
    out = capsys.readouterr()
    dumped = json.dumps(result) + out.out + out.err
    for secret in SECRETS:
        assert secret not in dumped


def test_overridden_secret_of_controller_conf_is_scrubbed_too():
    node = FakeNode({MAIN: b'js7.auth.cluster.password = "old-cluster-pw"\nnote = "old-cluster-pw was here"\n',
                     PRIVATE: b'js7.auth.cluster.password = "new-cluster-pw"\n'})
    result = run(node, {})
    assert 'old-cluster-pw' not in json.dumps(result)
    assert 'new-cluster-pw' not in json.dumps(result)


def test_data_dir_from_inventory_variable_and_missing_private_is_normal():
    node = FakeNode({'/lab/c1-secondary/var/config/controller.conf': b'js7.journal.cluster.node.is-backup = yes\n'})
    result = run(node, {'expected_role': 'secondary'}, task_vars={'js7_controller_data': '/lab/c1-secondary/var'})
    assert not result.get('failed'), result.get('msg')
    assert result['cluster']['is_backup'] is True and result['findings'] == []
    assert result['files'][1] == {'path': '/lab/c1-secondary/var/config/private/private.conf', 'role': 'private',
                                  'exists': False, 'sha256': None, 'size': None}


def test_missing_main_file_is_a_finding_not_a_failure():
    result = run(FakeNode({PRIVATE: b'js7.auth.cluster.password = "x-password"\n'}), {'expected_role': 'secondary'})
    assert not result.get('failed')
    assert [f['code'] for f in result['findings']] == ['not-backup', 'main-config-missing']


def test_nothing_there_fails_naming_both_files():
    result = run(FakeNode({}), {'data_dir': '/wrong/var'})
    assert result['failed']
    assert '/wrong/var/config/controller.conf' in result['msg'] and '/wrong/var/config/private/private.conf' in result['msg']
    assert 'data_dir' in result['msg']


def test_unreadable_private_conf_says_use_become():
    node = standalone_secondary()
    node.unreadable.add(PRIVATE)
    result = run(node, {})
    assert result['failed']
    assert result['msg'].startswith(PRIVATE + ': permission denied')
    assert 'become' in result['msg']


def test_malformed_file_fails_with_file_line_column():
    node = FakeNode({MAIN: corpus_bytes('misc', 'malformed.conf')})
    result = run(node, {})
    assert result['failed']
    assert result['msg'].startswith(MAIN + ': line ')
    assert 'malformed HOCON' in result['msg']
    assert 'Traceback' not in json.dumps(result)


def test_not_utf8_fails_cleanly():
    result = run(FakeNode({MAIN: b'a = "caf\xe9"\n'}), {})
    assert result['failed'] and result['msg'].startswith(MAIN + ': line 1, column 9: the file is not UTF-8')


def test_missing_required_include_fails_naming_it():
    node = FakeNode({MAIN: b'include required("extra.conf")\n'})
    result = run(node, {})
    assert result['failed']
    assert DATA + '/config/extra.conf' in result['msg'] and 'does not exist' in result['msg']


def test_includes_are_slurped_from_the_node():
    node = FakeNode({MAIN: b'include "cluster.conf"\n', DATA + '/config/cluster.conf': b'js7.journal.cluster.node.is-backup = on\n'})
    result = run(node, {'expected_role': 'secondary'})
    assert result['cluster']['is_backup'] is True
    assert DATA + '/config/cluster.conf' in node.slurped
    assert result['files'][1]['role'] == 'include'


def test_path_to_one_file_reads_only_that_file():
    node = standalone_secondary()
    result = run(node, {'path': PRIVATE})
    assert node.slurped == [PRIVATE]
    assert result['auth']['users'] == ['Controller', 'History', 'JOC']


@pytest.mark.parametrize('args, fragment', [
    ({'data_dir': '/a', 'path': '/b'}, 'mutually exclusive'),
    ({'expected_role': 'boss'}, 'expected_role'),
    ({'expected_role': 'agent'}, 'component=agent'),
    ({'component': 'agent', 'expected_role': 'secondary'}, 'component=controller'),
    ({'data_dir': 'var'}, 'absolute'),
    ({'bogus': 1}, 'bogus'),
])
def test_bad_arguments_fail_cleanly(args, fragment):
    result = run(FakeNode({}), args)
    assert result['failed'] and fragment in result['msg']


def test_agent_component_reads_agent_conf():
    node = FakeNode({'/var/sos-berlin.com/js7/agent/var_4445/config/agent.conf': b'js7.web.server.auth.public = on\n'})
    result = run(node, {'component': 'agent', 'expected_role': 'agent'})
    assert not result.get('failed'), result.get('msg')
    assert result['auth']['public'] is True and result['findings'] == []
