# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""jobscheduler.js7.log_scan as Ansible runs it: options, default paths, missing files, messages."""

from __future__ import annotations

import gzip
import json
import os
from unittest import mock

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.jobscheduler.js7.plugins.modules import log_scan

NOT_BACKUP = ("WARN  js7.cluster.ClusterCommon - 'ClusterStartBackupNode' command failed with HTTP 400 Bad Request: "
              "POST http://secondary:4444/controller/api/cluster/command => ClusterNodeIsNotBackup: The cluster "
              "node to be appointed is not configured as a backup node")


def run(capsys, **args):
    warnings = []

    def warn(_module, message):
        # In-process, ansible-core hands warnings to the controller's display, not the result: collect them.
        warnings.append(message)

    with patch_module_args(args), mock.patch.object(log_scan.AnsibleModule, 'warn', warn):
        with pytest.raises(SystemExit) as exited:
            log_scan.main()
    result = json.loads(capsys.readouterr().out)
    result['rc'] = exited.value.code
    if warnings:
        result['warnings'] = warnings
    return result


@pytest.fixture
def data_dir(tmp_path):
    data = tmp_path / 'var'
    logs = data / 'logs'
    logs.mkdir(parents=True)
    (logs / 'controller.log').write_text(
        '2024-05-01T10:00:00,000 info  js7.controller.ControllerMain - Begin\n'
        + ''.join('2024-05-01T10:00:%02d,000 %s\n' % (n, NOT_BACKUP) for n in range(1, 4)))
    with gzip.open(str(logs / 'controller-2024-04-30-1.log.gz'), 'wt') as stream:
        stream.write('2024-04-30T23:00:00,000 %s\n' % NOT_BACKUP)
    (logs / 'watchdog.log').write_text('2024-05-01T09:59:59.000Z Duplicate start of JS7\n')
    (logs / 'controller-debug.log').write_text('2024-05-01T10:00:00,000 %s\n' % NOT_BACKUP)
    return data


def test_default_paths_scan_the_log_its_rotation_and_watchdog(capsys, data_dir):
    result = run(capsys, data_dir=str(data_dir))
    assert result['rc'] == 0 and result['changed'] is False
    by_code = {f['code']: f for f in result['findings']}
    assert set(by_code) == {'ClusterNodeIsNotBackup', 'DuplicateStart'}
    finding = by_code['ClusterNodeIsNotBackup']
    assert finding['count'] == 4  # not the debug log: it is not among the defaults
    assert finding['first_seen'] == '2024-04-30T23:00:00.000+00:00'
    assert finding['last_seen'] == '2024-05-01T10:00:03.000+00:00'
    assert finding['level'] == 'WARN' and finding['logger'] == 'js7.cluster.ClusterCommon'
    assert 'jobscheduler.js7.recover_standalone_secondary' in finding['remedy']
    assert finding['versions'] and finding['meaning'] and finding['wordings'] == ['2.0-2.5']
    assert [os.path.basename(f['path']) for f in result['files']] == [
        'controller-2024-04-30-1.log.gz', 'controller.log', 'watchdog.log']
    assert result['bytes_read'] == sum(f['bytes_read'] for f in result['files']) > 0
    assert result['found_codes'] == [f['code'] for f in result['findings']]
    assert result['findings'][0]['code'] == 'ClusterNodeIsNotBackup'  # first occurrence first


def test_since_and_codes(capsys, data_dir):
    result = run(capsys, data_dir=str(data_dir), since='2024-05-01T12:00:02+02:00', codes=['ClusterNodeIsNotBackup'])
    assert result['since'] == '2024-05-01T10:00:02.000+00:00'
    assert [(f['code'], f['count']) for f in result['findings']] == [('ClusterNodeIsNotBackup', 2)]
    gz = [f for f in result['files'] if f['compressed']][0]
    assert 'before since' in gz['skipped']


def test_check_mode_scans_the_same(capsys, data_dir):
    normal = run(capsys, data_dir=str(data_dir))
    checked = run(capsys, data_dir=str(data_dir), _ansible_check_mode=True)
    assert checked['findings'] == normal['findings'] and checked['changed'] is False


def test_joc_component_defaults_to_its_logs(capsys, tmp_path):
    logs = tmp_path / 'jetty_base' / 'logs'
    logs.mkdir(parents=True)
    (logs / 'joc.log').write_text(
        "2024-05-01T10:00:00,000 ERROR [Proxy-controller1] com.sos.joc.classes.proxy.ProxyContext - controller1: "
        "'ClusterStartBackupNode' command failed with HTTP 400 Bad Request: POST http://s:4444/controller/api/cluster/"
        "command => ClusterNodeIsNotBackup: The cluster node to be appointed is not configured as a backup node\n")
    result = run(capsys, component='joc', data_dir=str(tmp_path / 'jetty_base'), timezone='+02:00')
    finding = result['findings'][0]
    assert (finding['code'], finding['wordings'], finding['level']) == ('ClusterNodeIsNotBackup', ['joc'], 'ERROR')
    assert finding['first_seen'] == '2024-05-01T10:00:00.000+02:00'
    assert [f['component'] for f in result['files']] == ['joc']


