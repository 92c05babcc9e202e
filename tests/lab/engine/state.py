"""ControllerState: what the journal holds (cluster state, orders, meta data) and its snapshot."""
from __future__ import annotations

import secrets

from .cluster import CLUSTER_EVENTS, EMPTY, apply_event
from .journal import iso


class ControllerState:
    def __init__(self, controller_id):
        self.controller_id = controller_id
        self.initially_started_at = None  # epoch ms
        self.cluster_state = dict(EMPTY)
        self.orders = {}
        self.event_id = 0
        self.total_event_count = 0
        self.total_running_time = 0.0
        self.generation = 0
        self.journal_id = None
        self.events = []  # stamped events of the current journal file (the event API serves these)
        self.torn_event_id = 0

    def apply(self, stamped):
        """Apply one Stamped event; raises cluster.ClusterStateError for an impossible transition."""
        kind = stamped["TYPE"]
        if kind in CLUSTER_EVENTS:
            body = {k: v for k, v in stamped.items() if k != "eventId"}
            self.cluster_state = apply_event(self.cluster_state, body)
        elif kind == "ControllerInitialized":
            self.initially_started_at = stamped.get("initiallyStartedAt")
        elif kind == "OrderAdded":
            self.orders[stamped["Key"]] = {
                "TYPE": "Order", "id": stamped["Key"],
                "workflowPosition": {"workflowId": stamped["workflowId"], "position": [0]},
                "state": {"TYPE": "Fresh"}, "arguments": stamped.get("arguments", {})}
        elif kind in ("OrderDeleted", "OrderCancelled"):
            self.orders.pop(stamped["Key"], None)
        self.event_id = stamped["eventId"]
        self.total_event_count += 1
        self.events.append(stamped)

    def load(self, parsed):
        """Recover from a parsed journal file: header, snapshot, events."""
        header = parsed.header or {}
        self.journal_id = header.get("journalId")
        self.total_event_count = header.get("totalEventCount", 0)
        self.total_running_time = float(header.get("totalRunningTime", 0))
        self.generation = header.get("generation", 0)
        self.event_id = header.get("eventId", 0)
        self.torn_event_id = self.event_id
        for obj in parsed.snapshot:
            kind = obj.get("TYPE")
            if kind == "ControllerMetaState":
                self.initially_started_at = obj.get("initiallyStartedAt")
            elif kind == "ClusterStateSnapshot":
                self.cluster_state = obj["clusterState"]
            elif kind == "Order":
                self.orders[obj["id"]] = obj
            elif kind == "SnapshotEventId":
                self.event_id = obj["eventId"]
        self.events = []
        for stamped in parsed.events:
            self.apply(stamped)

    def header(self, file_event_id, version, build_id, now_ms, running_time):
        if self.journal_id is None:
            self.journal_id = secrets.token_urlsafe(16)
        self.generation += 1
        return {
            "TYPE": "JS7.Journal", "journalId": self.journal_id, "eventId": file_event_id,
            "generation": self.generation, "totalEventCount": self.total_event_count,
            "totalRunningTime": round(running_time, 3), "timestamp": iso(now_ms),
            "initiallyStartedAt": iso(self.initially_started_at or now_ms), "version": "1",
            "js7Version": version, "buildId": build_id, "typeName": "ControllerState"}

    def snapshot(self):
        objects = [{"TYPE": "SnapshotEventId", "eventId": self.event_id}]
        if self.initially_started_at is not None:
            objects.append({"TYPE": "ControllerMetaState", "controllerId": self.controller_id,
                            "initiallyStartedAt": self.initially_started_at, "timezone": "Etc/UTC"})
        if self.cluster_state.get("TYPE") != "Empty":
            objects.append({"TYPE": "ClusterStateSnapshot", "clusterState": self.cluster_state})
        objects.extend(self.orders[key] for key in sorted(self.orders))
        return objects
