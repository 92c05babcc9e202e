"""Reading the corpus: parse, merge, booleans, substitutions, errors with file/line/column."""

from __future__ import annotations

import os

import pytest

from ansible_collections.jobscheduler.js7.plugins.plugin_utils import hocon_read
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.config_common import (
    ConfigLocation, ConfigSet, resolve_location,
)
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_read import ConfigFileError
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.js7_summary import (
    auth_summary, cluster_summary, quoted_key_findings, role_findings,
)

from hocon_corpus import CORPUS, local_fetch, transform


def load_dir(name):
    base = os.path.join(CORPUS, name)
    loc = ConfigLocation(os.path.join(base, 'controller.conf'), os.path.join(base, 'private', 'private.conf'), base, None)
    return ConfigSet(loc, local_fetch())


def load_file(path, data=None):
    files = None if data is None else {path: data}
    return ConfigSet(ConfigLocation(path, None, os.path.dirname(path), None), local_fetch(files))


def summary(tree, expected_role=None):
    findings = []
    cluster = cluster_summary(tree, findings)
    auth = auth_summary(tree, findings)
    role_findings(findings, 'controller', cluster, expected_role, 'controller.conf')
    quoted_key_findings(findings, tree, 'controller.conf')
    return cluster, auth, findings


def codes(findings):
    return sorted(f['code'] for f in findings)


def test_docker_primary_merge_keeps_substitutions_as_text():
    cs = load_dir('docker_primary')
    merged = cs.merged
    keys = merged['js7']['configuration']['trusted-signature-keys']
    assert keys == {'PGP': '${js7.config-directory}/private/trusted-pgp-keys',
                    'X509': '${js7.config-directory}/private/trusted-x509-keys'}
    assert merged['js7']['web']['server']['auth']['public'] is True
    assert merged['js7']['web']['https']['truststores'][0]['file'] == '${js7.config-directory}/private/https-truststore.p12'
    cluster, auth, findings = summary(merged, 'primary')
    assert cluster['is_backup'] is False and cluster['is_backup_configured'] is False
    assert cluster['node_id'] == 'Primary'
    assert cluster['nodes'] == {'Primary': 'http://primary-controller:4444', 'Backup': 'http://backup-controller:4444'}
    assert (cluster['heartbeat'], cluster['heartbeat_timeout'], cluster['consent_timeout']) == (3, 10, None)
    assert auth == {'users': ['Controller'], 'cluster_password_set': True, 'agents': [], 'public': True}
    assert findings == []
    assert [(f.role, f.exists) for f in cs.files] == [('main', True), ('private', True)]


def test_docker_backup_is_backup_and_secondary_has_no_findings():
    cs = load_dir('docker_backup')
    cluster, auth, findings = summary(cs.merged, 'secondary')
    assert cluster['is_backup'] is True and cluster['node_id'] == 'Backup'
    assert findings == []
    # the Primary expectation is wrong for this node
    assert codes(summary(cs.merged, 'primary')[2]) == ['unexpected-backup']


def test_installer_example_is_a_standalone_node_and_the_seed_finding():
    cs = load_file(os.path.join(CORPUS, 'installer', 'controller.conf'))
    cluster, _auth, findings = summary(cs.merged, 'secondary')
    assert cluster['is_backup'] is False
    assert codes(findings) == ['not-backup']
    assert 'ClusterNodeIsNotBackup' in findings[0]['message']


def test_private_overrides_main(tmp_path):
    (tmp_path / 'private').mkdir()
    (tmp_path / 'controller.conf').write_text('js7.journal.cluster.node.is-backup = yes\na = 1\n')
    (tmp_path / 'private' / 'private.conf').write_text('js7.journal.cluster.node { is-backup = no }\nb = 2\n')
    loc = ConfigLocation(str(tmp_path / 'controller.conf'), str(tmp_path / 'private' / 'private.conf'), str(tmp_path), None)
    cs = ConfigSet(loc, local_fetch())
    assert cs.merged == {'js7': {'journal': {'cluster': {'node': {'is-backup': 'no'}}}}, 'a': 1, 'b': 2}
    assert summary(cs.merged)[0]['is_backup'] is False


