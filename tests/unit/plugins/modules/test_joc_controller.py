# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""joc_controller and joc_controller_info end to end against a fake JOC Cockpit."""

from __future__ import annotations

import json
import os
import sys

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.jobscheduler.js7.plugins.modules import joc_controller, joc_controller_info

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'module_utils'))
from js7_api_fakes import FakeJoc, FakeServer, components, free_port, joc_error  # noqa: E402  pylint: disable=wrong-import-position

ENV = ('JS7_CONTROLLER_URL', 'JS7_CONTROLLER_USER', 'JS7_CONTROLLER_PASSWORD', 'JS7_JOC_URL', 'JS7_JOC_USER', 'JS7_JOC_PASSWORD')
PASSWORD = 'J0c-Secret-pw'


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def joc():
    fake = FakeJoc(accounts={'root': PASSWORD})
    fake.registrations['controller'] = [
        {'role': 'PRIMARY', 'url': 'http://p:4444', 'clusterUrl': 'http://p:4444', 'title': 'PRIMARY'},
        {'role': 'BACKUP', 'url': 'http://b:4444', 'clusterUrl': 'http://b:4444', 'title': 'SECONDARY'}]
    server = FakeServer(fake)
    fake.server = server
    yield fake
    server.close()


def run(main, args, capsys, check_mode=False, diff=False):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    out = capsys.readouterr().out
    assert PASSWORD not in out and 'joc-token' not in out  # neither the password nor a session token
    return json.loads(out)


def conn(joc, **kw):
    args = dict(joc_url=joc.server.url, joc_user='root', joc_password=PASSWORD, controller_id='controller')
    args.update(kw)
    return args


def test_unchanged_registration_is_not_submitted(joc, capsys):
    result = run(joc_controller.main, conn(joc), capsys)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is False and result['submitted'] is False and joc.registered == []
    assert [t['ok'] for t in result['connection_tests']] == [True, True]
    assert result['registration']['before']['secondary']['url'] == 'http://b:4444'
    assert result['joc']['active'] is True and result['joc']['version'] == '2.7.1'
    assert joc.logouts == 1


def test_resubmit_submits_an_update_never_unregister(joc, capsys):
    result = run(joc_controller.main, conn(joc, resubmit=True, audit_comment='runbook'), capsys)
    assert result['changed'] is True and result['submitted'] is True
    body = joc.registered[0]
    assert body['controllerId'] == 'controller' and body['auditLog'] == {'comment': 'runbook'}
    assert [c['role'] for c in body['controllers']] == ['PRIMARY', 'BACKUP']
    paths = joc.server.paths()
    assert not any('unregister' in p or 'cleanup' in p for p in paths)
    assert paths.index('POST /joc/api/joc/is_active') < paths.index('POST /joc/api/controller/register')
    assert paths.count('POST /joc/api/controller/test') == 2


def test_check_mode_tests_but_does_not_submit(joc, capsys):
    result = run(joc_controller.main, conn(joc, secondary_url='http://b2:4444'), capsys, check_mode=True, diff=True)
    assert result['changed'] is True and result['submitted'] is False and joc.registered == []
    assert len(result['connection_tests']) == 2
    assert result['diff']['after']['secondary']['url'] == 'http://b2:4444'
    assert result['diff']['before']['secondary']['url'] == 'http://b:4444'


def test_change_then_idempotent(joc, capsys):
    first = run(joc_controller.main, conn(joc, secondary_url='http://b2:4444', secondary_title='B2'), capsys)
    assert first['changed'] and first['registration']['after']['secondary'] == dict(
        url='http://b2:4444', cluster_url='http://b2:4444', title='B2')
    second = run(joc_controller.main, conn(joc, secondary_url='http://b2:4444', secondary_title='B2'), capsys)
    assert second['changed'] is False and len(joc.registered) == 1


def test_failed_connection_test_stops_before_submitting(joc, capsys):
    joc.test_results['http://b:4444'] = joc_error(420, 'JOC-402', 'ControllerConnectionRefusedException: http://b:4444')
    result = run(joc_controller.main, conn(joc, resubmit=True), capsys)
    assert result['failed'] and 'Nothing was submitted' in result['msg'] and 'JOC-402' in result['msg']
    assert 'ControllerConnectionRefusedException' in result['msg']
    assert joc.registered == []
    failed = [t for t in result['connection_tests'] if not t['ok']]
    assert failed[0]['error']['code'] == 'JOC-402' and failed[0]['role'] == 'secondary'


def test_failed_connection_test_with_warn_submits(joc, capsys, monkeypatch):
    warnings = []
    monkeypatch.setattr(joc_controller.AnsibleModule, 'warn', lambda self, text, **kw: warnings.append(text))
    joc.test_results['http://b:4444'] = joc_error(420, 'JOC-402', 'ControllerConnectionRefusedException: http://b:4444')
    result = run(joc_controller.main, conn(joc, resubmit=True, test_connection='warn'), capsys)
    assert result['submitted'] is True
    assert any('Connection test of the secondary' in w for w in warnings)
    assert result['connection_tests'][1]['ok'] is False


def test_wrong_controller_id_in_test(joc, capsys):
    joc.test_results['http://p:4444'] = joc_error(420, 'JOC-405', "ControllerInvalidResponseDataException: Connection was "
                                                  "successful but Controller ID 'other' of URL 'http://p:4444' is not the "
                                                  "expected Controller ID 'controller'")
    result = run(joc_controller.main, conn(joc), capsys)
    assert result['failed'] and 'another Controller ID' in result['msg']


