# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throughput of jobscheduler.js7.log_scan, measured side by side with grep in one run.

Generates, in a temporary directory that is deleted afterwards, a controller.log of BIG_MB (1 GB)
and one of SMALL_MB (10 MB) in the real line format (js7-engine.md §4.2) with a realistic mix:
info lines of orders and agents, cluster events, debug-free main log, stack traces, the
ClusterStartBackupNode WARN line of a standalone Secondary (E§4.3) every few seconds during the
last hours, and look-alike lines that mention ClusterNodeIsNotBackup without being the problem.
Both files are written at the same rate (lines per second), so "the last hour" is the same
amount of text in both.

Each measurement runs the module as Ansible would (a separate Python process executing
plugins/modules/log_scan.py with an args file) or grep, and records wall time and peak RSS of
that process (wait4). Reported: log_scan vs `grep -c ClusterNodeIsNotBackup` over the same
file, and since=<last hour> on the 10 MB vs the 1 GB file. Ratios, not absolute times, are
what the docs quote. The table goes to stdout and into docs/benchmarks.md (log_scan section).

Usage: bench/log_scan/run [--big-mb 1024] [--small-mb 10] [--keep DIR] [--no-docs]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE = os.path.join(ROOT, 'plugins', 'modules', 'log_scan.py')
DOC = os.path.join(ROOT, 'docs', 'benchmarks.md')
BEGIN, END = '<!-- log_scan:begin -->', '<!-- log_scan:end -->'

LINES_PER_SECOND = 10
PROBLEM_EVERY_SECONDS = 3
PROBLEM_HOURS = 6  # the standalone Secondary has been refusing for the last hours

PROBLEM = ("WARN  js7.cluster.ClusterCommon - 'ClusterStartBackupNode' command failed with HTTP 400 Bad Request: "
           "POST http://secondary.example.com:4444/controller/api/cluster/command => ClusterNodeIsNotBackup: "
           "The cluster node to be appointed is not configured as a backup node")
LOOKALIKE = ("info  js7.common.configuration.Js7Configuration - js7.journal.cluster.retry-problems = "
             "[ClusterNodeIsNotBackup, ClusterNodeIsNotReady]")
MIX = (
    "info  js7.controller.agent.AgentDriver - Agent:agent-{n:03d} coupled, attached {n} items",
    "info  js7.controller.ControllerOrderKeeper - Order 'daily/job-{n}#T{n:06d}' started on Agent:agent-007",
    "info  js7.controller.ControllerOrderKeeper - Order 'daily/job-{n}#T{n:06d}' finished: Outcome.succeeded",
    "info  js7.journal.JournalActor - 1000 events (1.2MB) written to controller--1700000000{n:06d}.journal",
    "info  js7.cluster.ActiveClusterNode - ClusterWatch heartbeat acknowledged by ClusterWatchId:JOC-{n}",
    "info  js7.controller.web.ControllerWebServer - GET /controller/api/order?limit=1000 (user JOC) {n}ms",
    "WARN  js7.controller.agent.AgentDriver - Agent:agent-{n:03d} is not reachable: java.net.ConnectException: "
    "Connection refused (will retry)",
    "info  js7.subagent.director.SubagentKeeper - Subagent:agent-{n:03d}-1 is Coupled",
    "ERROR js7.controller.ControllerOrderKeeper - Order 'daily/job-{n}' failed: java.lang.RuntimeException: boom",
)
STACK = ("java.lang.RuntimeException: boom\n\tat js7.launcher.ProcessDriver.run(ProcessDriver.scala:87)\n"
         "\tat js7.launcher.ProcessDriver.$anonfun$start$1(ProcessDriver.scala:55)\n"
         "\tat cats.effect.IOFiber.runLoop(IOFiber.scala:413)\n")


