# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_log_reader: parsing, time seek, streaming, rotation order, real-world damage, bounded memory."""

from __future__ import annotations

import datetime
import gzip
import os
import random
import tracemalloc

import pytest

from ansible_collections.jobscheduler.js7.plugins.module_utils import _log_catalogue as catalogue
from ansible_collections.jobscheduler.js7.plugins.module_utils import _log_reader as reader
from ansible_collections.jobscheduler.js7.plugins.module_utils._log_reader import (
    LogClock, LogFile, LogScanError, LogScanner, Matcher, order_files, parse_head,
)

NOT_BACKUP = ("WARN  js7.cluster.ClusterCommon - 'ClusterStartBackupNode' command failed with HTTP 400 Bad Request: "
              "POST http://secondary:4444/controller/api/cluster/command => ClusterNodeIsNotBackup: The cluster "
              "node to be appointed is not configured as a backup node")
INFO = "info  js7.controller.agent.AgentDriver - Agent:agent-1 coupled, order 'daily/%d' started"
STACK = ["java.lang.IllegalStateException: something broke", "\tat js7.base.Foo.bar(Foo.scala:12)",
         "\tat js7.base.Foo.baz(Foo.scala:34)"]


def ts(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S,') + '%03d' % (moment.microsecond // 1000)


def scanner(since=None, until=None, tz='UTC', codes=None, **kw):
    clock = LogClock(tz)
    return LogScanner(Matcher(catalogue.CATALOGUE, catalogue.PREFILTER_NEEDLES, codes=codes), clock,
                      since=clock.parse(since), until=clock.parse(until), **kw)


def write(path, lines, newline=True):
    data = '\n'.join(lines) + ('\n' if newline else '')
    if str(path).endswith('.gz'):
        with gzip.open(str(path), 'wb') as stream:
            stream.write(data.encode('utf-8'))
    else:
        path.write_bytes(data.encode('utf-8'))
    return path


def scan(path, component='controller', **kw):
    s = scanner(**kw)
    reports = s.scan(order_files([str(p) for p in (path if isinstance(path, list) else [path])], component))
    return s, reports


# ---- time and line parsing ---------------------------------------------------------------------

def test_line_key_log4j_iso8601():
    clock = LogClock('UTC')
    assert clock.line_key(b'2022-01-27T00:00:08,669 WARN  js7.x - y') == b'2022-01-27T00:00:08.669000'
    assert clock.line_key(b'2022-01-27 00:00:08.669123456 info  x - y') == b'2022-01-27T00:00:08.669123'
    assert clock.line_key(b'2022-01-27T00:00:08 x') == b'2022-01-27T00:00:08.000000'
    assert clock.line_key(b'\tat js7.Foo(Foo.scala:1)') is None
    assert clock.line_key(b'2022-01-27T00:00:08,669WARN') is None
    assert clock.line_key(b'') is None


def test_line_key_with_its_own_zone_is_converted_to_the_log_zone():
    assert LogClock('UTC').line_key(b'2024-03-09T08:09:00.123Z Duplicate') == b'2024-03-09T08:09:00.123000'
    assert LogClock('+02:00').line_key(b'2024-03-09T08:09:00.123Z x') == b'2024-03-09T10:09:00.123000'
    assert LogClock('UTC').line_key(b'2024-03-09 08:09:00.123+0100 x') == b'2024-03-09T07:09:00.123000'


@pytest.mark.parametrize('line, level, logger', [
    (b'2022-01-27T00:00:08,669 WARN  js7.cluster.ClusterCommon - msg', 'WARN', 'js7.cluster.ClusterCommon'),
    (b'2022-01-27T00:00:08,669 info  js7.cluster.ClusterNode - msg - with dash', 'INFO', 'js7.cluster.ClusterNode'),
    (b'2022-01-27T00:00:08,669 debug js7.Foo - ', 'DEBUG', 'js7.Foo'),
    (b'2022-01-27T00:00:08,669 ERROR js7.Foo -', 'ERROR', 'js7.Foo'),
    (b'2024-03-08T23:10:09,500 ERROR [Proxy-controller1] com.sos.joc.X - m', 'ERROR', 'com.sos.joc.X'),
    (b'2024-03-08T23:10:09,500 INFO  [qtp 1 2] com.sos.joc.X - m', 'INFO', 'com.sos.joc.X'),
    (b'2024-03-09T08:09:00.123Z Duplicate start of JS7', None, None),
    (b'2024-03-09T08:09:00,000 Begin JS7 Controller:controller', None, None),
    (b'\tat js7.Foo(Foo.scala:1)', None, None),
])
def test_parse_head(line, level, logger):
    assert parse_head(line) == (level, logger)


def test_parse_since_forms():
    clock = LogClock('UTC')
    assert clock.parse('2024-05-01T13:00:00') == b'2024-05-01T13:00:00.000000'
    assert clock.parse('2024-05-01 13:00') == b'2024-05-01T13:00:00.000000'
    assert clock.parse('2024-05-01') == b'2024-05-01T00:00:00.000000'
    assert clock.parse('2024-05-01T13:00:00,5Z') == b'2024-05-01T13:00:00.500000'
    assert clock.parse('2024-05-01T13:00:00+02:00') == b'2024-05-01T11:00:00.000000'
    assert clock.parse('2024-05-01T13:00:00-0130') == b'2024-05-01T14:30:00.000000'
    now = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc).timestamp()
    assert clock.parse('2h', now=now) == b'2024-05-01T10:00:00.000000'
    assert clock.parse('30m', now=now) == b'2024-05-01T11:30:00.000000'
    assert clock.parse('1d', now=now) == b'2024-04-30T12:00:00.000000'
    assert clock.parse('1h30m', now=now) == b'2024-05-01T10:30:00.000000'
    assert LogClock('+01:00').parse('2h', now=now) == b'2024-05-01T11:00:00.000000'
    # Without a zone, a timestamp is wall time of the log's zone.
    assert LogClock('+01:00').parse('2024-05-01T13:00:00') == b'2024-05-01T13:00:00.000000'
    assert LogClock('+01:00').parse('2024-05-01T13:00:00Z') == b'2024-05-01T14:00:00.000000'


