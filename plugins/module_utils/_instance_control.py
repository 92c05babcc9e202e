# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The logic of the ``jobscheduler.js7.instance`` module: bring an instance to a state.

Private to the collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.jobscheduler.js7.plugins.module_utils._js7_paths import (
    INSTANCE_LOCATION_ARGUMENT_SPEC,
    HttpPortError,
    InstanceLocation,
)
from ansible_collections.jobscheduler.js7.plugins.module_utils._process import inspect_instance, process_alive, read_pid_file
from ansible_collections.jobscheduler.js7.plugins.module_utils._readiness import first_answer, probe_urls
from ansible_collections.jobscheduler.js7.plugins.module_utils._service import (
    SCRIPT_COMMANDS,
    ServiceError,
    exec_stop_fails_over,
    run_script,
    run_systemctl,
    systemd_booted,
    unit_active,
    unit_exists,
    unit_properties,
)

LOG_TAIL_LINES = 20

# Polling of the local process and port: there is no event for "a process has started".
# Short first (a stop often completes within a second), growing to at most one second.
POLL_FIRST = 0.1
POLL_FACTOR = 1.5
POLL_MAX = 1.0


def instance_argument_spec():
    spec = dict(INSTANCE_LOCATION_ARGUMENT_SPEC)
    spec.update(
        state=dict(type='str', default='started', choices=['started', 'stopped', 'restarted', 'aborted']),
        method=dict(type='str', default='auto', choices=['auto', 'systemd', 'script']),
        home=dict(type='path'),
        service_name=dict(type='str'),
        script=dict(type='path'),
        http_url=dict(type='str'),
        wait=dict(type='bool', default=True),
        timeout=dict(type='int', default=120),
        fail_over=dict(type='bool', default=False),
    )
    return spec


def tail_lines(path, since=0, count=LOG_TAIL_LINES, max_bytes=256 * 1024):
    """The last ``count`` lines of ``path`` written after byte offset ``since``.

    If nothing was written since (or the file was rotated and is shorter), the file's last lines.
    """
    try:
        size = os.path.getsize(path)
        with open(path, 'rb') as handle:
            start = since if 0 <= since < size else 0
            start = max(start, size - max_bytes)
            handle.seek(start)
            data = handle.read()
    except (IOError, OSError):
        return []
    lines = data.decode('utf-8', 'replace').splitlines()
    if start > 0 and start != since and lines:
        lines = lines[1:]  # the first line is probably cut
    return lines[-count:]


def _file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class InstanceFailure(Exception):
    def __init__(self, msg, **extra):
        super(InstanceFailure, self).__init__(msg)
        self.msg = msg
        self.extra = extra