def generate(path, megabytes, end):
    """Write about `megabytes` MiB ending at `end` (UTC); returns (first, last, problem count, lookalikes)."""
    target = megabytes * 1024 * 1024
    # Estimate the span from an hour's average so that the file ends about at `end`.
    hour = sum(len(render_second(end, n, n % PROBLEM_EVERY_SECONDS == 0)) for n in range(3600))
    seconds = int(target / (hour / 3600.0)) + 1
    start = end - datetime.timedelta(seconds=seconds)
    problem_from = end - datetime.timedelta(hours=PROBLEM_HOURS)
    problems = lookalikes = 0
    written = 0
    buffer = []
    size = 0
    with open(path, 'wb') as out:
        second = 0
        while written + size < target:
            moment = start + datetime.timedelta(seconds=second)
            with_problem = moment >= problem_from and second % PROBLEM_EVERY_SECONDS == 0
            text = render_second(moment, second, with_problem)
            problems += with_problem
            if second % 3600 == 1800:
                text += moment.strftime('%Y-%m-%dT%H:%M:%S,999 ') + LOOKALIKE + '\n'
                lookalikes += 1
            buffer.append(text)
            size += len(text)
            if size > (8 << 20):
                out.write(''.join(buffer).encode())
                written += size
                buffer, size = [], 0
            second += 1
        out.write(''.join(buffer).encode())
    last = start + datetime.timedelta(seconds=second - 1)
    return start, last, problems, lookalikes


def render_second(moment, second, with_problem):
    stamp = moment.strftime('%Y-%m-%dT%H:%M:%S,')
    lines = []
    for index in range(LINES_PER_SECOND):
        template = MIX[(second * LINES_PER_SECOND + index) % len(MIX)]
        lines.append('%s%03d %s\n' % (stamp, index * 97, template.format(n=second % 1000 + index)))
        if template.startswith('ERROR'):
            lines.append(STACK)
    if with_problem:
        lines.append('%s%03d %s\n' % (stamp, 990, PROBLEM))
    return ''.join(lines)


def measure_isolated(argv, env=None):
    """Run measure() in a fresh helper process so ru_maxrss is this child's own peak, not the run's maximum."""
    helper = ("import json,resource,subprocess,sys,time\n"
              "t=time.perf_counter();p=subprocess.run(json.loads(sys.argv[1]),capture_output=True)\n"
              "e=time.perf_counter()-t;r=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024.0\n"
              "sys.stdout.write(json.dumps({'rc':p.returncode,'t':e,'rss':r,'out':p.stdout.decode('utf-8','replace'),"
              "'err':p.stderr.decode('utf-8','replace')[-2000:]}))\n")
    result = subprocess.run([sys.executable, '-c', helper, json.dumps(argv)], capture_output=True, env=env, check=True)
    data = json.loads(result.stdout)
    return data


def run_module(workdir, env, path, since=None, codes=('ClusterNodeIsNotBackup',)):
    args = {'paths': [path]}
    if codes:
        args['codes'] = list(codes)
    if since:
        args['since'] = since
    args_file = os.path.join(workdir, 'args.json')
    with open(args_file, 'w') as stream:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, stream)
    data = measure_isolated([sys.executable, MODULE, args_file], env)
    if data['rc'] != 0:
        raise SystemExit('log_scan failed on %s: %s %s' % (path, data['out'][-2000:], data['err']))
    result = json.loads(data['out'])
    findings = result['findings']
    count = findings[0]['count'] if findings else 0
    return {'seconds': data['t'], 'rss': data['rss'], 'count': count, 'bytes_read': result['bytes_read']}


def run_grep(path):
    env = dict(os.environ, LC_ALL='C')
    data = measure_isolated(['grep', '-c', 'ClusterNodeIsNotBackup', path], env)
    return {'seconds': data['t'], 'rss': data['rss'], 'count': int(data['out'].strip() or 0),
            'bytes_read': os.path.getsize(path)}


def best_of(function, repeat):
    runs = [function() for _attempt in range(repeat)]
    return min(runs, key=lambda r: r['seconds'])