@pytest.mark.parametrize('text', ['yesterday', '2024-13-01', '2h ago', '2024-05-01T25:00', '-2h', ''])
def test_parse_since_rejects_with_a_clear_message(text):
    with pytest.raises(LogScanError, match='cannot read the time'):
        LogClock('UTC').parse(text)


def test_timezone_names():
    assert LogClock('UTC').iso(b'2024-05-01T13:00:00.000000') == '2024-05-01T13:00:00.000+00:00'
    assert LogClock('+02:00').iso(b'2024-05-01T13:00:00.000000') == '2024-05-01T13:00:00.000+02:00'
    assert LogClock('local').iso(b'2024-05-01T13:00:00.000000').startswith('2024-05-01T13:00:00.000')
    with pytest.raises(LogScanError, match='unknown time zone'):
        LogClock('Mars/Olympus_Mons')


def test_iana_zone_when_available():
    pytest.importorskip('zoneinfo')
    try:
        clock = LogClock('Europe/Berlin')
    except LogScanError:
        pytest.skip('no tz database on this machine')
    assert clock.iso(b'2024-07-01T12:00:00.000000') == '2024-07-01T12:00:00.000+02:00'
    assert clock.parse('2024-07-01T10:00:00Z') == b'2024-07-01T12:00:00.000000'


# ---- seek: binary search on offsets ------------------------------------------------------------

def build_log(path, entries=400, seed=7, long_every=0):
    """A log with multi-line entries and runs of equal timestamps; returns [(offset, key)] of the heads."""
    rng = random.Random(seed)
    moment = datetime.datetime(2024, 1, 1, 0, 0, 0)
    heads = []
    out = bytearray()
    for number in range(entries):
        if rng.random() < 0.7:
            moment += datetime.timedelta(milliseconds=rng.choice([1, 5, 250, 1000, 60000]))
        line = '%s %s' % (ts(moment), INFO % number)
        heads.append((len(out), ts(moment).replace(',', '.').encode() + b'000'))
        out += line.encode() + b'\n'
        if rng.random() < 0.3:
            for extra in STACK * rng.randint(1, 3):
                out += extra.encode() + b'\n'
        if long_every and number % long_every == 0:
            out += b'\tat ' + b'x' * 20000 + b'\n'
    path.write_bytes(bytes(out))
    return heads