class InstanceControl:
    """Brings one instance to ``state``; ``run()`` returns the module result."""

    def __init__(self, module, clock=time.monotonic, sleep=time.sleep, wallclock=time.time):
        self.module = module
        self.params = module.params
        self.clock = clock
        self.sleep = sleep
        self.wallclock = wallclock
        self.started_at = clock()
        self.deadline = self.started_at + max(self.params['timeout'], 0)
        self.location = InstanceLocation.from_params(self.params)
        self.commands = []
        self.script_stderr = ''
        self.log_offset = _file_size(self.location.log_file)
        self.method = None
        self.unit = None
        self.unit_props = {}

    # --- helpers -------------------------------------------------------------------------
    def remaining(self):
        return max(self.deadline - self.clock(), 0.0)

    def elapsed(self):
        return round(self.clock() - self.started_at, 3)

    def inspect(self, acquire_lock=False):
        return inspect_instance(self.location, acquire_lock=acquire_lock)

    def fail(self, msg, status=None, with_logs=True, **extra):
        result = dict(extra)
        if with_logs:
            lines = tail_lines(self.location.log_file, self.log_offset)
            result['log_tail'] = lines
            if lines:
                msg += '\nLast lines of %s:\n%s' % (self.location.log_file, '\n'.join(lines))
            if self.script_stderr.strip():
                err_lines = self.script_stderr.strip().splitlines()[-LOG_TAIL_LINES:]
                result['script_stderr'] = err_lines
                msg += '\nInstance script stderr:\n%s' % '\n'.join(err_lines)
        if status is None:
            status = self.inspect()
        result.update(self.summary(status, ready=False))
        raise InstanceFailure(msg, **result)

    def summary(self, status, ready):
        return dict(
            pid=status.pid,
            running=bool(status.running),
            ready=bool(ready),
            method=self.method,
            elapsed=self.elapsed(),
            commands=list(self.commands),
        )

    def poll_intervals(self):
        interval = POLL_FIRST
        while True:
            yield interval
            interval = min(interval * POLL_FACTOR, POLL_MAX)

    # --- method --------------------------------------------------------------------------
    def choose_method(self, status):
        requested = self.params['method']
        self.unit = self.params['service_name'] or self.location.default_service_name
        if not self.unit.endswith('.service') and '.' not in self.unit:
            self.unit += '.service'  # like the installer's --service-name (js7-engine.md §6.4)
        if requested == 'script':
            self.method = 'script'
            return
        systemctl = self.module.get_bin_path('systemctl')
        booted = systemd_booted()
        if requested == 'systemd' and (not booted or not systemctl):
            self.method = 'systemd'
            self.fail('method=systemd but systemd is not usable on this host (%s missing). Use method=script or method=auto.'
                      % ('systemctl' if booted else '/run/systemd/system'), status=status, with_logs=False)
        if not booted or not systemctl:
            self.method = 'script'
            return
        try:
            self.unit_props = unit_properties(self.module, systemctl, self.unit)
        except ServiceError as exc:
            if requested == 'systemd':
                self.method = 'systemd'
                self.fail(str(exc), status=status, with_logs=False)
            self.module.warn('%s; using the instance script' % exc)
            self.method = 'script'
            return
        if not unit_exists(self.unit_props):
            if requested == 'systemd':
                self.method = 'systemd'
                self.fail('systemd unit %s does not exist (LoadState=%s). Set service_name, or use method=script.'
                          % (self.unit, self.unit_props.get('LoadState')), status=status, with_logs=False)
            self.method = 'script'
            return
        self.method = 'systemd'
        self.systemctl = systemctl

    def use_script_for_foreign_process(self, status):
        """The instance runs but its unit is inactive: it was started by the script, outside
        systemd, and `systemctl stop` would do nothing. auto falls back to the script."""
        if self.method != 'systemd' or not status.running or unit_active(self.unit_props):
            return
        if self.params['method'] == 'auto':
            self.module.warn('%s runs (PID %s) but systemd unit %s is %s: it was started outside systemd; '
                             'using the instance script to stop it.'
                             % (self.location.title, status.pid, self.unit, self.unit_props.get('ActiveState')))
            self.method = 'script'
        else:
            self.fail('%s runs (PID %s) but systemd unit %s is %s: it was started outside systemd and systemctl cannot '
                      'stop it. Use method=script (or method=auto).'
                      % (self.location.title, status.pid, self.unit, self.unit_props.get('ActiveState')), status=status, with_logs=False)

    def check_systemd_fail_over(self, status):
        """systemd stops through the unit's ExecStop; refuse when it would not do what fail_over asks."""
        if self.method != 'systemd':
            return
        fails_over = exec_stop_fails_over(self.unit_props)
        if fails_over is None:
            return
        wanted = self.params['fail_over']
        if fails_over and not wanted:
            self.fail('systemd unit %s stops with --fail-over (its ExecStop), which hands the active role to the other cluster node; '
                      'fail_over is false. Use method=script to stop without fail-over, or set fail_over=true.' % self.unit,
                      status=status, with_logs=False)
        if wanted and not fails_over:
            self.fail('fail_over=true but systemd unit %s stops without --fail-over (its ExecStop). '
                      'Use method=script to stop with fail-over.' % self.unit, status=status, with_logs=False)

    def check_script(self, status):
        script = self.params['script'] or self.location.default_script
        self.script = script
        if self.method != 'script':
            return
        if not os.path.isfile(script):
            self.fail('instance script %s not found. Set home (the installation directory) or script.' % script,
                      status=status, with_logs=False)
        if not os.access(script, os.X_OK):
            self.fail('instance script %s is not executable by this user (uid %d). Run as the JS7 user (become_user) or fix its mode.'
                      % (script, os.getuid()), status=status, with_logs=False)

    # --- actions -------------------------------------------------------------------------
    def command_for(self, action):
        if self.method == 'systemd':
            verb = {'start': 'start', 'stop': 'stop', 'restart': 'restart', 'abort': 'kill'}[action]
            extra = ['--signal=SIGKILL'] if action == 'abort' else []
            return [self.module.get_bin_path('systemctl') or 'systemctl', '--no-ask-password', verb] + extra + ['--', self.unit]
        if action == 'stop' and self.params['fail_over']:
            action = 'stop_fail_over'
        return [self.script] + SCRIPT_COMMANDS[action]

    def execute(self, action, status):
        cmd = self.command_for(action)
        self.commands.append(cmd)
        if self.method == 'systemd':
            verb = cmd[2]
            extra = ['--signal=SIGKILL'] if action == 'abort' else []
            cmd, rc, out, err = run_systemctl(self.module, self.systemctl, verb, self.unit, extra)
            if rc != 0:
                self.script_stderr = err or out
                self.fail('systemctl %s %s failed (rc=%s): %s' % (verb, self.unit, rc, (err or out).strip()), status=None)
            return
        try:
            rc, out, err = run_script(cmd, self.remaining())
        except ServiceError as exc:
            self.fail(str(exc), status=status, with_logs=False)
        self.script_stderr = err
        if rc is None:
            self.fail('%s did not finish within timeout=%ss' % (' '.join(cmd), self.params['timeout']))
        if rc != 0:
            detail = ': %s' % err.strip().splitlines()[-1] if err.strip() else ''
            if action == 'start':
                self.fail('%s did not start: %s failed (rc=%s)%s' % (self.location.title, ' '.join(cmd), rc, detail))
            # A stop or cancel that reports an error may still have ended the engine: the process decides.
            after = self.inspect()
            if after.running:
                self.fail('%s failed (rc=%s)%s' % (' '.join(cmd), rc, detail), status=after)
            self.module.warn('%s returned rc=%s%s; the instance is not running any more.' % (' '.join(cmd), rc, detail))

    def wait_ready(self, old_pid, start_mark):
        """Until the (new) process answers HTTP; fail when it dies or the timeout passes."""
        seen_pid = None
        last_detail = None
        intervals = self.poll_intervals()
        while True:
            status = self.inspect()
            if status.running and (old_pid is None or status.pid != old_pid):
                seen_pid = status.pid or seen_pid
                urls = probe_urls(self.location, status.argv, self.params['http_url'])
                url, detail = first_answer(urls, timeout=max(min(2.0, self.remaining()), 0.2))
                if url:
                    return status, url, detail
                last_detail = '%s: %s' % (', '.join(urls), detail)
            elif not status.running and (seen_pid is not None or self.exited_since(start_mark)):
                self.fail('%s did not come up: its process%s ended during start-up.'
                          % (self.location.title, ' %s' % (seen_pid or self.exited_pid or '')), status=status)
            if self.remaining() <= 0:
                if status.running:
                    self.fail('%s runs (PID %s) but its HTTP API did not answer within timeout=%ss (%s).'
                              % (self.location.title, status.pid, self.params['timeout'], last_detail), status=status)
                self.fail('%s did not start within timeout=%ss: no process found for it.'
                          % (self.location.title, self.params['timeout']), status=status)
            self.sleep(min(next(intervals), self.remaining()))

    exited_pid = None

    # PIDs the lock file and the PID file held before `start`: a stale one is not the new process.
    pids_before_start = ()

    def exited_since(self, mark):
        """The engine (lock file) or the script (PID file) wrote a PID after ``mark`` and that
        process is gone: the instance was started and ended again."""
        for path in (self.location.lock_file, self.location.pid_file):
            mtime = _mtime(path)
            if mtime is None or mtime < mark:
                continue
            pid = read_pid_file(path)
            if pid in self.pids_before_start:
                # Written just before the start (mtime resolution is coarse) or not rewritten yet.
                continue
            if pid and not process_alive(pid):
                self.exited_pid = pid
                return True
        return False

    def wait_gone(self, what):
        intervals = self.poll_intervals()
        while True:
            status = self.inspect()
            if not status.running:
                return status
            if self.remaining() <= 0:
                hint = ' To kill it, use state=aborted (an active cluster node then fails over).' if what == 'stop' else ''
                self.fail('%s still runs (PID %s) %ss after it was asked to %s.%s'
                          % (self.location.title, status.pid, self.params['timeout'], what, hint), status=status)
            self.sleep(min(next(intervals), self.remaining()))

    def start(self, status, old_pid=None):
        self.pids_before_start = tuple(read_pid_file(path) for path in (self.location.lock_file, self.location.pid_file))
        mark = self.wallclock() - 0.01
        self.execute('start', status)
        if self.params['wait']:
            return self.wait_ready(old_pid, mark)
        return self.inspect(), None, None

    # --- main ----------------------------------------------------------------------------
    def run(self):
        state = self.params['state']
        check = self.module.check_mode
        status = self.inspect()
        self.choose_method(status)
        self.check_script(status)
        if state in ('stopped', 'restarted', 'aborted'):
            self.use_script_for_foreign_process(status)
            if state != 'aborted' and status.running:
                self.check_systemd_fail_over(status)
            if self.method == 'script':
                self.check_script(status)

        changed = False
        ready_url = http_status = None
        if state == 'started':
            if not status.running:
                changed = True
                if check:
                    self.commands.append(self.command_for('start'))
                else:
                    status, ready_url, http_status = self.start(status)
            elif self.params['wait'] and not check:
                status, ready_url, http_status = self.wait_ready(None, self.wallclock())
            else:
                ready_url, http_status = first_answer(probe_urls(self.location, status.argv, self.params['http_url']))
        elif state in ('stopped', 'aborted'):
            action = 'stop' if state == 'stopped' else 'abort'
            if status.running:
                changed = True
                if check:
                    self.commands.append(self.command_for(action))
                else:
                    self.execute(action, status)
                    if self.params['wait']:
                        status = self.wait_gone(action)
                    else:
                        status = self.inspect()
        else:  # restarted
            changed = True
            old_pid = status.pid if status.running else None
            if check:
                if self.method == 'systemd':
                    self.commands.append(self.command_for('restart'))
                else:
                    if status.running:
                        self.commands.append(self.command_for('stop'))
                    self.commands.append(self.command_for('start'))
            elif self.method == 'systemd':
                mark = self.wallclock() - 0.01
                self.execute('restart', status)
                if self.params['wait']:
                    status, ready_url, http_status = self.wait_ready(old_pid, mark)
                else:
                    status = self.inspect()
            else:
                if status.running:
                    # Stop first (without fail-over unless asked) and wait for the lock to be free
                    # whatever `wait` says: a start meeting the old engine's lock fails (js7-engine.md §2.1).
                    self.execute('stop', status)
                    status = self.wait_gone('stop')
                status, ready_url, http_status = self.start(status, old_pid)

        result = dict(changed=changed, state=state)
        result.update(self.summary(status, ready=bool(ready_url)))
        result['api_url'] = ready_url
        result['http_status'] = http_status if ready_url else None
        if self.method == 'systemd':
            result['service_name'] = self.unit
        else:
            result['script'] = self.script
        return result


def run_module(module):
    try:
        control = InstanceControl(module)
    except (HttpPortError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    try:
        result = control.run()
    except InstanceFailure as exc:
        module.fail_json(msg=exc.msg, **exc.extra)
    module.exit_json(**result)
