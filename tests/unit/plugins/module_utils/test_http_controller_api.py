# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller API client and the event-driven cluster waiter against an in-process fake Controller."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.jobscheduler.js7.plugins.module_utils._cluster_wait import (
    ClusterWaiter,
    apply_cluster_event,
    normalize_cluster_type,
)
from ansible_collections.jobscheduler.js7.plugins.module_utils._controller_api import (
    ControllerApi,
    ControllerProblem,
    describe_cluster,
    read_node,
)
from ansible_collections.jobscheduler.js7.plugins.module_utils._http import HttpClient

from js7_api_fakes import FakeController, FakeServer, cluster_setting


@pytest.fixture
def servers():
    started = []

    def start(app, **kw):
        server = FakeServer(app, **kw)
        started.append(server)
        return server
    yield start
    for server in started:
        server.close()


def api_for(server, **kw):
    return ControllerApi(HttpClient(server.url, retries=0), **kw)


def later(delay, func, *args, **kwargs):
    timer = threading.Timer(delay, func, args, kwargs)
    timer.daemon = True
    timer.start()
    return timer


# ---- auth -------------------------------------------------------------------------------------

def test_basic_auth(servers):
    ctl = FakeController(users={'ops': 'pw'})
    server = servers(ctl)
    assert api_for(server, user='ops', password='pw').overview()['id'] == 'controller'
    assert all(r.header('Authorization') for r in server.requests)


def test_wrong_password_basic_gives_invalid_login_advice(servers):
    server = servers(FakeController(users={'ops': 'pw'}))
    with pytest.raises(ControllerProblem) as info:
        api_for(server, user='ops', password='bad').overview()
    err = info.value
    assert err.kind == 'auth' and err.status == 401 and err.code == 'InvalidLogin'
    assert "refused the credentials of user 'ops'" in err.msg and 'JS7_CONTROLLER_PASSWORD' in err.msg
    assert 'bad' not in err.msg


def test_anonymous_on_protected_controller(servers):
    server = servers(FakeController(users={'ops': 'pw'}))
    with pytest.raises(ControllerProblem) as info:
        api_for(server).cluster_state()
    assert info.value.status == 401 and 'no user was given' in info.value.msg


def test_session_login_header_and_logout(servers):
    ctl = FakeController(users={'ops': 'pw'})
    server = servers(ctl)
    api = api_for(server, user='ops', password='pw', auth='session')
    api.cluster_state()
    api.overview()
    token = api.session_token
    assert ctl.logins == 1 and token in ctl.sessions
    assert [r.header('x-js7-session') for r in server.requests[1:]] == [token, token]
    assert all(r.header('Authorization') is None for r in server.requests)
    assert token in api.http.secrets  # masked in any message
    api.logout()
    assert token not in ctl.sessions and api.session_token is None


def test_session_invalid_token_relogs_once(servers):
    ctl = FakeController(users={'ops': 'pw'})
    server = servers(ctl)
    api = api_for(server, user='ops', password='pw', auth='session')
    api.cluster_state()
    ctl.invalidate_sessions_once = True
    assert api.cluster_state()['TYPE'] == 'Empty'
    assert ctl.logins == 2


def test_session_wrong_password(servers):
    server = servers(FakeController(users={'ops': 'pw'}))
    with pytest.raises(ControllerProblem) as info:
        api_for(server, user='ops', password='nope', auth='session').overview()
    assert info.value.code == 'InvalidLogin'


def test_not_a_controller_404(servers):
    server = servers(lambda r: (404, {'Content-Type': 'text/plain'}, 'nothing here'))
    with pytest.raises(ControllerProblem) as info:
        api_for(server).overview()
    assert 'Is %s the URL of a JS7 Controller' % server.url in info.value.msg


# ---- reading a node ---------------------------------------------------------------------------

def test_read_node_coupled_primary(servers):
    ctl = FakeController(cluster={'TYPE': 'Coupled', 'setting': dict(cluster_setting('http://p:4444', 'http://b:4444'),
                                                                     clusterWatchId='JOC-1')})
    node = read_node(api_for(servers(ctl)))
    assert node['overview']['id'] == 'controller' and node['overview']['version'] == '2.7.1'
    cluster = node['cluster']
    assert cluster['type'] == 'Coupled' and cluster['active_id'] == 'Primary' and cluster['passive_id'] == 'Backup'
    assert cluster['id_to_uri']['Backup'] == 'http://b:4444' and cluster['cluster_watch_id'] == 'JOC-1'
    assert cluster['event_id'] == 1000
    assert node['node'] == dict(node_id='Primary', is_backup=False, appointed=True, is_active=True, cluster_type='Coupled')
    assert node['problems'] == []