def brute_lower_bound(heads, size, wanted):
    for offset, key in heads:
        if wanted(key):
            return offset
    return size


@pytest.mark.parametrize('long_every', [0, 7])
def test_binary_search_hits_the_exact_first_line_at_or_after_since(tmp_path, long_every):
    path = tmp_path / 'controller.log'
    heads = build_log(path, long_every=long_every)
    size = path.stat().st_size
    s = scanner()
    keys = sorted({key for _o, key in heads})
    probes = keys + [b'2023-12-31T00:00:00.000000', b'2030-01-01T00:00:00.000000']
    # also keys between two heads
    probes += [key[:-3] + b'500' for key in keys[::17]]
    with open(path, 'rb') as raw:
        source = reader._CountingFile(raw, reader.FileReport(LogFile(str(path), 'controller')))
        for since in probes:
            expected = brute_lower_bound(heads, size, lambda key, since=since: key >= since)
            assert s._lower_bound(source, size, lambda key, since=since: key >= since) == expected, since
            expected = brute_lower_bound(heads, size, lambda key, since=since: key > since)
            assert s._lower_bound(source, size, lambda key, since=since: key > since) == expected, since


def test_since_with_equal_timestamps_starts_at_the_first_of_them(tmp_path):
    lines = ['2024-01-01T00:00:00,000 ' + INFO % 0]
    lines += ['2024-01-01T00:00:01,000 ' + NOT_BACKUP] * 5
    lines += ['2024-01-01T00:00:02,000 ' + INFO % 1]
    s, reports = scan(write(tmp_path / 'controller.log', lines), since='2024-01-01T00:00:01')
    assert s.results()[0]['count'] == 5
    assert reports[0].offset_start == len(lines[0]) + 1


def test_since_at_a_multi_line_entry_boundary(tmp_path):
    lines = ['2024-01-01T00:00:00,000 ERROR js7.Foo - failed'] + STACK + [
        '2024-01-01T00:00:01,000 ' + NOT_BACKUP, 'js7.base.problem.ProblemException: ClusterNodeIsNotBackup',
        '2024-01-01T00:00:02,000 ' + INFO % 2]
    s, reports = scan(write(tmp_path / 'controller.log', lines), since='2024-01-01T00:00:00.500')
    assert reports[0].first_key == b'2024-01-01T00:00:01.000000'
    assert reports[0].lines == 3
    assert s.results()[0]['count'] == 1


def test_since_before_the_first_and_after_the_last_line(tmp_path):
    path = write(tmp_path / 'controller.log', ['2024-01-01T00:00:01,000 ' + NOT_BACKUP] * 3)
    s, reports = scan(path, since='2023-01-01T00:00:00')
    assert reports[0].offset_start == 0 and s.results()[0]['count'] == 3
    s, reports = scan(path, since='2025-01-01T00:00:00')
    assert reports[0].skipped == 'no entry in the time window'
    assert s.results() == [] and reports[0].lines == 0


def test_until_stops_at_the_last_entry_at_or_before_it(tmp_path):
    lines = ['2024-01-01T00:00:0%d,000 %s' % (second, NOT_BACKUP) for second in range(6)]
    s, _reports = scan(write(tmp_path / 'controller.log', lines), since='2024-01-01T00:00:01',
                       until='2024-01-01T00:00:03')
    finding = s.results()[0]
    assert finding['count'] == 3
    assert finding['first_seen'] == '2024-01-01T00:00:01.000+00:00'
    assert finding['last_seen'] == '2024-01-01T00:00:03.000+00:00'


