"""The simulated JOC Cockpit: sessions, its "database", Controller registration,
status derivation, appointment and the Cluster Watch.

Every behaviour cites joc-api.md (J§n) or js7-engine.md (E§n); what is not grounded
in the reference is marked ASSUMPTION and listed in tests/lab/README.md.
"""

import json
import os
import re
import threading
import time
import uuid

from .client import Client, Unreachable
from .errors import AccountError, JocError, account_answer, bad_request, joc_date

URL_PATTERN = re.compile(r"^https?://[^\s]+$")  # J§2.2: checked in code
ID_FORBIDDEN = re.compile(r'[/\\<>?!&:;()"|*^]')  # J§2.2 controllerId pattern

# J§2.7: clusterState._text = "Cluster" + TYPE, with these severities.
CLUSTER_SEVERITY = {
    "Coupled": 0,
    "NodesAppointed": 1, "PassiveLost": 1, "SwitchedOver": 1, "FailedOver": 1,
    "Empty": 2, "PreparedToBeCoupled": 2, "ActiveNodeIsNotReady": 2, "ActiveShutDown": 2,
    "NodeLossToBeConfirmed": 2, "FailoverToBeConfirmed": 2,
    "Unknown": 4,
}

PROXY_LOGGER = "com.sos.joc.classes.proxy.ProxyContext"
WATCH_LOGGER = "com.sos.joc.classes.proxy.ClusterWatch"
EDIT_LOGGER = "com.sos.joc.controller.impl.ControllerEditResourceImpl"
AUTH_LOGGER = "com.sos.auth.classes.SOSServicePermissionIam"

# Permissions of the lab accounts (J§1.5). root has all, like the product's default account.
ALL_PERMISSIONS = {"view", "manage", "switch_over"}


class Settings:
    """``<jetty_base>/resources/joc/lab-joc.json``, re-read where a knob may change at run time."""

    def __init__(self, path):
        self.path = path
        self.reload()

    def reload(self):
        with open(self.path, encoding="utf-8") as stream:
            self.data = json.load(stream)

    def get(self, key, default=None):
        return self.data.get(key, default)

    @property
    def version(self):
        return self.data.get("version", "2.7.1")

    @property
    def legacy_watch(self):
        """JS7 <= 2.5 accepts ``clusterWatcher`` (J§3.2, J§3.3); 2.6+ ignores it (J§3.1)."""
        major, minor = (int(part) for part in self.version.split(".")[:2])
        return (major, minor) <= (2, 5)

    def scaled(self, seconds):
        return seconds * float(self.data.get("time_scale", 0.2))


