"""Shared helpers: lab settings (lab.json), time scaling, timeline, JSON, durations, booleans."""
from __future__ import annotations

import datetime
import json
import os
import re
import socket
import threading
import time

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

_BOOL_WORDS = {"yes": True, "on": True, "true": True, "no": False, "off": False, "false": False}


def dumps(obj) -> str:
    """Compact JSON as JS7 prints it (CirceUtils.CompactPrinter drops nulls; callers omit them)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def parse_bool(value, default=False) -> bool:
    """HOCON booleans: yes/no, on/off, true/false are all accepted (E§1.1)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _BOOL_WORDS:
        return _BOOL_WORDS[word]
    raise ValueError("Not a boolean: %r (expected yes/no, on/off or true/false)" % (value,))


_DURATION_UNITS = {
    "ms": 0.001, "milli": 0.001, "millis": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}


def parse_duration(value, default=None):
    """A Typesafe-config duration in seconds (float). A bare number means milliseconds."""
    if value is None:
        return default
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value) / 1000.0
    text = str(value).strip()
    match = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]*)", text)
    if not match:
        raise ValueError("Not a duration: %r" % (value,))
    number, unit = float(match.group(1)), match.group(2).lower()
    if not unit:
        return number / 1000.0
    if unit not in _DURATION_UNITS:
        raise ValueError("Unknown duration unit in %r" % (value,))
    return number * _DURATION_UNITS[unit]


def format_duration(seconds: float) -> str:
    """Scala FiniteDuration-like pretty form used in log lines (3s, 500ms)."""
    if seconds >= 1 and float(seconds).is_integer():
        return "%ds" % seconds
    if seconds >= 1:
        return "%.3gs" % seconds
    return "%dms" % round(seconds * 1000)


def version_tuple(version: str):
    parts = []
    for piece in re.split(r"[.\-]", version):
        if piece.isdigit():
            parts.append(int(piece))
        else:
            break
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts[:3])


def now_ms() -> int:
    return int(time.time() * 1000)


class EventIdGenerator:
    """EventIds are microseconds since the epoch, strictly increasing (E§3.8, EventId.scala)."""

    def __init__(self, last=0):
        self.last = last
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            candidate = int(time.time() * 1_000_000)
            self.last = max(candidate, self.last + 1)
            return self.last


class LabSettings:
    """lab.json beside the installed package: version, time scale, timeline and host label."""

    def __init__(self, data: dict):
        self.version = str(data.get("version", "2.7.1"))
        self.version_tuple = version_tuple(self.version)
        self.time_scale = float(data.get("time_scale", 0.2))
        self.timeline = data.get("timeline")
        self.python = data.get("python")
        self.host = data.get("host") or socket.gethostname()
        self.debug_log = bool(data.get("debug_log", True))
        self.build_id = data.get("build_id", "lab-" + self.version)
        self._timeline_lock = threading.Lock()

    @classmethod
    def load(cls, directory=PACKAGE_DIR):
        path = os.path.join(directory, "lab.json")
        data = {}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        return cls(data)

    # Version predicates (E§1.2, §4.3, §5.1)
    @property
    def legacy_watch(self) -> bool:
        """≤ 2.5: an Agent is the Cluster Watch."""
        return self.version_tuple < (2, 6, 0)

    @property
    def wording(self) -> str:
        if self.version_tuple < (2, 6, 0):
            return "2.5"
        if self.version_tuple < (2, 7, 0):
            return "2.6"
        return "2.7"

    def scale(self, seconds: float) -> float:
        """Real JS7 delays multiplied by the lab's time scale (DESIGN.md 'Timing')."""
        return seconds * self.time_scale

    def timeline_event(self, component: str, event: str, **fields):
        """Append one JSON line to the lab timeline (DESIGN.md 'Timing and the timeline')."""
        if not self.timeline:
            return
        record = {"ts": time.time(), "host": self.host, "component": component, "event": event}
        record.update(fields)
        line = dumps(record) + "\n"
        with self._timeline_lock:
            try:
                fd = os.open(self.timeline, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line.encode("utf-8"))
                finally:
                    os.close(fd)
            except OSError:
                pass


def parse_host_port(spec: str, default_host="0.0.0.0"):
    """`[iface:]port` as the engine's --http-port accepts it (E§1.5)."""
    if spec.startswith("["):
        host, _ignored, port = spec[1:].partition("]:")
        return host, int(port)
    if ":" in spec:
        host, port = spec.rsplit(":", 1)
        return host or default_host, int(port)
    return default_host, int(spec)
