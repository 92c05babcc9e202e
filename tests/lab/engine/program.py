"""What every engine process does at start (E§2.2): state/ and state/lock, work/ emptied, logs/."""
from __future__ import annotations

import argparse
import datetime
import fcntl
import os
import shutil
import signal
import sys
import threading
import time

from .common import LabSettings, parse_host_port
from .httpserver import WebServer, client_ssl_context, server_ssl_context
from .logwriter import LogWriter


class StartupFailure(Exception):
    """A start-up Problem: logged as ERROR, printed to stderr, exit code 1."""


def print_with_clock(message):
    """StartUp.printlnWithClock: ``<timestamp> <message>`` on stderr."""
    now = datetime.datetime.now().astimezone()
    sys.stderr.write("%s %s\n" % (now.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (now.microsecond // 1000)
                                  + now.strftime("%z"), message))
    sys.stderr.flush()


def parse_engine_args(argv):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--id")
    parser.add_argument("--http-port", action="append", default=[])
    parser.add_argument("--https-port", action="append", default=[])
    parser.add_argument("--data-directory", required=True)
    parser.add_argument("--config-directory")
    parser.add_argument("--logs-directory")
    parser.add_argument("--jetty-base")
    args, _unknown = parser.parse_known_args(argv)
    args.data_directory = os.path.abspath(args.data_directory)
    args.config_directory = os.path.abspath(args.config_directory or os.path.join(args.data_directory, "config"))
    args.logs_directory = os.path.abspath(args.logs_directory or os.path.join(args.data_directory, "logs"))
    return args


class Program:
    """Base of ControllerMain and AgentMain."""

    component = "program"
    log_prefix = "program"

    def __init__(self, argv, lab: LabSettings = None):
        self.args = parse_engine_args(argv)
        self.lab = lab or LabSettings.load()
        self.data_dir = self.args.data_directory
        self.config_dir = self.args.config_directory
        self.state_dir = os.path.join(self.data_dir, "state")
        self.work_dir = os.path.join(self.data_dir, "work")
        self.logs_dir = self.args.logs_directory
        self.log = None
        self.web = None
        self.config = None
        self.stopping = threading.Event()
        self.exit_code = 0
        self.started_at_ms = int(time.time() * 1000)
        self._lock_fd = None

    # -- E§2.2 steps
    def acquire_lock(self) -> bool:
        os.makedirs(self.state_dir, exist_ok=True)
        fd = os.open(os.path.join(self.state_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            print_with_clock("Duplicate start of JS7")
            return False
        self._lock_fd = fd
        return True

    def write_pid_into_lock(self):
        os.ftruncate(self._lock_fd, 0)
        os.lseek(self._lock_fd, 0, os.SEEK_SET)
        os.write(self._lock_fd, str(os.getpid()).encode())
        os.fsync(self._lock_fd)

    def clean_work_directory(self):
        """work/ is emptied at every start (JavaMainLockfileSupport.cleanWorkDirectory)."""
        os.makedirs(self.work_dir, exist_ok=True)
        for name in os.listdir(self.work_dir):
            path = os.path.join(self.work_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def start_logging(self, server_id):
        self.log = LogWriter(self.logs_dir, self.log_prefix, server_id, self.lab.version, self.lab.debug_log)

    def install_signal_handlers(self):
        def on_term(signum, _frame):
            self.log.info(self.main_logger, "Terminating due to signal %s" % signal.Signals(signum).name)
            threading.Thread(target=self.on_sigterm, daemon=True).start()
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)

    main_logger = "js7.program"

    def on_sigterm(self):
        self.stopping.set()

    # -- web
    def open_listeners(self, app, logger):
        self.web = WebServer(app, self.log, logger)
        self.listeners = []
        for spec in self.args.http_port:
            host, port = parse_host_port(spec)
            self.web.add_listener(host, port)
            self.listeners.append(("http", host, port))
        if self.args.https_port:
            context = server_ssl_context(self.config, self.config_dir, self.work_dir)
            for spec in self.args.https_port:
                host, port = parse_host_port(spec)
                self.web.add_listener(host, port, context)
                self.listeners.append(("https", host, port))
        self.web.start()

    def client_ssl(self):
        if not hasattr(self, "_client_ssl"):
            self._client_ssl = client_ssl_context(self.config, self.config_dir, self.work_dir)
        return self._client_ssl

    def own_uri(self, path_prefix):
        scheme, host, port = self.listeners[0]
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return "%s://%s:%d/%s" % (scheme, host, port, path_prefix)

    def write_work_files(self, path_prefix, session_token):
        """work/http-uri, work/session-token, work/secret-http-headers (E§2.1) — last start-up step,
        so the instance script can take the appearance of http-uri as 'up'."""
        def write(name, text, mode=0o600):
            tmp = os.path.join(self.work_dir, "." + name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w") as file:
                file.write(text)
            os.replace(tmp, os.path.join(self.work_dir, name))
        write("session-token", session_token + "\n")
        write("secret-http-headers", "x-js7-session: %s\n" % session_token)
        write("http-uri", self.own_uri(path_prefix) + "\n", 0o644)

    def close(self):
        if self.web:
            self.web.close()
        if self.log:
            self.log.close()
