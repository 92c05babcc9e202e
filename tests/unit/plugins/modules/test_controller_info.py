# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""controller_info end to end: the real module, real AnsibleModule output (no_log included), fake Controller."""

from __future__ import annotations

import json
import os
import sys
import threading

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.jobscheduler.js7.plugins.modules import controller_info

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'module_utils'))
from js7_api_fakes import FakeController, FakeServer, cluster_setting, free_port  # noqa: E402  pylint: disable=wrong-import-position


ENV = ('JS7_CONTROLLER_URL', 'JS7_CONTROLLER_USER', 'JS7_CONTROLLER_PASSWORD', 'JS7_JOC_URL', 'JS7_JOC_USER', 'JS7_JOC_PASSWORD')


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def run(args, capsys, main=controller_info.main):
    """Run a module's main() like Ansible does; return (result, raw stdout)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    out = capsys.readouterr().out
    return json.loads(out), out


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


def test_reads_a_coupled_primary(servers, capsys):
    server = servers(FakeController(cluster={'TYPE': 'Coupled', 'setting': cluster_setting('http://p', 'http://b')}))
    result, _out = run({'url': server.url}, capsys)
    assert not result.get('failed') and result['changed'] is False
    assert result['overview']['id'] == 'controller'
    assert result['cluster']['type'] == 'Coupled' and result['node']['is_active'] is True
    assert result['wait_method'] == 'none' and result['waited'] == 0.0


def test_unappointed_backup_is_not_a_failure(servers, capsys):
    server = servers(FakeController(node_id='Backup', is_backup=True, appointed=False))
    result, _out = run({'url': server.url}, capsys)
    assert not result.get('failed')
    assert result['node']['is_backup'] is True and result['node']['appointed'] is False
    assert result['problems'][0]['code'] == 'BackupClusterNodeNotAppointed'


def test_env_fallback_and_session_secrets_never_in_output(servers, capsys, monkeypatch):
    ctl = FakeController(users={'ops': 'Sup3r-Secret'}, cluster={'TYPE': 'Coupled', 'setting': cluster_setting('http://p', 'http://b')})
    server = servers(ctl)
    monkeypatch.setenv('JS7_CONTROLLER_URL', server.url)
    monkeypatch.setenv('JS7_CONTROLLER_USER', 'ops')
    monkeypatch.setenv('JS7_CONTROLLER_PASSWORD', 'Sup3r-Secret')
    result, out = run({'auth': 'session'}, capsys)
    assert not result.get('failed') and result['cluster']['type'] == 'Coupled'
    assert ctl.logins == 1 and ctl.sessions == {}  # logged out
    assert 'Sup3r-Secret' not in out and 'secret-token' not in out


def test_wrong_password_fails_with_advice_and_no_secret(servers, capsys):
    server = servers(FakeController(users={'ops': 'right'}))
    result, out = run({'url': server.url, 'user': 'ops', 'password': 'Wr0ng-Pass'}, capsys)
    assert result['failed'] and 'refused the credentials' in result['msg']
    assert result['error']['code'] == 'InvalidLogin'
    assert 'Wr0ng-Pass' not in out


def test_unreachable_controller_fails_clearly(capsys):
    result, _out = run({'url': 'http://127.0.0.1:%d' % free_port(), 'retries': 0}, capsys)
    assert result['failed'] and 'connection refused' in result['msg']


def test_missing_url(capsys):
    result, _out = run({}, capsys)
    assert result['failed'] and 'JS7_CONTROLLER_URL' in result['msg']


def test_joc_options_are_accepted_and_ignored(servers, capsys):
    server = servers(FakeController())
    result, out = run({'url': server.url, 'joc_url': 'http://joc:4446', 'joc_user': 'root', 'joc_password': 'JocPw-123'}, capsys)
    assert not result.get('failed')
    assert 'JocPw-123' not in out
    assert all(not r.path.startswith('/joc') for r in server.requests)


def test_wait_for_coupled_by_events(servers, capsys):
    ctl = FakeController(cluster={'TYPE': 'PreparedToBeCoupled', 'setting': cluster_setting('http://p', 'http://b')})
    server = servers(ctl)
    timer = threading.Timer(0.3, ctl.emit, ('ClusterCoupled',), {'activeId': 'Primary'})
    timer.start()
    result, _out = run({'url': server.url, 'wait_for': 'ClusterCoupled', 'wait_timeout': 30}, capsys)
    assert not result.get('failed'), result.get('msg')
    assert result['cluster']['type'] == 'Coupled' and result['wait_method'] == 'events'
    assert [e['type'] for e in result['events']] == ['ClusterCoupled']
    assert result['waited'] > 0 and result['overview']['id'] == 'controller'


def test_wait_timeout_fails_with_the_state(servers, capsys):
    server = servers(FakeController(cluster={'TYPE': 'NodesAppointed', 'setting': cluster_setting('http://p', 'http://b')}))
    result, _out = run({'url': server.url, 'wait_for': 'Coupled', 'wait_timeout': 1}, capsys)
    assert result['failed'] and 'did not reach Coupled within 1 seconds: it is NodesAppointed' in result['msg']
    assert result['cluster']['type'] == 'NodesAppointed'


def test_fail_fast_standalone_secondary(servers, capsys):
    peer = servers(FakeController(cluster={'TYPE': 'Empty'}))
    server = servers(FakeController(cluster={'TYPE': 'NodesAppointed', 'setting': cluster_setting('http://p', peer.url)}))
    result, _out = run({'url': server.url, 'wait_for': 'Coupled', 'wait_timeout': 300, 'fail_fast': True}, capsys)
    assert result['failed'] and result['wait_blocker']['code'] == 'PeerIsActiveStandalone'
    assert 'ACTIVE STANDALONE' in result['msg']
    assert result['waited'] < 300


def test_fail_fast_peer_url_override(servers, capsys):
    peer = servers(FakeController(cluster={'TYPE': 'Empty'}))
    server = servers(FakeController(cluster={'TYPE': 'NodesAppointed',
                                             'setting': cluster_setting('http://p', 'http://unreachable.invalid:4444')}))
    result, _out = run({'url': server.url, 'wait_for': 'Coupled', 'wait_timeout': 300, 'fail_fast': True,
                        'peer_url': peer.url}, capsys)
    assert result['wait_blocker']['evidence']['peer']['url'] == peer.url


def test_module_defaults_group_is_declared():
    import yaml
    runtime = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'meta', 'runtime.yml')
    with open(runtime) as stream:
        group = yaml.safe_load(stream)['action_groups']['js7']
    assert set(group) >= {'controller_info', 'joc_controller', 'joc_controller_info'}
