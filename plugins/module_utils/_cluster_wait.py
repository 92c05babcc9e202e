# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting for a Controller cluster state, driven by the Controller's event stream.

js7-engine.md §3.8: read ``/controller/api/cluster`` (state and eventId), then long-poll
``/controller/api/event?return=ClusterEvent&after=<eventId>`` and apply each event to the
state (§3.7 transition table). When an event is not understood, or a long-poll window ends
without events, the state is read again, so a missed event costs one window, never the wait.
Only when the event API cannot be used at all does the waiter fall back to polling.
"""

from __future__ import annotations

import time

from ansible_collections.jobscheduler.js7.plugins.module_utils._controller_api import (
    TRANSIENT_PROBLEMS,
    ControllerProblem,
    problem_entry,
    read_node,
)
from ansible_collections.jobscheduler.js7.plugins.module_utils._http import JS7ApiError

CLUSTER_TYPES = ('Empty', 'NodesAppointed', 'PreparedToBeCoupled', 'Coupled', 'ActiveShutDown',
                 'PassiveLost', 'SwitchedOver', 'FailedOver')

# js7-engine.md §3.7: event -> (cluster TYPE after the event, TYPEs it may follow)
_DECOUPLED = ('NodesAppointed', 'PassiveLost', 'SwitchedOver', 'FailedOver', 'ActiveShutDown')
EVENT_TRANSITIONS = {
    'ClusterNodesAppointed': ('NodesAppointed', ('Empty',)),
    'ClusterCouplingPrepared': ('PreparedToBeCoupled', _DECOUPLED),
    'ClusterCoupled': ('Coupled', ('PreparedToBeCoupled',)),
    'ClusterPassiveLost': ('PassiveLost', ('Coupled',)),
    'ClusterSwitchedOver': ('SwitchedOver', ('Coupled',)),
    'ClusterFailedOver': ('FailedOver', ('Coupled',)),
    'ClusterActiveNodeShutDown': ('ActiveShutDown', ('Coupled',)),
    'ClusterActiveNodeRestarted': ('PassiveLost', ('ActiveShutDown',)),
}
# Events that leave the TYPE as it is (js7-engine.md §3.7).
EVENTS_KEEPING_TYPE = ('ClusterWatchRegistered', 'ClusterResetStarted', 'ClusterSettingUpdated')

MAX_EVENTS_RETURNED = 200


def normalize_cluster_type(value):
    """``Coupled`` or JOC's ``ClusterCoupled`` -> ``Coupled``; None when it is no cluster TYPE."""
    if value is None:
        return None
    value = str(value).strip()
    if value in CLUSTER_TYPES:
        return value
    if value.startswith('Cluster') and value[len('Cluster'):] in CLUSTER_TYPES:
        return value[len('Cluster'):]
    return None


def apply_cluster_event(cluster, event):
    """Apply one ClusterEvent to a describe_cluster() dict: ``(new_cluster, certain)``.

    ``certain`` is False when the event is unknown, does not fit the current TYPE, or changes
    the setting in a way only a re-read shows (the caller then reads ``/cluster`` again).
    """
    new = dict(cluster)
    new['event_id'] = event.get('eventId', new.get('event_id'))
    event_type = event.get('TYPE')
    if event_type in EVENT_TRANSITIONS:
        new_type, from_types = EVENT_TRANSITIONS[event_type]
        certain = cluster.get('type') in from_types
        new['type'] = new_type
        active = event.get('activatedId') or event.get('activeId')
        if active:
            new['active_id'] = active
            id_to_uri = new.get('id_to_uri') or {}
            new['active_uri'] = id_to_uri.get(active)
            others = [node_id for node_id in sorted(id_to_uri) if node_id != active]
            new['passive_id'] = others[0] if others else None
        if event_type == 'ClusterNodesAppointed':
            certain = False  # the event carries the whole setting; a re-read describes it properly
        return new, certain
    if event_type == 'ClusterWatchRegistered':
        new['cluster_watch_id'] = event.get('clusterWatchId')
        return new, True
    if event_type in EVENTS_KEEPING_TYPE:
        return new, event_type != 'ClusterSettingUpdated'
    return new, False


def _event_record(event):
    record = dict((k, v) for k, v in event.items() if k not in ('eventId', 'TYPE'))
    record['type'] = event.get('TYPE')
    record['event_id'] = event.get('eventId')
    if isinstance(event.get('eventId'), int) and event['eventId'] > 0:
        record['epoch_seconds'] = round(event['eventId'] / 1000000.0, 3)  # EventIds are epoch microseconds (§3.8)
    return record


