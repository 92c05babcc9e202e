"""The simulated JS7 Agent: ``run.py js7.agent.main.AgentMain --http-port=... --data-directory=...``.

Overview and session (E§7), its own state/lock and ``agent--<n>.journal`` (E§1.6), and for ≤ 2.5
the legacy Cluster Watch at ``/agent/api/clusterWatch`` that keeps the ClusterState per Controller
ID **in memory only** (E§5.1, E§5.2).
"""
from __future__ import annotations

import os
import platform
import sys
import threading
import time

from . import cluster as cl
from . import hoconfig
from .common import EventIdGenerator, format_duration
from .controller import java_info, system_info
from .httpserver import API_CACHE_CONTROL, GateKeeper, HttpError, Response, User, json_response
from .journal import JournalFiles, JournalWriter, iso
from .problems import Problem
from .program import Program

MAIN_LOGGER = "js7.agent.main.AgentMain"
WEB_LOGGER = "js7.agent.web.AgentWebServer"
WATCH_LOGGER = "js7.core.cluster.watch.ClusterWatch"

DEFAULTS = """
js7.web.server.auth.realm = "JS7 Agent"
js7.web.server.auth.invalid-authentication-delay = 1s
js7.web.server.auth.https-client-authentication = on
js7.web.server.auth.loopback-is-public = off
js7.web.server.auth.get-is-public = off
js7.web.server.auth.public = off
js7.auth.session.timeout = 1 hour
"""


class LegacyClusterWatch:
    """ClusterWatchRegister: ControllerId -> held ClusterState, memory only (E§5.1, E§5.2).

    The rules are those of the 2.5.9 Agent's ClusterWatch (js7-cluster-watch ClusterWatch.scala at
    tag v2.5.9; E§5.2 reads the same rules from v2.4.1):

    - untaught (nothing held, i.e. after the Agent's start): the first report teaches it;
    - a report of the state already held is accepted;
    - otherwise the sender must be the node the held state names active (``ClusterWatchInactiveNode``),
      except for ``ClusterSwitchedOver`` (both nodes report it) and ``ClusterFailedOver`` (only from the
      held passive node once the active node's heartbeat has expired; ``ClusterFailOverWhilePassiveLost``
      when the held state is PassiveLost of the failed node);
    - the reported events must apply to the held state (``ClusterWatchEventMismatch``); a result that
      differs from the reported state is accepted with a warning ("forced"), as is a heartbeat of the
      held active node that reports another state.

    So a watch that holds a state in which the *other* node is active refuses every report of a
    re-installed cluster whose Primary is active, until the Agent restarts: the stale watch.
    Wire format: ``ClusterWatchHeartbeat`` / ``ClusterWatchEvents`` as in E§5.1.
    """

    def __init__(self, valid_duration, log):
        self.valid_duration = valid_duration
        self.log = log
        self.lock = threading.Lock()
        self.held = {}  # controllerId -> {"clusterState", "lastHeartbeat", "from"}

    def get(self, controller_id):
        with self.lock:
            entry = self.held.get(controller_id)
            if entry is None:
                raise Problem(message="No ClusterState registered for '%s'" % controller_id)
            return entry["clusterState"]

    def _fresh(self, entry):
        return time.monotonic() - entry["lastHeartbeat"] < self.valid_duration

    def _reject(self, controller_id, sender, problem):
        self.log.warn(WATCH_LOGGER, "%s: Node:%s: %s" % (controller_id, sender, problem.render()))
        raise problem

    def apply(self, controller_id, message):
        kind = message.get("TYPE")
        sender = message.get("from")
        reported = message.get("clusterState")
        if kind == "ClusterWatchHeartbeat":
            events, operation = [], "heartbeat"
        elif kind == "ClusterWatchEvents":
            events = message.get("events") or []
            operation = "events %s" % ", ".join(e.get("TYPE", "?") for e in events)
        else:
            raise Problem(message="Unknown ClusterWatchMessage %s" % kind)
        with self.lock:
            entry = self.held.get(controller_id)
            if entry is None:
                self.held[controller_id] = {"clusterState": reported, "lastHeartbeat": time.monotonic(), "from": sender}
                self.log.info(WATCH_LOGGER, "%s: Node:%s teaches clusterState=%s" % (
                    controller_id, sender, cl.state_string(reported)))
                return
            held = entry["clusterState"]
            if reported == held:
                entry["lastHeartbeat"] = time.monotonic()
                return
            ago = format_duration(time.monotonic() - entry["lastHeartbeat"])
            inactive = Problem("ClusterWatchInactiveNode", arguments={
                "operation": operation, "from": sender, "clusterState": cl.state_string(held), "lastHeartbeat": ago})
            first = events[0].get("TYPE") if events else None
            if first == "ClusterSwitchedOver":
                pass
            elif first == "ClusterFailedOver":
                if held.get("TYPE") == "PassiveLost" and cl.active_id(held) == events[0].get("failedActiveId"):
                    self._reject(controller_id, sender, Problem("ClusterFailOverWhilePassiveLost"))
                if not (sender == cl.passive_id(held) and not self._fresh(entry)):
                    self._reject(controller_id, sender, inactive)
            elif sender != cl.active_id(held):
                self._reject(controller_id, sender, inactive)
            state = held
            try:
                for event in events:
                    state = cl.apply_event(state, event)
            except cl.ClusterStateError:
                self._reject(controller_id, sender, Problem("ClusterWatchEventMismatch", arguments={
                    "from": sender, "clusterState": cl.state_string(reported), "registered": cl.state_string(held)}))
            if state != reported:
                message = "%s: Node:%s forced ClusterState to %s maybe because heartbeat of up to now active %s is too long ago (%s)"
                self.log.warn(WATCH_LOGGER, message % (controller_id, sender, cl.state_string(reported), cl.active_id(held), ago))
            elif events:
                self.log.info(WATCH_LOGGER, "%s: %s from Node:%s -> %s" % (
                    controller_id, ", ".join(e["TYPE"] for e in events), sender, cl.state_string(reported)))
            self.held[controller_id] = {"clusterState": reported, "lastHeartbeat": time.monotonic(), "from": sender}


