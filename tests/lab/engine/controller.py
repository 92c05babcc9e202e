"""The simulated JS7 Controller: ``run.py js7.controller.ControllerMain --id=... --http-port=...``.

Start-up (E§2.2), recovery and node roles (E§1.3, E§2.3), HTTP API (E§3), cluster protocol
(E§3.6, E§3.7), log wording per version (E§4.3) and the Cluster Watch of both generations (E§5).
"""
from __future__ import annotations

import copy
import json
import os
import queue
import re
import platform
import socket
import sys
import threading
import time
import traceback

from . import cluster as cl
from . import hoconfig
from .common import EventIdGenerator, dumps, format_duration, parse_duration
from .httpclient import ConnectionFailure, HttpException, Js7Client
from .httpserver import API_CACHE_CONTROL, GateKeeper, HttpError, Response, User, json_response
from .journal import JournalFiles, JournalWriter, ParsedJournal, read_from
from .problems import Problem
from .program import Program, StartupFailure
from .state import ControllerState
from .watchhub import WatchHub

CLUSTER_LOGGER = "js7.cluster.ClusterNode"
COMMON_LOGGER = "js7.cluster.ClusterCommon"  # E§4.3: the ClusterStartBackupNode failure line
MAIN_LOGGER = "js7.controller.ControllerMain"
WEB_LOGGER = "js7.controller.web.ControllerWebServer"
JOURNAL_LOGGER = "js7.journal.JournalLogger"
LEGACY_WATCH_LOGGER = "js7.core.cluster.HttpClusterWatch"

# Built-in defaults (controller.conf resource + js7.conf, E§1.2, E§1.5), per version.
DEFAULTS = """
js7.controller.id = Controller
js7.web.server.auth.realm = "JS7 JobScheduler Controller"
js7.web.server.auth.invalid-authentication-delay = 1s
js7.web.server.auth.https-client-authentication = on
js7.web.server.auth.loopback-is-public = off
js7.web.server.auth.get-is-public = off
js7.web.server.auth.public = off
js7.web.server.test = off
js7.auth.session.timeout = 1 hour
js7.journal.cluster.node.is-backup = no
js7.journal.cluster.heartbeat = 3s
js7.journal.cluster.heartbeat-timeout = 10s
js7.journal.cluster.keep-truncated-rest = no
"""
DEFAULTS_27 = "js7.journal.cluster.retry-delays = [1s,1s,1s,1s,1s,2s,3s,5s]\n"
DEFAULTS_25 = "js7.journal.cluster.watches = []\n"

EVENT_FAMILIES = {
    "ClusterEvent": set(cl.CLUSTER_EVENTS),
    "ControllerEvent": {"ControllerInitialized", "ControllerReady", "ControllerShutDown"},
}
BLOCKING_SYMBOLS = ["⚪", "🟡", "🟠", "🔴"]  # BlockingSymbol escalation (E§4.3)
ESCALATION_LEVELS = [None, "debug", "info", "warn"]


def _event_matches(kind, wanted):
    for name in wanted:
        if name == "Event" or name == kind:
            return True
        if name in EVENT_FAMILIES and kind in EVENT_FAMILIES[name]:
            return True
        if name == "OrderEvent" and kind.startswith("Order"):
            return True
    return False


def _parse_timeout(text):
    """Event API `timeout`: seconds (decimal), Nms, Ns or infinite (E§3.8)."""
    if text is None or text == "":
        return 0.0
    if text == "infinite":
        return 365 * 86400.0
    try:
        return float(text)
    except ValueError:
        return parse_duration(text)