@pytest.mark.parametrize('text, expected', [
    ('js7.journal.cluster.node.is-backup = yes', True),
    ('js7.journal.cluster.node.is-backup = no', False),
    ('js7.journal.cluster.node.is-backup = on', True),
    ('js7.journal.cluster.node.is-backup = off', False),
    ('js7.journal.cluster.node.is-backup = true', True),
    ('js7.journal.cluster.node.is-backup = false', False),
    ('js7.journal.cluster.node.is-backup = "yes"', True),
    ('js7.journal.cluster.node.is-backup = "no"', False),
    ('js7.journal.cluster.node.is-backup: "on"', True),
    ('js7 { journal { cluster { node { is-backup = yes } } } }', True),
    ('js7 { journal { cluster { node { is-backup = "off" } } } }', False),
    ('js7.journal.cluster { node.is-backup: true }', True),
    ('js7.journal.cluster.heartbeat = 3s', False),
    ('', False),
])
def test_is_backup_every_spelling(tmp_path, text, expected):
    cs = load_file('/etc/js7/controller.conf', text.encode())
    cluster = summary(cs.merged)[0]
    assert cluster['is_backup'] is expected
    assert cluster['node_id'] == ('Backup' if expected else 'Primary')


def test_is_backup_invalid_value():
    cs = load_file(os.path.join(CORPUS, 'misc', 'is_backup_invalid.conf'))
    cluster, _auth, findings = summary(cs.merged, 'secondary')
    assert cluster['is_backup'] is False
    assert 'is-backup-invalid' in codes(findings)


def test_nested_colon_and_timings():
    cs = load_file(os.path.join(CORPUS, 'misc', 'nested_colon.conf'))
    cluster, auth, findings = summary(cs.merged)
    assert cluster['is_backup'] is True and cluster['node_id'] == 'Backup' and cluster['node_id_configured']
    assert (cluster['heartbeat'], cluster['heartbeat_timeout'], cluster['consent_timeout']) == (5, 20, 8)
    assert cluster['timings_text'] == {'heartbeat': '5s', 'heartbeat_timeout': '20 seconds', 'consent_timeout': '8s'}
    # durations stay text in config, as Typesafe Config keeps them
    assert cs.merged['js7']['journal']['cluster']['heartbeat'] == '5s'
    assert auth['public'] is False
    assert findings == []


def test_duplicates_last_one_wins():
    cs = load_file(os.path.join(CORPUS, 'misc', 'duplicates.conf'))
    assert cs.merged['js7']['journal']['cluster']['node']['is-backup'] == 'yes'
    assert summary(cs.merged)[0]['is_backup'] is True


def test_quoted_key_is_another_path():
    cs = load_file(os.path.join(CORPUS, 'misc', 'quoted_key.conf'))
    assert cs.merged == {'js7.journal.cluster.node.is-backup': 'yes'}
    cluster, _auth, findings = summary(cs.merged, 'secondary')
    assert cluster['is_backup'] is False
    assert codes(findings) == ['not-backup', 'quoted-dotted-key']


def test_substitutions_never_resolve_from_the_control_node(monkeypatch):
    monkeypatch.setenv('JS7_IS_BACKUP', 'yes')
    monkeypatch.setenv('HOME', '/home/control-node-user')
    cs = load_file(os.path.join(CORPUS, 'misc', 'substitutions.conf'))
    assert cs.merged['js7']['journal']['cluster']['node']['is-backup'] == '${?JS7_IS_BACKUP}'
    assert cs.merged['home'] == '${?HOME}'
    assert cs.merged['js7']['configuration']['trusted-signature-keys']['PGP'] == \
        '${js7.config-directory}/private/trusted-pgp-keys'
    assert '/home/control-node-user' not in repr(cs.merged)
    # an unresolved substitution is not a boolean JS7 can be sure of: reported
    assert 'is-backup-invalid' in codes(summary(cs.merged)[2])


