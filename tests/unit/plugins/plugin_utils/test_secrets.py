"""Which values are secrets, masking of trees and of file text."""

from __future__ import annotations

import os

import pytest

from ansible_collections.jobscheduler.js7.plugins.plugin_utils.config_common import ConfigLocation, ConfigSet
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.secrets import (
    MASK, is_secret_path, mask_text, mask_tree, password_scheme,
)

from hocon_corpus import CORPUS, local_fetch

KB_SECRETS = ('plain:secret', 'sha512:b7d3', 'sha512:0a1b', 'plain:agent-secret')
DOCKER_SECRETS = ('PRIMARY-CONTROLLER-PASSWORD', 'BACKUP-CONTROLLER-PASSWORD', 'jobscheduler')


@pytest.mark.parametrize('path, secret', [
    (('js7', 'auth', 'users', 'Controller'), True),
    (('js7', 'auth', 'users', 'Controller', 'password'), True),
    (('js7', 'auth', 'users', 'Controller', 'permissions', 0), False),
    (('js7', 'auth', 'users', 'Controller', 'distinguished-names', 0), False),
    (('js7', 'auth', 'cluster', 'password'), True),
    (('js7', 'auth', 'agents', 'agent-001'), True),
    (('js7', 'auth', 'agents', 'http://a:4445'), True),
    (('js7', 'web', 'https', 'keystore', 'store-password'), True),
    (('js7', 'web', 'https', 'truststores', 0, 'store-password'), True),
    (('js7', 'journal', 'cluster', 'watch', 'cluster-nodes', 1, 'password'), True),
    (('js7', 'journal', 'cluster', 'node', 'is-backup'), False),
    (('js7', 'web', 'server', 'auth', 'public'), False),
])
def test_is_secret_path(path, secret):
    assert is_secret_path(path) is secret


def load(name):
    base = os.path.join(CORPUS, name)
    if os.path.isdir(base):
        loc = ConfigLocation(os.path.join(base, 'controller.conf'), os.path.join(base, 'private', 'private.conf'), base, None)
    else:
        loc = ConfigLocation(base, None, os.path.dirname(base), None)
    return ConfigSet(loc, local_fetch())


@pytest.mark.parametrize('name, secrets', [
    ('kb/private.conf', KB_SECRETS),
    ('docker_primary', DOCKER_SECRETS[:1] + DOCKER_SECRETS[2:]),
    ('docker_backup', DOCKER_SECRETS[:2]),
    ('misc/bad_schemes.conf', ('sha256:0123', 'secret-without-scheme', 'plain:pw-of-dave')),
])
def test_mask_tree_hides_every_secret(name, secrets):
    merged = load(name).merged
    masked, found = mask_tree(merged)
    text = repr(masked)
    for secret in secrets:
        assert secret in repr(merged)
        assert secret not in text
        assert any(secret in f for f in found)
    assert MASK in text


def test_mask_tree_keeps_structure_and_non_secrets():
    masked = mask_tree(load('kb/private.conf').merged)[0]
    users = masked['js7']['auth']['users']
    assert users['JOC'] == {'password': MASK, 'permissions': ['UpdateItem']}
    assert masked['js7']['journal']['users-allowed-to-release-events'] == ['History']
    assert masked['js7']['configuration']['trusted-signature-keys']['PGP'] == '${js7.config-directory}/private/trusted-pgp-keys'
    # the empty password hides nothing and means "empty password" to JS7
    assert mask_tree({'js7': {'auth': {'users': {'Carol': ''}}}})[0]['js7']['auth']['users']['Carol'] == ''


def test_plain_and_sha512_values_are_secret_anywhere():
    masked, found = mask_tree({'some': {'odd': {'place': 'plain:hidden'}}, 'list': ['sha512:abc']})
    assert masked == {'some': {'odd': {'place': MASK}}, 'list': [MASK]}
    assert found == {'plain:hidden', 'sha512:abc'}


def test_mask_text_of_private_conf():
    with open(os.path.join(CORPUS, 'kb', 'private.conf')) as handle:
        text = handle.read()
    masked = mask_text(text)
    for secret in ('plain:secret', 'b7d3ddc8', '0a1b2c3d', 'agent-secret'):
        assert secret not in masked
    assert masked.count('\n') == text.count('\n')
    assert 'permissions = [ UpdateItem ]' in masked
    assert '# Controller ID for connections by primary/secondary Controller instance' in masked


def test_mask_text_masks_comments_and_known_secrets():
    text = '# old: js7.auth.cluster.password = "plain:old-one"\nfoo = "the-keystore-pw"\n'
    masked = mask_text(text, {'the-keystore-pw'})
    assert 'old-one' not in masked and 'the-keystore-pw' not in masked


@pytest.mark.parametrize('value, scheme', [
    ('plain:x', 'plain'), ('sha512:ab', 'sha512'), ('', 'empty'), ('sha256:ab', 'sha256'), ('nopassword', None),
    ('http://x:1', 'http'),
])
def test_password_scheme(value, scheme):
    assert password_scheme(value) == scheme
