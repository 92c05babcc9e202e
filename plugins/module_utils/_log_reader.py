# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading JS7 log files for jobscheduler.js7.log_scan: line parsing, time seek, streaming, rotation.

Runs on the managed node (Python 3.8+, standard library only).

Facts relied on (shared/reference/js7-engine.md, "E"):
- E§4.2 line format: ``2022-01-27T00:00:08,669 WARN  js7.cluster.ClusterCommon - <message>``; log4j
  ISO8601 timestamp with a comma before the milliseconds and NO zone; the zone is the log4j
  property TimeZone = ${env:JS7_CONTROLLER_TZ:-Etc/UTC}. Levels padded to 5, info/debug/trace in
  lower case, WARN/ERROR upper case. A message may span several lines (stack traces): the lines
  without a timestamp belong to the entry above. JOC Cockpit writes a [thread] before the logger.
- E§4.1 rotation: daily (and by size) to ``controller-2021-01-31-1.log.gz``; the current file is
  ``controller.log``. Files of one family are read oldest first.

Design:
- Memory stays bounded: files are read in blocks (block_size, 1 MiB by default); only lines that
  contain a pre-filter needle are decoded and matched; nothing keeps more than one block plus
  one pending line (cut at max_line).
- A file is read up to the size it had when it was opened: a log being written is never waited
  for, and a half-written last line is taken as it is.