class AgentMain(Program):
    component = "agent"
    log_prefix = "agent"
    main_logger = MAIN_LOGGER

    def __init__(self, argv, lab=None):
        super().__init__(argv, lab)
        self.files = JournalFiles(self.state_dir, "agent")
        self.writer = None
        self.lock = threading.RLock()

    def run(self) -> int:
        if not self.acquire_lock():
            return 1
        self.clean_work_directory()
        self.write_pid_into_lock()
        self.start_logging("Agent")
        self.log.info(MAIN_LOGGER, "JS7 Agent %s (lab simulation, Python %s) pid=%d %s" % (
            self.lab.version, platform.python_version(), os.getpid(), " ".join(sys.argv[2:])))
        try:
            self.config = hoconfig.load(self.config_dir, self.data_dir, "agent.conf", DEFAULTS)
        except hoconfig.ConfigError as exc:
            return self.fail("Invalid configuration: %s" % exc)
        scale = self.lab.scale
        self.gate = GateKeeper(self.config, "JS7 Agent",
                               scale(self.config.get_duration("js7.web.server.auth.invalid-authentication-delay", 1.0)),
                               self.log, WEB_LOGGER, self.config.get_duration("js7.auth.session.timeout", 3600.0))
        # clusterWatchHeartbeatValidDuration with default timing 3s/10s = 16s (E§1.2), scaled
        self.watch = LegacyClusterWatch(scale(16.0), self.log)
        self.recover_journal()
        try:
            self.open_listeners(self.route, WEB_LOGGER)
        except (OSError, FileNotFoundError) as exc:
            return self.fail("Web server could not be started: %s" % exc)
        self.install_signal_handlers()
        token = self.gate.create_session(User("Agent"))
        self.write_work_files("agent", token)
        self.log.info(MAIN_LOGGER, "Agent is ready, listening on %s" % ", ".join("%s://%s:%d" % l for l in self.listeners))
        self.lab.timeline_event("agent", "AgentStarted", pid=os.getpid())
        while not self.stopping.wait(0.5):
            pass
        self.lab.timeline_event("agent", "AgentStopped")
        if self.web:
            self.web.close()
            self.web = None
        if self.writer:
            self.writer.close()
        self.log.info(MAIN_LOGGER, "Agent terminated")
        self.log.close()
        return self.exit_code

    def fail(self, message):
        self.log.error(MAIN_LOGGER, message)
        sys.stderr.write(message + "\n")
        self.log.close()
        return 1

    def recover_journal(self):
        """agent--<n>.journal and the agent-journal link; a new file at every start (E§1.6)."""
        current = self.files.current()
        event_id, header = 0, {}
        if current:
            parsed = self.files.read(current[1])
            header = parsed.header or {}
            event_id = parsed.last_event_id
        ids = EventIdGenerator(event_id)
        now = int(time.time() * 1000)
        new_header = {"TYPE": "JS7.Journal", "journalId": header.get("journalId") or "agent-%d" % now,
                      "eventId": event_id, "generation": header.get("generation", 0) + 1,
                      "totalEventCount": header.get("totalEventCount", 0), "totalRunningTime": 0,
                      "timestamp": iso(now), "initiallyStartedAt": header.get("initiallyStartedAt") or iso(now),
                      "version": "1", "js7Version": self.lab.version, "buildId": self.lab.build_id, "typeName": "AgentState"}
        self.writer = JournalWriter(self.files, event_id, new_header, [{"TYPE": "SnapshotEventId", "eventId": event_id}])
        self.files.delete_older_than(event_id)
        self.writer.append([{"eventId": ids.next(), "TYPE": "AgentReady", "timezone": "Etc/UTC"}])

    def on_sigterm(self):
        self.stopping.set()

    # ------------------------------------------------------------------ HTTP
    def route(self, request):
        path = request.path
        headers = {"Cache-Control": API_CACHE_CONTROL}
        if not path.startswith("/agent/api"):
            host = request.header("Host") or "%s:%s" % request.local_address[:2]
            return Response(404, "Try %s://%s/agent/api" % (request.scheme, host), "text/plain; charset=UTF-8")
        sub = path[len("/agent/api"):].strip("/")
        if sub == "session":
            body = request.json() or {}
            if body.get("TYPE") == "Login":
                return json_response(self.gate.login(request, body, self.lab.version), headers=headers)
            if body.get("TYPE") == "Logout":
                self.gate.logout(body.get("sessionToken") or request.header("x-js7-session"))
                return json_response({"TYPE": "Accepted"}, headers=headers)
            raise Problem(message="Unknown session command")
        request.user = self.gate.authenticate(request)
        if sub == "":
            # AgentOverview (E§7): no id, no isTerminating; Cache-Control max-age=0
            return json_response({"version": self.lab.version, "buildId": self.lab.build_id,
                                  "startedAt": self.started_at_ms, "system": system_info(), "java": java_info()},
                                 headers={"Cache-Control": "max-age=0"})
        if sub == "command":
            if request.method != "POST":
                raise HttpError(Response(405, "HTTP method not allowed", "text/plain"))
            command = request.json() or {}
            if command.get("TYPE") == "ShutDown":
                self.log.info(MAIN_LOGGER, "ShutDown command")
                threading.Timer(0.05, self.stopping.set).start()
                return json_response({"TYPE": "Accepted"}, headers=headers)
            raise Problem(message="Unknown command %s" % command.get("TYPE"))
        if sub == "clusterWatch":
            if not self.lab.legacy_watch:  # no Agent takes part in the Cluster Watch from 2.6 on (E§5.1)
                raise HttpError(Response(404, "The requested resource could not be found.", "text/plain", headers))
            controller_id = request.query.get("controllerId") or request.user.id
            if request.method == "GET":
                return json_response(self.watch.get(controller_id), headers=headers)
            message = request.json() or {}
            self.watch.apply(controller_id, message)
            return json_response({"TYPE": "Accepted"}, headers=headers)
        return Response(404, "The requested resource could not be found.", "text/plain; charset=UTF-8", headers)


def main(argv, lab=None):
    return AgentMain(argv, lab).run()
