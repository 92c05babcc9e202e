#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: log_scan
short_description: Find known JS7 cluster problems in Controller, Agent and JOC Cockpit logs
version_added: 0.1.0
description:
  - Scans C(controller.log), C(agent.log) or C(joc.log) and their rotated, gzipped siblings
    (C(controller-2021-01-31-1.log.gz)) in time order for the problems of a catalogue of known JS7
    cluster problems, and returns one finding per problem with its count, time range, a sample line,
    what it means and which role, playbook or module of this collection fixes it.
  - The catalogue knows C(ClusterNodeIsNotBackup) in the wording of every JS7 version (2.0-2.5 WARN,
    2.6 with the red circle, 2.7 with escalating symbols and levels, 2.7.4+ with the command's full text)
    and in C(joc.log), C(PrimaryClusterNodeMayNotBecomeBackup), C(BackupClusterNodeNotAppointed),
    C(NoClusterWatch), the Cluster Watch problems (C(UntaughtClusterWatch), C(ClusterWatchIdDoesNotMatch),
    C(OtherClusterWatchStillAlive), C(ClusterWatchIdNotUnique), C(ClusterNodeLossNotConfirmed),
    C(ClusterWatchInactiveNode), and C(ClusterWatchHeartbeatMismatch) / C(ClusterWatchEventMismatch) of the
    2.5 Agent Cluster Watch), C(InvalidLogin) between cluster nodes (cluster password mismatch) and
    C(DuplicateStart) (a second start on the same data directory).
  - With O(since) the module does not read the whole file. It finds the first entry at or after that
    time by binary search on byte offsets, so scanning the last hour of a 5 GB log costs about the
    same as of a 5 MB one. Gzipped files cannot be entered in the middle. A rotated file is skipped
    whole when the next file of its rotation starts before O(since). The other rotated files are read
    as a stream.
  - Memory stays flat whatever the file size. A file is read up to the size it had when the module
    opened it, so a log that is being written never makes the module wait.
  - Multi-line entries (stack traces) belong to the entry above them. Lines cut by rotation are
    matched on their text. Bytes that are not UTF-8 are replaced.
  - Read only. The module never changes anything on the node.
author:
  - jobscheduler.js7 contributors (@jobscheduler)
options:
  paths:
    description:
      - Files or glob patterns to scan. A pattern may match rotated C(.gz) files.
      - Default is the component's log, its rotated siblings and, for a Controller or an Agent,
        C(watchdog.log) (where a C(Duplicate start) is written), all in C(<data_dir>/logs).
    type: list
    elements: path
  component:
    description:
      - Which JS7 component's logs to scan when O(paths) is not given, and the component of files whose
        name does not tell it (C(controller*), C(agent*) and C(joc*) names tell it themselves).
    type: str
    choices: [controller, agent, joc]
    default: controller
  data_dir:
    description:
      - The component's data directory; its C(logs) sub-directory holds the logs.
      - Defaults follow the JS7 installer. C(/var/sos-berlin.com/js7/controller/var) for a Controller
        (E(JS7_CONTROLLER_DATA)), C(/var/sos-berlin.com/js7/agent/var_4445) for an Agent
        (E(JS7_AGENT_DATA)), and C(/var/sos-berlin.com/js7/joc/jetty_base) for JOC Cockpit.
    type: path
  since:
    description:
      - Only entries at or after this time. Give an ISO 8601 timestamp (V(2024-05-01T13:00:00),
        optionally with a zone such as V(Z) or V(+02:00)) or an age such as V(2h), V(30m), V(1d) or V(1h30m).
      - A timestamp without a zone is taken as wall time in O(timezone). A timestamp with a zone,
        and an age, are converted to it.
    type: str
  until:
    description:
      - Only entries at or before this time. Same forms as O(since).
    type: str
  timezone:
    description:
      - The time zone the log's timestamps are written in. JS7 logs carry no zone. The product's
        log4j2 configuration uses E(JS7_CONTROLLER_TZ) / E(JS7_AGENT_TZ), and C(Etc/UTC) when that is unset.
      - V(UTC), V(local) (the managed node's zone, typical for JOC Cockpit's C(joc.log)), an offset such
        as V(+01:00), or an IANA name such as V(Europe/Berlin) (needs Python 3.9 on the managed node).
      - Used to read O(since) and O(until) and to print the times of the result with their offset.
    type: str
    default: UTC
  codes:
    description:
      - Only look for these problem codes (for example V(ClusterNodeIsNotBackup)). Default is every code
        of the catalogue. An unknown code fails with the list of known ones.
    type: list
    elements: str
  missing:
    description:
      - What to do when a file or pattern of O(paths) (or the component's main log) does not exist or
        cannot be read.
      - V(fail) stops with a message that names the file. V(warn) adds a warning and scans the rest.
        V(ignore) scans the rest silently. In every case the file is listed in RV(files) with its C(error).
    type: str
    choices: [fail, warn, ignore]
    default: fail
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads. It scans in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The catalogue is one data file, C(plugins/module_utils/_log_catalogue.py). Each entry names the JS7
    versions whose wording it matches, its meaning and the remedy.
  - The seek for O(since) and O(until) relies on JS7 writing entries in time order. When the log's zone
    has daylight saving time, the hour repeated in autumn is ambiguous in the log itself.
seealso:
  - name: JS7 - Log Files and Locations
    description: Names and places of the Controller, Agent and JOC Cockpit logs.
    link: https://kb.sos-berlin.com/x/VsQwAw
'''

EXAMPLES = r'''
- name: Look for known problems in the Primary Controller's log of the last two hours
  jobscheduler.js7.log_scan:
    data_dir: "{{ js7_controller_data | default('/var/sos-berlin.com/js7/controller/var') }}"
    since: 2h
  register: controller_log

- name: Tell when the Secondary runs as a standalone node
  ansible.builtin.debug:
    msg: "{{ item.code }} x{{ item.count }} {{ item.first_seen }}..{{ item.last_seen }}: {{ item.remedy }}"
  loop: "{{ controller_log.findings }}"
  when: item.code == 'ClusterNodeIsNotBackup'

- name: Scan JOC Cockpit's joc.log (written in the node's local time) for one code
  jobscheduler.js7.log_scan:
    component: joc
    data_dir: "{{ js7_joc_data | default('/var/sos-berlin.com/js7/joc/jetty_base') }}"
    timezone: local
    codes:
      - ClusterNodeIsNotBackup
    missing: warn
  register: joc_log

- name: Scan given files and patterns, warn about those that are missing
  jobscheduler.js7.log_scan:
    paths:
      - "{{ js7_controller_data | default('/var/sos-berlin.com/js7/controller/var') }}/logs/controller.log"
      - "{{ js7_controller_data | default('/var/sos-berlin.com/js7/controller/var') }}/logs/controller-*.log.gz"
    since: "2024-05-01T00:00:00Z"
    until: "2030-01-01T00:00:00Z"
    missing: warn
'''

RETURN = r'''
findings:
  description: One entry per problem found, in the order of first occurrence.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: The JS7 problem code (or C(DuplicateStart) for the uncoded message).
      type: str
      sample: ClusterNodeIsNotBackup
    severity:
      description: How bad the problem is for the cluster, C(error), C(warning) or C(info).
      type: str
      sample: error
    count:
      description: Number of log entries that report it. The lines of one multi-line entry count once.
      type: int
      sample: 42
    level:
      description: The highest log level it was written at (C(TRACE)..C(FATAL), upper case).
      type: str
      sample: WARN
    levels:
      description: Count per log level (C(UNKNOWN) for a line cut by rotation).
      type: dict
      sample: {"WARN": 40, "INFO": 2}
    logger:
      description: The logger of the sample entry.
      type: str
      sample: js7.cluster.ClusterCommon
    loggers:
      description: The distinct loggers that wrote it (at most 10).
      type: list
      elements: str
    first_seen:
      description: Time of the first entry, ISO 8601 with the offset of O(timezone).
      type: str
      sample: "2022-01-27T00:00:08.669+00:00"
    last_seen:
      description: Time of the last entry, ISO 8601 with the offset of O(timezone).
      type: str
      sample: "2022-01-27T00:41:13.002+00:00"
    sample:
      description:
        - The most recent matching line.
        - For a match in a continuation line, the entry's first line, a newline and the matching line.
      type: str
    file:
      description: The file of the sample.
      type: str
    files:
      description: All files in which it was found, in time order.
      type: list
      elements: str
    wordings:
      description:
        - Which of the catalogue's wordings matched. A version range such as C(2.0-2.5), C(2.6) or C(2.7.4+),
          or C(joc), C(problem), C(problem-json) for the generic renderings.
        - It hints at the JS7 version that wrote the log.
      type: list
      elements: str
      sample: ["2.0-2.5"]
    versions:
      description: The JS7 versions in which the problem exists.
      type: str
      sample: "2.0+"
    meaning:
      description: One line on what the problem means.
      type: str
    remedy:
      description: What fixes it, naming the role, playbook or module of this collection.
      type: str
    reference:
      description: Where the facts behind the entry come from.
      type: str
found_codes:
  description: The codes of RV(findings), for C(when) conditions.
  returned: always
  type: list
  elements: str
  sample: ["ClusterNodeIsNotBackup"]
files:
  description: Every file considered, in the order scanned.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    component:
      description: The component whose wording applies to it.
      type: str
    compressed:
      description: Whether it is gzipped.
      type: bool
    size:
      description: Its size in bytes when opened (compressed size for C(.gz)), null when it could not be opened.
      type: int
    bytes_read:
      description: Bytes read from it (for C(.gz) the compressed bytes), including the binary search.
      type: int
    lines:
      description: Lines read in the time window.
      type: int
    start_offset:
      description: Offset where the time window starts (uncompressed offset for C(.gz)).
      type: int
    first_timestamp:
      description: Time of the first entry read.
      type: str
    last_timestamp:
      description: Time of the last entry read.
      type: str
    skipped:
      description: Why it was not read (for example a rotated file wholly before O(since)), else null.
      type: str
    error:
      description: Why it could not be read (missing, permission, corrupt), else null.
      type: str
bytes_read:
  description: Total bytes read from all files.
  returned: always
  type: int
since:
  description: The resolved O(since) as ISO 8601 in O(timezone), or null.
  returned: always
  type: str
until:
  description: The resolved O(until) as ISO 8601 in O(timezone), or null.
  returned: always
  type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.jobscheduler.js7.plugins.module_utils import _log_catalogue as catalogue
from ansible_collections.jobscheduler.js7.plugins.module_utils._log_reader import (
    LogClock,
    LogScanError,
    LogScanner,
    Matcher,
    expand_paths,
    order_files,
)

# Installer defaults (design §3, js7-engine.md §1.6) and log names (js7-engine.md §4.1).
DEFAULT_DATA_DIRS = {
    'controller': '/var/sos-berlin.com/js7/controller/var',
    'agent': '/var/sos-berlin.com/js7/agent/var_4445',
    'joc': '/var/sos-berlin.com/js7/joc/jetty_base',
}
_ROTATED_GLOB = '-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*.log*'

ARGUMENT_SPEC = {
    'paths': {'type': 'list', 'elements': 'path'},
    'component': {'type': 'str', 'choices': ['controller', 'agent', 'joc'], 'default': 'controller'},
    'data_dir': {'type': 'path'},
    'since': {'type': 'str'},
    'until': {'type': 'str'},
    'timezone': {'type': 'str', 'default': 'UTC'},
    'codes': {'type': 'list', 'elements': 'str'},
    'missing': {'type': 'str', 'choices': ['fail', 'warn', 'ignore'], 'default': 'fail'},
}


def default_targets(component, data_dir):
    """[(pattern, required)]: the main log (required), its rotated siblings and watchdog.log."""
    logs = os.path.join(data_dir or DEFAULT_DATA_DIRS[component], 'logs')
    targets = [(os.path.join(logs, component + '.log'), True),
               (os.path.join(logs, component + _ROTATED_GLOB), False)]
    if component != 'joc':
        # Output before logging starts, e.g. "Duplicate start of JS7" (E§2.1, KB Log Files).
        targets.append((os.path.join(logs, 'watchdog.log'), False))
    return targets


def scan_logs(targets, component='controller', since=None, until=None, timezone='UTC', codes=None,
              block_size=None, now=None):
    """Scan [(pattern, required)] and return (result dict, [(path or pattern, problem)]).

    The module's whole work without AnsibleModule, so tests and bench/log_scan call it directly.
    Raises LogScanError for bad option values.
    """
    clock = LogClock(timezone)
    since_key = clock.parse(since, now=now)
    until_key = clock.parse(until, now=now)
    if since_key is not None and until_key is not None and until_key < since_key:
        raise LogScanError("until (%s) is before since (%s)" % (clock.iso(until_key), clock.iso(since_key)))
    matcher = Matcher(catalogue.CATALOGUE, catalogue.PREFILTER_NEEDLES, codes=codes)
    problems = []
    paths = []
    for (pattern, found), (_pattern, required) in zip(expand_paths([t[0] for t in targets]), targets):
        if found:
            paths.extend(found)
        elif required:
            problems.append((pattern, 'no such file' if not _has_magic(pattern) else 'no file matches'))
    scanner_args = {'since': since_key, 'until': until_key}
    if block_size:
        scanner_args['block_size'] = block_size
    scanner = LogScanner(matcher, clock, **scanner_args)
    reports = scanner.scan(order_files(paths, component))
    files = [report.as_dict(clock) for report in reports]
    for pattern, problem in problems:
        files.append({'path': pattern, 'component': component, 'compressed': pattern.endswith('.gz'),
                      'size': None, 'bytes_read': 0, 'lines': 0, 'start_offset': None,
                      'first_timestamp': None, 'last_timestamp': None, 'skipped': None, 'error': problem})
    for report in files:
        if report['error'] and (report['path'], report['error']) not in problems:
            problems.append((report['path'], report['error']))
    findings = scanner.results()
    result = {
        'findings': findings,
        'found_codes': [finding['code'] for finding in findings],
        'files': files,
        'bytes_read': sum(report['bytes_read'] for report in files),
        'since': clock.iso(since_key),
        'until': clock.iso(until_key),
    }
    return result, problems


def _has_magic(pattern):
    return any(char in pattern for char in '*?[')


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    component = params['component']
    if params['paths']:
        targets = [(path, True) for path in params['paths']]
    else:
        targets = default_targets(component, params['data_dir'])
    try:
        result, problems = scan_logs(targets, component=component, since=params['since'], until=params['until'],
                                     timezone=params['timezone'], codes=params['codes'])
    except LogScanError as exc:
        module.fail_json(msg=str(exc))

    # A gzip file cut short was still scanned up to the cut: always a warning, never a failure.
    hard = [(path, problem) for path, problem in problems if not problem.startswith('truncated')]
    for path, problem in problems:
        if problem.startswith('truncated'):
            module.warn('%s: %s' % (path, problem))
    if hard and params['missing'] == 'fail':
        where = 'paths' if params['paths'] else 'data_dir (the %s data directory; default %s)' % (
            component, DEFAULT_DATA_DIRS[component])
        module.fail_json(
            msg='cannot read %s. Check %s, or set missing=warn to scan the files that exist.'
                % ('; '.join('%s (%s)' % item for item in hard), where),
            **result)
    if params['missing'] == 'warn':
        for path, problem in hard:
            module.warn('log_scan: %s: %s; scanned the other files' % (path, problem))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
