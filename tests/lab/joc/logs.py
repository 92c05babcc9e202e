"""joc.log writer and lab timeline for the simulated JOC Cockpit.

Line format of joc.log (an ASSUMPTION, README.md fidelity table): the product's
log4j2 layout is not in the reference material; the lab uses the Controller's
ISO8601 layout (js7-engine.md §4.2) with the thread name in brackets:
``2024-01-27T00:00:08,669 ERROR [ClusterWatch-controller1] com.sos.joc.classes.proxy.ClusterWatch - ...``.
"""

import json
import os
import threading
import time

_LEVELS = {"DEBUG": "debug", "INFO": "info ", "WARN": "WARN ", "ERROR": "ERROR", "TRACE": "trace"}


def iso_timestamp(epoch=None):
    """log4j %d{ISO8601}: local time, 'T', comma before the milliseconds, no zone."""
    if epoch is None:
        epoch = time.time()
    millis = int((epoch - int(epoch)) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(epoch)) + ",%03d" % millis


class JocLog:
    def __init__(self, path, host="joc", timeline=None):
        self.path = path
        self.host = host
        self.timeline_path = timeline
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(path), exist_ok=True)

    def log(self, level, logger, message, thread=None):
        line = "%s %s [%s] %s - %s\n" % (
            iso_timestamp(), _LEVELS[level], thread or threading.current_thread().name, logger, message)
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as stream:
                stream.write(line)

    def info(self, logger, message, **kw):
        self.log("INFO", logger, message, **kw)

    def warn(self, logger, message, **kw):
        self.log("WARN", logger, message, **kw)

    def error(self, logger, message, **kw):
        self.log("ERROR", logger, message, **kw)

    def debug(self, logger, message, **kw):
        self.log("DEBUG", logger, message, **kw)

    def timeline(self, event, **fields):
        """One JSON line per noteworthy event (DESIGN.md "Timing and the timeline")."""
        if not self.timeline_path:
            return
        record = {"ts": time.time(), "host": self.host, "component": "joc", "event": event}
        record.update(fields)
        line = json.dumps(record, sort_keys=True) + "\n"
        # O_APPEND writes of one short line are atomic between processes.
        fd = os.open(self.timeline_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