class ControllerMain(Program):
    component = "controller"
    log_prefix = "controller"
    main_logger = MAIN_LOGGER

    def __init__(self, argv, lab=None):
        super().__init__(argv, lab)
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.role = "starting"  # active | passive | backup | stopping
        self.state = None
        self.writer = None
        self.files = JournalFiles(self.state_dir, "controller")
        self.event_ids = EventIdGenerator()
        self.peer_clients = {}
        self.threads = []
        self.sender_running = False
        self.last_passive_contact = time.monotonic()
        self.last_active_contact = time.monotonic()
        self.inhibit_until = 0.0
        self.replica = None  # passive: {"file": id, "position": n, "parsed": ParsedJournal}
        self.role_changed = threading.Event()
        self.legacy_watch_problem = None
        self.legacy_watch_ok = False
        self.system_session = None
        self.legacy_queue = queue.Queue()

    # ------------------------------------------------------------------ configuration
    def load_configuration(self):
        defaults = DEFAULTS + (DEFAULTS_25 if self.lab.legacy_watch else "")
        if self.lab.version_tuple >= (2, 7, 0):
            defaults += DEFAULTS_27
        self.config = hoconfig.load(self.config_dir, self.data_dir, "controller.conf", defaults)
        c = self.config
        self.controller_id = self.args.id or c.get_str("js7.controller.id", "Controller")
        self.is_backup = c.get_bool("js7.journal.cluster.node.is-backup", False)
        self.own_id = c.get_str("js7.journal.cluster.node.id") or ("Backup" if self.is_backup else "Primary")
        self.heartbeat = c.get_duration("js7.journal.cluster.heartbeat", 3.0)
        self.heartbeat_timeout = c.get_duration("js7.journal.cluster.heartbeat-timeout", 10.0)
        if self.lab.version_tuple >= (2, 7, 0):
            self.retry_delays = c.get_durations("js7.journal.cluster.retry-delays", [1, 1, 1, 1, 1, 2, 3, 5])
        else:
            self.retry_delays = [1.0]  # ≤ 2.6: a fixed 1 s (E§1.2)
        self.cluster_password = c.get_str("js7.auth.cluster.password")
        self.config_watches = [str(u) for u in (c.get("js7.journal.cluster.watches") or [])] if self.lab.legacy_watch else []
        self.config_nodes = c.get("js7.journal.cluster.nodes")
        self.test_routes = c.get_bool("js7.web.server.test", False)
        # ClusterTiming.scala derived timings, scaled for the lab
        s = self.lab.scale
        self.hb = s(self.heartbeat)
        self.passive_lost_timeout = s(self.heartbeat + self.heartbeat_timeout)
        self.active_lost_timeout = s(self.heartbeat + self.heartbeat_timeout + 2 * self.heartbeat)
        self.watch_valid = s(self.heartbeat + self.heartbeat_timeout + self.heartbeat)
        self.hub = WatchHub(self.watch_valid)
        self.gate = GateKeeper(c, "JS7 JobScheduler Controller",
                               s(c.get_duration("js7.web.server.auth.invalid-authentication-delay", 1.0)),
                               self.log, WEB_LOGGER, c.get_duration("js7.auth.session.timeout", 3600.0))

    # ------------------------------------------------------------------ main
    def run(self) -> int:
        if not self.acquire_lock():
            return 1
        self.clean_work_directory()
        self.write_pid_into_lock()
        self.start_logging("Controller:%s" % (self.args.id or "?"))
        self.log.info(MAIN_LOGGER, "JS7 Controller %s (lab simulation, Python %s) pid=%d %s" % (
            self.lab.version, platform.python_version(), os.getpid(), " ".join(sys.argv[2:])))
        try:
            self.load_configuration()
        except hoconfig.ConfigError as exc:
            return self.fail_start("Invalid configuration: %s" % exc)
        self.lab_timeline("ControllerStarting", pid=os.getpid())
        try:
            self.recover()
        except StartupFailure as exc:
            return self.fail_start(str(exc))
        try:
            self.open_listeners(self.route, WEB_LOGGER)
        except (OSError, FileNotFoundError) as exc:
            return self.fail_start("Web server could not be started: %s" % exc)
        self.install_signal_handlers()
        system_user = User(self.controller_id)
        self.system_session = self.gate.create_session(system_user)
        self.after_start()
        self.write_work_files("controller", self.system_session)
        self.log.info(MAIN_LOGGER, "Controller is ready, listening on %s" % ", ".join(
            "%s://%s:%d" % l for l in self.listeners))
        self.lab_timeline("ControllerStarted", pid=os.getpid(), role=self.role)
        while not self.stopping.wait(0.5):
            pass
        self.shutdown_now()
        return self.exit_code

    def fail_start(self, message):
        self.log.error(MAIN_LOGGER, message)
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        self.lab_timeline("ControllerStartFailed", reason=message)
        self.log.close()
        self.log = None
        return 1

    def lab_timeline(self, event, **fields):
        fields.setdefault("controller_id", getattr(self, "controller_id", self.args.id))
        if hasattr(self, "own_id"):
            fields.setdefault("node_id", self.own_id)
        self.lab.timeline_event(self.component, event, **fields)

    # ------------------------------------------------------------------ recovery (E§2.3)
    def recover(self):
        self.state = ControllerState(self.controller_id)
        current = self.files.current()
        if current:
            parsed = self.files.read(current[1])
            if parsed.header is not None:
                self.state.load(parsed)
                self.log.info(JOURNAL_LOGGER, "Recovered last EventId is %d from %s (%d events)" % (
                    self.state.event_id, os.path.basename(current[1]), self.state.total_event_count))
        self.event_ids = EventIdGenerator(self.state.event_id)
        cs = self.state.cluster_state
        if not cl.has_nodes(cs):
            if self.is_backup:
                if self.state.event_id > 0:
                    # E§1.3 (3): a standalone journal with is-backup=yes
                    raise StartupFailure(Problem("PrimaryClusterNodeMayNotBecomeBackup").render())
                if self.config_nodes:
                    raise StartupFailure("Backup cluster node must node have a 'js7.journal.cluster.nodes' configuration")
                self.role = "backup"
                self.log.info(CLUSTER_LOGGER, "Backup cluster Node:%s, awaiting appointment from a primary node" % self.own_id)
                return
            self.become_active()
            self.log.debug(CLUSTER_LOGGER, "Active primary cluster Node:%s, no backup node appointed" % self.own_id)
            return
        self.log.info(CLUSTER_LOGGER, "This is cluster Node:%s, recovered ClusterState is %s" % (self.own_id, cl.state_string(cs)))
        if self.own_id == cl.active_id(cs):
            if cs["TYPE"] == "Coupled" and self.peer_has_failed_over(cs):
                self.start_as_passive(cs)
                return
            self.become_active()
            return
        if self.own_id in cs["setting"]["idToUri"]:
            self.start_as_passive(cs)
            return
        raise StartupFailure("Own cluster Node:%s does not match clusterState=%s" % (self.own_id, cl.state_string(cs)))

    def peer_has_failed_over(self, cs):
        """ClusterInhibitActivation: a node recovering Coupled as active asks its peer first (E§2.3)."""
        peer = cl.passive_id(cs)
        try:
            response = self.peer_client(cl.uri_of(cs, peer)).cluster_command(
                {"TYPE": "ClusterInhibitActivation", "duration": self.heartbeat * 2 + self.heartbeat_timeout},
                timeout=max(2.0, self.hb * 2))
        except (HttpException, ConnectionFailure) as exc:
            self.log.info(CLUSTER_LOGGER, "ClusterInhibitActivation at peer Node:%s failed: %s" % (peer, exc))
            return False
        failed_over = response.get("failedOver") or response.get("clusterState")
        if failed_over and failed_over.get("TYPE") == "FailedOver" and failed_over["setting"]["activeId"] == peer:
            self.log.warn(CLUSTER_LOGGER, "This node has been failed over by Node:%s while it was down" % peer)
            return True
        return False

    # ------------------------------------------------------------------ roles
    def become_active(self, append_to_replica=False):
        """Write a new journal file (or continue the replica after switch-/failover) and persist readiness."""
        with self.lock:
            now = int(time.time() * 1000)
            if append_to_replica:
                self.writer = JournalWriter(self.files, self.replica["file"], append=True)
            else:
                if self.writer:
                    self.writer.close()
                file_event_id = self.state.event_id
                header = self.state.header(file_event_id, self.lab.version, self.lab.build_id, now, self.state.total_running_time)
                self.writer = JournalWriter(self.files, file_event_id, header, self.state.snapshot())
                self.files.delete_older_than(file_event_id)
                self.state.events = []
                self.state.torn_event_id = file_event_id
            if self.replica and self.replica.get("fh"):
                self.replica["fh"].close()
            self.replica = None
            self.role = "active"
            self.role_changed.set()
            self.last_passive_contact = time.monotonic()
            events = []
            if not append_to_replica:
                if self.state.initially_started_at is None:
                    events.append({"TYPE": "ControllerInitialized", "controllerId": self.controller_id, "initiallyStartedAt": now})
                events.append({"TYPE": "ControllerReady", "timezone": "Etc/UTC",
                               "totalRunningTime": round(self.state.total_running_time, 3)})
                if self.state.cluster_state.get("TYPE") == "ActiveShutDown":
                    events.append({"TYPE": "ClusterActiveNodeRestarted"})
            if events:
                self.persist(events)

    handover = None  # after a switch-over: the journal file the new active node still has to read to its end

    def start_as_passive(self, cs, file_event_id=None):
        with self.lock:
            if self.writer:
                self.writer.close()
                self.writer = None
            self.role = "passive"
            self.role_changed.set()
            self.passive_setting = cs["setting"]
            self.replica = {"file": file_event_id, "position": 0, "parsed": None, "fh": None}
            self.last_active_contact = time.monotonic()
        self.log.info(CLUSTER_LOGGER, "Passive cluster Node:%s, replicating the journal of active Node:%s (%s)" % (
            self.own_id, cs["setting"]["activeId"], cs["setting"]["idToUri"][cs["setting"]["activeId"]]))

    def after_start(self):
        self.spawn("cluster", self.cluster_loop)
        if self.lab.legacy_watch:
            self.spawn("legacy-cluster-watch", self.legacy_reporter)
        if self.role == "active" and self.config_nodes and not cl.has_nodes(self.state.cluster_state):
            self.spawn("auto-appoint", self.auto_appoint)

    def spawn(self, name, target):
        thread = threading.Thread(target=self._guard(target), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def _guard(self, target):
        def run():
            try:
                target()
            except Exception:  # pylint: disable=broad-except
                self.log.error(MAIN_LOGGER, "Thread failed: %s" % traceback.format_exc().replace("\n", " | "))
        return run

    # ------------------------------------------------------------------ persisting
    def persist(self, events):
        """Stamp, apply, write and publish events (active node only)."""
        with self.lock:
            if self.role != "active" or self.writer is None:
                raise Problem("ClusterNodeIsNotActive")
            stamped = []
            for event in events:
                item = dict(event)
                item = {"eventId": self.event_ids.next(), **item}
                try:
                    self.state.apply(item)
                except cl.ClusterStateError as exc:
                    raise Problem("ClusterCommandInapplicable", arguments={
                        "command": event["TYPE"], "clusterState": cl.state_string(self.state.cluster_state)}) from exc
                stamped.append(item)
            self.writer.append(stamped)
            self.cond.notify_all()
        for item in stamped:
            self.on_persisted(item)
        return stamped

    def on_persisted(self, stamped):
        kind = stamped["TYPE"]
        if kind in cl.CLUSTER_EVENTS:
            self.log.info(JOURNAL_LOGGER, "%s %s" % (stamped["eventId"], dumps({k: v for k, v in stamped.items() if k != "eventId"})))
            self.lab_timeline(kind, event_id=stamped["eventId"], cluster_state=self.state.cluster_state.get("TYPE"))
            if self.legacy_watches() and kind not in ("ClusterCouplingPrepared", "ClusterCoupled"):  # asked before
                self.report_legacy_events([stamped], wait=False)
        else:
            self.log.debug(JOURNAL_LOGGER, "%s %s" % (stamped["eventId"], kind))

    # ------------------------------------------------------------------ peer access
    def peer_client(self, uri):
        client = self.peer_clients.get(uri)
        if client is None:
            context = self.client_ssl() if uri.startswith("https:") else None
            # E§1.4: UserId = Controller ID, password = own js7.auth.cluster.password
            client = Js7Client(uri, "controller", self.controller_id if self.cluster_password is not None else None,
                               self.cluster_password, ssl_context=context, timeout=max(2.0, self.hb * 3))
            self.peer_clients[uri] = client
        return client

    def retry_delay(self, attempt):
        delays = self.retry_delays or [1.0]
        return self.lab.scale(delays[min(attempt - 1, len(delays) - 1)])

    def command_string(self, command):
        """The command as the 2.7.4+ log line prints it (its Scala toString) [assumption]."""
        kind = command["TYPE"]
        if kind == "ClusterStartBackupNode":
            return "ClusterStartBackupNode(%s,%s,%s,%s)" % (
                cl.setting_string(command["setting"]), command["fileEventId"], command["activeNodeName"],
                command["passiveNodeUserId"])
        if kind in ("ClusterPrepareCoupling", "ClusterCouple"):
            return "%s(%s,%s)" % (kind, command["activeId"], command["passiveId"])
        return kind

    def log_command_failure(self, command, error, attempt):
        """tryEndlesslyToSendCommand's failure line, per version (E§4.3)."""
        wording = self.lab.wording
        name = command["TYPE"]
        if wording == "2.5":
            self.log.warn(COMMON_LOGGER, "'%s' command failed with %s" % (name, error))
        elif wording == "2.6":
            self.log.warn(COMMON_LOGGER, "🔴 %s command failed with %s" % (name, error))
        else:
            level_index = min(attempt - 1, 3)
            level = ESCALATION_LEVELS[level_index]
            if level:
                self.log.log(level, COMMON_LOGGER, "%s %s command failed with %s" % (
                    BLOCKING_SYMBOLS[level_index], self.command_string(command), error))

    def log_command_success(self, command, attempts, since):
        if attempts and self.lab.wording != "2.5":
            self.log.info(COMMON_LOGGER, "🟢 %s command succeeded after %s" % (
                command["TYPE"] if self.lab.wording == "2.6" else self.command_string(command),
                format_duration(time.monotonic() - since)))

    # ------------------------------------------------------------------ background loop
    def cluster_loop(self):
        last_watch_heartbeat = 0.0
        while not self.stopping.is_set():
            role = self.role
            if role == "active":
                cs = self.state.cluster_state
                kind = cs.get("TYPE")
                if kind == "NodesAppointed" and not self.sender_running:
                    self.sender_running = True
                    self.spawn("start-backup-node", self.send_start_backup_node)
                if kind in ("Coupled", "PreparedToBeCoupled") and \
                        time.monotonic() - self.last_passive_contact > self.passive_lost_timeout:
                    self.on_passive_lost(cl.passive_id(cs), "no heartbeat from the passive node for %s" %
                                         format_duration(self.heartbeat + self.heartbeat_timeout))
                if cl.has_nodes(cs) and time.monotonic() - last_watch_heartbeat >= self.hb:
                    last_watch_heartbeat = time.monotonic()
                    self.watch_heartbeat()
                self.stopping.wait(min(0.1, self.hb / 4))
            elif role == "passive":
                self.passive_replicate()
            else:
                self.stopping.wait(0.1)

    def on_passive_lost(self, passive, reason):
        with self.lock:
            if self.state.cluster_state.get("TYPE") not in ("Coupled", "PreparedToBeCoupled"):
                return
            self.log.warn(CLUSTER_LOGGER, "Passive cluster Node:%s lost: %s" % (passive, reason))
            event = {"TYPE": "ClusterPassiveLost", "id": passive}
            self.persist([event])
        if not self.legacy_watches():
            self.hub.send({"TYPE": "ClusterWatchCheckEvent", "from": self.own_id, "event": event,
                           "clusterState": self.state.cluster_state})

    def send_start_backup_node(self):
        """ActiveClusterNode.startSendingClusterStartBackupNode: retried until accepted (E§1.3, E§4.3)."""
        attempts = 0
        since = time.monotonic()
        try:
            while not self.stopping.is_set() and self.role == "active":
                cs = self.state.cluster_state
                if cs.get("TYPE") != "NodesAppointed":
                    return
                backup = cl.passive_id(cs)
                command = {"TYPE": "ClusterStartBackupNode", "setting": cs["setting"], "fileEventId": self.writer.file_event_id,
                           "activeNodeName": self.controller_id, "passiveNodeUserId": self.controller_id}
                try:
                    self.peer_client(cl.uri_of(cs, backup)).cluster_command(command)
                    self.log_command_success(command, attempts, since)
                    self.lab_timeline("ClusterStartBackupNodeAccepted", backup_uri=cl.uri_of(cs, backup))
                    return
                except (HttpException, ConnectionFailure) as error:
                    attempts += 1
                    self.log_command_failure(command, error, attempts)
                    self.lab_timeline("ClusterStartBackupNodeFailed", attempt=attempts,
                                      code=getattr(error, "code", None), error=str(error))
                self.stopping.wait(self.retry_delay(attempts))
        finally:
            self.sender_running = False

    # ------------------------------------------------------------------ Cluster Watch
    def legacy_watches(self):
        """≤ 2.5: Agent URIs acting as Cluster Watch (setting.clusterWatches or js7.journal.cluster.watches)."""
        if not self.lab.legacy_watch:
            return []
        cs = self.state.cluster_state
        if cl.has_nodes(cs) and cs["setting"].get("clusterWatches"):
            return [w["uri"] for w in cs["setting"]["clusterWatches"]]
        return list(self.config_watches)

    def legacy_watch_client(self, uri):
        key = "watch:" + uri
        client = self.peer_clients.get(key)
        if client is None:
            password = None
            agents = self.config.get("js7.auth.agents") or {}
            # js7.auth.agents."<agent-uri>" (E§1.4, legacy Agent Cluster Watch login)
            for key, value in (agents.items() if hasattr(agents, "items") else []):
                if str(key).strip('"') == uri:
                    password = str(value)
                    if password.startswith("plain:"):
                        password = password[len("plain:"):]
            context = self.client_ssl() if uri.startswith("https:") else None
            client = Js7Client(uri, "agent", self.controller_id if password is not None else None,
                               None if password is None else str(password), ssl_context=context, timeout=max(2.0, self.hb * 3))
            self.peer_clients[key] = client
        return client

    def report_legacy(self, message, wait=True):
        """Queue a ClusterWatchMessage for the watch Agents, in order; with ``wait`` return its Problem or None.

        One reporter thread keeps heartbeats and events in the order they happened, so the Agent
        never sees a heartbeat of a state whose event it has not been told yet.
        """
        done = threading.Event()
        slot = [message, done, None]
        self.legacy_queue.put(slot)
        if not wait:
            return None
        if not done.wait(max(3.0, self.hb * 4)):
            return Problem(message="ClusterWatch did not answer in time")  # no answer is no consent
        return slot[2]

    def legacy_reporter(self):
        while not self.stopping.is_set():
            try:
                slot = self.legacy_queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                slot[2] = self._report_legacy_now(slot[0])
            except Exception as exc:  # pylint: disable=broad-except  # the reporter must outlive any bug
                self.log.error(LEGACY_WATCH_LOGGER, "Reporting to the ClusterWatch failed: %s" % traceback.format_exc())
                slot[2] = Problem(message="ClusterWatch report failed: %s" % exc)
            slot[1].set()

    def _report_legacy_now(self, message):
        """POST a ClusterWatchMessage to every watch Agent; returns None or the first Problem."""
        for uri in self.legacy_watches():
            try:
                self.legacy_watch_client(uri).post_json("/agent/api/clusterWatch", message)
            except HttpException as exc:
                problem = exc.problem or Problem(message=str(exc))
                self._legacy_problem(uri, problem.render())
                return problem
            except ConnectionFailure as exc:
                self._legacy_problem(uri, str(exc))
                return Problem(message="ClusterWatch %s is not reachable: %s" % (uri, exc))
        if self.legacy_watch_problem:
            self.log.info(LEGACY_WATCH_LOGGER, "ClusterWatch accepts again")
        self.legacy_watch_problem = None
        self.legacy_watch_ok = True
        return None

    def _legacy_problem(self, uri, text):
        self.legacy_watch_ok = False
        same = re.sub(r" \([^()]* ago\)$", "", text)  # the same refusal, only later: logged once
        if same != self.legacy_watch_problem:
            self.log.warn(LEGACY_WATCH_LOGGER, "ClusterWatch %s rejected or failed: %s" % (uri, text))
            self.lab_timeline("ClusterWatchRejected", watch=uri, problem=text)
        self.legacy_watch_problem = same

    def report_legacy_events(self, stamped_events, wait=True):
        events = [{k: v for k, v in e.items() if k != "eventId"} for e in stamped_events]
        return self.report_legacy({"TYPE": "ClusterWatchEvents", "from": self.own_id, "events": events,
                                   "clusterState": copy.deepcopy(self.state.cluster_state)}, wait)

    def watch_heartbeat(self):
        cs = self.state.cluster_state
        if self.legacy_watches():
            self.report_legacy({"TYPE": "ClusterWatchHeartbeat", "from": self.own_id, "clusterState": copy.deepcopy(cs)},
                               wait=False)
        else:
            self.hub.send({"TYPE": "ClusterWatchCheckState", "from": self.own_id, "clusterState": cs})

    def on_watch_confirm(self, command):
        """ClusterWatchConfirm from JOC (≥ 2.6): the first one registers the watch (E§3.7, DESIGN)."""
        watch_id = command.get("clusterWatchId")
        if command.get("problem"):
            self.hub.confirm(command)
            return
        with self.lock:
            cs = self.state.cluster_state
            if self.role == "active" and cl.has_nodes(cs):
                registered = cs["setting"].get("clusterWatchId")
                if registered != watch_id:
                    if registered and self.hub.is_alive(registered):
                        raise Problem("OtherClusterWatchStillAlive", arguments={
                            "rejectedClusterWatchId": watch_id, "otherClusterWatchId": registered})
                    self.persist([{"TYPE": "ClusterWatchRegistered", "clusterWatchId": watch_id}])
        self.hub.confirm(command)

    # ------------------------------------------------------------------ passive node
    def passive_replicate(self):
        """One replication round: long-poll the active node's journal and act on the replicated state."""
        cs_setting = self.passive_setting
        active = cs_setting["activeId"]
        client = self.peer_client(cs_setting["idToUri"][active])
        replica = self.replica
        file_id = replica["file"] if replica["file"] is not None else -1
        path = "/controller/api/journal?file=%d&position=%d&timeout=%s" % (file_id, replica["position"], round(self.hb, 3))
        try:
            payload, headers = client.request("GET", path, timeout=self.hb + 5)
        except (HttpException, ConnectionFailure) as exc:
            self.on_active_unreachable(exc)
            self.stopping.wait(min(0.5, self.hb))
            return
        with self.lock:
            if self.role != "passive":
                return
            self.last_active_contact = time.monotonic()
            next_file = headers.get("X-Js7-Lab-Next-File") or headers.get("x-js7-lab-next-file")
            if replica["fh"] is None or (next_file is not None and int(next_file) != replica["file"] and not payload):
                self.open_replica(int(next_file) if next_file is not None else file_id)
                return
            if payload:
                replica["fh"].write(payload)
                replica["fh"].flush()
                replica["position"] += len(payload)
                for line in payload.decode("utf-8").splitlines():
                    stamped = replica["parsed"].feed_line(line)
                    if replica["parsed"].section == "events" and stamped is None and self.state_needs_snapshot:
                        self.load_replica_snapshot()
                    if stamped is not None:
                        if self.state_needs_snapshot:
                            self.load_replica_snapshot()
                        self.state.apply(stamped)
                        self.event_ids = EventIdGenerator(self.state.event_id)
                        self.cond.notify_all()
                        if stamped["TYPE"] in cl.CLUSTER_EVENTS:
                            self.log.info(JOURNAL_LOGGER, "Replicated %s %s" % (stamped["eventId"], stamped["TYPE"]))
            cs = self.state.cluster_state
            if cl.has_nodes(cs):
                self.passive_setting = cs["setting"]
        self.passive_act()

    state_needs_snapshot = False

    def open_replica(self, file_id):
        """Start replicating the active node's file ``file_id`` from its beginning, same file name (E§2.2)."""
        replica = self.replica
        if replica["fh"]:
            replica["fh"].close()
        replica["file"] = file_id
        replica["position"] = 0
        replica["parsed"] = ParsedJournal()
        replica["fh"] = open(self.files.path(file_id), "wb")  # pylint: disable=consider-using-with
        self.files.update_link(file_id)
        self.files.delete_older_than(file_id)
        self.state_needs_snapshot = True
        self.log.info(CLUSTER_LOGGER, "Replicating journal file %s from the active node" % os.path.basename(self.files.path(file_id)))

    def load_replica_snapshot(self):
        parsed = self.replica["parsed"]
        fresh = ControllerState(self.controller_id)
        only_snapshot = ParsedJournal()
        only_snapshot.header = parsed.header
        only_snapshot.snapshot = parsed.snapshot
        fresh.load(only_snapshot)
        self.state = fresh
        self.state_needs_snapshot = False

    def passive_act(self):
        """The passive node's part of coupling (E§3.7) and taking over after a switch-over."""
        with self.lock:
            cs = self.state.cluster_state
            if self.role != "passive" or not cl.has_nodes(cs) or self.state_needs_snapshot:
                return
            kind = cs["TYPE"]
            if cl.active_id(cs) == self.own_id:
                if kind == "SwitchedOver":
                    self.log.info(CLUSTER_LOGGER, "Switched over: this Node:%s is now active" % self.own_id)
                    self.become_active(append_to_replica=True)
                    self.lab_timeline("BecameActive", reason="SwitchedOver")
                return
        if kind in ("NodesAppointed", "PassiveLost", "SwitchedOver", "FailedOver"):
            self.send_coupling_command("ClusterPrepareCoupling", cs)
        elif kind == "PreparedToBeCoupled":
            self.send_coupling_command("ClusterCouple", cs)

    _coupling_attempts = {}
    _coupling_next = 0.0
    _coupling_since = 0.0

    def send_coupling_command(self, kind, cs):
        now = time.monotonic()
        if now < self._coupling_next:
            return
        command = {"TYPE": kind, "activeId": cs["setting"]["activeId"], "passiveId": self.own_id, "token": "lab"}
        attempts = self._coupling_attempts.get(kind, 0)
        if not attempts:
            self._coupling_since = now
        try:
            self.peer_client(cl.uri_of(cs, cs["setting"]["activeId"])).cluster_command(command, timeout=max(3.0, self.hb * 4))
            if attempts:
                self.log_command_success(command, attempts, self._coupling_since)
            self._coupling_attempts = {}
            self._coupling_next = 0.0
        except (HttpException, ConnectionFailure) as error:
            attempts += 1
            self._coupling_attempts = {kind: attempts}
            self.log_command_failure(command, error, attempts)
            self._coupling_next = time.monotonic() + self.retry_delay(attempts)

    def on_active_unreachable(self, exc):
        cs = self.state.cluster_state if self.state else cl.EMPTY
        silent_for = time.monotonic() - self.last_active_contact
        if cs.get("TYPE") == "Coupled" and silent_for > self.active_lost_timeout and time.monotonic() > self.inhibit_until:
            self.try_failover(cs, str(exc))

    def try_failover(self, cs, reason):
        """The passive node takes over after the active node is lost, if the Cluster Watch agrees (E§5)."""
        failed = cl.active_id(cs)
        replica = self.replica
        event = {"TYPE": "ClusterFailedOver", "failedActiveId": failed, "activatedId": self.own_id,
                 "failedAt": {"fileEventId": replica["file"] or 0, "position": replica["position"]}}
        try:
            new_state = cl.apply_event(cs, event)
        except cl.ClusterStateError:
            return
        self.log.warn(CLUSTER_LOGGER, "Active cluster Node:%s lost (%s); asking the Cluster Watch to fail over" % (failed, reason))
        if self.legacy_watches():
            problem = self.report_legacy({"TYPE": "ClusterWatchEvents", "from": self.own_id, "events": [event],
                                          "clusterState": new_state})
            confirmed = problem is None
        else:
            confirm = self.hub.ask({"TYPE": "ClusterWatchCheckEvent", "from": self.own_id, "event": event,
                                    "clusterState": new_state, "forceWhenUntaught": False}, timeout=max(1.0, self.hb * 2))
            confirmed = bool(confirm) and not confirm.get("problem")
        if not confirmed:
            self.log.warn(CLUSTER_LOGGER, "Cluster Watch did not confirm the failover; this node stays passive")
            self.last_active_contact = time.monotonic() - self.active_lost_timeout + self.hb
            return
        with self.lock:
            if replica["fh"]:
                replica["fh"].close()
                replica["fh"] = None
            self.become_active(append_to_replica=True)
            self.persist([event])
        self.log.warn(CLUSTER_LOGGER, "Failed over: this Node:%s is now active" % self.own_id)

    # ------------------------------------------------------------------ commands
    def require_active(self):
        if self.role == "backup":
            raise Problem("BackupClusterNodeNotAppointed")
        if self.role != "active":
            raise Problem("ClusterNodeIsNotActive")

    def execute_command(self, command):
        kind = command.get("TYPE") if isinstance(command, dict) else None
        if kind == "ShutDown":
            return self.command_shutdown(command)
        if kind == "Batch":
            responses = []
            for sub in command.get("commands", []):
                try:
                    responses.append(self.execute_command(sub))
                except Problem as problem:
                    responses.append(problem.to_json())
            return {"TYPE": "BatchResponse", "responses": responses}
        self.require_active()
        if kind == "ClusterAppointNodes":
            return self.command_appoint_nodes(command)
        if kind == "ClusterSwitchOver":
            return self.command_switch_over()
        if kind == "AddOrder":
            return self.command_add_orders([command.get("order") or {}], single=True)
        if kind == "AddOrders":
            return self.command_add_orders(command.get("orders") or [], single=False)
        if kind == "DeleteOrdersWhenTerminated" or kind == "CancelOrders":
            ids = command.get("orderIds") or []
            unknown = [i for i in ids if i not in self.state.orders]
            if unknown:
                raise Problem("UnknownOrder", arguments={"orderId": unknown[0]})
            self.persist([{"Key": i, "TYPE": "OrderCancelled" if kind == "CancelOrders" else "OrderDeleted"} for i in ids])
            return {"TYPE": "Accepted"}
        if kind == "NoOperation":
            return {"TYPE": "Accepted"}
        raise Problem(message="JSON DecodingFailure at : Unexpected JSON {\"TYPE\": %s}" % json.dumps(kind))

    def command_add_orders(self, orders, single):
        events, duplicates = [], []
        for order in orders:
            order_id = order.get("id")
            workflow = order.get("workflowPath") or (order.get("workflowId") or {}).get("path")
            if not order_id or not workflow:
                raise Problem(message="AddOrder needs order.id and order.workflowPath")
            if order_id in self.state.orders or any(e["Key"] == order_id for e in events):
                duplicates.append(order_id)
                continue
            events.append({"Key": order_id, "TYPE": "OrderAdded", "workflowId": {"path": workflow, "versionId": "lab"},
                           "arguments": order.get("arguments", {})})
        stamped = self.persist(events) if events else []
        if single:
            return {"TYPE": "AddOrder.Response", "ignoredBecauseDuplicate": bool(duplicates)}
        return {"TYPE": "AddOrders.Response", "eventId": stamped[-1]["eventId"] if stamped else self.state.event_id}

    def _setting_from_appoint(self, command):
        id_to_uri = command.get("idToUri") or {}
        active = command.get("activeId")
        if len(id_to_uri) != 2:
            raise Problem(message="Exactly two URIs are expected")
        if len(set(id_to_uri.values())) != 2:
            raise Problem(message="URIs must be different")
        if active not in id_to_uri:
            raise Problem(message="Unknown NodeId '%s'" % active)
        setting = {"idToUri": dict(id_to_uri), "activeId": active,
                   "timing": {"heartbeat": self.heartbeat, "heartbeatTimeout": self.heartbeat_timeout}}
        if self.lab.legacy_watch:
            watches = command.get("clusterWatches")
            if watches is None:
                watches = [{"uri": u} for u in self.config_watches]
            setting["clusterWatches"] = watches
        for key in ("heartbeat", "heartbeatTimeout"):
            value = setting["timing"][key]
            setting["timing"][key] = int(value) if float(value).is_integer() else value
        return setting

    def command_appoint_nodes(self, command):
        """WorkingClusterNode.appointNodes2: idempotent; passive-URI change -> ClusterSettingUpdated (E§3.6)."""
        setting = self._setting_from_appoint(command)
        with self.lock:
            cs = self.state.cluster_state
            if not cl.has_nodes(cs):
                if setting["activeId"] != self.own_id:
                    raise Problem(message="ClusterAppointNodes: activeId %s must be this node %s" % (setting["activeId"], self.own_id))
                self.persist([{"TYPE": "ClusterNodesAppointed", "setting": setting}])
                return {"TYPE": "Accepted"}
            current = cs["setting"]
            comparable = {k: v for k, v in current.items() if k != "clusterWatchId"}
            wanted = dict(setting)
            if comparable == wanted:
                return {"TYPE": "Accepted"}
            passive = cl.passive_id(cs)
            same_but_passive = (
                current["activeId"] == setting["activeId"] and set(current["idToUri"]) == set(setting["idToUri"])
                and all(current["idToUri"][n] == setting["idToUri"][n] for n in setting["idToUri"] if n != passive)
                and current.get("timing") == setting.get("timing"))
            if same_but_passive:
                event = {"TYPE": "ClusterSettingUpdated"}
                if current["idToUri"][passive] != setting["idToUri"][passive]:
                    event["passiveUri"] = setting["idToUri"][passive]
                if self.lab.legacy_watch and current.get("clusterWatches") != setting.get("clusterWatches"):
                    event["clusterWatches"] = setting["clusterWatches"]
                self.persist([event])
                return {"TYPE": "Accepted"}
            raise Problem("ClusterSettingNotUpdatable", arguments={"clusterState": cl.state_string(cs)},
                          legacy=self.lab.legacy_watch)

    def command_switch_over(self):
        with self.lock:
            cs = self.state.cluster_state
            if cs.get("TYPE") != "Coupled":
                raise Problem("ClusterSwitchOverButNotCoupled", arguments={"clusterState": cl.state_string(cs)})
            passive = cl.passive_id(cs)
            self.persist([{"TYPE": "ClusterSwitchedOver", "activatedId": passive}])
            new_state = self.state.cluster_state
            # The passive node learns that it is to take over from the replicated ClusterSwitchedOver
            # event; JS7 hands over only after the passive node has it. Keep serving the rest of this
            # journal file after becoming passive, or a poll that comes a moment late finds a passive
            # node (ClusterNodeIsNotActive) and nobody ever becomes active.
            self.handover = {"file": self.writer.file_event_id, "path": self.writer.path, "end": self.writer.position}
        self.log.info(CLUSTER_LOGGER, "Switched over to Node:%s; this node becomes passive" % passive)
        self.start_as_passive(new_state)
        return {"TYPE": "Accepted"}

    def command_shutdown(self, command):
        action = (command.get("clusterAction") or {}).get("TYPE")
        if self.role == "passive" and action:
            raise Problem("PassiveClusterNodeShutdownNotAllowed")
        if action == "Switchover":
            self.require_active()
            self.command_switch_over()
        elif action == "Failover":
            self.require_active()
        elif self.role == "active" and self.state.cluster_state.get("TYPE") == "Coupled":
            # E§3.6: ShutDown without clusterAction on the coupled active node: the passive does not take over
            self.persist([{"TYPE": "ClusterActiveNodeShutDown"}])
        elif self.role == "passive":
            self.notify_passive_down()
        self.exit_code = 97 if command.get("restart") else 0
        self.log.info(MAIN_LOGGER, "ShutDown command%s" % (" with clusterAction=%s" % action if action else ""))
        self.lab_timeline("ShutDownCommand", cluster_action=action)
        threading.Timer(0.05, self.stopping.set).start()
        return {"TYPE": "Accepted"}

    def notify_passive_down(self):
        cs = self.state.cluster_state
        if cl.has_nodes(cs):
            try:
                self.peer_client(cl.uri_of(cs, cl.active_id(cs))).cluster_command(
                    {"TYPE": "ClusterPassiveDown", "activeId": cl.active_id(cs), "passiveId": self.own_id}, timeout=2)
            except (HttpException, ConnectionFailure) as exc:
                self.log.info(CLUSTER_LOGGER, "ClusterPassiveDown could not be delivered: %s" % exc)

    def on_sigterm(self):
        try:
            self.command_shutdown({"TYPE": "ShutDown"})
        except Problem:
            self.stopping.set()

    def auto_appoint(self):
        """js7.journal.cluster.nodes on the primary: appoint at start while Empty (E§1.2)."""
        nodes = self.config_nodes
        try:
            self.command_appoint_nodes({"idToUri": {str(k): str(nodes.get(k)) for k in nodes.keys()}, "activeId": self.own_id})
        except Problem as problem:
            self.log.error(CLUSTER_LOGGER, "Automatic appointment failed: %s" % problem.render())

    # ------------------------------------------------------------------ node-to-node commands
    def execute_cluster_command(self, command):
        kind = command.get("TYPE") if isinstance(command, dict) else None
        if kind == "ClusterStartBackupNode":
            return self.cluster_start_backup_node(command)
        if kind == "ClusterWatchConfirm":
            self.on_watch_confirm(command)
            return {"TYPE": "Accepted"}
        if kind == "ClusterInhibitActivation":
            return self.cluster_inhibit_activation(command)
        if kind in ("ClusterPrepareCoupling", "ClusterCouple", "ClusterPassiveDown", "ClusterRecouple"):
            if self.role != "active":
                raise Problem(message="'%s' command may only be directed to the active node" % kind)
            return getattr(self, "cluster_" + kind[len("Cluster"):].lower())(command)
        if kind == "ClusterConfirmCoupling":
            return {"TYPE": "Accepted"}
        raise Problem(message="JSON DecodingFailure at : Unexpected JSON {\"TYPE\": %s}" % json.dumps(kind))

    def cluster_start_backup_node(self, command):
        """ClusterNode.executeCommand (E§1.3): only a configured, unappointed backup accepts."""
        if not self.is_backup:
            self.lab_timeline("ClusterStartBackupNodeRefused", code="ClusterNodeIsNotBackup")
            raise Problem("ClusterNodeIsNotBackup")
        setting = command["setting"]
        with self.lock:
            if self.role == "passive" and self.passive_setting.get("idToUri") == setting.get("idToUri"):
                return {"TYPE": "Accepted"}
            if self.role != "backup":
                raise Problem(message="Cluster node is not ready to accept a backup node configuration")
            if setting["activeId"] == self.own_id or self.own_id not in setting["idToUri"]:
                raise Problem(message="ClusterStartBackupNode(%s) sent to wrong Node:%s" % (cl.setting_string(setting), self.own_id))
            self.log.info(CLUSTER_LOGGER, "Appointed by the active Node:%s as passive backup Node:%s" % (setting["activeId"], self.own_id))
            self.start_as_passive({"TYPE": "NodesAppointed", "setting": setting}, file_event_id=command.get("fileEventId", 0))
        self.lab_timeline("BackupNodeAppointed", active=setting["activeId"])
        return {"TYPE": "Accepted"}

    def cluster_inhibit_activation(self, command):
        with self.lock:
            cs = self.state.cluster_state if self.state else cl.EMPTY
            if self.role == "active" and cs.get("TYPE") == "FailedOver" and cl.active_id(cs) == self.own_id:
                return {"TYPE": "ClusterInhibitActivation.Response", "failedOver": cs}
            self.inhibit_until = time.monotonic() + self.lab.scale(float(command.get("duration", 0)))
            return {"TYPE": "ClusterInhibitActivation.Response"}

    def _check_peer(self, command):
        cs = self.state.cluster_state
        if not cl.has_nodes(cs) or command.get("activeId") != self.own_id or command.get("passiveId") != cl.passive_id(cs):
            raise Problem("ClusterCommandInapplicable", arguments={
                "command": command["TYPE"], "clusterState": cl.state_string(cs)})

    def cluster_preparecoupling(self, command):
        with self.lock:
            self._check_peer(command)
            self.last_passive_contact = time.monotonic()
            cs = self.state.cluster_state
            kind = cs["TYPE"]
            if kind in ("PreparedToBeCoupled", "Coupled"):
                return {"TYPE": "Accepted"}
            if kind == "ActiveShutDown":
                raise Problem("ClusterCommandInapplicable", arguments={
                    "command": "ClusterPrepareCoupling", "clusterState": cl.state_string(self.state.cluster_state)})
            event = {"TYPE": "ClusterCouplingPrepared", "activeId": self.own_id}
            new_state = cl.apply_event(cs, event)
        self.require_legacy_consent(event, new_state)
        with self.lock:
            if self.state.cluster_state.get("TYPE") != kind:
                return {"TYPE": "Accepted"}  # changed meanwhile (e.g. a concurrent, duplicate command)
            self.persist([event])
        return {"TYPE": "Accepted"}

    def require_legacy_consent(self, event, new_state):
        """≤ 2.5 with an Agent watch: ``ClusterCouplingPrepared`` and ``ClusterCoupled`` are persisted only when
        the watch accepted them; its Problem is the command's answer, so the passive node retries.

        Lab simplification [assumption]: 2.5.9 persists first and reports afterwards
        (ActiveClusterNode.persistWithoutTouchingHeartbeat), and a node whose heartbeat the watch rejects
        halts with "HALT because ClusterWatch heartbeat failed" and is restarted by its watchdog. The lab has
        no watchdog, so it refuses up front; for the operator the effect is the same: the nodes do not couple
        while the watch refuses, and the active node stays in the state it had (NodesAppointed after the
        standalone-secondary fault)."""
        if not self.legacy_watches():
            return
        problem = self.report_legacy({"TYPE": "ClusterWatchEvents", "from": self.own_id, "events": [event],
                                      "clusterState": new_state})
        if problem is not None:
            self.lab_timeline("ClusterWatchRefusedEvent", cluster_event=event["TYPE"], code=problem.code)
            raise Problem(problem.code, problem.message, problem.arguments, problem.status)

    def cluster_couple(self, command):
        """ClusterCouple needs a registered Cluster Watch: NoClusterWatch otherwise (E§3.7, E§5.1)."""
        with self.lock:
            self._check_peer(command)
            cs = self.state.cluster_state
            if cs["TYPE"] == "Coupled":
                return {"TYPE": "Accepted"}
            if cs["TYPE"] != "PreparedToBeCoupled":
                raise Problem("ClusterCommandInapplicable", arguments={"command": "ClusterCouple", "clusterState": cl.state_string(cs)})
            event = {"TYPE": "ClusterCoupled", "activeId": self.own_id}
            new_state = cl.apply_event(cs, event)
        if self.legacy_watches():
            self.require_legacy_consent(event, new_state)
        else:
            watch_id = cs["setting"].get("clusterWatchId")
            if not watch_id:
                raise Problem("NoClusterWatch")
            confirm = self.hub.ask({"TYPE": "ClusterWatchCheckEvent", "from": self.own_id, "event": event,
                                    "clusterState": new_state, "forceWhenUntaught": False},
                                   timeout=max(1.0, self.lab.scale(self.heartbeat_timeout)))
            if confirm is None:
                raise Problem(message="ClusterWatch '%s' did not confirm the ClusterCoupled event" % watch_id)
            if confirm.get("problem"):
                raise Problem.from_json(confirm["problem"])
        with self.lock:
            if self.state.cluster_state.get("TYPE") != "PreparedToBeCoupled":
                return {"TYPE": "Accepted"}
            self.last_passive_contact = time.monotonic()
            self.persist([event])
        return {"TYPE": "Accepted"}

    def cluster_passivedown(self, command):
        with self.lock:
            self._check_peer(command)
        self.on_passive_lost(command["passiveId"], "the passive node is shutting down (ClusterPassiveDown)")
        return {"TYPE": "Accepted"}

    def cluster_recouple(self, command):
        return self.cluster_passivedown(command)

    # ------------------------------------------------------------------ HTTP routing (E§3.1)
    def route(self, request):
        path = request.path
        if not path.startswith("/controller/api"):
            if path.startswith("/controller/TEST/") and self.test_routes:
                return self.route_test(request)
            host = request.header("Host") or "%s:%s" % request.local_address[:2]
            return Response(404, "Try %s://%s/controller/api" % (request.scheme, host), "text/plain; charset=UTF-8")
        sub = path[len("/controller/api"):].strip("/")
        headers = {"Cache-Control": API_CACHE_CONTROL}
        if sub == "session":
            return self.route_session(request, headers)
        request.user = self.gate.authenticate(request)
        if sub == "":
            return json_response(self.overview(), headers=headers)
        if sub == "cluster":
            return self.route_cluster(request, headers)
        if sub == "cluster/command":
            self._post_only(request)
            return json_response(self.execute_cluster_command(request.json()), headers=headers)
        if sub == "cluster/clusterWatchMessage":
            return self.route_watch_messages(request, headers)
        if sub == "command":
            self._post_only(request)
            return json_response(self.execute_command(request.json()), headers=headers)
        if sub == "event":
            return self.route_events(request, headers)
        if sub == "journal":
            return self.route_journal(request, headers)
        if path.endswith("/order/"):
            self.require_ready()
            return json_response([self.state.orders[k] for k in sorted(self.state.orders)], headers=headers)
        if sub == "order":
            self.require_ready()
            return json_response({"count": len(self.state.orders)}, headers=headers)
        return Response(404, "The requested resource could not be found.", "text/plain; charset=UTF-8", headers)

    @staticmethod
    def _post_only(request):
        if request.method != "POST":
            raise HttpError(Response(405, "HTTP method not allowed, supported methods: POST", "text/plain; charset=UTF-8"))

    def require_ready(self):
        if self.role == "backup":
            raise Problem("BackupClusterNodeNotAppointed")
        if self.state is None or self.role == "starting":
            raise Problem("ClusterNodeIsNotReady")

    def route_session(self, request, headers):
        if request.method == "GET":
            self.gate.authenticate(request)
            return json_response(self.gate.session_list(), headers=headers)
        body = request.json() or {}
        if body.get("TYPE") == "Login":
            return json_response(self.gate.login(request, body, self.lab.version), headers=headers)
        if body.get("TYPE") == "Logout":
            token = body.get("sessionToken") or request.header("x-js7-session")
            if self.gate.session_user(token) is None:
                raise Problem("InvalidSessionToken")
            self.gate.logout(token)
            return json_response({"TYPE": "Accepted"}, headers=headers)
        raise Problem(message="Unknown session command")

    def overview(self):
        """ControllerOverview (E§3.4): epoch-ms timestamps, seconds for durations, no isTerminating."""
        running = time.time() - self.started_at_ms / 1000.0
        overview = {"id": self.controller_id, "version": self.lab.version, "buildId": self.lab.build_id}
        if self.role in ("active", "passive") and self.state and self.state.initially_started_at:
            overview["initiallyStartedAt"] = self.state.initially_started_at
        overview["startedAt"] = self.started_at_ms
        overview["totalRunningTime"] = round((self.state.total_running_time if self.state else 0) + running, 3)
        if self.role in ("active", "passive"):
            overview["orderCount"] = len(self.state.orders)
        overview["system"] = system_info()
        overview["java"] = java_info()
        return overview

    def route_cluster(self, request, headers):
        if self.role == "backup":
            raise Problem("BackupClusterNodeNotAppointed")  # E§3.5: also for ?return=ClusterNodeState
        self.require_ready()
        with self.lock:
            cs = self.state.cluster_state
            event_id = self.state.event_id
        if request.query.get("return") == "ClusterNodeState":
            return json_response({"eventId": event_id, "nodeId": self.own_id, "isBackup": self.is_backup,
                                  "clusterState": cs}, headers=headers)
        return json_response(dict({"eventId": event_id}, **cs), headers=headers)

    def route_watch_messages(self, request, headers):
        watch_id = request.query.get("clusterWatchId", "")
        keep_alive = float(request.query.get("keepAlive") or 15)
        self.log.info(CLUSTER_LOGGER, "ClusterWatch '%s' connected for requests" % watch_id)

        def on_open():
            if self.role == "active" and cl.has_nodes(self.state.cluster_state):
                self.hub.send({"TYPE": "ClusterWatchCheckState", "from": self.own_id, "clusterState": self.state.cluster_state})
        stream = self.hub.open_stream(watch_id, keep_alive, self.stopping, on_open)
        return Response(200, b"", "application/x-ndjson", headers, stream=stream)

    def route_events(self, request, headers):
        """GET /controller/api/event (E§3.8): NDJSON of Stamped events."""
        accept = request.header("Accept") or ""
        if not any(a in accept for a in ("application/x-ndjson", "*/*", "application/*")):
            return Response(406, "Resource representation is only available with these types:\napplication/x-ndjson",
                            "text/plain; charset=UTF-8", headers)
        self.require_ready()
        wanted = [name.strip() for name in (request.query.get("return") or "Event").split(",") if name.strip()]
        timeout = _parse_timeout(request.query.get("timeout"))
        limit = int(request.query.get("limit") or 0) or None
        heartbeat = request.query.get("heartbeat")
        heartbeat = float(heartbeat) if heartbeat else None
        with self.lock:
            after = int(request.query["after"]) if request.query.get("after") not in (None, "") else self.state.event_id
            torn = self.state.torn_event_id
            if after < torn:
                raise Problem("EventSeqTorn", arguments={"requestedAfter": after, "tornEventId": torn})
        deadline = time.monotonic() + timeout

        def generate():
            cursor = after
            sent = 0
            last_beat = time.monotonic()
            while True:
                with self.cond:
                    batch = [e for e in self.state.events if e["eventId"] > cursor]
                    if not batch:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0 or self.stopping.is_set():
                            return
                        wait = min(remaining, 0.5)
                        if heartbeat:
                            wait = min(wait, max(0.01, heartbeat - (time.monotonic() - last_beat)))
                        self.cond.wait(wait)
                        batch = [e for e in self.state.events if e["eventId"] > cursor]
                lines = []
                for event in batch:
                    cursor = event["eventId"]
                    if _event_matches(event["TYPE"], wanted):
                        lines.append(dumps(event) + "\n")
                        sent += 1
                        if limit and sent >= limit:
                            break
                if lines:
                    yield "".join(lines).encode("utf-8")
                    last_beat = time.monotonic()
                if limit and sent >= limit:
                    return
                if heartbeat and time.monotonic() - last_beat >= heartbeat:
                    last_beat = time.monotonic()
                    yield b"\n"
                if time.monotonic() >= deadline:
                    return
        return Response(200, b"", "application/x-ndjson", headers, stream=generate())

    def route_journal(self, request, headers):
        """Journal replication for the passive node (E§3.1 `journal`; E§2.2 same file name).

        The query form (file, position, timeout) and the X-Js7-Lab-Next-File header are the lab's own.
        """
        file_id = int(request.query.get("file", "-1"))
        position = int(request.query.get("position", "0"))
        if self.role != "active":
            handover = self.handover
            if handover and file_id == handover["file"] and position < handover["end"]:
                data = read_from(handover["path"], position) or b""
                return Response(200, data, "application/octet-stream",
                                dict(headers, **{"X-Js7-Lab-Next-File": str(handover["file"])}))
            raise Problem("ClusterNodeIsNotActive")
        timeout = min(float(request.query.get("timeout") or 0), 60.0)
        self.last_passive_contact = time.monotonic()
        writer = self.writer
        headers = dict(headers, **{"X-Js7-Lab-Next-File": str(writer.file_event_id)})
        if file_id != writer.file_event_id:
            data = read_from(self.files.path(file_id), position) if file_id >= 0 else None
            return Response(200, data or b"", "application/octet-stream", headers)
        deadline = time.monotonic() + timeout
        with self.cond:
            while writer.position <= position and time.monotonic() < deadline and self.role == "active" \
                    and not self.stopping.is_set():
                self.cond.wait(min(0.2, max(0.01, deadline - time.monotonic())))
        self.last_passive_contact = time.monotonic()
        data = read_from(writer.path, position) or b""
        return Response(200, data, "application/octet-stream", headers)

    def route_test(self, request):
        """/controller/TEST/... only with js7.web.server.test = on (E§3.1): lab helpers."""
        request.user = self.gate.authenticate(request)
        if request.path == "/controller/TEST/addOrders" and request.method == "POST":
            body = request.json() or {}
            return json_response(self.command_add_orders(body.get("orders", []), single=False))
        return Response(404, "Unknown TEST route", "text/plain; charset=UTF-8")

    # ------------------------------------------------------------------ shutdown
    def shutdown_now(self):
        self.lab_timeline("ControllerStopping")
        with self.lock:
            previous = self.role
            self.role = "stopping"
            self.cond.notify_all()
        self.hub.close_all()
        if self.web:
            self.web.close()
            self.web = None
        with self.lock:
            if self.writer:
                self.writer.close()
            if self.replica and self.replica.get("fh"):
                self.replica["fh"].close()
        self.log.info(MAIN_LOGGER, "Controller terminated (was %s)" % previous)
        self.lab_timeline("ControllerStopped", exit_code=self.exit_code)
        self.log.close()
        self.log = None


def system_info():
    info = {"hostname": socket.gethostname()}
    try:
        with open("/etc/os-release", encoding="utf-8") as file:
            for line in file:
                if line.startswith("PRETTY_NAME="):
                    info["distribution"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    info["cpuModel"] = platform.processor() or platform.machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    info["mxBeans"] = {"operatingSystem": {"availableProcessors": os.cpu_count() or 1, "systemLoadAverage": round(load, 2)}}
    return info


def java_info():
    return {"version": "17 (lab: Python %s)" % platform.python_version(), "availableProcessors": os.cpu_count() or 1,
            "memory": {"maximum": 500 * 1024 * 1024, "total": 128 * 1024 * 1024, "free": 64 * 1024 * 1024},
            "systemProperties": {"java.vendor": "js7-lab", "os.arch": platform.machine(), "os.name": platform.system(),
                                 "os.version": platform.release()}}


def main(argv, lab=None):
    return ControllerMain(argv, lab).run()
