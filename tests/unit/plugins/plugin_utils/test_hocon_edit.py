"""Minimal edits: golden files (exact bytes), strategies, refusals."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.jobscheduler.js7.plugins.plugin_utils import hocon_edit
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.config_common import ConfigLocation, ConfigSet
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_edit import ABSENT, EditRefused, edit_text
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_syntax import split_key

from hocon_corpus import CORPUS, local_fetch, transform

EDIT_DIR = os.path.join(CORPUS, 'edit')
NO_INCLUDES = os.path.join(EDIT_DIR, 'empty_append')
CASES = sorted(os.listdir(EDIT_DIR))


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def edit_bytes(case_dir, data, settings, state, remote_dir='/remote/config'):
    """Run the edit as the config action does: decode (BOM off), edit, encode (BOM back)."""
    main = remote_dir + '/controller.conf'
    files = {main: data}
    for name in os.listdir(case_dir):
        if os.path.isfile(os.path.join(case_dir, name)) and name not in ('before.conf', 'after.conf', 'case.yml'):
            files[remote_dir + '/' + name] = read(os.path.join(case_dir, name))
    cs = ConfigSet(ConfigLocation(main, None, remote_dir, None), local_fetch(files))
    changes = dict((split_key(k), ABSENT if state == 'absent' else v) for k, v in settings.items())
    new_text, strategies = edit_text(cs.main.text, changes, lambda text: cs.parse_text(cs.main, text), main)
    out = (u'\ufeff' if cs.main.bom else u'') + new_text
    return out.encode('utf-8'), strategies


@pytest.mark.parametrize('case', CASES)
def test_golden(case):
    case_dir = os.path.join(EDIT_DIR, case)
    with open(os.path.join(case_dir, 'case.yml')) as handle:
        spec = yaml.safe_load(handle)
    how = spec.get('transform')
    before = transform(read(os.path.join(case_dir, 'before.conf')), how)
    expected = transform(read(os.path.join(case_dir, 'after.conf')), how)
    result, strategies = edit_bytes(case_dir, before, spec['settings'], spec.get('state', 'present'))
    assert result == expected
    if spec.get('action'):
        wanted = None if spec['action'] == 'unchanged' else spec['action']
        assert set(strategies.values()) == {wanted}
    # idempotent: the edited file needs no further edit
    again, strategies = edit_bytes(case_dir, result, spec['settings'], spec.get('state', 'present'))
    assert again == result
    assert set(strategies.values()) == {None}


def test_crlf_file_gets_crlf_lines_appended():
    data = b'# windows\r\nfoo = 1\r\n'
    result = edit_bytes(NO_INCLUDES, data, {'js7.journal.cluster.node.is-backup': True}, 'present')[0]
    assert result == b'# windows\r\nfoo = 1\r\njs7.journal.cluster.node.is-backup = yes\r\n'


def test_uncomment_with_double_slash_inside_a_block():
    data = b'js7.journal.cluster {\n  // node.is-backup = yes\n  heartbeat = 3s\n}\n'
    result, strategies = edit_bytes(NO_INCLUDES, data, {'js7.journal.cluster.node.is-backup': False}, 'present')
    assert result == b'js7.journal.cluster {\n  node.is-backup = no\n  heartbeat = 3s\n}\n'
    assert list(strategies.values()) == ['uncomment']


def test_prose_comment_is_not_uncommented():
    data = b'# Set js7.journal.cluster.node.is-backup = yes on the Secondary\n'
    result, strategies = edit_bytes(NO_INCLUDES, data, {'js7.journal.cluster.node.is-backup': True}, 'present')
    assert result == data + b'js7.journal.cluster.node.is-backup = yes\n'
    assert list(strategies.values()) == ['append']


def test_commented_key_in_another_block_is_not_used():
    data = b'js7.auth {\n  # js7.journal.cluster.node.is-backup = yes\n}\n'
    _result, strategies = edit_bytes(NO_INCLUDES, data, {'js7.journal.cluster.node.is-backup': True}, 'present')
    assert list(strategies.values()) == ['append']


def test_every_byte_outside_the_value_is_kept():
    data = read(os.path.join(CORPUS, 'misc', 'triple_quoted.conf'))
    result = edit_bytes(NO_INCLUDES, data, {'js7.journal.cluster.node.id': 'Primary'}, 'present')[0]
    assert result == data.replace(b'js7.journal.cluster.node.id = Backup', b'js7.journal.cluster.node.id = Primary')


def test_remove_key_set_only_in_an_include_is_refused(tmp_path):
    case_dir = tmp_path
    (case_dir / 'inc.conf').write_text('js7.journal.cluster.node.is-backup = yes\n')
    with pytest.raises(EditRefused, match='included file'):
        edit_bytes(str(case_dir), b'include "inc.conf"\n', {'js7.journal.cluster.node.is-backup': None}, 'absent')


def test_refused_when_no_strategy_gives_exactly_the_change():
    def parse(text):
        # A parser that sees an extra key appear after any edit: every strategy must be refused.
        tree = {'a': 1}
        if text != 'a = 1\n':
            tree = {'a': 2, 'surprise': True}
        return tree
    with pytest.raises(EditRefused) as err:
        edit_text('a = 1\n', {('a',): 2}, parse, '/x/controller.conf')
    msg = str(err.value)
    assert msg.startswith('/x/controller.conf: refusing to set a')
    assert 'surprise' in msg and 'replace' in msg and 'append' in msg


def test_verify_change_names_paths_not_values():
    before = {'js7': {'auth': {'cluster': {'password': 'old-secret'}}, 'x': 1}}
    after = {'js7': {'auth': {'cluster': {'password': 'new-secret'}}, 'x': 2}}
    problem = hocon_edit.verify_change(before, after, {('js7', 'auth', 'cluster', 'password'): 'new-secret'})
    assert problem == 'other keys would change too: js7.x'
    assert 'secret' not in problem
    assert hocon_edit.verify_change(before, before, {('js7', 'x'): 5}) == 'js7.x does not read back as the requested value'


@pytest.mark.parametrize('current, requested, equal', [
    ('yes', True, True), ('on', True, True), (True, True, True), ('no', True, False), ('maybe', False, False),
    ('3', 3, True), (3, '3', True), ('3s', '3s', True), (True, 'true', True), (None, None, True),
    ({'a': 'x'}, {'a': 'x'}, True), (['1', 2], [1, '2'], True), ('x', ['x'], False), (1, True, False),
])
def test_values_equal(current, requested, equal):
    assert hocon_edit.values_equal(current, requested) is equal


@pytest.mark.parametrize('value, existing, text', [
    (True, None, 'yes'), (False, None, 'no'), (True, 'false', 'true'), (False, ' on', 'off'), (True, '"no"', 'yes'),
    ('3s', None, '3s'), ('Backup', '"Primary"', '"Backup"'), ('10', None, '"10"'), ('true', None, '"true"'),
    ('http://a:4444', None, '"http://a:4444"'), (None, None, 'null'), (1.5, None, '1.5'),
    ({'Primary': 'http://a', 'Backup': 'http://b'}, None, '{ Primary = "http://a", Backup = "http://b" }'),
])
def test_render_value(value, existing, text):
    assert hocon_edit.render_value(value, existing) == text