def test_triple_quoted_strings():
    cs = load_file(os.path.join(CORPUS, 'misc', 'triple_quoted.conf'))
    assert cs.merged['js7']['controller']['description'] == \
        'A Secondary\nwith a "quoted" word and # no comment\nand // no comment either'
    assert cs.merged['js7']['journal']['cluster']['node']['id'] == 'Backup'


@pytest.mark.parametrize('how', ['crlf', 'bom'])
def test_crlf_and_bom(how):
    name = 'crlf.conf' if how == 'crlf' else 'bom.conf'
    with open(os.path.join(CORPUS, 'misc', name), 'rb') as handle:
        data = transform(handle.read(), how)
    cs = load_file('/x/controller.conf', data)
    assert summary(cs.merged)[0]['is_backup'] is True
    assert cs.main.bom is (how == 'bom')
    assert not cs.main.text.startswith('\ufeff')


@pytest.mark.parametrize('name', ['empty.conf', 'only_comments.conf'])
def test_empty_and_comment_only_files(name):
    cs = load_file(os.path.join(CORPUS, 'misc', name))
    assert cs.merged == {}
    cluster, auth, findings = summary(cs.merged, 'secondary')
    assert cluster['is_backup'] is False and auth['users'] == []
    assert codes(findings) == ['not-backup']


def test_backup_with_nodes_and_legacy_watches():
    cs = load_file(os.path.join(CORPUS, 'misc', 'backup_with_nodes.conf'))
    assert 'nodes-on-backup' in codes(summary(cs.merged, 'secondary')[2])
    cs = load_file(os.path.join(CORPUS, 'misc', 'legacy_watches.conf'))
    cluster, _auth, findings = summary(cs.merged)
    assert cluster['watches'] == ['http://cluster-watch-agent:4445']
    assert codes(findings) == ['legacy-watches']


def test_password_schemes_are_checked_without_revealing_passwords():
    cs = load_file(os.path.join(CORPUS, 'misc', 'bad_schemes.conf'))
    _cluster, auth, findings = summary(cs.merged)
    assert auth['users'] == ['Alice', 'Bob', 'Carol', 'Dave']
    assert codes(findings) == ['password-scheme-missing', 'password-scheme-unknown']
    text = repr(findings)
    assert 'secret-without-scheme' not in text and '0123456789abcdef' not in text and 'pw-of-dave' not in text
    assert "'sha256:'" in text


def test_includes_are_fetched_relative_to_the_including_file():
    cs = load_dir('includes')
    merged = cs.merged
    cluster = summary(merged)[0]
    assert cluster['is_backup'] is True and cluster['node_id'] == 'Backup'
    # the main file's own line after the include wins over the include; private.conf over both
    assert (cluster['heartbeat'], cluster['heartbeat_timeout']) == (4, 12)
    assert merged['js7']['web']['server']['auth']['public'] is True
    roles = [(os.path.relpath(f.path, CORPUS), f.role, f.exists) for f in cs.files]
    assert roles == [
        ('includes/controller.conf', 'main', True),
        ('includes/cluster.conf', 'include', True),
        ('includes/conf.d/web.conf', 'include', True),
        ('includes/conf.d/nested.conf', 'include', True),
        ('includes/does-not-exist.conf', 'include', False),
        ('includes/private/private.conf', 'private', True),
    ]
    assert cs.missing_includes == [os.path.join(CORPUS, 'includes', 'does-not-exist.conf')]


def test_include_never_reads_the_control_node(tmp_path):
    (tmp_path / 'secret.conf').write_text('stolen = true\n')
    main = '/remote/config/controller.conf'
    data = ('include "%s"\na = 1\n' % (tmp_path / 'secret.conf')).encode()
    cs = load_file(main, data)
    assert cs.merged == {'a': 1}