def test_missing_main_log_fails_with_a_clear_message(capsys, tmp_path):
    result = run(capsys, data_dir=str(tmp_path / 'nowhere'))
    assert result['rc'] == 1 and result['failed'] is True
    assert str(tmp_path / 'nowhere' / 'logs' / 'controller.log') in result['msg']
    assert 'no such file' in result['msg'] and 'data_dir' in result['msg'] and 'missing=warn' in result['msg']
    assert 'Traceback' not in json.dumps(result)


def test_missing_warn_scans_the_rest(capsys, data_dir, tmp_path):
    paths = [str(data_dir / 'logs' / 'controller.log'), str(tmp_path / 'gone.log'), str(tmp_path / 'none-*.log.gz')]
    result = run(capsys, paths=paths, missing='warn')
    assert result['rc'] == 0
    assert result['findings'][0]['count'] == 3
    assert len(result['warnings']) == 2 and 'gone.log' in result['warnings'][0]
    assert 'no file matches' in result['warnings'][1]
    errors = {os.path.basename(f['path']): f['error'] for f in result['files'] if f['error']}
    assert errors == {'gone.log': 'no such file', 'none-*.log.gz': 'no file matches'}


def test_missing_ignore_is_silent(capsys, data_dir, tmp_path):
    result = run(capsys, paths=[str(data_dir / 'logs' / 'controller.log'), str(tmp_path / 'gone.log')],
                 missing='ignore')
    assert result['rc'] == 0 and not result.get('warnings') and result['findings'][0]['count'] == 3


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads every file')
def test_unreadable_file(capsys, data_dir):
    path = data_dir / 'logs' / 'controller.log'
    path.chmod(0)
    try:
        result = run(capsys, paths=[str(path)])
    finally:
        path.chmod(0o644)
    assert result['rc'] == 1 and 'PermissionError' in result['msg']


def test_corrupt_gzip_fails_unless_warned(capsys, data_dir):
    (data_dir / 'logs' / 'controller-2024-04-29-1.log.gz').write_bytes(b'not gzip\n')
    result = run(capsys, data_dir=str(data_dir))
    assert result['rc'] == 1 and 'controller-2024-04-29-1.log.gz' in result['msg']
    assert result['findings'][0]['count'] == 4  # the result of the rest comes with the failure
    result = run(capsys, data_dir=str(data_dir), missing='warn')
    assert result['rc'] == 0 and 'controller-2024-04-29-1.log.gz' in result['warnings'][0]


@pytest.mark.parametrize('args, message', [
    ({'since': 'yesterday'}, "cannot read the time 'yesterday'"),
    ({'since': '2024-05-02', 'until': '2024-05-01'}, 'until (2024-05-01T00:00:00.000+00:00) is before since'),
    ({'codes': ['ClusterNodeIsNotBacup']}, 'unknown problem code(s) ClusterNodeIsNotBacup'),
    ({'timezone': 'Nowhere/Special'}, "unknown time zone 'Nowhere/Special'"),
])
def test_bad_options_fail_with_a_message(capsys, data_dir, args, message):
    result = run(capsys, data_dir=str(data_dir), **args)
    assert result['rc'] == 1 and message in result['msg']


def test_default_targets():
    assert log_scan.default_targets('agent', None) == [
        ('/var/sos-berlin.com/js7/agent/var_4445/logs/agent.log', True),
        ('/var/sos-berlin.com/js7/agent/var_4445/logs/agent-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*.log*', False),
        ('/var/sos-berlin.com/js7/agent/var_4445/logs/watchdog.log', False)]
    assert log_scan.default_targets('joc', None)[0] == ('/var/sos-berlin.com/js7/joc/jetty_base/logs/joc.log', True)


def test_permission_denied_even_as_root(capsys, data_dir, monkeypatch):
    from ansible_collections.jobscheduler.js7.plugins.module_utils import _log_reader
    real_open = open

    def deny(path, *args, **kwargs):
        if str(path).endswith('controller.log'):
            raise PermissionError(13, 'Permission denied', str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_log_reader, 'open', deny, raising=False)
    result = run(capsys, data_dir=str(data_dir))
    assert result['rc'] == 1 and 'controller.log (PermissionError: Permission denied)' in result['msg']
    result = run(capsys, data_dir=str(data_dir), missing='warn')
    assert result['rc'] == 0 and 'Permission denied' in result['warnings'][0]
    assert result['findings'][0]['count'] == 1  # the rotated file was still scanned