def collection_env(workdir):
    """PYTHONPATH with ansible_collections/jobscheduler/js7 -> this tree, as Ansible's module packaging gives."""
    root = os.path.join(workdir, 'collections')
    os.makedirs(os.path.join(root, 'ansible_collections', 'jobscheduler'))
    os.symlink(ROOT, os.path.join(root, 'ansible_collections', 'jobscheduler', 'js7'))
    return dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''))


def mib(value):
    return '%.1f' % (value / 1024.0 / 1024.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--big-mb', type=int, default=1024)
    parser.add_argument('--small-mb', type=int, default=10)
    parser.add_argument('--repeat', type=int, default=3, help='best of N runs per measurement')
    parser.add_argument('--keep', help='generate into this directory and keep it')
    parser.add_argument('--no-docs', action='store_true', help='do not update docs/benchmarks.md')
    options = parser.parse_args()

    workdir = options.keep or tempfile.mkdtemp(prefix='bench-log_scan-')
    os.makedirs(workdir, exist_ok=True)
    try:
        env = collection_env(workdir) if not os.path.exists(os.path.join(workdir, 'collections')) else \
            dict(os.environ, PYTHONPATH=os.path.join(workdir, 'collections'))
        end = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
        files = {}
        for label, megabytes in (('big', options.big_mb), ('small', options.small_mb)):
            path = os.path.join(workdir, label, 'controller.log')
            os.makedirs(os.path.dirname(path), exist_ok=True)
            started = time.perf_counter()
            first, last, problems, lookalikes = generate(path, megabytes, end)
            files[label] = {'path': path, 'size': os.path.getsize(path), 'first': first, 'last': last,
                            'problems': problems, 'lookalikes': lookalikes}
            sys.stderr.write('generated %s (%s MiB, %s .. %s) in %.1fs\n' % (
                path, mib(files[label]['size']), first, last, time.perf_counter() - started))
        rows = []
        results = {}
        # What a module run costs before it reads a byte (Python start, ansible imports, args parsing).
        empty = os.path.join(workdir, 'empty', 'controller.log')
        os.makedirs(os.path.dirname(empty))
        open(empty, 'wb').close()
        startup = best_of(lambda: run_module(workdir, env, empty), options.repeat)
        for label in ('big', 'small'):
            path = files[label]['path']
            # The last hour of each file: the same amount of text in both (same rate).
            since = (files[label]['last'] - datetime.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S')
            grep = best_of(lambda: run_grep(path), options.repeat)
            full = best_of(lambda: run_module(workdir, env, path), options.repeat)
            catalogue = best_of(lambda: run_module(workdir, env, path, codes=None), options.repeat)
            window = best_of(lambda: run_module(workdir, env, path, since=since), options.repeat)
            expected_window = 3600 // PROBLEM_EVERY_SECONDS
            spans_an_hour = files[label]['last'] - files[label]['first'] > datetime.timedelta(hours=1)
            if spans_an_hour and abs(window['count'] - expected_window) > 1:
                raise SystemExit('log_scan since=%s counted %d, expected %d'
                                 % (since, window['count'], expected_window))
            if full['count'] != files[label]['problems']:
                raise SystemExit('log_scan counted %d, the generator wrote %d problem lines in %s'
                                 % (full['count'], files[label]['problems'], path))
            if grep['count'] != files[label]['problems'] + files[label]['lookalikes']:
                raise SystemExit('grep counted %d lines, expected %d' % (
                    grep['count'], files[label]['problems'] + files[label]['lookalikes']))
            if catalogue['count'] != full['count']:
                raise SystemExit('the full catalogue counted %d ClusterNodeIsNotBackup, one code %d'
                                 % (catalogue['count'], full['count']))
            results[label] = {'grep': grep, 'full': full, 'catalogue': catalogue, 'window': window}

        big, small = results['big'], results['small']
        size_big, size_small = mib(files['big']['size']), mib(files['small']['size'])
        rows.append(('`grep -c ClusterNodeIsNotBackup`, whole file', big['grep'], small['grep']))
        rows.append(('log_scan `codes: [ClusterNodeIsNotBackup]`, whole file', big['full'], small['full']))
        rows.append(('log_scan, whole catalogue, whole file', big['catalogue'], small['catalogue']))
        rows.append(('log_scan, `since` = last hour', big['window'], small['window']))
        lines = [
            '| measurement | %s MiB: time | bytes read | peak RSS | count | %s MiB: time | bytes read | peak RSS | count |'
            % (size_big, size_small),
            '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
        ]
        for title, on_big, on_small in rows:
            lines.append('| %s | %.2f s | %s MiB | %.0f MiB | %d | %.3f s | %s MiB | %.0f MiB | %d |' % (
                title, on_big['seconds'], mib(on_big['bytes_read']), on_big['rss'], on_big['count'],
                on_small['seconds'], mib(on_small['bytes_read']), on_small['rss'], on_small['count']))
        ratio_grep_big = big['full']['seconds'] / big['grep']['seconds']
        ratio_catalogue_big = big['catalogue']['seconds'] / big['grep']['seconds']
        ratio_grep_small = small['full']['seconds'] / small['grep']['seconds']
        ratio_since = big['window']['seconds'] / small['window']['seconds']
        ratio_since_bytes = float(big['window']['bytes_read']) / small['window']['bytes_read']
        ratio_full = big['full']['seconds'] / small['full']['seconds']
        summary = [
            '',
            '| ratio | value |',
            '|---|---:|',
            '| log_scan / grep -c, whole %s MiB file (time) | %.1f |' % (size_big, ratio_grep_big),
            '| log_scan / grep -c, whole %s MiB file (time) | %.1f |' % (size_small, ratio_grep_small),
            '| log_scan whole catalogue / grep -c, whole %s MiB file (time) | %.1f |'
            % (size_big, ratio_catalogue_big),
            '| `since` last hour: %s MiB / %s MiB file (time) | %.2f |' % (size_big, size_small, ratio_since),
            '| `since` last hour: %s MiB / %s MiB file (bytes read) | %.2f |'
            % (size_big, size_small, ratio_since_bytes),
            '| whole file: %s MiB / %s MiB (time), for contrast | %.0f |' % (size_big, size_small, ratio_full),
        ]
        summary.append('| module start-up (empty file), included in every log_scan time above | %.2f s |'
                       % startup['seconds'])
        table = '\n'.join(lines + summary)
        host = '%s, Python %s, %d CPU, grep: `%s`' % (
            os.uname().sysname + ' ' + os.uname().release, sys.version.split()[0], os.cpu_count() or 0,
            subprocess.run(['grep', '--version'], capture_output=True, text=True, check=False).stdout.splitlines()[0])
        notes = ('Generated logs: %d lines/s in the real format (E§4.2) with stack traces, the 2.5 '
                 'ClusterStartBackupNode WARN every %d s during the last %d h, and one look-alike line per hour '
                 '(grep counts it, log_scan does not). Best of %d runs each; files in the page cache (warm). '
                 'log_scan runs as a separate process executing the module with an args file, like Ansible; '
                 'peak RSS is that process\'s. Measured %s on %s.'
                 % (LINES_PER_SECOND, PROBLEM_EVERY_SECONDS, PROBLEM_HOURS, options.repeat,
                    datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), host))
        print(table)
        print()
        print(notes)
        if not options.no_docs:
            update_docs(table, notes)
    finally:
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def update_docs(table, notes):
    section = '\n'.join([
        BEGIN,
        '## log_scan',
        '',
        'Produced by `bench/log_scan/run` (`make bench`); do not edit by hand between the markers.',
        '',
        table,
        '',
        notes,
        END,
    ])
    if os.path.exists(DOC):
        with open(DOC, encoding='utf-8') as stream:
            text = stream.read()
    else:
        text = '# Benchmarks\n\nEach section is written by its benchmark under `bench/` (`make bench`).\n'
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip('\n') + '\n\n' + section + '\n'
    with open(DOC, 'w', encoding='utf-8') as stream:
        stream.write(text)


if __name__ == '__main__':
    main()