- With ``since``/``until`` an uncompressed file is entered by binary search on byte offsets
  (align to the next line start, skip continuation lines without timestamp), so the cost
  depends on the size of the time window, not of the file. Gzip files have no random access:
  a rotated file is skipped whole when the next file of its family starts before ``since`` (or
  its name's date is more than a day before it), otherwise it is streamed and the blocks before
  ``since`` are passed over without matching.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import glob
import gzip
import os
import re
import time
import zlib

LEVEL_RANK = {'TRACE': 0, 'DEBUG': 1, 'INFO': 2, 'WARN': 3, 'ERROR': 4, 'FATAL': 5}
_LEVEL_ALIASES = {'WARNING': 'WARN', 'SEVERE': 'ERROR', 'FINE': 'DEBUG', 'FINEST': 'TRACE'}

REPORTED_LEVELS = ('INFO', 'WARN', 'ERROR', 'FATAL')

DEFAULT_BLOCK_SIZE = 1 << 20
# A "line" longer than this without a newline is processed in pieces (bounded memory).
DEFAULT_MAX_LINE = 1 << 20
# Enough bytes of a line to read its timestamp (the longest form carries a zone offset).
_PREFIX = 48
_PROBE_BLOCK = 2048
_SAMPLE_CHARS = 2000

# Timestamp at the start of a line: log4j ISO8601 (E§4.2) and the variants other layouts use:
# a space instead of T, a dot instead of the comma, more fraction digits, an optional zone.
_TIMESTAMP = re.compile(
    br'(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d(?::?\d\d)?)?(?=\s|$)')
# What follows the timestamp: "<LEVEL> [thread] <logger> - <message>" ([thread] in joc.log).
_AFTER_TIMESTAMP = re.compile(br'\s+([A-Za-z]{4,7})\b[ \t]*(.*?)(?: - | -$|$)')

_ROTATED_NAME = re.compile(r'^(?P<base>.+?)-(?P<date>\d{4}-\d\d-\d\d)(?:-(?P<index>\d+))?\.log(?P<gz>\.gz)?$')
_CURRENT_NAME = re.compile(r'^(?P<base>.+?)\.log(?P<gz>\.gz)?$')

_RELATIVE_PART = re.compile(r'(\d+(?:\.\d+)?)\s*(w|d|h|m|min|s|sec)', re.IGNORECASE)
_RELATIVE = re.compile(r'^\s*(?:\d+(?:\.\d+)?\s*(?:w|d|h|m|min|s|sec)\s*)+$', re.IGNORECASE)
_RELATIVE_UNITS = {'w': 604800, 'd': 86400, 'h': 3600, 'm': 60, 'min': 60, 's': 1, 'sec': 1}
_ISO = re.compile(
    r'^\s*(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?)?\s*'
    r'(Z|z|UTC|[+-]\d\d(?::?\d\d)?)?\s*$')
_OFFSET = re.compile(r'^(?:UTC|GMT)?([+-])(\d\d?)(?::?(\d\d))?$')


class LogScanError(Exception):
    """A problem the module reports as its msg (bad option value, unusable time zone)."""


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------

class LogClock:
    """Translates between log timestamps (wall time of the log's zone, no zone written) and instants.

    Keys are bytes ``YYYY-MM-DDTHH:MM:SS.ffffff`` in the log's zone: fixed width, so they compare
    like the times they stand for, and a line's key is sliced from its bytes without parsing.
    With a zone that has daylight saving time, the hour repeated in autumn is ambiguous in the
    log itself; keys then follow the wall clock (documented).
    """

    def __init__(self, timezone='UTC'):
        self.name = timezone or 'UTC'
        self._tz = _resolve_zone(self.name)  # None = the node's local zone

    # -- keys --------------------------------------------------------------------------------
    def line_key(self, line):
        """Key of a line that starts with a timestamp, else None."""
        match = _TIMESTAMP.match(line)
        if match is None:
            return None
        date, clock, fraction, zone = match.groups()
        fraction = (fraction or b'')[:6].ljust(6, b'0')
        if zone is None:
            return date + b'T' + clock + b'.' + fraction
        # A layout that writes its zone (E§4.2: HEAD's default %d{... SSSX}): express it in the log zone.
        moment = datetime.datetime.strptime((date + b'T' + clock + b'.' + fraction).decode('ascii'),
                                            '%Y-%m-%dT%H:%M:%S.%f')
        return self.instant_key(moment.replace(tzinfo=_fixed_zone(zone.decode('ascii'))))

    def instant_key(self, moment):
        """Key of an aware datetime."""
        if self._tz is None:
            local = moment.astimezone()
        else:
            local = moment.astimezone(self._tz)
        return local.replace(tzinfo=None).strftime('%Y-%m-%dT%H:%M:%S.%f').encode('ascii')

    def iso(self, key):
        """ISO 8601 text with the log zone's offset for a key (None stays None)."""
        if key is None:
            return None
        naive = datetime.datetime.strptime(key.decode('ascii'), '%Y-%m-%dT%H:%M:%S.%f')
        if self._tz is None:
            aware = naive.astimezone()  # a naive datetime is taken as local time
        else:
            aware = naive.replace(tzinfo=self._tz)
        return aware.isoformat(timespec='milliseconds')

    def parse(self, text, now=None):
        """Key for an option value: ISO 8601 (zone optional) or a relative age like 2h, 30m, 1d, 1h30m.

        A time without zone is wall time in the log's zone; with a zone it is converted.
        """
        if text is None:
            return None
        text = str(text).strip()
        if _RELATIVE.match(text):
            seconds = sum(float(number) * _RELATIVE_UNITS[unit.lower()]
                          for number, unit in _RELATIVE_PART.findall(text))
            now = now if now is not None else time.time()
            moment = datetime.datetime.fromtimestamp(now - seconds, tz=datetime.timezone.utc)
            return self.instant_key(moment)
        match = _ISO.match(text)
        if match is None:
            raise LogScanError(
                "cannot read the time %r: give an ISO 8601 timestamp (2024-05-01T13:00:00, optionally with "
                "a zone like Z or +02:00) or an age like 2h, 30m, 1d, 1h30m" % text)
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        try:
            naive = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                      int(second or 0), int((fraction or '0')[:6].ljust(6, '0')))
        except ValueError as exc:
            raise LogScanError("cannot read the time %r: %s" % (text, exc))
        if zone is None:
            return naive.strftime('%Y-%m-%dT%H:%M:%S.%f').encode('ascii')
        return self.instant_key(naive.replace(tzinfo=_fixed_zone(zone)))


