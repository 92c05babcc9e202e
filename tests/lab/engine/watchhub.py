"""The Controller's side of the ≥ 2.6 Cluster Watch protocol (E§5.1, DESIGN.md 'Cluster Watch wiring').

A Cluster Watch (JOC) opens ``GET /controller/api/cluster/clusterWatchMessage`` on both nodes and
receives ClusterWatchRequests as NDJSON; it answers each with ClusterWatchConfirm.
"""
from __future__ import annotations

import queue
import threading
import time
import uuid

from .common import dumps


class WatchHub:
    def __init__(self, valid_duration):
        self.valid_duration = valid_duration  # clusterWatchHeartbeatValidDuration (scaled)
        self._lock = threading.Lock()
        self._streams = []  # (clusterWatchId, queue)
        self._pending = {}  # requestId -> [threading.Event, confirm or None]
        self._next_request_id = 1
        self._alive = {}  # clusterWatchId -> monotonic time of last confirmation

    def stream_count(self):
        with self._lock:
            return len(self._streams)

    def open_stream(self, watch_id, keep_alive, stopping, on_open=None):
        """Generator of NDJSON lines for one clusterWatchMessage request."""
        inbox = queue.Queue()
        with self._lock:
            self._streams.append((watch_id, inbox))

        def generate():
            try:
                if on_open:
                    on_open()
                while not stopping.is_set():
                    try:
                        request = inbox.get(timeout=keep_alive)
                    except queue.Empty:
                        yield b"\n"  # keep-alive line
                        continue
                    if request is None:
                        return
                    yield (dumps(request) + "\n").encode("utf-8")
            finally:
                with self._lock:
                    self._streams = [s for s in self._streams if s[1] is not inbox]
        return generate()

    def close_all(self):
        with self._lock:
            for _ignored, inbox in self._streams:
                inbox.put(None)

    def _broadcast(self, request):
        with self._lock:
            request["requestId"] = self._next_request_id
            self._next_request_id += 1
            request.setdefault("correlId", uuid.uuid4().hex[:12])
            targets = [inbox for _ignored, inbox in self._streams]
        for inbox in targets:
            inbox.put(request)
        return request["requestId"]

    def send(self, request):
        """Fire and forget (ClusterWatchCheckState heartbeats)."""
        return self._broadcast(dict(request))

    def ask(self, request, timeout):
        """Send a request and wait for its ClusterWatchConfirm; returns the confirm or None."""
        event = threading.Event()
        with self._lock:
            request_id = self._next_request_id
            self._pending[request_id] = [event, None]
        sent_id = self._broadcast(dict(request))
        if sent_id != request_id:  # another request slipped in; re-key the waiter
            with self._lock:
                self._pending[sent_id] = self._pending.pop(request_id)
        event.wait(timeout)
        with self._lock:
            entry = self._pending.pop(sent_id, None)
        return entry[1] if entry else None

    def confirm(self, command):
        with self._lock:
            if not command.get("problem"):
                self._alive[command.get("clusterWatchId")] = time.monotonic()
            entry = self._pending.get(command.get("requestId"))
            if entry:
                entry[1] = command
                entry[0].set()

    def is_alive(self, watch_id):
        with self._lock:
            seen = self._alive.get(watch_id)
        return seen is not None and time.monotonic() - seen < self.valid_duration
