# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""jobscheduler.js7.log_scan on the real logs of the lab (tests/lab/DESIGN.md).

The standalone-secondary lab must show ClusterNodeIsNotBackup on the Primary's controller.log and in
joc.log, with the count and time range of the lines the test counts itself; a healthy lab shows
no problem. Each test runs in local mode and, as root with sshd, in netns mode.
"""

from __future__ import annotations

import datetime
import json
import os
import time

import pytest

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')
CONTROLLER_LOG = '/logs/controller.log'
JOC_LOG = '/logs/joc.log'


def scan(lab, target, component, **extra_vars):
    result_file = os.path.join(lab.dir, 'log_scan-%s-%s-%f.json' % (target, component, time.time()))
    extra_vars.update(target=target, component=component, result_file=result_file)
    run = lab.playbook(os.path.join(PLAYBOOKS, 'log_scan_lab.yml'), extra_vars=extra_vars)
    assert run.returncode == 0, 'playbook failed rc=%d\nstdout:\n%s\nstderr:\n%s' % (
        run.returncode, run.stdout[-6000:], run.stderr[-3000:])
    with open(result_file, encoding='utf-8') as stream:
        result = json.load(stream)
    assert not result.get('failed'), result.get('msg')
    return result


def wait_for_timeline(lab, event, count, timeout=120):
    """Wait until the lab's timeline holds `count` events of a kind (the lab's own record, DESIGN.md)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = [entry for entry in lab.timeline() if entry.get('event') == event]
        if len(seen) >= count:
            return seen
        time.sleep(0.2)
    pytest.fail('the lab did not record %d %s events within %ds' % (count, event, timeout))


def problem_lines(text, until_stamp):
    """The lines of a log that report ClusterNodeIsNotBackup, up to a log timestamp (counted by hand)."""
    lines = []
    for line in text.splitlines():
        if '=> ClusterNodeIsNotBackup: ' in line and line[:23] <= until_stamp:
            lines.append(line)
    return lines


def iso(stamp, offset):
    """'2024-05-01T10:00:00,123' (log) -> '2024-05-01T10:00:00.123+00:00' (module)."""
    return stamp.replace(',', '.') + offset


def local_offset(moment):
    offset = moment.astimezone().strftime('%z')
    return offset[:3] + ':' + offset[3:]