class Database:
    """JOC's database: registrations survive a JOC restart. Stored as JSON."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.RLock()
        if os.path.exists(path):
            with open(path, encoding="utf-8") as stream:
                self.data = json.load(stream)
        else:
            self.data = {"controllers": {}, "next_id": 1}

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as stream:
            json.dump(self.data, stream, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def controllers(self):
        return self.data["controllers"]

    def next_id(self):
        value = self.data["next_id"]
        self.data["next_id"] = value + 1
        return value


class Session:
    def __init__(self, account, timeout_ms):
        self.token = str(uuid.uuid4())
        self.account = account
        self.timeout_ms = timeout_ms
        self.last_touch = time.time()

    def remaining_ms(self):
        if self.timeout_ms < 0:
            return -1
        return int(self.timeout_ms - (time.time() - self.last_touch) * 1000)


class Cockpit:
    def __init__(self, settings, log, url):
        self.settings = settings
        self.log = log
        self.url = url
        self.db = Database(settings.get("db"))
        self.sessions = {}
        self.sessions_lock = threading.Lock()
        self.started = time.time()
        self.watch = ClusterWatchService(self)

    # ---- clients -------------------------------------------------------------------------

    def controller_client(self, timeout=None):
        """JOC's connection to Controllers: Basic credentials and TLS trust from the settings."""
        s = self.settings
        return Client(user=s.get("controller_user"), password=s.get("controller_password"),
                      ca_file=s.get("ca_file"), client_cert=s.get("client_cert"),
                      client_key=s.get("client_key"),
                      timeout=timeout or max(2.0, s.scaled(10.0)))

    # ---- authentication (J§1) --------------------------------------------------------------

    def login(self, account, password):
        self.settings.reload()
        accounts = self.settings.get("accounts", {})
        entry = accounts.get(account)
        if entry is None or entry.get("password") != password:
            self.log.warn(AUTH_LOGGER, "Login of account '%s' failed: Access denied" % account)
            raise AccountError(401, "Access denied", account=account, api_call="./authentication/login")
        # sessionTimeout: remaining idle time in ms (J§1.3); the idle timeout is a lab knob.
        timeout_ms = int(float(self.settings.get("session_timeout", 1800)) * 1000)
        session = Session(account, timeout_ms)
        with self.sessions_lock:
            self.sessions[session.token] = session
        self.log.info(AUTH_LOGGER, "Login of account '%s' (identity service JOC)" % account)
        return session

    def session(self, token, api_call):
        """J§1.2/§1.3: X-Access-Token on every call; unknown or idle-expired → 440."""
        if not token:
            raise AccountError(401, "Authentication failure: missing X-Access-Token header", api_call=api_call)
        with self.sessions_lock:
            session = self.sessions.get(token)
            if session is not None and session.remaining_ms() == 0 or (
                    session is not None and session.timeout_ms >= 0 and session.remaining_ms() < 0):
                del self.sessions[token]
                session = None
            if session is None:
                raise AccountError(440, "SessionNotExistException: Session has expired. New login is neccessary",
                                   api_call=api_call)
            session.last_touch = time.time()  # every authenticated call resets the idle timer
            return session

    def logout(self, token):
        with self.sessions_lock:
            session = self.sessions.pop(token, None)
        return account_answer(session.account if session else "", "", authenticated=False)

    def permit(self, session, permission, api_call):
        permissions = self.settings.get("accounts", {}).get(session.account, {}).get("permissions", ALL_PERMISSIONS)
        if permission not in permissions:
            raise AccountError(403, "Access denied: missing permission '%s'" % permission,
                               account=session.account, api_call=api_call)

    # ---- helpers ---------------------------------------------------------------------------

    def registration(self, controller_id):
        with self.db.lock:
            entry = self.db.controllers().get(controller_id)
            return json.loads(json.dumps(entry)) if entry else None

    @staticmethod
    def cluster_uri(instance):
        return instance.get("clusterUrl") or instance["url"]

    def overview(self, url, client=None):
        """GET {url}/controller/api (J§2.5, E§3.4). Returns (Response) or raises Unreachable."""
        client = client or self.controller_client()
        return client.get(url.rstrip("/") + "/controller/api")

    def _connection_error(self, url, error):
        """Map a failed connection to JOC's error codes (J§2.5, ASSUMPTION on the exact mapping [I])."""
        if error.kind == "timeout":
            return JocError("JOC-402", "ControllerConnectionRefusedException", url)
        if error.kind == "read-timeout":
            return JocError("JOC-401", "ControllerNoResponseException", url)
        if error.kind == "ssl":
            return JocError("JOC-402", "ControllerSSLCertificateException", "%s: %s" % (url, error.detail))
        return bad_request("java.net.ConnectException: Connection refused: %s" % url)

    @staticmethod
    def _problem_text(response):
        body = response.json()
        if isinstance(body, dict) and body.get("TYPE") == "Problem":
            if body.get("code"):
                return "%s: %s" % (body["code"], body.get("message", ""))  # J§6 engine problems
            return body.get("message", "")
        return (response.body or b"").decode("utf-8", "replace").strip()

    # ---- ./controller/test (J§2.5) ---------------------------------------------------------------

    def test(self, body):
        url = body.get("url")
        controller_id = body.get("controllerId") or ""
        validate_url(url, "url")
        try:
            response = self.overview(url)
        except Unreachable as error:
            raise self._connection_error(url, error)
        if response.status == 503:
            raise JocError("JOC-503", "ControllerServiceUnavailableException", self._problem_text(response))
        if response.status == 401 or response.status == 403:
            raise JocError("JOC-402", "ControllerAuthorizationException", "%s: %s" % (url, self._problem_text(response)))
        if response.status != 200:
            raise bad_request("%s: HTTP %s %s" % (url, response.status, self._problem_text(response)))
        overview = response.json() or {}
        actual = overview.get("id")
        if controller_id and actual != controller_id:
            raise JocError("JOC-405", "ControllerInvalidResponseDataException",
                           "Connection was successful but Controller ID '%s' of URL '%s' is not the expected "
                           "Controller ID '%s'" % (actual, url, controller_id))
        return {"deliveryDate": joc_date(),
                "controller": {"url": url, "controllerId": actual,
                               "connectionState": {"severity": 0, "_text": "established"}}}

    # ---- ./controller/register (J§2.2, J§2.3) ----------------------------------------------------

    def register(self, body, session):
        controller_id = body.get("controllerId") or ""
        instances = body.get("controllers")
        if controller_id and (len(controller_id) > 100 or ID_FORBIDDEN.search(controller_id)):
            raise bad_request("$.controllerId: does not match the pattern")
        if not isinstance(instances, list) or not 1 <= len(instances) <= 2:
            raise bad_request("$.controllers: 1 or 2 Controller instances are required")
        cleaned = []
        for index, instance in enumerate(instances):
            if not isinstance(instance, dict):
                raise bad_request("$.controllers[%d]: object expected" % index)
            validate_url(instance.get("url"), "controllers[%d].url" % index)
            if instance.get("clusterUrl"):
                validate_url(instance["clusterUrl"], "controllers[%d].clusterUrl" % index)
            role = instance.get("role")
            if role not in ("STANDALONE", "PRIMARY", "BACKUP"):
                raise bad_request("$.controllers[%d].role: must be one of STANDALONE, PRIMARY, BACKUP" % index)
            title = instance.get("title")
            if title is not None and (len(title) > 30 or "<" in title or ">" in title):
                raise bad_request("$.controllers[%d].title: at most 30 characters without <>" % index)
            cleaned.append({"url": instance["url"], "clusterUrl": instance.get("clusterUrl") or None,
                            "role": role, "title": title})
        if len(cleaned) == 1:
            cleaned[0]["role"] = "STANDALONE"  # J§2.2: one item is a standalone
            cleaned[0]["clusterUrl"] = None
        else:
            urls = {i["url"] for i in cleaned}
            roles = {i["role"] for i in cleaned}
            if len(urls) != 2:
                raise bad_request("The cluster members must have different URLs")
            if roles != {"PRIMARY", "BACKUP"}:
                raise bad_request("The cluster members must have the roles PRIMARY and BACKUP")
            cleaned.sort(key=lambda i: 0 if i["role"] == "PRIMARY" else 1)
        for instance in cleaned:
            if not instance["title"]:
                instance["title"] = instance["role"]

        # J§2.3 step 5: connection test of every URL.
        client = self.controller_client()
        answered = {}
        for instance in cleaned:
            url = instance["url"]
            try:
                response = self.overview(url, client)
            except Unreachable as error:
                if controller_id:
                    self.log.info(EDIT_LOGGER, "Controller %s is unreachable (%s); registration is stored anyway"
                                  % (url, error.kind))
                    continue  # update: tolerated, so JOC can store URLs of Controllers that are down
                raise JocError("JOC-402", "ControllerConnectionRefusedException", url)
            if response.status == 200:
                answered[url] = (response.json() or {}).get("id")
            elif response.status == 503:
                # ASSUMPTION: an unappointed backup counts as reachable; its ID comes from its partner.
                continue
            elif not controller_id:
                raise bad_request("%s: HTTP %s %s" % (url, response.status, self._problem_text(response)))
        ids = set(answered.values())
        if len(ids) > 1:
            raise JocError("JOC-405", "ControllerInvalidResponseDataException",
                           "The cluster members must have the same Controller ID: %s"
                           % ", ".join("%s: %s" % item for item in sorted(answered.items())))
        if controller_id:
            for url, actual in answered.items():
                if actual != controller_id:
                    raise JocError("JOC-405", "ControllerInvalidResponseDataException",
                                   "Connection was successful but Controller ID '%s' of URL '%s' is not the "
                                   "expected Controller ID '%s'" % (actual, url, controller_id))
        elif not ids:
            raise JocError("JOC-402", "ControllerConnectionRefusedException", cleaned[0]["url"])

        watcher = body.get("clusterWatcher") if self.settings.legacy_watch else None  # J§2.2, J§3.1
        if watcher is not None:
            if not isinstance(watcher, dict) or not all(watcher.get(k) for k in ("agentId", "agentName", "url")):
                raise bad_request("$.clusterWatcher: agentId, agentName and url are required")
            validate_url(watcher["url"], "clusterWatcher.url")

        with self.db.lock:
            controllers = self.db.controllers()
            first_controller = not controllers
            if controller_id:
                existing = controllers.get(controller_id)
                if existing is None:
                    raise JocError("JOC-408", "DBMissingDataException",
                                   "Couldn't find Controller(s) with ID '%s'. Don't specify the \"controllerId\" "
                                   "in the request for a new registration." % controller_id)
                was_cluster = len(existing["instances"]) == 2
            else:
                controller_id = ids.pop()
                if controller_id in controllers:
                    raise JocError("JOC-171", "JocObjectAlreadyExistException",
                                   "Controller with ID '%s' already exists" % controller_id)
                existing = None
                was_cluster = False
            old_urls = sorted(i["url"] for i in existing["instances"]) if existing else []
            stored = []
            for instance in cleaned:
                previous = None
                if existing:
                    previous = next((i for i in existing["instances"] if i["role"] == instance["role"]), None)
                entry = dict(instance)
                # J§2.3 step 8: rows matched by role keep their id; others are deleted and inserted.
                entry["id"] = previous["id"] if previous else self.db.next_id()
                if entry["role"] != "STANDALONE" and not entry["clusterUrl"]:
                    entry["clusterUrl"] = entry["url"]  # a null clusterUrl defaults to url
                stored.append(entry)
            registration = {
                "controllerId": controller_id,
                "instances": stored,
                "securityLevel": "LOW",
                "forceFailoverConfirmation": bool(body.get("forceFailoverConfirmation", False)),
                # J§3.2: an omitted clusterWatcher makes JOC the watch (2.5); 2.6+ ignores it (J§3.1).
                "clusterWatcher": watcher,
            }
            controllers[controller_id] = registration
            self.db.save()
        audit = (body.get("auditLog") or {}).get("comment")
        self.log.info(EDIT_LOGGER, "Controller '%s' %s: %s%s" % (
            controller_id, "updated" if existing else "registered",
            ", ".join("%s %s" % (i["role"], i["url"]) for i in stored),
            " (audit comment: %s)" % audit if audit else ""))
        self.log.timeline("ControllerRegistered", controllerId=controller_id, update=bool(existing),
                          urls=[i["url"] for i in stored])
        urls_changed = sorted(i["url"] for i in stored) != old_urls
        if len(stored) == 2 and (was_cluster or urls_changed or existing is None):
            # J§2.3 step 9/10: proxy (re)start and ClusterWatch.appointNodes, asynchronously.
            self.appoint_nodes_async(controller_id)
        elif len(stored) == 1:
            self.watch.stop(controller_id)
        if first_controller:
            # J§2.2: the first registration answers with the account's permissions object.
            return {"deliveryDate": joc_date(), "roles": ["all"],
                    "joc": {"administration": {"controllers": {"view": True, "manage": True}}},
                    "controllerDefaults": {"view": True, "switchOver": True},
                    "controllers": {controller_id: {"view": True, "switchOver": True}}}
        return {"deliveryDate": joc_date(), "ok": True}

    def unregister(self, body):
        controller_id = require_id(body)
        with self.db.lock:
            if self.db.controllers().pop(controller_id, None) is None:
                raise JocError("JOC-404", "UnknownJobSchedulerControllerException",
                               "Couldn't find Controller with ID '%s'" % controller_id)
            self.db.save()
        self.watch.stop(controller_id)
        self.log.info(EDIT_LOGGER, "Controller '%s' unregistered" % controller_id)
        self.log.timeline("ControllerUnregistered", controllerId=controller_id)
        return {"deliveryDate": joc_date(), "ok": True}

    # ---- appointment (J§2.3 step 10, J§4) -------------------------------------------------------------

    def appoint_nodes_async(self, controller_id):
        thread = threading.Thread(target=self._appoint_nodes, args=(controller_id,),
                                  name="ClusterWatch-%s" % controller_id, daemon=True)
        thread.start()
        return thread

    def _watched_by_joc(self, registration):
        return not (self.settings.legacy_watch and registration.get("clusterWatcher"))

    def _appoint_nodes(self, controller_id):
        registration = self.registration(controller_id)
        if not registration or len(registration["instances"]) != 2:
            return
        if self._watched_by_joc(registration):
            self.watch.start(controller_id)  # starts or keeps JOC's Cluster Watch
        else:
            self.watch.stop(controller_id)
        primary, backup = registration["instances"]
        wanted = {"Primary": self.cluster_uri(primary), "Backup": self.cluster_uri(backup)}
        client = self.controller_client()
        state = None
        target = None
        for instance in (primary, backup):
            try:
                response = client.get(instance["url"].rstrip("/") + "/controller/api/cluster")
            except Unreachable as error:
                self.log.info(PROXY_LOGGER, "%s: %s is not reachable: %s" % (controller_id, instance["url"], error.kind))
                continue
            if response.status == 200:
                answer = response.json() or {}
                setting = answer.get("setting") or {}
                # the node that is active (Empty + not backup, or activeId names it) gets the command
                if answer.get("TYPE") == "Empty" or wanted.get(setting.get("activeId")) in (
                        self.cluster_uri(instance), instance["url"]):
                    state, target = answer, instance
                    break
                if state is None:
                    state, target = answer, instance
        if state is None:
            self.log.error(WATCH_LOGGER, "%s: ClusterAppointNodes not possible: no Controller instance is reachable"
                           % controller_id)
            return
        current = (state.get("setting") or {}).get("idToUri")
        if current == wanted:
            self.log.info(WATCH_LOGGER, "%s: cluster nodes are already appointed as %s" % (controller_id, wanted))
            return
        command = {"TYPE": "ClusterAppointNodes", "idToUri": wanted,
                   "activeId": (state.get("setting") or {}).get("activeId") or "Primary"}
        watcher = registration.get("clusterWatcher")
        if self.settings.legacy_watch and watcher:
            command["clusterWatches"] = [{"uri": watcher["url"]}]  # J§2.3 step 10, J§3.2 (<= 2.5)
        self.log.info(WATCH_LOGGER, "%s: ClusterAppointNodes %s" % (controller_id, json.dumps(command, sort_keys=True)))
        self.log.timeline("ClusterAppointNodesSent", controllerId=controller_id, idToUri=wanted)
        try:
            response = client.post(target["url"].rstrip("/") + "/controller/api/command", command)
        except Unreachable as error:
            self.log.error(WATCH_LOGGER, "%s: ClusterAppointNodes failed: ControllerConnectionRefusedException: %s"
                           % (controller_id, error.url))
            return
        if response.status != 200:
            # J§6: asynchronous failures only reach joc.log (and the GUI's problem events).
            self.log.error(WATCH_LOGGER, "%s: ClusterAppointNodes failed: %s"
                           % (controller_id, self._problem_text(response)))
            self.log.timeline("ProblemLogged", controllerId=controller_id, problem=self._problem_text(response))
            return
        self.log.info(WATCH_LOGGER, "%s: ClusterAppointNodes accepted" % controller_id)
        self.watch.follow_coupling(controller_id)

    def appoint_nodes(self, body):
        controller_id = require_id(body)
        registration = self.registration(controller_id)
        if not registration or len(registration["instances"]) != 2:
            raise bad_request("There is no Controller cluster configured with the Id '%s'" % controller_id)
        self.appoint_nodes_async(controller_id)
        return {"deliveryDate": joc_date(), "ok": True}

    # ---- status (J§2.7) ---------------------------------------------------------------------------

    def _instance_status(self, registration, instance, client):
        """Volatile state of one instance: its overview and its own /controller/api/cluster."""
        answer = dict(id=instance["id"], controllerId=registration["controllerId"], title=instance["title"],
                      url=instance["url"], role=instance["role"], securityLevel=registration["securityLevel"],
                      surveyDate=joc_date())
        cluster = len(registration["instances"]) == 2
        if cluster:
            answer["clusterUrl"] = self.cluster_uri(instance)
            answer["forceFailoverConfirmation"] = registration.get("forceFailoverConfirmation", False)
        node_state = None
        try:
            overview = client.get(instance["url"].rstrip("/") + "/controller/api")
            cluster_answer = client.get(instance["url"].rstrip("/") + "/controller/api/cluster")
        except Unreachable:
            answer["connectionState"] = {"severity": 2, "_text": "unreachable"}
            answer["componentState"] = {"severity": 2, "_text": "unknown"}
            answer["isCoupled"] = False
            if cluster:
                answer["clusterNodeState"] = {"severity": 2, "_text": "unknown"}
            return answer, None
        answer["connectionState"] = {"severity": 0, "_text": "established"}
        if overview.status == 200:
            data = overview.json() or {}
            answer["version"] = data.get("version")
            if data.get("startedAt"):
                answer["startedAt"] = joc_date(data["startedAt"] / 1000.0)
            system = data.get("system") or {}
            if system.get("hostname"):
                answer["host"] = system["hostname"]
        if cluster_answer.status == 200:
            node_state = cluster_answer.json() or {}
        node_type = (node_state or {}).get("TYPE")
        answer["isCoupled"] = node_type == "Coupled"
        component = {"severity": 0, "_text": "operational"}
        if node_state is None:
            # ASSUMPTION: an unappointed backup (503) is reachable but of limited use.
            component = {"severity": 1, "_text": "limited"}
        if cluster:
            setting = (node_state or {}).get("setting") or {}
            active_uri = (setting.get("idToUri") or {}).get(setting.get("activeId"))
            if node_state is None:
                answer["clusterNodeState"] = {"severity": 2, "_text": "unknown"}
            elif node_type == "Empty" or active_uri in (self.cluster_uri(instance), instance["url"]):
                answer["clusterNodeState"] = {"severity": 0, "_text": "active"}
            else:
                answer["clusterNodeState"] = {"severity": 1, "_text": "inactive"}
            is_active = answer["clusterNodeState"]["_text"] == "active"
            if (node_type == "PreparedToBeCoupled" and not is_active) or (
                    node_type == "ActiveNodeIsNotReady" and is_active):
                component = {"severity": 2, "_text": "inoperable"}
        answer["componentState"] = component
        return answer, node_state

    def components(self, body):
        controller_id = require_id(body)
        registration = self.registration(controller_id)
        if not registration:
            raise JocError("JOC-404", "UnknownJobSchedulerControllerException",
                           "Couldn't find Controller with ID '%s'" % controller_id)
        client = self.controller_client()
        results = [self._instance_status(registration, i, client) for i in registration["instances"]]
        controllers = [answer for answer, _ignored in results]
        cluster_type = "Unknown"
        reachable = [(a, s) for a, s in results if a["connectionState"]["_text"] == "established"]
        if any(i["role"] == "STANDALONE" for i in registration["instances"]) or not reachable:
            cluster_type = "Unknown"  # J§2.7 derivation rules
        elif len(reachable) == 2:
            active = next(((a, s) for a, s in reachable if s and a.get("clusterNodeState", {}).get("_text") == "active"),
                          None) or next(((a, s) for a, s in reachable if s), None)
            cluster_type = active[1].get("TYPE", "Unknown") if active else "Unknown"
        else:
            state = reachable[0][1]
            cluster_type = (state or {}).get("TYPE", "Unknown")
            if cluster_type in ("Coupled", "PreparedToBeCoupled"):
                cluster_type = "Unknown"
                for answer in controllers:
                    answer["isCoupled"] = False
        cluster_state = {"severity": CLUSTER_SEVERITY.get(cluster_type, 4), "_text": "Cluster" + cluster_type}
        joc = {
            "memberId": "joc#%s" % self.settings.get("host", "joc"), "instanceId": "joc",
            "url": self.url, "current": True, "isApiServer": False, "title": "PRIMARY JOC Cockpit",
            "clusterNodeState": {"severity": 0, "_text": "active"},
            "componentState": {"severity": 0, "_text": "operational"},
            "connectionState": {"severity": 0, "_text": "established"},
            "lastHeartbeat": joc_date(), "startedAt": joc_date(self.started),
            "version": self.settings.version,
            "controllerConnectionStates": [
                {"role": a["role"], "state": {"severity": a["connectionState"]["severity"],
                                              "_text": a["connectionState"]["_text"]}} for a in controllers],
        }
        return {"deliveryDate": joc_date(), "controllers": controllers, "clusterState": cluster_state,
                "jocs": [joc], "database": {"dbms": "H2", "version": "lab",
                                            "componentState": {"severity": 0, "_text": "operational"},
                                            "connectionState": {"severity": 0, "_text": "established"}}}

    def controllers_p(self, body):
        """./controllers/p (J§2.1): persisted data plus agents[] / clusterAgents[]."""
        wanted = (body or {}).get("controllerId")
        controllers = []
        agents = []
        with self.db.lock:
            for controller_id, registration in sorted(self.db.controllers().items()):
                if wanted and controller_id != wanted:
                    continue
                for instance in registration["instances"]:
                    item = {"id": instance["id"], "controllerId": controller_id, "title": instance["title"],
                            "url": instance["url"], "role": instance["role"],
                            "securityLevel": registration["securityLevel"], "surveyDate": joc_date()}
                    if len(registration["instances"]) == 2:
                        item["clusterUrl"] = instance["clusterUrl"]
                        item["forceFailoverConfirmation"] = registration.get("forceFailoverConfirmation", False)
                    controllers.append(item)
                watcher = registration.get("clusterWatcher")
                if watcher and self.settings.legacy_watch:
                    agents.append({"controllerId": controller_id, "agentId": watcher["agentId"],
                                   "agentName": watcher["agentName"], "url": watcher["url"],
                                   "isClusterWatcher": True, "disabled": False})
        if wanted and not controllers:
            raise JocError("JOC-404", "UnknownJobSchedulerControllerException",
                           "Couldn't find Controller with ID '%s'" % wanted)
        return {"deliveryDate": joc_date(), "controllers": controllers, "agents": agents, "clusterAgents": []}

    def controller_volatile(self, body):
        """./controller (J§2.7): the active instance, or the one given by url; 434 when refused."""
        controller_id = require_id(body)
        registration = self.registration(controller_id)
        if not registration:
            raise JocError("JOC-404", "UnknownJobSchedulerControllerException",
                           "Couldn't find Controller with ID '%s'" % controller_id)
        client = self.controller_client()
        results = [self._instance_status(registration, i, client) for i in registration["instances"]
                   if not body.get("url") or i["url"] == body["url"]]
        if not results:
            raise bad_request("Unknown url '%s' for Controller '%s'" % (body.get("url"), controller_id))
        chosen = next((a for a, s in results if a.get("clusterNodeState", {}).get("_text") == "active"), results[0][0])
        if chosen["connectionState"]["_text"] == "unreachable":
            raise JocError("JOC-402", "ControllerConnectionRefusedException", chosen["url"], status=434)
        return {"deliveryDate": joc_date(), "controller": chosen}

    def versions(self, body):
        wanted = set((body or {}).get("controllerIds") or [])
        client = self.controller_client()
        versions = []
        for controller_id, registration in sorted(self.db.controllers().items()):
            if wanted and controller_id not in wanted:
                continue
            for instance in registration["instances"]:
                try:
                    response = self.overview(instance["url"], client)
                    version = (response.json() or {}).get("version") if response.status == 200 else None
                except Unreachable:
                    version = None
                item = {"controllerId": controller_id, "uri": instance["url"]}
                if version:
                    item["version"] = version
                    item["compatibility"] = "COMPATIBLE" if version.split(".")[:2] == \
                        self.settings.version.split(".")[:2] else "PARTIALLY_COMPATIBLE"
                versions.append(item)
        return {"deliveryDate": joc_date(), "jocVersion": self.settings.version,
                "controllerVersions": versions, "agentVersions": []}

    def controller_ids(self):
        ids = sorted(self.db.controllers())
        return {"deliveryDate": joc_date(), "controllerIds": ids, "selected": ids[0] if ids else ""}

    def start_background(self):
        """After a JOC (re)start: run the Cluster Watch for every registered JOC-watched cluster (J§3.1)."""
        for controller_id in sorted(self.db.controllers()):
            registration = self.registration(controller_id)
            if len(registration["instances"]) == 2:
                self.appoint_nodes_async(controller_id)


