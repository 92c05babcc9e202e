# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JOC Cockpit API client: login, tokens, 440 re-login, error bodies, registration rules."""

from __future__ import annotations

import pytest

from ansible_collections.jobscheduler.js7.plugins.module_utils._http import HttpClient
from ansible_collections.jobscheduler.js7.plugins.module_utils._joc_api import JocApi, JocError, describe_components
from ansible_collections.jobscheduler.js7.plugins.module_utils._joc_registration import (
    RegistrationError,
    describe_registration,
    desired_registration,
    parse_version,
    register_body,
)

from js7_api_fakes import FakeJoc, FakeServer, components, joc_error


@pytest.fixture
def joc():
    fake = FakeJoc()
    server = FakeServer(fake)
    fake.server = server
    yield fake
    server.close()


def api(fake, user='root', password='root'):
    return JocApi(HttpClient(fake.server.url, retries=0), user=user, password=password)


def test_login_token_header_logout(joc):
    client = api(joc)
    assert client.is_active() is True
    token = client.token
    assert token == 'joc-token-1' and token in client.http.secrets
    calls = joc.server.requests
    assert calls[0].path == '/joc/api/authentication/login' and calls[0].header('Authorization').startswith('Basic ')
    assert calls[1].header('X-Access-Token') == token and calls[1].header('Authorization') is None
    client.logout()
    assert joc.logouts == 1 and token not in joc.tokens


def test_login_401(joc):
    with pytest.raises(JocError) as info:
        api(joc, password='wrong').login()
    err = info.value
    assert err.status == 401 and err.kind == 'auth'
    assert "refused the login of account 'root'" in err.msg and 'JS7_JOC_PASSWORD' in err.msg and 'wrong' not in err.msg


def test_440_relogin_once(joc):
    client = api(joc)
    client.login()
    joc.expire_next = 1
    assert client.is_active() is True
    assert joc.logins == 2 and client.relogins == 1


def test_440_twice_fails_clearly(joc):
    client = api(joc)
    client.login()
    joc.expire_next = 2
    with pytest.raises(JocError) as info:
        client.is_active()
    assert info.value.status == 440 and 'expired again right after a new login' in info.value.msg
    assert joc.logins == 2


def test_420_error_body_with_hint(joc):
    joc.test_results['http://down:4444'] = joc_error(420, 'JOC-402', 'ControllerConnectionRefusedException: http://down:4444')
    with pytest.raises(JocError) as info:
        api(joc).test('http://down:4444', 'controller')
    err = info.value
    assert err.code == 'JOC-402' and err.status == 420
    assert 'ControllerConnectionRefusedException: http://down:4444' in err.msg
    assert 'cannot reach the Controller' in err.msg


def test_420_unknown_session_counts_as_session_loss(joc):
    client = api(joc)
    client.login()
    joc.overrides['./joc/is_active'] = [joc_error(420, 'JOC-420', 'UnknownSessionException: gone')]
    assert client.is_active() is True
    assert joc.logins == 2


def test_403_names_the_permission(joc):
    joc.overrides['./controller/register'] = [(403, {}, {'isPermitted': False, 'message': 'not permitted'})]
    with pytest.raises(JocError) as info:
        api(joc).register({'controllers': []})
    assert 'sos:products:joc:administration:controllers:manage' in info.value.msg


def test_433_four_eyes(joc):
    joc.overrides['./controller/register'] = [(433, {}, {'accountName': 'root', 'approvers': [{'accountName': 'boss'}]})]
    with pytest.raises(JocError) as info:
        api(joc).register({'controllers': []})
    assert info.value.status == 433 and 'approval' in info.value.msg and 'boss' in info.value.msg


def test_434_controller_refused(joc):
    joc.overrides['./controller/components'] = [joc_error(434, 'JOC-402', 'ControllerConnectionRefusedException: x')]
    with pytest.raises(JocError) as info:
        api(joc).components('controller')
    assert info.value.status == 434 and info.value.code == 'JOC-402'


def test_not_joc_html_404():
    server = FakeServer(lambda r: (404, {'Content-Type': 'text/html'}, '<html>nope</html>'))
    try:
        client = JocApi(HttpClient(server.url, retries=0), user='root', password='root')
        with pytest.raises(JocError) as info:
            client.login()
        assert 'Is joc_url the JOC Cockpit URL' in info.value.msg
    finally:
        server.close()