def test_read_node_unappointed_backup_is_information(servers):
    ctl = FakeController(node_id='Backup', is_backup=True, appointed=False)
    node = read_node(api_for(servers(ctl)))
    assert node['cluster'] is None
    assert node['node'] == dict(node_id=None, is_backup=True, appointed=False, is_active=False, cluster_type=None)
    assert {p['code'] for p in node['problems']} == {'BackupClusterNodeNotAppointed'}
    assert all(p['http_status'] == 503 for p in node['problems'])


def test_standalone_node_is_active():
    # js7-engine.md §3.5: Empty and not a backup -> active
    from ansible_collections.jobscheduler.js7.plugins.module_utils._controller_api import node_is_active
    assert node_is_active('Primary', False, 'Empty', None) is True
    assert node_is_active('Backup', True, 'Empty', None) is False
    assert node_is_active('Backup', True, 'Coupled', 'Backup') is True
    assert node_is_active('Primary', False, 'Coupled', 'Backup') is False


def test_legacy_cluster_watches():
    cluster = describe_cluster({'TYPE': 'Coupled', 'eventId': 5, 'setting': dict(
        cluster_setting('http://p', 'http://b'), clusterWatches=[{'uri': 'http://agent:4445'}])})
    assert cluster['cluster_watches'] == ['http://agent:4445'] and cluster['cluster_watch_id'] is None


# ---- events -------------------------------------------------------------------------------------

def test_events_long_poll_returns_on_the_event(servers):
    ctl = FakeController(cluster={'TYPE': 'PreparedToBeCoupled', 'setting': cluster_setting('http://p', 'http://b')})
    server = servers(ctl)
    later(0.2, ctl.emit, 'ClusterCoupled', activeId='Primary')
    events = api_for(server).events(after=1000, timeout=20)
    assert [e['TYPE'] for e in events] == ['ClusterCoupled']
    request = server.requests[-1]
    assert request.query['return'] == 'ClusterEvent' and request.query['after'] == '1000' and request.query['limit'] == '1'
    assert request.header('Accept') == 'application/x-ndjson'


def test_events_empty_on_timeout(servers):
    assert api_for(servers(FakeController())).events(after=1000, timeout=1) == []


def test_apply_cluster_event_table():
    cluster = dict(type='PreparedToBeCoupled', active_id='Primary', id_to_uri={'Primary': 'p', 'Backup': 'b'})
    new, certain = apply_cluster_event(cluster, {'eventId': 7, 'TYPE': 'ClusterCoupled', 'activeId': 'Primary'})
    assert new['type'] == 'Coupled' and certain and new['event_id'] == 7
    new, certain = apply_cluster_event(new, {'eventId': 8, 'TYPE': 'ClusterSwitchedOver', 'activatedId': 'Backup'})
    assert new['type'] == 'SwitchedOver' and new['active_id'] == 'Backup' and new['passive_id'] == 'Primary' and certain
    _new, certain = apply_cluster_event(cluster, {'eventId': 9, 'TYPE': 'ClusterCoupled', 'activeId': 'Primary'})
    assert certain
    _new, certain = apply_cluster_event(dict(cluster, type='NodesAppointed'), {'TYPE': 'ClusterCoupled'})
    assert not certain  # does not fit the state: re-read
    _new, certain = apply_cluster_event(cluster, {'TYPE': 'ClusterSomethingNew'})
    assert not certain
    new, certain = apply_cluster_event(cluster, {'TYPE': 'ClusterWatchRegistered', 'clusterWatchId': 'JOC-A'})
    assert certain and new['cluster_watch_id'] == 'JOC-A' and new['type'] == 'PreparedToBeCoupled'


def test_normalize_cluster_type():
    assert normalize_cluster_type('ClusterCoupled') == 'Coupled'
    assert normalize_cluster_type('Coupled') == 'Coupled'
    assert normalize_cluster_type('ClusterUnknown') is None


# ---- waiting --------------------------------------------------------------------------------

def waiter(api, target='Coupled', timeout=20, **kw):
    return ClusterWaiter(api, target, timeout, **kw)