def test_since_on_a_large_file_reads_only_the_window(tmp_path):
    """The cost of a since scan depends on the window, not the file (compare bytes, not seconds)."""
    path = tmp_path / 'controller.log'
    start = datetime.datetime(2024, 1, 1)
    chunk = []
    with open(path, 'wb') as out:
        for number in range(200000):
            moment = start + datetime.timedelta(milliseconds=100 * number)
            chunk.append('%s %s\n' % (ts(moment), INFO % number))
            if len(chunk) == 10000:
                out.write(''.join(chunk).encode())
                chunk = []
        out.write(('%s %s\n' % (ts(start + datetime.timedelta(hours=6)), NOT_BACKUP)).encode())
    size = path.stat().st_size
    assert size > 15 * 1024 * 1024
    s, reports = scan(path, since='2024-01-01T05:30:00')
    assert s.results()[0]['count'] == 1
    window = size - reports[0].offset_start
    assert window < 300 * 1024
    # The window plus ~25 probes of a few KiB each: a fraction of a percent of the file.
    assert reports[0].bytes_read < window + 128 * 1024, (reports[0].bytes_read, window)


# ---- rotation: order, gzip, skipping -----------------------------------------------------------

def test_rotation_order(tmp_path):
    names = ['controller.log', 'controller-2021-02-01-1.log.gz', 'controller-2021-01-31-10.log.gz',
             'controller-2021-01-31-2.log.gz', 'controller-2021-01-31-1.log.gz', 'joc.log', 'watchdog.log',
             'controller-debug.log', 'controller-debug-2021-01-31-1.log.gz']
    files = order_files([str(tmp_path / name) for name in names], 'agent')
    ordered = [os.path.basename(f.path) for f in files]
    assert ordered == ['controller-2021-01-31-1.log.gz', 'controller-2021-01-31-2.log.gz',
                       'controller-2021-01-31-10.log.gz', 'controller-2021-02-01-1.log.gz', 'controller.log',
                       'controller-debug-2021-01-31-1.log.gz', 'controller-debug.log', 'joc.log', 'watchdog.log']
    assert [f.component for f in files][-2:] == ['joc', 'agent']


def make_rotation(tmp_path):
    days = {'controller-2021-01-30-1.log.gz': '2021-01-30T23:59:0%d,000',
            'controller-2021-01-31-1.log.gz': '2021-01-31T10:00:0%d,000',
            'controller-2021-01-31-2.log.gz': '2021-01-31T20:00:0%d,000',
            'controller.log': '2021-02-01T08:00:0%d,000'}
    for name, pattern in days.items():
        write(tmp_path / name, [pattern % second + ' ' + NOT_BACKUP for second in range(3)])
    return [str(tmp_path / name) for name in reversed(list(days))]


def test_gzip_rotation_is_read_in_time_order(tmp_path):
    s, reports = scan(make_rotation(tmp_path))
    finding = s.results()[0]
    assert finding['count'] == 12
    assert finding['first_seen'] == '2021-01-30T23:59:00.000+00:00'
    assert finding['last_seen'] == '2021-02-01T08:00:02.000+00:00'
    assert [os.path.basename(p) for p in finding['files']] == [
        'controller-2021-01-30-1.log.gz', 'controller-2021-01-31-1.log.gz', 'controller-2021-01-31-2.log.gz',
        'controller.log']
    assert finding['file'].endswith('controller.log')  # the sample is the latest occurrence
    assert all(r.error is None and r.skipped is None for r in reports)


def test_since_skips_whole_rotated_files_and_streams_the_rest(tmp_path):
    s, reports = scan(make_rotation(tmp_path), since='2021-01-31T20:00:01')
    by_name = {os.path.basename(r.log_file.path): r for r in reports}
    assert 'before since' in by_name['controller-2021-01-30-1.log.gz'].skipped
    assert 'next file controller-2021-01-31-2.log.gz starts at' in by_name['controller-2021-01-31-1.log.gz'].skipped
    assert by_name['controller-2021-01-30-1.log.gz'].bytes_read == 0
    assert by_name['controller-2021-01-31-2.log.gz'].skipped is None
    assert by_name['controller-2021-01-31-2.log.gz'].lines == 2
    finding = s.results()[0]
    assert finding['count'] == 5
    assert finding['first_seen'] == '2021-01-31T20:00:01.000+00:00'