def validate_url(url, name):
    if not isinstance(url, str) or not url or len(url) > 255 or "<" in url or ">" in url \
            or not URL_PATTERN.match(url):
        raise bad_request("$.%s: '%s' is not a valid URL (^https?://[^\\s]+$, at most 255 characters)" % (name, url))


def require_id(body):
    controller_id = (body or {}).get("controllerId")
    if not controller_id:
        raise bad_request("$.controllerId: is missing but it is required")
    return controller_id


class ClusterWatchService:
    """JOC as the Cluster Watch (E§5.1, J§3.1; DESIGN.md "Cluster Watch wiring").

    Per watched cluster and node, a thread reads the NDJSON stream
    ``GET /controller/api/cluster/clusterWatchMessage?clusterWatchId=..&keepAlive=..`` and answers each
    request with ``ClusterWatchConfirm`` to ``POST /controller/api/cluster/command`` of that node.
    It also follows the cluster until Coupled and writes Controller problems it meets to joc.log.
    """

    def __init__(self, cockpit):
        self.cockpit = cockpit
        self.run_id = str(uuid.uuid4())
        self.lock = threading.Lock()
        self.watched = {}  # controllerId -> (generation token, urls); node threads stop when it changes
        self.followers = {}
        self.confirmed = set()

    @property
    def watch_id(self):
        return self.cockpit.settings.get("cluster_watch_id", "JOC-1")

    def start(self, controller_id):
        registration = self.cockpit.registration(controller_id)
        if not registration:
            return
        urls = tuple(i["url"] for i in registration["instances"])
        with self.lock:
            current = self.watched.get(controller_id)
            if current is not None and current[1] == urls:
                return  # keeps the running watch
            generation = (object(), urls)
            self.watched[controller_id] = generation
        self.cockpit.log.info(WATCH_LOGGER, "%s: Cluster Watch '%s' (run %s) started for %s"
                              % (controller_id, self.watch_id, self.run_id, ", ".join(urls)))
        self.cockpit.log.timeline("ClusterWatchStarted", controllerId=controller_id, clusterWatchId=self.watch_id)
        for url in urls:
            threading.Thread(target=self._watch_node, args=(controller_id, url, generation),
                             name="ClusterWatch-%s" % controller_id, daemon=True).start()

    def stop(self, controller_id):
        with self.lock:
            if self.watched.pop(controller_id, None) is not None:
                self.cockpit.log.info(WATCH_LOGGER, "%s: Cluster Watch stopped" % controller_id)

    def _alive(self, controller_id, generation):
        with self.lock:
            return self.watched.get(controller_id) is generation

    def _watch_node(self, controller_id, url, generation):
        cockpit = self.cockpit
        delays = [1, 3, 6, 10]  # js7.journal.cluster.watch.retry-delays (E§1.2)
        failures = 0
        last_problem = None
        keep_alive = max(1.0, cockpit.settings.scaled(5.0))
        while self._alive(controller_id, generation):
            client = cockpit.controller_client(timeout=keep_alive * 3 + 5)
            stream_url = "%s/controller/api/cluster/clusterWatchMessage?clusterWatchId=%s&keepAlive=%s" % (
                url.rstrip("/"), self.watch_id, keep_alive)
            try:
                response = client.open("GET", stream_url, accept="application/x-ndjson")
                status = getattr(response, "status", None) or response.getcode()
                if status != 200:
                    problem = cockpit._problem_text(client_response(response))
                    if problem != last_problem:
                        cockpit.log.info(WATCH_LOGGER, "%s: %s: clusterWatchMessage: HTTP %s %s"
                                         % (controller_id, url, status, problem))
                        last_problem = problem
                    response.close()
                else:
                    failures = 0
                    last_problem = None
                    self._read_stream(controller_id, url, response, client, generation)
            except Unreachable as error:
                if last_problem != error.kind:
                    cockpit.log.debug(WATCH_LOGGER, "%s: %s not reachable: %s" % (controller_id, url, error.kind))
                    last_problem = error.kind
            except OSError as error:
                cockpit.log.debug(WATCH_LOGGER, "%s: %s: stream ended: %s" % (controller_id, url, error))
            delay = delays[min(failures, len(delays) - 1)]
            failures += 1
            time.sleep(cockpit.settings.scaled(delay))

    def _read_stream(self, controller_id, url, response, client, generation):
        cockpit = self.cockpit
        try:
            while self._alive(controller_id, generation):
                line = response.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    continue  # keep-alive
                try:
                    request = json.loads(line.decode("utf-8"))
                except ValueError:
                    continue
                kind = request.get("TYPE")
                if kind not in ("ClusterWatchCheckState", "ClusterWatchCheckEvent", "ClusterWatchAskNodeLoss",
                                "ClusterWatchCommitNodeLoss"):
                    continue
                confirm = {"TYPE": "ClusterWatchConfirm", "requestId": request.get("requestId"),
                           "clusterWatchId": self.watch_id, "clusterWatchRunId": self.run_id}
                try:
                    answer = client.post(url.rstrip("/") + "/controller/api/cluster/command", confirm)
                except Unreachable as error:
                    cockpit.log.info(WATCH_LOGGER, "%s: ClusterWatchConfirm to %s failed: %s"
                                     % (controller_id, url, error.kind))
                    return
                if answer.status != 200:
                    cockpit.log.warn(WATCH_LOGGER, "%s: ClusterWatchConfirm to %s: %s"
                                     % (controller_id, url, cockpit._problem_text(answer)))
                    continue
                key = (controller_id, url)
                if key not in self.confirmed:
                    self.confirmed.add(key)
                    cockpit.log.info(WATCH_LOGGER, "%s: %s from %s confirmed (%s)"
                                     % (controller_id, kind, request.get("from", url),
                                        (request.get("clusterState") or {}).get("TYPE")))
                    cockpit.log.timeline("ClusterWatchConfirmed", controllerId=controller_id, url=url,
                                         request=kind)
                if kind == "ClusterWatchCheckEvent":
                    event = (request.get("event") or {}).get("TYPE")
                    cockpit.log.info(WATCH_LOGGER, "%s: %s confirmed" % (controller_id, event))
        finally:
            response.close()

    # ---- following the coupling after an appointment ----------------------------------------------

    def follow_coupling(self, controller_id):
        """The proxy follows the cluster after ClusterAppointNodes until it is Coupled.

        ASSUMPTION (README.md): JOC's log carries the reason why coupling does not progress. The real
        JOC receives it through its proxy connection; the lab JOC reads the appointed backup's
        ``/controller/api/cluster?return=ClusterNodeState`` (E§3.5) and, when that node is not a backup,
        logs the Controller problem ClusterNodeIsNotBackup (E§3.3, E§1.3) at ERROR, as the KB says
        joc.log notes it (seed).
        """
        with self.lock:
            if self.followers.get(controller_id):
                return
            self.followers[controller_id] = True
        threading.Thread(target=self._follow, args=(controller_id,), name="Proxy-%s" % controller_id,
                         daemon=True).start()

    def _follow(self, controller_id):
        cockpit = self.cockpit
        logged_at = 0.0
        try:
            deadline = time.time() + max(60.0, cockpit.settings.scaled(600.0))
            while time.time() < deadline:
                registration = cockpit.registration(controller_id)
                if not registration or len(registration["instances"]) != 2:
                    return
                primary, backup = registration["instances"]
                client = cockpit.controller_client()
                try:
                    state = client.get(primary["url"].rstrip("/") + "/controller/api/cluster").json() or {}
                except Unreachable:
                    state = {}
                if state.get("TYPE") == "Coupled":
                    cockpit.log.info(PROXY_LOGGER, "%s: cluster is coupled" % controller_id)
                    return
                if state.get("TYPE") == "NodesAppointed":
                    try:
                        node = client.get(backup["url"].rstrip("/") + "/controller/api/cluster?return=ClusterNodeState")
                        node_state = node.json() or {} if node.status == 200 else {}
                    except Unreachable:
                        node_state = {}
                    if node_state.get("isBackup") is False and time.time() - logged_at >= cockpit.settings.scaled(30):
                        logged_at = time.time()
                        uri = (state.get("setting") or {}).get("idToUri", {}).get("Backup", backup["url"])
                        problem = ("ClusterNodeIsNotBackup: The cluster node to be appointed is not configured "
                                   "as a backup node")
                        cockpit.log.error(PROXY_LOGGER, "%s: 'ClusterStartBackupNode' command failed with HTTP 400 "
                                          "Bad Request: POST %s/controller/api/cluster/command => %s"
                                          % (controller_id, uri.rstrip("/"), problem))
                        cockpit.log.timeline("ProblemLogged", controllerId=controller_id, problem=problem)
                time.sleep(max(0.2, cockpit.settings.scaled(3.0)))
        finally:
            with self.lock:
                self.followers.pop(controller_id, None)


def client_response(raw):
    """Wrap a raw urllib response into client.Response (reads the body)."""
    from .client import Response
    try:
        body = raw.read()
    except OSError:
        body = b""
    status = getattr(raw, "status", None) or raw.getcode()
    return Response(status, dict(raw.headers.items()), body)