def _fixed_zone(text):
    if text in ('Z', 'z', 'UTC'):
        return datetime.timezone.utc
    match = _OFFSET.match(text)
    if match is None:
        raise LogScanError("unknown zone offset %r" % text)
    sign, hours, minutes = match.groups()
    delta = datetime.timedelta(hours=int(hours), minutes=int(minutes or 0))
    return datetime.timezone(-delta if sign == '-' else delta)


def _resolve_zone(name):
    if name.lower() == 'local':
        return None
    if name.upper() in ('UTC', 'Z', 'ETC/UTC', 'GMT', 'ETC/GMT', 'UCT'):
        return datetime.timezone.utc
    if _OFFSET.match(name):
        return _fixed_zone(name)
    try:
        import zoneinfo  # Python 3.9+ pylint: disable=import-outside-toplevel
    except ImportError:
        raise LogScanError(
            "time zone %r needs Python 3.9 (zoneinfo) on the managed node; give the log's zone as an offset "
            "like +01:00, or 'local' or 'UTC'" % name)
    try:
        return zoneinfo.ZoneInfo(name)
    except Exception as exc:  # zoneinfo raises several types for bad or unknown names
        raise LogScanError("unknown time zone %r (%s): give an IANA name like Europe/Berlin, an offset like "
                           "+01:00, 'local' or 'UTC'" % (name, exc))


def parse_head(line):
    """(level, logger) of a line that starts with a timestamp; (None, None) for other lines."""
    match = _TIMESTAMP.match(line)
    if match is None:
        return None, None
    rest = _AFTER_TIMESTAMP.match(line, match.end())
    if rest is None:
        return None, None
    level = rest.group(1).upper().decode('ascii')
    level = _LEVEL_ALIASES.get(level, level)
    if level not in LEVEL_RANK:
        return None, None  # "<timestamp> Duplicate start of JS7", "<timestamp> Begin JS7 ..."
    words = rest.group(2).split()
    logger = words[-1].strip(b'[]').decode('utf-8', 'replace') if words else None
    return level, logger


# ---------------------------------------------------------------------------------------------
# Files and rotation order
# ---------------------------------------------------------------------------------------------

class LogFile:
    """One file to scan, with what its name says about its place in the rotation (E§4.1)."""

    def __init__(self, path, default_component):
        self.path = path
        name = os.path.basename(path)
        self.compressed = name.endswith('.gz')
        rotated = _ROTATED_NAME.match(name)
        current = _CURRENT_NAME.match(name)
        if rotated:
            self.base = rotated.group('base')
            self.date = rotated.group('date')
            self.index = int(rotated.group('index') or 0)
        else:
            self.base = current.group('base') if current else name
            self.date = None
            self.index = 0
        self.family = (os.path.dirname(os.path.abspath(path)), self.base)
        self.component = default_component
        for component in ('controller', 'agent', 'joc'):
            if self.base.startswith(component):
                self.component = component

    def order_key(self):
        # Rotated files by (date, index), the current file after them (E§4.1).
        return (self.family, 0 if self.date else 1, self.date or '', self.index, self.path)


def expand_paths(patterns):
    """[(pattern, [matching paths])]: a pattern without glob magic stands for itself."""
    result = []
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        if glob.has_magic(pattern):
            result.append((pattern, sorted(p for p in glob.glob(pattern) if not os.path.isdir(p))))
        else:
            result.append((pattern, [pattern] if os.path.exists(pattern) else []))
    return result


def order_files(paths, default_component='controller'):
    """LogFile objects in time order: per family, rotated files oldest first, the current file last."""
    seen = set()
    files = []
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        files.append(LogFile(path, default_component))
    files.sort(key=LogFile.order_key)
    return files


# ---------------------------------------------------------------------------------------------
# Catalogue compilation and matching
# ---------------------------------------------------------------------------------------------

