"""Log files in the product's log4j2 layout (E§4.1, E§4.2).

Main log ``<prefix>.log`` at info and above; debug log ``<prefix>-debug.log`` with everything
(the product ships it switched off — the lab enables it, an assumption listed in README).
Line format: ``%d{ISO8601} %-5level{INFO=info, DEBUG=debug, TRACE=trace} %logger - %message``.
"""
from __future__ import annotations

import datetime
import os
import platform
import sys
import threading

LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4}
_LEVEL_TEXT = {"trace": "trace", "debug": "debug", "info": "info ", "warn": "WARN ", "error": "ERROR"}


def _timezone():
    name = os.environ.get("JS7_CONTROLLER_TZ") or os.environ.get("JS7_AGENT_TZ") or "Etc/UTC"
    try:
        import zoneinfo  # noqa: PLC0415 - optional on minimal systems
        return zoneinfo.ZoneInfo(name)
    except Exception:  # pylint: disable=broad-except
        return datetime.timezone.utc


def timestamp(tz=None) -> str:
    """log4j ISO8601: ``2022-01-27T00:00:08,669`` (comma before millis, no zone)."""
    now = datetime.datetime.now(tz or datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S,") + "%03d" % (now.microsecond // 1000)


class LogWriter:
    def __init__(self, logs_dir, prefix, server_id, version, debug_log=True, stderr_level="error"):
        os.makedirs(logs_dir, exist_ok=True)
        self.tz = _timezone()
        self.main_path = os.path.join(logs_dir, prefix + ".log")
        self.debug_path = os.path.join(logs_dir, prefix + "-debug.log") if debug_log else None
        self._lock = threading.Lock()
        self._main = open(self.main_path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
        self._debug = open(self.debug_path, "a", encoding="utf-8") if self.debug_path else None  # pylint: disable=consider-using-with
        self.stderr_level = LEVELS[stderr_level]
        header = "%s Begin JS7 %s · %s · %s %s" % (timestamp(self.tz), server_id, version, platform.system(), platform.release())
        self._write_raw(header)

    def _write_raw(self, line, main=True):
        with self._lock:
            if main and self._main:
                self._main.write(line + "\n")
                self._main.flush()
            if self._debug:
                self._debug.write(line + "\n")
                self._debug.flush()

    def log(self, level, logger, message):
        line = "%s %s %s - %s" % (timestamp(self.tz), _LEVEL_TEXT[level], logger, message)
        self._write_raw(line, main=LEVELS[level] >= LEVELS["info"])
        if LEVELS[level] >= self.stderr_level:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def debug(self, logger, message):
        self.log("debug", logger, message)

    def info(self, logger, message):
        self.log("info", logger, message)

    def warn(self, logger, message):
        self.log("warn", logger, message)

    def error(self, logger, message):
        self.log("error", logger, message)

    def close(self):
        self._write_raw("%s End of logging" % timestamp(self.tz))
        with self._lock:
            for file in (self._main, self._debug):
                if file:
                    file.close()
            self._main = self._debug = None