def test_until_on_gzip_stops_inside_the_stream(tmp_path):
    s, reports = scan(make_rotation(tmp_path), until='2021-01-31T10:00:01')
    assert s.results()[0]['count'] == 5
    by_name = {os.path.basename(r.log_file.path): r for r in reports}
    assert by_name['controller-2021-01-31-1.log.gz'].lines == 2  # cut inside the stream
    assert by_name['controller-2021-01-31-2.log.gz'].lines == 0
    assert by_name['controller.log'].skipped == 'no entry in the time window'


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    lines = ['2021-01-31T10:00:%02d,000 %s' % (second % 60, NOT_BACKUP) for second in range(2000)]
    path = write(tmp_path / 'controller-2021-01-31-1.log.gz', lines)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    s, reports = scan(path)
    assert reports[0].error.startswith('truncated gzip file')
    assert 0 < s.results()[0]['count'] < 2000


def test_corrupt_gzip_is_an_error_not_a_traceback(tmp_path):
    path = tmp_path / 'controller-2021-01-31-1.log.gz'
    path.write_bytes(b'this is not gzip at all\n')
    s, reports = scan(path)
    assert reports[0].error and 'gzip' in reports[0].error.lower()
    assert s.results() == []


# ---- the real world ----------------------------------------------------------------------------

def test_stack_trace_lines_belong_to_the_entry_above(tmp_path):
    lines = ['2024-01-01T00:00:00,000 ERROR js7.controller.ControllerMain - JS7 Controller terminates',
             'js7.base.problem.ProblemException: The cluster node has already been started as a primary node and '
             'may not be configured as a backup node afterwards'] + STACK
    s, _reports = scan(write(tmp_path / 'controller.log', lines))
    finding = s.results()[0]
    assert finding['code'] == 'PrimaryClusterNodeMayNotBecomeBackup'
    assert (finding['level'], finding['logger']) == ('ERROR', 'js7.controller.ControllerMain')
    assert finding['first_seen'] == '2024-01-01T00:00:00.000+00:00'
    assert finding['sample'].startswith('2024-01-01T00:00:00,000 ERROR') and '\njs7.base.problem' in finding['sample']


def test_entry_split_across_blocks(tmp_path):
    lines = ['2024-01-01T00:00:00,000 ' + INFO % 0,
             '2024-01-01T00:00:05,000 ERROR js7.controller.ControllerMain - JS7 Controller terminates']
    lines += ['\tat js7.Foo.bar(Foo.scala:%d)' % n for n in range(200)]
    lines += ['Caused by: js7.base.problem.ProblemException: PrimaryClusterNodeMayNotBecomeBackup: The cluster '
              'node has already been started as a primary node and may not be configured as a backup node '
              'afterwards']
    s, _reports = scan(write(tmp_path / 'controller.log', lines), block_size=512)
    finding = s.results()[0]
    assert (finding['count'], finding['level'], finding['first_seen']) == (
        1, 'ERROR', '2024-01-01T00:00:05.000+00:00')


def test_first_line_cut_by_rotation(tmp_path):
    lines = ["d with HTTP 400 Bad Request: POST http://s:4444/controller/api/cluster/command => "
             "ClusterNodeIsNotBackup: The cluster node to be appointed is not configured as a backup node",
             '2024-01-01T00:00:05,000 ' + NOT_BACKUP]
    s, reports = scan(write(tmp_path / 'controller.log', lines))
    finding = s.results()[0]
    assert finding['count'] == 2
    assert finding['levels'] == {'UNKNOWN': 1, 'WARN': 1}
    assert finding['first_seen'] == '2024-01-01T00:00:05.000+00:00'
    assert reports[0].first_key == b'2024-01-01T00:00:05.000000'


def test_non_utf8_bytes_and_crlf(tmp_path):
    path = tmp_path / 'controller.log'
    path.write_bytes(b'2024-01-01T00:00:00,000 info  js7.Foo - caf\xe9 \xff\xfe\r\n'
                     + ('2024-01-01T00:00:01,000 ' + NOT_BACKUP).encode().replace(b'secondary', b'sec\xffondary')
                     + b'\r\n')
    s, reports = scan(path)
    finding = s.results()[0]
    assert finding['count'] == 1 and '\ufffd' in finding['sample'] and not finding['sample'].endswith('\r')
    assert reports[0].lines == 2