class Signature:
    def __init__(self, code, wording, versions, components, levels, keyword, pattern, explicit):
        self.code = code
        self.wording = wording
        self.versions = versions
        self.components = frozenset(components) if components else None
        self.levels = frozenset(levels) if levels else None
        self.keyword = keyword.encode('utf-8')
        self.pattern = pattern
        self.regex = re.compile(pattern)
        self.explicit = explicit

    def applies(self, component, level):
        if self.components is not None and component not in self.components:
            return False
        # A line of unknown level (an entry cut by rotation) is judged by its text alone.
        return self.levels is None or level is None or level in self.levels


def derived_signatures(entry):
    """The generic renderings of a coded problem (see _log_catalogue.py)."""
    if entry.get('derive', True) is False:
        return []
    code = entry['code']
    message = entry.get('message')
    text = r'\b%s: %s' % (re.escape(code), message if message else r'\S')
    return [
        Signature(code, 'problem', entry['versions'], ('controller', 'agent'), REPORTED_LEVELS, code, text, False),
        Signature(code, 'joc', entry['versions'], ('joc',), REPORTED_LEVELS, code,
                  r'(?:\b\w+Exception: )?' + text, False),
        Signature(code, 'problem-json', entry['versions'], None, REPORTED_LEVELS, code,
                  r'"code"\s*:\s*"%s"' % re.escape(code), False),
    ]


class Matcher:
    """The compiled catalogue: pre-filter needles, and the signatures grouped by keyword."""

    def __init__(self, catalogue, prefilter_needles=(), codes=None):
        known = [entry['code'] for entry in catalogue]
        if codes:
            unknown = sorted(set(codes) - set(known))
            if unknown:
                raise LogScanError("unknown problem code(s) %s in codes; the catalogue knows: %s"
                                   % (', '.join(unknown), ', '.join(known)))
        self.entries = {}
        signatures = []
        for entry in catalogue:
            if codes and entry['code'] not in codes:
                continue
            self.entries[entry['code']] = entry
            for sig in entry.get('signatures') or ():
                signatures.append(Signature(entry['code'], sig['wording'], sig['versions'], sig.get('components'),
                                            sig.get('levels'), sig['keyword'], sig['pattern'], True))
            signatures.extend(derived_signatures(entry))
        self.signatures = signatures
        needles = [needle.encode('utf-8') for needle in prefilter_needles]
        used = []
        for sig in signatures:
            if not any(needle in sig.keyword for needle in needles + used):
                used.append(sig.keyword)
        # Only the needles some selected signature needs (a `codes` filter makes the scan cheaper).
        self.needles = tuple(n for n in needles if any(n in s.keyword for s in signatures)) + tuple(used)
        self.by_keyword = {}
        for sig in signatures:
            self.by_keyword.setdefault(sig.keyword, []).append(sig)

    def match(self, line, text, component, level):
        """[(code, wording)] for one line; an explicit wording of a code hides its generic ones."""
        hits = {}
        for keyword, sigs in self.by_keyword.items():
            if keyword not in line:
                continue
            for sig in sigs:
                if not sig.applies(component, level):
                    continue
                if sig.code in hits and hits[sig.code][0] and not sig.explicit:
                    continue
                if sig.regex.search(text):
                    previous = hits.get(sig.code)
                    if previous is None or (sig.explicit and not previous[0]):
                        hits[sig.code] = (sig.explicit, [sig.wording])
                    elif sig.explicit == previous[0]:
                        previous[1].append(sig.wording)
        return [(code, wordings) for code, (_explicit, wordings) in hits.items()]


# ---------------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------------