def test_missing_required_include_is_a_clean_failure():
    data = b'a = 1\ninclude required("conf.d/missing.conf")\n'
    with pytest.raises(ConfigFileError) as err:
        load_file('/etc/js7/controller.conf', data)
    msg = str(err.value)
    assert msg.startswith('/etc/js7/controller.conf: ')
    assert '/etc/js7/conf.d/missing.conf' in msg and 'does not exist' in msg


def test_url_include_is_refused_when_required_and_skipped_otherwise():
    cs = load_file('/etc/js7/controller.conf', b'include url("http://198.18.0.1/x.conf")\na = 1\n')
    assert cs.merged == {'a': 1}
    with pytest.raises(ConfigFileError, match='cannot be read from the managed node'):
        load_file('/etc/js7/controller.conf', b'include required(url("http://198.18.0.1/x.conf"))\n')


def test_malformed_hocon_names_file_line_and_column():
    path = os.path.join(CORPUS, 'misc', 'malformed.conf')
    with pytest.raises(ConfigFileError) as err:
        load_file(path)
    exc = err.value
    assert exc.path == path
    assert exc.line is not None and exc.column is not None
    assert str(exc).startswith('%s: line %d, column %d: malformed HOCON' % (path, exc.line, exc.column))


def test_malformed_include_is_reported_in_the_include(tmp_path):
    (tmp_path / 'bad.conf').write_text('ok = 1\nbroken = {\n')
    (tmp_path / 'controller.conf').write_text('include "bad.conf"\n')
    with pytest.raises(ConfigFileError) as err:
        load_file(str(tmp_path / 'controller.conf'))
    assert err.value.path == str(tmp_path / 'bad.conf')


def test_malformed_secret_line_does_not_echo_the_secret():
    with pytest.raises(ConfigFileError) as err:
        load_file(os.path.join(CORPUS, 'misc', 'malformed_secret.conf'))
    assert 'TOPSECRET' not in str(err.value)
    assert err.value.line == 1


def test_not_utf8_is_a_clean_failure():
    with pytest.raises(ConfigFileError) as err:
        load_file('/etc/js7/controller.conf', b'# caf\xe9\na = 1\n')
    assert str(err.value).startswith('/etc/js7/controller.conf: line 1, column 6: the file is not UTF-8')


@pytest.mark.parametrize('value, seconds', [
    ('3s', 3), ('10 seconds', 10), ('500ms', 0.5), ('2m', 120), ('1h', 3600), (1500, 1.5), ('1.5s', 1.5),
    ('soon', None), (True, None), ('3 parsecs', None),
])
def test_duration_seconds(value, seconds):
    assert hocon_read.duration_seconds(value) == seconds


def test_resolve_location_rules():
    params = {'component': 'controller', 'data_dir': None, 'path': None}
    loc = resolve_location(params, {})
    assert loc.main == '/var/sos-berlin.com/js7/controller/var/config/controller.conf'
    assert loc.private == '/var/sos-berlin.com/js7/controller/var/config/private/private.conf'
    loc = resolve_location(dict(params, component='agent'), {})
    assert loc.main == '/var/sos-berlin.com/js7/agent/var_4445/config/agent.conf'
    loc = resolve_location(params, {'js7_controller_data': '/lab/h1/var'})
    assert loc.main == '/lab/h1/var/config/controller.conf'
    loc = resolve_location(dict(params, data_dir='/d/'), {'js7_controller_data': '/ignored'})
    assert loc.main == '/d/config/controller.conf'
    loc = resolve_location(dict(params, path='/etc/js7cfg'), {})
    assert (loc.main, loc.private) == ('/etc/js7cfg/controller.conf', '/etc/js7cfg/private/private.conf')
    loc = resolve_location(dict(params, path='/etc/js7cfg/private/private.conf'), {})
    assert (loc.main, loc.private) == ('/etc/js7cfg/private/private.conf', None)
    with pytest.raises(ConfigFileError, match='absolute'):
        resolve_location(dict(params, data_dir='relative/var'), {})