def test_wait_follows_events_to_coupled(servers):
    ctl = FakeController(cluster={'TYPE': 'NodesAppointed', 'setting': cluster_setting('http://p', 'http://b')})
    server = servers(ctl)
    later(0.2, ctl.emit, 'ClusterCouplingPrepared', activeId='Primary')
    later(0.4, ctl.emit, 'ClusterWatchRegistered', clusterWatchId='JOC')
    later(0.6, ctl.emit, 'ClusterCoupled', activeId='Primary')
    outcome = waiter(api_for(server)).run()
    assert outcome['reached'] and outcome['wait_method'] == 'events'
    assert [e['type'] for e in outcome['events']] == ['ClusterCouplingPrepared', 'ClusterWatchRegistered', 'ClusterCoupled']
    assert outcome['snapshot']['cluster']['type'] == 'Coupled'
    assert outcome['events'][0]['event_id'] == 1001
    # event-driven: no state polling between the events
    assert server.paths().count('GET /controller/api/event') == 3


def test_wait_already_there_costs_no_event_request(servers):
    ctl = FakeController(cluster={'TYPE': 'Coupled', 'setting': cluster_setting('http://p', 'http://b')})
    server = servers(ctl)
    outcome = waiter(api_for(server)).run()
    assert outcome['reached'] and outcome['events'] == []
    assert 'GET /controller/api/event' not in server.paths()


def test_wait_falls_back_to_polling_without_event_api(servers):
    ctl = FakeController(cluster={'TYPE': 'PreparedToBeCoupled', 'setting': cluster_setting('http://p', 'http://b')},
                         event_api=False)
    server = servers(ctl)
    later(0.3, ctl.emit, 'ClusterCoupled', activeId='Primary')
    outcome = waiter(api_for(server)).run()
    assert outcome['reached'] and outcome['wait_method'] == 'polling'
    assert 'HTTP 404' in outcome['wait_method_reason']


def test_wait_times_out_with_the_last_state(servers):
    ctl = FakeController(cluster={'TYPE': 'NodesAppointed', 'setting': cluster_setting('http://p', 'http://b')})
    outcome = waiter(api_for(servers(ctl)), timeout=2).run()
    assert not outcome['reached'] and outcome['timed_out']
    assert outcome['snapshot']['cluster']['type'] == 'NodesAppointed'


def test_wait_survives_an_unreachable_node(servers):
    """The node is down at first (restart): the wait goes on until it answers."""
    ctl = FakeController(cluster={'TYPE': 'Coupled', 'setting': cluster_setting('http://p', 'http://b')})
    state = {'down': 2}

    def app(request):
        if state['down']:
            state['down'] -= 1
            body = {'TYPE': 'Problem', 'code': 'ClusterNodeIsNotReady', 'message': 'Cluster node is not ready yet'}
            return 503, {'Content-Type': 'application/json'}, body
        return ctl(request)
    clock = FakeClock()
    outcome = waiter(api_for(servers(app)), clock=clock, sleep=clock.sleep).run()
    assert outcome['reached']


def test_fail_fast_peer_is_active_standalone(servers):
    peer = servers(FakeController(node_id='Primary', is_backup=False, cluster={'TYPE': 'Empty'}))
    ctl = FakeController(cluster={'TYPE': 'NodesAppointed', 'setting': cluster_setting('http://p', peer.url)})
    api = api_for(servers(ctl))
    outcome = waiter(api, fail_fast=True, peer_api_factory=lambda url: ControllerApi(HttpClient(url, retries=0))).run()
    assert not outcome['reached'] and not outcome['timed_out']
    blocker = outcome['blocker']
    assert blocker['code'] == 'PeerIsActiveStandalone'
    assert blocker['evidence']['peer']['answer']['clusterState']['TYPE'] == 'Empty'
    assert 'is-backup = yes' in blocker['message']


def test_fail_fast_peer_unappointed_backup_keeps_waiting(servers):
    peer = servers(FakeController(node_id='Backup', is_backup=True, appointed=False))
    ctl = FakeController(cluster={'TYPE': 'NodesAppointed', 'setting': cluster_setting('http://p', peer.url)})
    outcome = waiter(api_for(servers(ctl)), timeout=2, fail_fast=True,
                     peer_api_factory=lambda url: ControllerApi(HttpClient(url, retries=0))).run()
    assert outcome['timed_out'] and outcome['blocker'] is None
    assert outcome['peer_probe']['problem']['code'] == 'BackupClusterNodeNotAppointed'


def test_fail_fast_asked_node_is_unappointed_backup(servers):
    ctl = FakeController(node_id='Backup', is_backup=True, appointed=False)
    outcome = waiter(api_for(servers(ctl)), fail_fast=True).run()
    assert outcome['blocker']['code'] == 'BackupNotAppointed'


class FakeClock(object):
    """Time that passes only when the waiter sleeps or an event request returns empty."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        self.now += 0.01
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        time.sleep(0.001)