class Finding:
    def __init__(self, entry):
        self.entry = entry
        self.count = 0
        self.levels = {}
        self.first_key = None
        self.last_key = None
        self.sample = None
        self.sample_file = None
        self.logger = None
        self.loggers = []
        self.files = []
        self.wordings = set()
        self.last_entry = None

    def as_dict(self, clock):
        entry = self.entry
        known = [level for level in self.levels if level in LEVEL_RANK]
        return {
            'code': entry['code'],
            'severity': entry['severity'],
            'count': self.count,
            'level': max(known, key=LEVEL_RANK.get) if known else None,
            'levels': dict(self.levels),
            'logger': self.logger,
            'loggers': list(self.loggers),
            'first_seen': clock.iso(self.first_key),
            'last_seen': clock.iso(self.last_key),
            'sample': self.sample,
            'file': self.sample_file,
            'files': list(self.files),
            'wordings': sorted(self.wordings),
            'versions': entry['versions'],
            'meaning': entry['meaning'],
            'remedy': entry['remedy'],
            'reference': entry.get('reference'),
        }


class FileReport:
    def __init__(self, log_file):
        self.log_file = log_file
        self.size = None
        self.bytes_read = 0
        self.lines = 0
        self.first_key = None
        self.last_key = None
        self.skipped = None
        self.error = None
        self.offset_start = None

    def as_dict(self, clock):
        return {
            'path': self.log_file.path,
            'component': self.log_file.component,
            'compressed': self.log_file.compressed,
            'size': self.size,
            'bytes_read': self.bytes_read,
            'lines': self.lines,
            'start_offset': self.offset_start,
            'first_timestamp': clock.iso(self.first_key),
            'last_timestamp': clock.iso(self.last_key),
            'skipped': self.skipped,
            'error': self.error,
        }


class _CountingFile:
    """Counts the bytes read from a raw file (what a scan costs in I/O)."""

    def __init__(self, raw, report):
        self.raw = raw
        self.report = report

    def read(self, size=-1):
        data = self.raw.read(size)
        self.report.bytes_read += len(data)
        return data

    def seek(self, offset, whence=0):
        return self.raw.seek(offset, whence)

    def tell(self):
        return self.raw.tell()


class _Head:
    """The entry head (a line with timestamp) that a continuation line belongs to."""
    __slots__ = ('offset', 'line')

    def __init__(self, offset, line):
        self.offset = offset
        self.line = line