def test_is_active_false_and_joc_503(joc):
    joc.active = False
    assert api(joc).is_active() is False
    joc.overrides['./joc/is_active'] = [joc_error(420, 'JOC-503', 'not active')]
    assert api(joc).is_active() is False


# ---- components -------------------------------------------------------------------------------

def test_coupled_predicate():
    assert describe_components(components('ClusterCoupled'))['coupled'] is True
    assert describe_components(components('ClusterCoupled', coupled=False))['coupled'] is False
    assert describe_components(components('ClusterCoupled', connection='unreachable'))['coupled'] is False
    assert describe_components(components('ClusterNodesAppointed', coupled=False))['coupled'] is False
    state = describe_components(components('ClusterCoupled', active='BACKUP'))
    assert state['active_node'] == 'BACKUP' and state['nodes'][0]['cluster_node_state'] == 'inactive'


# ---- registration rules -------------------------------------------------------------------------

CLUSTER = {'controllers': [
    {'role': 'PRIMARY', 'url': 'http://p:4444', 'clusterUrl': None, 'title': 'PRIMARY'},
    {'role': 'BACKUP', 'url': 'http://b:4444', 'clusterUrl': 'http://b.internal:4444', 'title': 'SECONDARY'}],
    'agents': [{'agentId': 'a1', 'agentName': 'A1', 'url': 'http://a:4445', 'isClusterWatcher': True}]}


def params(**kw):
    base = dict(controller_id='controller', primary_url=None, primary_cluster_url=None, primary_title=None,
                secondary_url=None, secondary_cluster_url=None, secondary_title=None,
                force_failover_confirmation=None, cluster_watcher=None, audit_comment=None, audit_time_spent=None,
                audit_ticket_link=None)
    base.update(kw)
    return base


def test_describe_registration():
    reg = describe_registration(CLUSTER, 'controller')
    assert reg['primary'] == dict(url='http://p:4444', cluster_url='http://p:4444', title='PRIMARY')
    assert reg['secondary']['cluster_url'] == 'http://b.internal:4444'
    assert reg['cluster_watcher'] == dict(agent_id='a1', agent_name='A1', url='http://a:4445')
    assert describe_registration(None, 'x') is None


def test_unset_options_keep_the_registration():
    before = describe_registration(CLUSTER, 'controller')
    assert desired_registration(params(), before) == before


def test_new_url_moves_a_following_cluster_url_but_keeps_an_explicit_one():
    before = describe_registration(CLUSTER, 'controller')
    desired = desired_registration(params(primary_url='http://p2:4444', secondary_url='http://b2:4444'), before)
    assert desired['primary']['cluster_url'] == 'http://p2:4444'
    assert desired['secondary']['cluster_url'] == 'http://b.internal:4444'


def test_new_registration_needs_primary_url():
    with pytest.raises(RegistrationError):
        desired_registration(params(), None)
    desired = desired_registration(params(primary_url='http://p:4444'), None)
    assert desired['secondary'] is None
    body = register_body(desired, False, params())
    assert body == {'controllerId': '', 'controllers': [{'role': 'STANDALONE', 'url': 'http://p:4444'}]}


def test_cluster_needs_two_urls():
    with pytest.raises(RegistrationError):
        desired_registration(params(primary_url='http://p', secondary_url='http://p/'), None)


def test_register_body_update_with_watcher_and_audit():
    before = describe_registration(CLUSTER, 'controller')
    desired = desired_registration(params(force_failover_confirmation=True), before)
    body = register_body(desired, True, params(audit_comment='why'))
    assert body['controllerId'] == 'controller'
    assert body['controllers'][1] == {'role': 'BACKUP', 'url': 'http://b:4444', 'clusterUrl': 'http://b.internal:4444',
                                      'title': 'SECONDARY'}
    assert body['forceFailoverConfirmation'] is True
    assert body['clusterWatcher'] == {'agentId': 'a1', 'agentName': 'A1', 'url': 'http://a:4445'}
    assert body['auditLog'] == {'comment': 'why'}


def test_parse_version():
    assert parse_version('2.7.1') == (2, 7, 1)
    assert parse_version('2.5.9-SNAPSHOT') == (2, 5, 9)
    assert parse_version('2.8') == (2, 8, 0)
    assert parse_version(None) is None and parse_version('x') is None