class ClusterWaiter(object):
    """Wait until the node at ``api`` reports cluster TYPE ``target``.

    ``peer_api_factory(url)`` builds an API client for another node (fail-fast peer probe).
    ``clock``/``sleep`` are injectable for tests.
    """

    ACTIVE_WINDOW = 30      # longest long-poll on the active node: events end it at once
    PASSIVE_WINDOW = 5      # a passive node may not stream the active node's events (js7-engine.md §9.7)
    POLL_MIN = 0.5
    POLL_MAX = 5.0
    PEER_PROBE_EVERY = 2.0

    def __init__(self, api, target, timeout, fail_fast=False, peer_api_factory=None, peer_url=None,
                 clock=time.monotonic, sleep=time.sleep):
        self.api = api
        self.target = target
        self.timeout = timeout
        self.fail_fast = fail_fast
        self.peer_api_factory = peer_api_factory
        self.peer_url = peer_url
        self.clock = clock
        self.sleep = sleep
        self.events = []
        self.events_dropped = 0
        self.method = 'events'
        self.method_reason = None
        self.errors = []
        self.peer_probe = None
        self._last_peer_probe = None
        self._poll_delay = self.POLL_MIN

    # ---- reading ---------------------------------------------------------------------------
    def _read(self):
        """read_node() that treats an unreachable node as 'not yet' (it may be restarting)."""
        try:
            return read_node(self.api, with_overview=False)
        except JS7ApiError as exc:
            if exc.kind in ('auth', 'config', 'tls', 'protocol'):
                raise
            self.errors.append(dict(kind=exc.kind, message=exc.msg))
            del self.errors[:-10]
            return None

    def _backoff(self, deadline):
        remaining = deadline - self.clock()
        if remaining <= 0:
            return
        self.sleep(min(self._poll_delay, remaining))
        self._poll_delay = min(self._poll_delay * 2, self.POLL_MAX)

    def _record(self, event):
        if len(self.events) >= MAX_EVENTS_RETURNED:
            self.events_dropped += 1
            return
        self.events.append(_event_record(event))

    # ---- fail fast -------------------------------------------------------------------------
    def blocker(self, snapshot):
        """Evidence that the wait cannot succeed, or None. Only two situations count:

        * the node asked is a backup nobody has appointed (503 BackupClusterNodeNotAppointed);
        * the cluster is NodesAppointed and the other node answers as an active standalone
          node (ClusterNodeState: cluster Empty, isBackup false) - it refuses
          ClusterStartBackupNode with ClusterNodeIsNotBackup for ever (design §1).
        """
        node = snapshot.get('node') or {}
        codes = [p.get('code') for p in snapshot.get('problems') or []]
        if node.get('is_backup') and not node.get('appointed') and 'BackupClusterNodeNotAppointed' in codes:
            return dict(
                code='BackupNotAppointed',
                message=('The node at %s is a backup that has not been appointed (503 BackupClusterNodeNotAppointed): it '
                         'cannot report the cluster state. Ask the Primary (active) node instead, and make sure the '
                         'registration in JOC Cockpit is submitted (jobscheduler.js7.joc_controller).' % self.api.url),
                evidence=dict(node=node, problems=snapshot.get('problems')))
        cluster = snapshot.get('cluster') or {}
        if cluster.get('type') != 'NodesAppointed' or self.target not in ('PreparedToBeCoupled', 'Coupled'):
            return None
        if not node.get('is_active') or self.peer_api_factory is None:
            return None
        peer_id = cluster.get('passive_id')
        peer_url = self.peer_url or (cluster.get('id_to_uri') or {}).get(peer_id)
        if not peer_url:
            return None
        now = self.clock()
        if self._last_peer_probe is not None and now - self._last_peer_probe < self.PEER_PROBE_EVERY:
            return None
        self._last_peer_probe = now
        probe = dict(url=peer_url, node_id=peer_id, answer=None, problem=None, error=None)
        self.peer_probe = probe
        try:
            peer = self.peer_api_factory(peer_url)
            try:
                answer = peer.cluster_node_state()
            finally:
                peer.logout()
        except ControllerProblem as exc:
            probe['problem'] = problem_entry(exc, 'GET /controller/api/cluster?return=ClusterNodeState')
            return None
        except JS7ApiError as exc:
            probe['error'] = exc.msg
            return None
        probe['answer'] = answer
        peer_cluster = (answer or {}).get('clusterState') or {}
        if peer_cluster.get('TYPE') == 'Empty' and not (answer or {}).get('isBackup'):
            return dict(
                code='PeerIsActiveStandalone',
                message=('The cluster is NodesAppointed and the %s node at %s answers as an ACTIVE STANDALONE Controller '
                         '(cluster state Empty, isBackup false). It was started without '
                         'js7.journal.cluster.node.is-backup = yes and refuses ClusterStartBackupNode '
                         '(ClusterNodeIsNotBackup), so the cluster cannot couple. Recover it with '
                         'jobscheduler.js7.recover_standalone_secondary.' % (peer_id or 'other', peer_url)),
                evidence=dict(cluster=cluster, peer=probe))
        return None

    # ---- the loop --------------------------------------------------------------------------
    def run(self):
        """Returns dict(reached, timed_out, blocker, waited, wait_method, wait_method_reason, events, snapshot, errors)."""
        start = self.clock()
        deadline = start + self.timeout
        snapshot = self._read()
        last_good = snapshot
        blocker = None
        while True:
            if snapshot is not None:
                last_good = snapshot
                cluster = snapshot.get('cluster') or {}
                if cluster.get('type') == self.target:
                    return self._result(True, False, None, start, snapshot)
                if self.fail_fast:
                    blocker = self.blocker(snapshot)
                    if blocker:
                        return self._result(False, False, blocker, start, snapshot)
            remaining = deadline - self.clock()
            if remaining <= 0:
                return self._result(False, True, None, start, last_good)
            cluster = (snapshot or {}).get('cluster')
            if snapshot is None or not cluster or cluster.get('event_id') is None or self.method == 'polling':
                # Nothing to follow events from (unreachable, not ready, unappointed backup) - or no event API.
                self._backoff(deadline)
                snapshot = self._read()
                continue
            window = self.ACTIVE_WINDOW if (snapshot.get('node') or {}).get('is_active') else self.PASSIVE_WINDOW
            window = max(1, min(window, int(remaining + 0.999)))
            try:
                events = self.api.events(after=cluster['event_id'], timeout=window)
            except ControllerProblem as exc:
                if exc.code == 'EventSeqTorn' or exc.code in TRANSIENT_PROBLEMS:
                    self.errors.append(dict(kind='problem', message=exc.msg))
                    self._backoff(deadline)
                    snapshot = self._read()
                    continue
                if exc.kind == 'auth' and exc.status == 401:
                    raise
                # 404/406/403 or another Problem: this node will not stream events to us.
                self.method = 'polling'
                self.method_reason = 'event API unavailable: %s' % exc.msg
                continue
            except JS7ApiError as exc:
                if exc.kind in ('auth', 'config', 'tls'):
                    raise
                if exc.kind == 'protocol':
                    self.method = 'polling'
                    self.method_reason = 'event stream unreadable: %s' % exc.msg
                    continue
                self.errors.append(dict(kind=exc.kind, message=exc.msg))
                self._backoff(deadline)
                snapshot = self._read()
                continue
            self._poll_delay = self.POLL_MIN
            if not events:
                snapshot = self._read()  # window ended quietly: confirm with a fresh read
                continue
            certain = True
            new_cluster = cluster
            for event in events:
                self._record(event)
                new_cluster, ok = apply_cluster_event(new_cluster, event)
                certain = certain and ok
            if certain:
                snapshot = dict(snapshot)
                snapshot['cluster'] = new_cluster
                if new_cluster.get('type') == self.target:
                    # Report the state as the node reports it now; the event already proved the point.
                    fresh = self._read()
                    if fresh is not None and (fresh.get('cluster') or {}).get('type') == self.target:
                        snapshot = fresh
                    return self._result(True, False, None, start, snapshot)
            else:
                snapshot = self._read()

    def _result(self, reached, timed_out, blocker, start, snapshot):
        return dict(
            reached=reached, timed_out=timed_out, blocker=blocker,
            waited=round(max(0.0, self.clock() - start), 3),
            wait_method=self.method, wait_method_reason=self.method_reason,
            events=self.events, events_dropped=self.events_dropped,
            snapshot=snapshot, errors=self.errors, peer_probe=self.peer_probe)
