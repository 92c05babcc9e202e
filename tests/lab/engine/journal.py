"""Journal files ``<prefix>--<EventId>.journal`` and the ``<prefix>-journal`` symlink (E§2.1).

One JSON per line: header, "-------SNAPSHOT-------", snapshot objects, "-------END OF SNAPSHOT-------",
"-------EVENTS-------", then Stamped events.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import threading

from .common import dumps

SNAPSHOT = '"-------SNAPSHOT-------"'
END_OF_SNAPSHOT = '"-------END OF SNAPSHOT-------"'
EVENTS = '"-------EVENTS-------"'
MARKERS = {'"TRANSACTION"', '"COMMIT"'}


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ParsedJournal:
    def __init__(self):
        self.header = None
        self.snapshot = []
        self.events = []
        self.section = "header"
        self.last_event_id = 0

    def feed_line(self, line):
        """Consume one complete line; returns the stamped event if it was one."""
        line = line.strip()
        if not line:
            return None
        if self.section == "header":
            self.header = json.loads(line)
            self.last_event_id = self.header.get("eventId", 0)
            self.section = "before-snapshot"
            return None
        if line == SNAPSHOT:
            self.section = "snapshot"
            return None
        if line == END_OF_SNAPSHOT:
            self.section = "after-snapshot"
            return None
        if line == EVENTS:
            self.section = "events"
            return None
        if line in MARKERS:
            return None
        obj = json.loads(line)
        if self.section == "snapshot":
            self.snapshot.append(obj)
            return None
        if self.section == "events":
            self.events.append(obj)
            self.last_event_id = obj["eventId"]
            return obj
        return None


class JournalFiles:
    def __init__(self, state_dir, prefix):
        self.state_dir = state_dir
        self.prefix = prefix
        self.pattern = re.compile(r"^%s--(\d+)\.journal$" % re.escape(prefix))

    def path(self, file_event_id):
        return os.path.join(self.state_dir, "%s--%d.journal" % (self.prefix, file_event_id))

    @property
    def link(self):
        return os.path.join(self.state_dir, "%s-journal" % self.prefix)

    def list(self):
        result = []
        if os.path.isdir(self.state_dir):
            for name in os.listdir(self.state_dir):
                match = self.pattern.match(name)
                if match:
                    result.append((int(match.group(1)), os.path.join(self.state_dir, name)))
        return sorted(result)

    def current(self):
        files = self.list()
        return files[-1] if files else None

    def read(self, path) -> ParsedJournal:
        parsed = ParsedJournal()
        with open(path, encoding="utf-8") as file:
            for line in file:
                if not line.endswith("\n"):
                    break  # an incomplete last line is ignored (crash while writing)
                parsed.feed_line(line)
        return parsed

    def update_link(self, file_event_id):
        """``<prefix>-journal`` -> the current file (name only, JournalFiles.updateSymbolicLink)."""
        tmp = self.link + ".tmp-link"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(os.path.basename(self.path(file_event_id)), tmp)
        os.replace(tmp, self.link)

    def delete_older_than(self, file_event_id):
        for event_id, path in self.list():
            if event_id < file_event_id:
                try:
                    os.unlink(path)
                except OSError:
                    pass


class JournalWriter:
    """Writes the current journal file; ``position`` is its size in bytes."""

    def __init__(self, files: JournalFiles, file_event_id, header=None, snapshot=None, append=False):
        self.files = files
        self.file_event_id = file_event_id
        self.path = files.path(file_event_id)
        self._lock = threading.Lock()
        if append:
            self.file = open(self.path, "ab")  # pylint: disable=consider-using-with
        else:
            self.file = open(self.path, "wb")  # pylint: disable=consider-using-with
            lines = [dumps(header), SNAPSHOT] + [dumps(obj) for obj in snapshot] + [END_OF_SNAPSHOT, EVENTS]
            self.file.write(("\n".join(lines) + "\n").encode("utf-8"))
            self.file.flush()
            os.fsync(self.file.fileno())
        files.update_link(file_event_id)
        self.position = self.file.tell()

    def append(self, stamped_events):
        with self._lock:
            data = "".join(dumps(event) + "\n" for event in stamped_events).encode("utf-8")
            self.file.write(data)
            self.file.flush()
            self.position = self.file.tell()

    def close(self):
        with self._lock:
            if self.file:
                self.file.flush()
                os.fsync(self.file.fileno())
                self.file.close()
                self.file = None


def read_from(path, position, max_bytes=4 * 1024 * 1024):
    """Bytes of a journal file from ``position`` up to the last complete line."""
    try:
        with open(path, "rb") as file:
            file.seek(position)
            data = file.read(max_bytes)
    except FileNotFoundError:
        return None
    cut = data.rfind(b"\n")
    return data[:cut + 1] if cut >= 0 else b""
