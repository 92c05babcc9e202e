"""Helpers for the unit tests of the instance and journal_reset modules.

- ``run_module(main, args, check_mode=False)`` runs a module's main() in-process with
  ansible-core's ``patch_module_args`` and returns its result dict (failed or not).
- ``FakeInstallation`` lays out a home and data directory with an instance script that starts a
  small stand-in engine: a real process with the engine's command-line shape, ``state/lock``
  (PID + flock), a log file and an HTTP port (js7-engine.md §2.1, §6.2, §6.3). It is much less than
  the lab (tests/lab) and exists so these tests run in a second without it; the integration tests
  run the lab's real instance scripts.
"""

from __future__ import annotations

import json
import os
import random
import socket
import stat
import sys
import textwrap
import time

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def run_module(main, args, check_mode=False, diff=False, monkeypatch=None):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True

    def exit_json(self, **kwargs):
        kwargs.setdefault('changed', False)
        kwargs['failed'] = False
        raise ModuleExit(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs['failed'] = True
        kwargs['msg'] = msg
        raise ModuleExit(kwargs)

    mp = monkeypatch or pytest.MonkeyPatch()
    mp.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    mp.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    warnings = []
    mp.setattr(basic.AnsibleModule, 'warn', lambda self, warning, **kw: warnings.append(warning))
    try:
        with patch_module_args(args):
            try:
                main()
            except ModuleExit as exc:
                exc.result['warnings'] = warnings
                # JSON round trip: what Ansible would see.
                return json.loads(json.dumps(exc.result))
    finally:
        if monkeypatch is None:
            mp.undo()
    raise AssertionError('the module returned without exit_json or fail_json')


ENGINE = textwrap.dedent('''
    """Stand-in engine: lock, PID, log, HTTP; behaviour from environment variables."""
    import fcntl, http.server, os, signal, sys, time
    args = dict(a.split("=", 1) for a in sys.argv[2:] if a.startswith("--") and "=" in a)
    data = args["--data-directory"]
    host, port = args["--http-port"].rsplit(":", 1)
    os.makedirs(os.path.join(data, "state"), exist_ok=True)
    log = open(os.path.join(data, "logs", "controller.log"), "a", buffering=1)
    fd = os.open(os.path.join(data, "state", "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.stderr.write("2025-01-01 Duplicate start of JS7\\n")
        sys.exit(1)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    log.write("2025-01-01T00:00:00,000 info  js7.controller.ControllerMain - Start pid=%d\\n" % os.getpid())
    if os.environ.get("FAKE_DIE"):
        time.sleep(float(os.environ.get("FAKE_DIE_AFTER", "0.3")))
        log.write("2025-01-01T00:00:01,000 error js7.controller.ControllerMain - %s\\n" % os.environ["FAKE_DIE"])
        sys.exit(1)
    status = int(os.environ.get("FAKE_STATUS", "200"))
    def term(*_):
        log.write("2025-01-01T00:00:02,000 info  js7.controller.ControllerMain - terminated\\n")
        os._exit(0)
    signal.signal(signal.SIGTERM, term)
    time.sleep(float(os.environ.get("FAKE_LISTEN_AFTER", "0")))
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")
        def log_message(self, *a):
            pass
    if os.environ.get("FAKE_NO_HTTP"):
        while True:
            time.sleep(1)
    http.server.HTTPServer((host, int(port)), H).serve_forever()
''')

# The script does not redirect the engine's output on purpose: the engine inherits the
# script's stdout/stderr, as with the product's script, and the module must not wait for them.
SCRIPT = textwrap.dedent('''\
    #!/bin/bash
    DATA={data}
    echo "$@" >> "$DATA/logs/script-calls"
    lockpid() {{ cat "$DATA/state/lock" 2>/dev/null; }}
    case "$1" in
      start)
        {python} {engine} js7.controller.ControllerMain --id=c1 --http-port={host}:{port} --data-directory="$DATA" &
        echo $! > "$DATA/logs/controller.pid"
        [ -n "$FAKE_START_RC" ] && {{ echo "start refused" >&2; exit "$FAKE_START_RC"; }}
        exit 0 ;;
      stop)
        pid=$(lockpid); [ -n "$FAKE_STOP_IGNORED" ] && exit 0
        kill -TERM "$pid" 2>/dev/null
        while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done; exit 0 ;;
      cancel)
        pid=$(lockpid); kill -KILL "$pid" 2>/dev/null
        while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done; exit 0 ;;
      *) echo "unknown command $1" >&2; exit 1 ;;
    esac
''')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def free_address():
    """A loopback address of its own and a free port on it.

    Every fake gets its own 127.66.x.y, so a port the kernel hands out here cannot be taken
    meanwhile by another test (or another test run on the machine) on 127.0.0.1.
    """
    host = '127.66.%d.%d' % (random.randint(0, 255), random.randint(1, 254))
    with socket.socket() as sock:
        sock.bind((host, 0))
        return host, sock.getsockname()[1]


class FakeInstallation:
    def __init__(self, tmp_path):
        self.home = tmp_path / 'home'
        self.data = tmp_path / 'data'
        (self.home / 'bin').mkdir(parents=True)
        for sub in ('state', 'logs', 'config', 'work'):
            (self.data / sub).mkdir(parents=True)
        (self.data / 'config' / 'controller.conf').write_text('js7.journal.cluster.node.is-backup = no\n')
        self.host, self.port = free_address()
        engine = tmp_path / 'engine.py'
        engine.write_text(ENGINE)
        self.script = self.home / 'bin' / 'controller_instance.sh'
        self.script.write_text(SCRIPT.format(data=self.data, python=sys.executable, engine=engine, host=self.host, port=self.port))
        self.script.chmod(self.script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def args(self, **extra):
        args = dict(component='controller', home=str(self.home), data_dir=str(self.data), controller_id='c1',
                    http_port='%s:%d' % (self.host, self.port), method='script', timeout=20)
        args.update(extra)
        return args

    def calls(self):
        path = self.data / 'logs' / 'script-calls'
        return path.read_text().splitlines() if path.exists() else []

    def lock_pid(self):
        try:
            return int((self.data / 'state' / 'lock').read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self):
        """Kill every engine this installation started (the script's PID file names each one,
        also one that has not written state/lock yet)."""
        pids = {self.lock_pid()}
        try:
            pids.add(int((self.data / 'logs' / 'controller.pid').read_text().strip()))
        except (OSError, ValueError):
            pass
        ours = ('--data-directory=%s' % self.data).encode()
        for pid in pids - {None}:
            # `$!` is written before the forked shell has exec'd python: for a moment the PID's
            # command line is still the script's. Wait for the exec rather than leak the engine.
            for _attempt in range(100):
                try:
                    with open('/proc/%d/cmdline' % pid, 'rb') as handle:
                        cmdline = handle.read()
                    if ours in cmdline:
                        os.kill(pid, 9)
                    elif str(self.script).encode() in cmdline:
                        time.sleep(0.02)
                        continue
                except OSError:
                    pass  # gone already
                break  # killed, gone, or not ours (any more): never kill a stranger