def test_file_being_written_is_read_up_to_its_size_at_open(tmp_path):
    path = write(tmp_path / 'controller.log', ['2024-01-01T00:00:00,000 ' + NOT_BACKUP] * 50)
    size = path.stat().st_size
    s = scanner(block_size=256)
    original = s._block
    appended = []

    def block_and_append(*args):
        if not appended:
            with open(path, 'ab') as out:  # the Controller keeps writing while we read
                out.write(('2024-01-01T00:00:09,000 ' + NOT_BACKUP + '\n').encode() * 100)
            appended.append(True)
        return original(*args)

    s._block = block_and_append
    reports = s.scan([LogFile(str(path), 'controller')])
    assert reports[0].size == size
    assert s.results()[0]['count'] == 50


def test_last_line_without_newline(tmp_path):
    s, reports = scan(write(tmp_path / 'controller.log', ['2024-01-01T00:00:00,000 ' + NOT_BACKUP] * 2,
                            newline=False))
    assert s.results()[0]['count'] == 2 and reports[0].lines == 2


def test_overlong_line_is_taken_in_pieces(tmp_path):
    path = tmp_path / 'controller.log'
    path.write_bytes(b'2024-01-01T00:00:00,000 info  js7.Foo - ' + b'x' * (3 << 20) + b'\n'
                     + ('2024-01-01T00:00:01,000 ' + NOT_BACKUP + '\n').encode())
    s, _reports = scan(path, block_size=1 << 16, max_line=1 << 18)
    assert s.results()[0]['count'] == 1


def test_unreadable_file_is_reported(tmp_path):
    s, reports = scan(tmp_path / 'controller.log')
    assert 'FileNotFoundError' in reports[0].error
    assert s.results() == []


def test_codes_filter(tmp_path):
    lines = ['2024-01-01T00:00:00,000 ' + NOT_BACKUP, '2024-01-01T00:00:01.000Z Duplicate start of JS7']
    s, _reports = scan(write(tmp_path / 'controller.log', lines), codes=['DuplicateStart'])
    assert [f['code'] for f in s.results()] == ['DuplicateStart']
    with pytest.raises(LogScanError, match='unknown problem code'):
        scanner(codes=['NoSuchProblem'])


def test_since_in_another_zone_than_the_log(tmp_path):
    lines = ['2024-01-01T10:00:0%d,000 %s' % (second, NOT_BACKUP) for second in range(4)]
    path = write(tmp_path / 'controller.log', lines)
    s, _reports = scan(path, since='2024-01-01T12:00:02+02:00')  # = 10:00:02 UTC, the log's zone
    assert s.results()[0]['count'] == 2
    s, _reports = scan(path, since='2024-01-01T10:00:02', tz='+01:00')  # log in +01:00: wall time as written
    finding = s.results()[0]
    assert finding['count'] == 2 and finding['first_seen'] == '2024-01-01T10:00:02.000+01:00'


# ---- bounded memory ----------------------------------------------------------------------------

def test_memory_stays_flat_on_a_50_mb_file(tmp_path):
    path = tmp_path / 'controller.log'
    block = []
    moment = datetime.datetime(2024, 1, 1)
    for number in range(5000):
        block.append('%s %s\n' % (ts(moment + datetime.timedelta(milliseconds=number)), INFO % number))
        if number % 50 == 0:
            block.append('%s %s\n' % (ts(moment + datetime.timedelta(milliseconds=number)), NOT_BACKUP))
        if number % 70 == 0:
            block.extend(line + '\n' for line in STACK)
    data = ''.join(block).encode()
    with open(path, 'wb') as out:
        while out.tell() < 50 * 1024 * 1024:
            out.write(data)
    repeats = path.stat().st_size // len(data)
    tracemalloc.start()
    try:
        s, reports = scan(path)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert s.results()[0]['count'] == repeats * 100
    assert reports[0].bytes_read == path.stat().st_size
    assert peak < 6 * 1024 * 1024, 'peak %d bytes' % peak