def test_standby_joc_names_the_active_one(joc, capsys):
    joc.active = False
    result = run(joc_controller.main, conn(joc, resubmit=True), capsys)
    assert result['failed'] and 'not the active instance' in result['msg'] and 'http://joc-b:4446' in result['msg']
    assert joc.registered == []


def test_standby_joc_without_changes_is_fine(joc, capsys):
    joc.active = False
    result = run(joc_controller.main, conn(joc), capsys)
    assert not result.get('failed') and result['joc']['active'] is False


def test_cluster_watcher_refused_on_2_6_plus(joc, capsys):
    result = run(joc_controller.main, conn(joc, cluster_watcher={'agent_id': 'a', 'url': 'http://a:4445'}), capsys)
    assert result['failed'] and 'JS7 2.0-2.5 only' in result['msg']


def test_cluster_watcher_on_2_5(joc, capsys):
    joc.version = '2.5.9'
    result = run(joc_controller.main, conn(joc, cluster_watcher={'agent_id': 'a', 'url': 'http://a:4445'}), capsys)
    assert result['submitted'] is True
    assert joc.registered[0]['clusterWatcher'] == {'agentId': 'a', 'agentName': 'a', 'url': 'http://a:4445'}


def test_new_registration(joc, capsys):
    joc.registrations.clear()
    result = run(joc_controller.main, conn(joc, primary_url='http://n:4444'), capsys)
    assert result['submitted'] and joc.registered[-1]['controllerId'] == ''
    assert result['registration']['before'] is None
    assert result['registration']['after']['primary']['url'] == 'http://n:4444'


def test_new_registration_without_url(joc, capsys):
    joc.registrations.clear()
    result = run(joc_controller.main, conn(joc), capsys)
    assert result['failed'] and 'primary_url is required' in result['msg']


def test_wrong_joc_password(joc, capsys):
    result = run(joc_controller.main, conn(joc, joc_password='nope-nope'), capsys)
    assert result['failed'] and "refused the login of account 'root'" in result['msg']


def test_joc_unreachable(capsys):
    result = run(joc_controller.main, dict(joc_url='http://127.0.0.1:%d' % free_port(), joc_user='root',
                                           joc_password=PASSWORD, controller_id='c', retries=0), capsys)
    assert result['failed'] and 'connection refused' in result['msg']


def test_expired_session_is_renewed_once(joc, capsys):
    joc.expire_next = 1
    result = run(joc_controller.main, conn(joc), capsys)
    assert not result.get('failed') and joc.logins == 2


def test_env_fallback(joc, capsys, monkeypatch):
    monkeypatch.setenv('JS7_JOC_URL', joc.server.url)
    monkeypatch.setenv('JS7_JOC_USER', 'root')
    monkeypatch.setenv('JS7_JOC_PASSWORD', PASSWORD)
    result = run(joc_controller_info.main, {'controller_id': 'controller'}, capsys)
    assert not result.get('failed'), result.get('msg')


# ---- joc_controller_info ------------------------------------------------------------------------

def test_info_reports_components(joc, capsys):
    joc.components['controller'] = components('ClusterCoupled')
    result = run(joc_controller_info.main, conn(joc), capsys)
    assert result['cluster_state'] == 'ClusterCoupled' and result['coupled'] is True
    assert result['active_node'] == 'PRIMARY' and len(result['nodes']) == 2 and len(result['jocs']) == 2
    assert result['nodes'][0]['connection_state'] == 'established'


def test_info_wait_polls_until_coupled(joc, capsys):
    states = [components('ClusterNodesAppointed', coupled=False), components('ClusterPreparedToBeCoupled', coupled=False),
              components('ClusterCoupled')]
    joc.overrides['./controller/components'] = [(200, {}, dict(s, jocs=[])) for s in states]
    result = run(joc_controller_info.main, conn(joc, wait_for='Coupled', wait_timeout=60), capsys)
    assert not result.get('failed') and result['coupled'] and result['wait_method'] == 'polling'
    assert [h['cluster_state'] for h in result['history']] == ['ClusterNodesAppointed', 'ClusterPreparedToBeCoupled',
                                                               'ClusterCoupled']


def test_info_wait_times_out(joc, capsys):
    joc.components['controller'] = components('ClusterNodesAppointed', coupled=False)
    result = run(joc_controller_info.main, conn(joc, wait_for='ClusterCoupled', wait_timeout=1), capsys)
    assert result['failed'] and 'did not reach ClusterCoupled' in result['msg'] and 'ClusterNodesAppointed' in result['msg']


def test_info_wait_for_text(joc, capsys):
    joc.components['controller'] = components('ClusterNodesAppointed', coupled=False)
    result = run(joc_controller_info.main, conn(joc, wait_for='NodesAppointed', wait_timeout=5), capsys)
    assert not result.get('failed') and result['cluster_state'] == 'ClusterNodesAppointed'


def test_info_accepts_controller_options_of_the_group(joc, capsys):
    joc.components['controller'] = components('ClusterCoupled')
    result = run(joc_controller_info.main, conn(joc, url='http://ctl:4444', user='u', password='Ctl-Secret-9'), capsys)
    assert not result.get('failed')
