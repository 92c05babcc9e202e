# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue of jobscheduler.js7.log_scan against the corpus of real-format lines."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.jobscheduler.js7.plugins.module_utils import _log_catalogue as catalogue
from ansible_collections.jobscheduler.js7.plugins.module_utils._log_reader import (
    LogClock, LogFile, LogScanner, Matcher, derived_signatures,
)

CORPUS = os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'logs', 'signatures.txt')
HEADER = re.compile(r'^=== (\S+) (\S+) (controller|agent|joc) : (.+)$')


def load_corpus():
    cases = []
    with open(CORPUS, encoding='utf-8') as stream:
        for line in stream:
            line = line.rstrip('\n')
            if line.startswith('=== '):
                match = HEADER.match(line)
                assert match, 'bad case header: %r' % line
                expect, wording, component, title = match.groups()
                cases.append({'expect': expect, 'wording': wording, 'component': component, 'title': title,
                              'lines': []})
            elif line.startswith('#') or not line.strip():
                continue
            else:
                cases[-1]['lines'].append(line)
    return cases


CASES = load_corpus()


def scan_text(tmp_path, component, lines, codes=None):
    path = tmp_path / (component + '.log')
    path.write_bytes(('\n'.join(lines) + '\n').encode('utf-8'))
    clock = LogClock('UTC')
    scanner = LogScanner(Matcher(catalogue.CATALOGUE, catalogue.PREFILTER_NEEDLES, codes=codes), clock)
    scanner.scan([LogFile(str(path), component)])
    return scanner.results()


@pytest.mark.parametrize('case', CASES, ids=['%s-%s-%s' % (c['expect'], c['wording'], c['title'][:40]) for c in CASES])
def test_corpus_case(tmp_path, case):
    findings = scan_text(tmp_path, case['component'], case['lines'])
    if case['expect'] == 'none':
        assert findings == [], 'look-alike matched: %s' % case['title']
        return
    assert [f['code'] for f in findings] == [case['expect']], case['title']
    finding = findings[0]
    assert finding['count'] == 1, 'one entry counts once'
    assert case['wording'] in finding['wordings']
    first_line = case['lines'][0]
    assert finding['first_seen'].startswith(first_line[:19].replace(' ', 'T'))


def test_every_signature_has_a_positive_case():
    covered = {(c['expect'], c['wording']) for c in CASES}
    missing = []
    for entry in catalogue.CATALOGUE:
        for sig in entry['signatures']:
            if (entry['code'], sig['wording']) not in covered:
                missing.append((entry['code'], sig['wording']))
        if not any(code == entry['code'] for code, _w in covered):
            missing.append((entry['code'], '*'))
    assert missing == [], 'catalogue signatures without a corpus case: %s' % missing


def test_every_entry_is_complete():
    codes = set()
    for entry in catalogue.CATALOGUE:
        assert entry['code'] not in codes
        codes.add(entry['code'])
        for field in ('severity', 'versions', 'meaning', 'remedy', 'reference'):
            assert entry.get(field), '%s lacks %s' % (entry['code'], field)
        assert entry['severity'] in ('error', 'warning', 'info')
        assert 'jobscheduler.js7.' in entry['remedy'], 'the remedy names what of this collection fixes it'
        assert '\n' not in entry['meaning']
        assert entry['signatures'] or entry.get('message', None) is not None or entry.get('derive', True)
        for sig in entry['signatures']:
            assert set(sig) >= {'wording', 'versions', 'components', 'levels', 'keyword', 'pattern'}
            re.compile(sig['pattern'])


def test_required_codes_are_present():
    codes = {entry['code'] for entry in catalogue.CATALOGUE}
    assert codes >= {
        'ClusterNodeIsNotBackup', 'PrimaryClusterNodeMayNotBecomeBackup', 'BackupClusterNodeNotAppointed',
        'NoClusterWatch', 'UntaughtClusterWatch', 'ClusterWatchIdDoesNotMatch', 'OtherClusterWatchStillAlive',
        'ClusterWatchIdNotUnique', 'ClusterNodeLossNotConfirmed', 'ClusterWatchInactiveNode',
        'ClusterWatchHeartbeatMismatch', 'ClusterWatchEventMismatch', 'InvalidLogin', 'DuplicateStart'}


def test_cluster_node_is_not_backup_knows_each_version_wording():
    wordings = {sig['wording'] for sig in catalogue.CATALOGUE[0]['signatures']}
    assert catalogue.CATALOGUE[0]['code'] == 'ClusterNodeIsNotBackup'
    assert wordings >= {'2.0-2.5', '2.6', '2.7.0-2.7.3', '2.7.4+', 'joc'}


def test_keywords_are_in_every_positive_line():
    """The pre-filter reads only lines with a needle: a signature's keyword must be in what it matches."""
    matcher = Matcher(catalogue.CATALOGUE, catalogue.PREFILTER_NEEDLES)
    for case in CASES:
        for line in case['lines']:
            data = line.encode('utf-8')
            for sig in matcher.signatures:
                if sig.regex.search(line):
                    assert sig.keyword in data, (sig.code, sig.wording, line)
                    assert any(needle in data for needle in matcher.needles)


def test_every_keyword_reaches_the_prefilter():
    matcher = Matcher(catalogue.CATALOGUE, catalogue.PREFILTER_NEEDLES)
    for sig in matcher.signatures:
        assert any(needle in sig.keyword for needle in matcher.needles), sig.keyword


def test_codes_filter_narrows_the_needles():
    everything = Matcher(catalogue.CATALOGUE, catalogue.PREFILTER_NEEDLES)
    one = Matcher(catalogue.CATALOGUE, catalogue.PREFILTER_NEEDLES, codes=['DuplicateStart'])
    assert one.needles == (b'Duplicate start',)
    assert len(everything.needles) > 1


def test_derive_false_has_no_generic_signatures():
    invalid_login = [e for e in catalogue.CATALOGUE if e['code'] == 'InvalidLogin'][0]
    assert derived_signatures(invalid_login) == []


def test_escalating_levels_all_count(tmp_path):
    """2.7: the same retry logged at debug, info and WARN (E§4.3) is one problem with levels counted apart."""
    tail = (" js7.cluster.ClusterCommon - {} ClusterStartBackupNode command failed with HTTP 400 Bad Request: "
            "POST http://b:4444/controller/api/cluster/command => ClusterNodeIsNotBackup: The cluster node to be "
            "appointed is not configured as a backup node")
    lines = [
        '2023-11-20T13:01:41,002 debug' + tail.format('\U0001F7E1'),
        '2023-11-20T13:01:44,002 info ' + tail.format('\U0001F7E0'),
        '2023-11-20T13:01:50,002 WARN ' + tail.format('\U0001F534'),
        '2023-11-20T13:01:53,002 WARN ' + tail.format('\U0001F534'),
    ]
    findings = scan_text(tmp_path, 'controller', lines)
    assert len(findings) == 1
    finding = findings[0]
    assert finding['count'] == 4
    assert finding['levels'] == {'DEBUG': 1, 'INFO': 1, 'WARN': 2}
    assert finding['level'] == 'WARN'
    assert finding['first_seen'] == '2023-11-20T13:01:41.002+00:00'
    assert finding['last_seen'] == '2023-11-20T13:01:53.002+00:00'
    assert finding['logger'] == 'js7.cluster.ClusterCommon'