class LogScanner:
    """Scans files in order and aggregates the findings per problem code."""

    def __init__(self, matcher, clock, since=None, until=None, block_size=DEFAULT_BLOCK_SIZE,
                 max_line=DEFAULT_MAX_LINE):
        self.matcher = matcher
        self.clock = clock
        self.since = since
        self.until = until
        self.block_size = block_size
        self.max_line = max(max_line, _PREFIX)
        self.findings = {}
        self.reports = []

    # -- public ------------------------------------------------------------------------------
    def scan(self, log_files):
        """Scan LogFile objects (already in time order); returns the FileReport list."""
        for position, log_file in enumerate(log_files):
            successor = None
            if position + 1 < len(log_files) and log_files[position + 1].family == log_file.family:
                successor = log_files[position + 1]
            self.reports.append(self.scan_file(log_file, successor))
        return self.reports

    def bytes_read(self):
        return sum(report.bytes_read for report in self.reports)

    def results(self):
        findings = [finding.as_dict(self.clock) for finding in self.findings.values()]
        findings.sort(key=lambda f: (f['first_seen'] or '', f['code']))
        return findings

    def scan_file(self, log_file, successor=None):
        report = FileReport(log_file)
        try:
            if log_file.compressed:
                self._scan_gzip(log_file, report, successor)
            else:
                self._scan_plain(log_file, report)
        except EOFError as exc:  # a .gz cut short (still being compressed): keep what was read
            report.error = 'truncated gzip file: %s (scanned up to the cut)' % exc
        except (OSError, zlib.error) as exc:
            report.error = '%s: %s' % (type(exc).__name__, getattr(exc, 'strerror', None) or exc)
        return report

    # -- uncompressed files: binary search on offsets ----------------------------------------
    def _scan_plain(self, log_file, report):
        with open(log_file.path, 'rb') as raw:
            size = os.fstat(raw.fileno()).st_size  # read up to the size at open: never wait for a writer
            report.size = size
            source = _CountingFile(raw, report)
            start, end = 0, size
            if self.since is not None:
                since = self.since
                start = self._lower_bound(source, size, lambda key: key >= since)
            if self.until is not None:
                until = self.until
                end = self._lower_bound(source, size, lambda key: key > until)
            report.offset_start = start
            if start >= end:
                report.skipped = 'no entry in the time window'
                return
            source.seek(start)
            remaining = [end - start]

            def read(count):
                count = min(count, remaining[0])
                if count <= 0:
                    return b''
                data = source.read(count)
                remaining[0] -= len(data)
                return data

            self._stream(read, log_file, report, start, seeking=False, bounded=True)

    def _lower_bound(self, source, size, wanted):
        """Offset of the first entry head whose key is wanted (keys sorted: False...True), else size."""
        low, high = 0, size
        while low < high:
            middle = (low + high) // 2
            offset, key = self._first_head(source, middle, size)
            if offset is None or wanted(key):
                high = middle
            else:
                low = offset + 1
        offset, _key = self._first_head(source, low, size)
        return size if offset is None else offset

    def _first_head(self, source, position, end):
        """(offset, key) of the first line starting at or after position (< end) that has a timestamp."""
        if position >= end:
            return None, None
        if position > 0:
            source.seek(position - 1)  # the byte before tells whether position starts a line
            base = position - 1
            buf = source.read(min(_PROBE_BLOCK, end - base))
            newline = buf.find(b'\n')
            while newline < 0:
                base += len(buf)
                if base >= end:
                    return None, None
                buf = source.read(min(_PROBE_BLOCK, end - base))
                if not buf:
                    return None, None
                newline = buf.find(b'\n')
            line_start = newline + 1
        else:
            source.seek(0)
            base = 0
            buf = source.read(min(_PROBE_BLOCK, end))
            line_start = 0
        while True:
            # Have at least the timestamp prefix of the candidate line in buf.
            while len(buf) - line_start < _PREFIX and base + len(buf) < end:
                more = source.read(min(_PROBE_BLOCK, end - base - len(buf)))
                if not more:
                    break
                buf = buf[line_start:] + more
                base += line_start
                line_start = 0
            if line_start >= len(buf):
                return None, None
            key = self.clock.line_key(buf[line_start:line_start + _PREFIX])
            if key is not None:
                return base + line_start, key
            newline = buf.find(b'\n', line_start)
            while newline < 0:  # a long continuation line: drop what was searched, read on
                base += len(buf)
                if base >= end:
                    return None, None
                buf = source.read(min(_PROBE_BLOCK, end - base))
                if not buf:
                    return None, None
                newline = buf.find(b'\n')
            line_start = newline + 1

    # -- gzip files: skip by rotation order, stream the rest ---------------------------------
    def _scan_gzip(self, log_file, report, successor):
        report.size = os.path.getsize(log_file.path)
        if self.since is not None:
            reason = self._gzip_before_since(log_file, successor)
            if reason:
                report.skipped = reason
                return
        if self.until is not None and log_file.date and log_file.date.encode('ascii') > self._day_after(self.until):
            report.skipped = 'rotated on %s, after until' % log_file.date
            return
        with open(log_file.path, 'rb') as raw:
            source = _CountingFile(raw, report)
            with gzip.GzipFile(fileobj=source, mode='rb') as stream:
                report.offset_start = 0
                cut_short = []

                def read(count):
                    # Small pieces, so that a file cut short still yields everything before the cut.
                    parts = []
                    total = 0
                    while total < count and not cut_short:
                        try:
                            piece = stream.read1(min(1 << 16, count - total))
                        except EOFError as exc:
                            cut_short.append(exc)
                            break
                        if not piece:
                            break
                        parts.append(piece)
                        total += len(piece)
                    return b''.join(parts)

                self._stream(read, log_file, report, 0, seeking=self.since is not None, bounded=False)
                if cut_short:
                    raise cut_short[0]

    def _gzip_before_since(self, log_file, successor):
        # The name's date is the day the file's entries were written (E§4.1); a day of margin covers a
        # rotation clock in another zone than the log's timestamps.
        if log_file.date and log_file.date.encode('ascii') < self._day_before(self.since):
            return 'rotated on %s, before since' % log_file.date
        if successor is not None:
            first = self._first_key_of(successor)
            if first is not None and first < self.since:
                return 'the next file %s starts at %s, before since' % (
                    os.path.basename(successor.path), self.clock.iso(first))
        return None

    def _first_key_of(self, log_file):
        """Key of the first entry of a file (a small read; None when unreadable or without entries)."""
        try:
            with open(log_file.path, 'rb') as raw:
                if log_file.compressed:
                    with gzip.GzipFile(fileobj=raw, mode='rb') as stream:
                        data = stream.read(1 << 16)
                else:
                    data = raw.read(1 << 16)
        except (OSError, EOFError, zlib.error):
            return None
        start = 0
        while start < len(data):
            key = self.clock.line_key(data[start:start + _PREFIX])
            if key is not None:
                return key
            newline = data.find(b'\n', start)
            if newline < 0:
                return None
            start = newline + 1
        return None

    @staticmethod
    def _day_before(key):
        day = datetime.date(int(key[0:4]), int(key[5:7]), int(key[8:10])) - datetime.timedelta(days=1)
        return day.isoformat().encode('ascii')

    @staticmethod
    def _day_after(key):
        day = datetime.date(int(key[0:4]), int(key[5:7]), int(key[8:10])) + datetime.timedelta(days=1)
        return day.isoformat().encode('ascii')

    # -- streaming ---------------------------------------------------------------------------
    def _stream(self, read, log_file, report, offset, seeking, bounded):
        """Read blocks of whole lines and hand them to _block; offset = file offset of the first byte."""
        state = {'head': None, 'seeking': seeking, 'stop': False, 'bounded': bounded, 'heads': {}}
        pending = b''
        while not state['stop']:
            block = read(self.block_size)
            if not block:
                break
            buf = pending + block if pending else block
            cut = buf.rfind(b'\n')
            if cut < 0:
                if len(buf) < self.max_line:
                    pending = buf
                    continue
                cut = len(buf) - 1  # an over-long line: take it in pieces, memory stays bounded
            chunk = buf[:cut + 1]
            pending = buf[cut + 1:]
            self._block(chunk, offset, log_file, report, state)
            offset += len(chunk)
        if pending and not state['stop']:
            # The last line without newline: a file being written, or a file cut short.
            self._block(pending, offset, log_file, report, state)

    def _block(self, chunk, offset, log_file, report, state):
        clock = self.clock
        if state['seeking']:
            last = _last_head(chunk, clock)
            if last is None or last[1] < self.since:
                if last is not None:
                    state['head'] = _Head(offset + last[0], chunk[last[0]:last[2]])
                return
            start = _first_head_in(chunk, clock, lambda key: key >= self.since)
            chunk = chunk[start:]
            offset += start
            report.offset_start = offset
            state['seeking'] = False
            state['head'] = None
        if self.until is not None and not state['bounded']:
            # A stream (gzip) has no end offset from a binary search: cut at the first entry after until.
            last = _last_head(chunk, clock)
            if last is not None and last[1] > self.until:
                end = _first_head_in(chunk, clock, lambda key: key > self.until)
                chunk = chunk[:end]
                state['stop'] = True
            if not chunk:
                return
        report.lines += chunk.count(b'\n')
        if not chunk.endswith(b'\n'):
            report.lines += 1
        if report.first_key is None:
            start = _first_head_in(chunk, clock, lambda key: True)
            if start < len(chunk):
                report.first_key = clock.line_key(chunk[start:start + _PREFIX])

        # Candidate lines: those that contain a needle (bytes.find is fast; most lines are never decoded).
        line_starts = set()
        for needle in self.matcher.needles:
            found = chunk.find(needle)
            while found >= 0:
                line_start = chunk.rfind(b'\n', 0, found) + 1
                line_starts.add(line_start)
                line_end = chunk.find(b'\n', found)
                if line_end < 0:
                    break
                found = chunk.find(needle, line_end)
        state['heads'] = {}
        for line_start in sorted(line_starts):
            self._line(chunk, line_start, offset, log_file, state)

        last = _last_head(chunk, clock)
        if last is not None:
            state['head'] = _Head(offset + last[0], chunk[last[0]:last[2]])
            report.last_key = last[1]

    def _line(self, chunk, line_start, offset, log_file, state):
        line_end = chunk.find(b'\n', line_start)
        if line_end < 0:
            line_end = len(chunk)
        line = chunk[line_start:line_end].rstrip(b'\r')
        head = None
        heads = state['heads']  # line start -> entry head, for the candidate lines of this block
        if _TIMESTAMP.match(line):
            head = _Head(offset + line_start, line)
        else:
            # A continuation line (stack trace): its entry is the nearest line above with a timestamp.
            position = line_start
            while position > 0:
                previous_start = chunk.rfind(b'\n', 0, position - 1) + 1
                if previous_start in heads:
                    head = heads[previous_start]
                    break
                previous = chunk[previous_start:position - 1]
                if _TIMESTAMP.match(previous):
                    head = _Head(offset + previous_start, previous.rstrip(b'\r'))
                    break
                position = previous_start
            else:
                head = state['head']  # the entry began in the previous block (None: cut by rotation)
        heads[line_start] = head
        level, logger = parse_head(head.line) if head is not None else (None, None)
        text = line.decode('utf-8', 'replace')
        matches = self.matcher.match(line, text, log_file.component, level)
        if not matches:
            return
        key = self.clock.line_key(head.line) if head is not None else None
        entry_id = (log_file.path, head.offset if head is not None else -1)
        for code, wordings in matches:
            finding = self.findings.get(code)
            if finding is None:
                finding = self.findings[code] = Finding(self.matcher.entries[code])
            finding.wordings.update(wordings)
            if finding.last_entry == entry_id:
                continue  # several lines of one entry (message and stack trace) count once
            finding.last_entry = entry_id
            finding.count += 1
            level_name = level or 'UNKNOWN'
            finding.levels[level_name] = finding.levels.get(level_name, 0) + 1
            if key is not None:
                if finding.first_key is None or key < finding.first_key:
                    finding.first_key = key
                if finding.last_key is None or key > finding.last_key:
                    finding.last_key = key
            sample = text
            if head is not None and head.line is not line:
                sample = head.line.decode('utf-8', 'replace') + '\n' + text
            finding.sample = sample[:_SAMPLE_CHARS]
            finding.sample_file = log_file.path
            finding.logger = logger
            if logger and logger not in finding.loggers and len(finding.loggers) < 10:
                finding.loggers.append(logger)
            if log_file.path not in finding.files:
                finding.files.append(log_file.path)


def _last_head(chunk, clock):
    """(start, key, end) of the last line of chunk with a timestamp, or None."""
    end = len(chunk)
    if end and chunk[end - 1:end] == b'\n':
        end -= 1
    while end >= 0:
        start = chunk.rfind(b'\n', 0, end) + 1
        key = clock.line_key(chunk[start:start + _PREFIX])
        if key is not None:
            line_end = end
            if line_end > start and chunk[line_end - 1:line_end] == b'\r':
                line_end -= 1
            return start, key, line_end
        if start == 0:
            return None
        end = start - 1
    return None


def _first_head_in(chunk, clock, wanted):
    """Offset in chunk of the first line with a timestamp whose key is wanted, else len(chunk)."""
    start = 0
    size = len(chunk)
    while start < size:
        key = clock.line_key(chunk[start:start + _PREFIX])
        if key is not None and wanted(key):
            return start
        newline = chunk.find(b'\n', start)
        if newline < 0:
            return size
        start = newline + 1
    return size
