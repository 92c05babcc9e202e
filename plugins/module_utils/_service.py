# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Control a JS7 instance through systemd or its instance script.

Private to the collection (leading underscore): no compatibility promise.

js7-engine.md §6.2 (script commands and options), §6.4 (systemd units: ExecStart runs the
instance script with ``start``, ExecStop with ``stop`` or ``stop --fail-over``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import signal
import subprocess
import tempfile

# sd_booted(3): systemd is the running init when this directory exists.
SYSTEMD_RUN_DIR = '/run/systemd/system'

# Properties read with one `systemctl show` call.
UNIT_PROPERTIES = ('LoadState', 'ActiveState', 'SubState', 'MainPID', 'ExecStop', 'FragmentPath')

# Script commands per requested action (js7-engine.md §6.2). `cancel` is the kill path of
# current releases; it makes an active cluster node fail over.
SCRIPT_COMMANDS = {
    'start': ['start'],
    'stop': ['stop'],
    'stop_fail_over': ['stop', '--fail-over'],
    'abort': ['cancel'],
}


class ServiceError(Exception):
    """A failure with a message for the user."""


def systemd_booted(run_dir=SYSTEMD_RUN_DIR):
    return os.path.isdir(run_dir)


def unit_properties(module, systemctl, unit):
    """``systemctl show`` of ``unit`` as a dict (LoadState is ``not-found`` for a missing unit)."""
    cmd = [systemctl, 'show', '--property=' + ','.join(UNIT_PROPERTIES), '--', unit]
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        raise ServiceError('systemctl show %s failed (rc=%s): %s' % (unit, rc, (err or out).strip()))
    props = {}
    for line in out.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            props[key.strip()] = value.strip()
    return props


def unit_exists(props):
    return bool(props) and props.get('LoadState', 'not-found') not in ('', 'not-found')


def unit_active(props):
    return props.get('ActiveState') in ('active', 'activating', 'reloading', 'deactivating')


def exec_stop_fails_over(props):
    """True when the unit's ExecStop passes ``--fail-over`` / ``-f`` to the script (installer
    option ``--service-fail-over``, js7-engine.md §6.4); False when it does not; None if unknown."""
    value = props.get('ExecStop')
    if value is None:
        return None
    argvs = re.findall(r'argv\[\]=([^;]*)', value)
    if not argvs:
        argvs = [value] if value else []
    tokens = ' '.join(argvs).split()
    return '--fail-over' in tokens or '-f' in tokens


def run_systemctl(module, systemctl, verb, unit, extra=None):
    cmd = [systemctl, '--no-ask-password', verb] + list(extra or []) + ['--', unit]
    rc, out, err = module.run_command(cmd)
    return cmd, rc, out, err


def run_script(argv, timeout, env=None):
    """Run an instance script; returns ``(rc, stdout, stderr)``; rc is None after ``timeout``.

    Output goes to temporary files, not pipes: the script starts the engine in the background
    and the engine inherits the script's stdout/stderr, so reading pipes to their end would
    wait for the engine to stop. A script still running at the deadline is terminated (the
    engine it may have started is a different process and is left alone).

    The script runs in a session of its own: ansible-playbook's worker process is a process
    group leader and, when the strategy cleans up, signals its whole group (killpg). An
    engine started by `start` with `nohup ... &` stays in the script's group, so without a
    new session it would get that SIGTERM moments after the task ended and shut down.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True, env=env,
                                    start_new_session=True)
        except OSError as exc:
            raise ServiceError('cannot run %s: %s' % (argv[0], exc.strerror or exc))
        try:
            rc = proc.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            rc = None
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        return rc, out.read().decode('utf-8', 'replace'), err.read().decode('utf-8', 'replace')