@pytest.mark.parametrize('version', ['2.5', '2.7'])
def test_standalone_secondary_is_found_on_the_primary_and_in_joc(lab_mode, lab_factory, version):
    lab = lab_factory(state='standalone-secondary', version=version)
    wait_for_timeline(lab, 'ClusterStartBackupNodeFailed', 6)
    wait_for_timeline(lab, 'ProblemLogged', 1)
    now = datetime.datetime.now(datetime.timezone.utc)
    until_utc = now.strftime('%Y-%m-%dT%H:%M:%S.%f')[:23]
    until = now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')

    # The Primary's controller.log (UTC, E§4.2).
    primary = scan(lab, 'c1-primary', 'controller', scan_until=until)
    data = lab.hosts['c1-primary']['js7_controller_data']
    expected = problem_lines(lab.read('c1-primary', data + CONTROLLER_LOG), until_utc.replace('.', ','))
    assert expected, 'the lab wrote no ClusterNodeIsNotBackup line'
    findings = {f['code']: f for f in primary['findings']}
    assert 'ClusterNodeIsNotBackup' in findings, primary['findings']
    finding = findings['ClusterNodeIsNotBackup']
    assert finding['count'] == len(expected)
    assert finding['first_seen'] == iso(expected[0][:23], '+00:00')
    assert finding['last_seen'] == iso(expected[-1][:23], '+00:00')
    warn_lines = [line for line in expected if line[24:29] == 'WARN ']
    assert finding['levels'].get('WARN', 0) == len(warn_lines) > 0
    assert finding['logger'] == 'js7.cluster.ClusterCommon'
    assert finding['severity'] == 'error'
    assert 'jobscheduler.js7.recover_standalone_secondary' in finding['remedy']
    assert finding['wordings'] == (['2.0-2.5'] if version == '2.5' else ['2.7.4+'])
    assert finding['file'].endswith('controller.log')
    assert finding['sample'] == expected[-1]
    assert primary['files'][0]['path'].endswith('controller.log') and primary['bytes_read'] > 0

    # JOC Cockpit's joc.log (local time in the lab, like the product's JVM default).
    joc = scan(lab, 'joc', 'joc', scan_until=until)
    joc_data = lab.hosts['joc']['js7_joc_data']
    until_local = now.astimezone().strftime('%Y-%m-%dT%H:%M:%S,%f')[:23]
    expected_joc = problem_lines(lab.read('joc', joc_data + JOC_LOG), until_local)
    assert expected_joc, 'the lab JOC wrote no ClusterNodeIsNotBackup line'
    joc_findings = {f['code']: f for f in joc['findings']}
    finding = joc_findings['ClusterNodeIsNotBackup']
    assert finding['count'] == len(expected_joc)
    offset = local_offset(now)
    assert finding['first_seen'] == iso(expected_joc[0][:23], offset)
    assert finding['last_seen'] == iso(expected_joc[-1][:23], offset)
    assert finding['wordings'] == ['joc'] and finding['level'] == 'ERROR'

    # since: only the window (seeked), fewer lines, same last one.
    since = scan(lab, 'c1-primary', 'controller', scan_since=expected[-2][:23].replace(',', '.'), scan_until=until)
    windowed = {f['code']: f for f in since['findings']}['ClusterNodeIsNotBackup']
    assert windowed['count'] == 2 and windowed['last_seen'] == iso(expected[-1][:23], '+00:00')
    assert since['files'][0]['start_offset'] > 0


@pytest.mark.parametrize('version', ['2.5', '2.7'])
def test_healthy_lab_shows_no_problem(lab_mode, lab_factory, version):
    lab = lab_factory(state='healthy', version=version)
    for target, component in (('c1-primary', 'controller'), ('c1-secondary', 'controller'), ('joc', 'joc')):
        result = scan(lab, target, component)
        assert result['findings'] == [], (target, result['findings'])
        assert result['files'][0]['lines'] > 0


def test_examples_run_as_written(lab_mode, lab_factory):
    """The module's EXAMPLES, unchanged, as the tasks of a play on the lab's hosts."""
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.jobscheduler.js7.plugins.modules import log_scan  # pylint: disable=import-outside-toplevel

    lab = lab_factory(state='standalone-secondary', version='2.7')
    wait_for_timeline(lab, 'ClusterStartBackupNodeFailed', 4)
    wait_for_timeline(lab, 'ProblemLogged', 1)
    tasks = yaml.safe_load(log_scan.EXAMPLES)
    joc_task = [task for task in tasks if (task.get('jobscheduler.js7.log_scan') or {}).get('component') == 'joc']
    check_joc = {'name': 'The JOC example found the problem in joc.log', 'ansible.builtin.assert': {
        'that': ["'ClusterNodeIsNotBackup' in joc_log.found_codes"]}}
    plays = [
        # Every example on the Primary (the JOC one warns there: no joc.log on a Controller host) ...
        {'name': 'log_scan EXAMPLES on the Primary', 'hosts': 'c1-primary', 'gather_facts': False, 'tasks': tasks},
        # ... and the JOC example where joc.log is.
        {'name': 'log_scan JOC EXAMPLE on JOC', 'hosts': 'joc', 'gather_facts': False, 'tasks': joc_task + [check_joc]},
    ]
    run = lab.playbook(yaml.safe_dump(plays, sort_keys=False))
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert 'ClusterNodeIsNotBackup x' in run.stdout  # the debug task of the second example fired
