"""Bringing a lab up in a start state, and tearing it down (DESIGN.md; issue 3).

Start states are produced the way they happen in reality:

- ``healthy``: Primary, Secondary with ``is-backup = yes``, Agent, JOC; JOC registers the cluster
  with its own ``./controller/register`` flow, JOC appoints, the nodes couple (J§2.3, E§3.7).
- ``standalone-secondary``: the Secondary's controller.conf keeps the installer's commented
  ``# js7.journal.cluster.node.is-backup`` line (E§6.4) and is started once: it becomes an active
  standalone node with its own journal (E§1.3). JOC registration appoints; the Primary's
  ``ClusterStartBackupNode`` is refused with ``ClusterNodeIsNotBackup`` at every retry; the
  cluster stays ``NodesAppointed`` (E§1.3, E§4.3); joc.log carries the error (seed, J§6).
- ``stale-watch`` (2.5 only): a healthy cluster watched by its Agent (E§5.1) is switched over (Backup
  active) and re-installed (both journals emptied, the Secondary again without is-backup) while the Agent keeps running,
  so its in-memory watch state belongs to the old incarnation (E§5.2). Then as standalone-secondary.
  Runbook phase 1 cannot couple; phase 2 (Agent restarted with an empty state) can.
- ``joc-down``: healthy, then JOC stopped with its instance script (E§3.1: no JOC, no watch in 2.6+).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

from . import inventory, layout, netns
from .joc.client import Client, Unreachable
from .netns import LabError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ---------------------------------------------------------------------------------- runtime


class Runtime:
    """Access to a lab's hosts: commands (nsenter in netns mode), files, HTTP, timeline."""

    def __init__(self, record):
        self.record = record
        self.config = record.config
        self.dir = self.config["dir"]
        self.hosts = layout.plan_hosts(self.dir, self.config["mode"], self.config["clusters"],
                                       self.config.get("loopback_net", layout.DEFAULT_LOOPBACK_NET))
        self.by_name = layout.hosts_by_name(self.hosts)
        self.python = self.config["python"]

    @property
    def netns(self):
        return self.config["mode"] == "netns"

    def host(self, name):
        if name not in self.by_name:
            raise LabError("unknown host '%s'; the lab's hosts are: %s" % (name, ", ".join(self.by_name)), code=2)
        return self.by_name[name]

    def holder_pid(self, host):
        pids = [r["pid"] for r in self.record.resources("holder") if r["host"] == host.name]
        if not pids:
            raise LabError("host %s has no running namespace holder (was up interrupted?)" % host.name)
        return pids[-1]

    def argv_on(self, host, argv):
        return netns.nsenter_argv(self.holder_pid(host), argv) if self.netns else list(argv)

    def run_on(self, host, argv, timeout=120, check=False, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        result = subprocess.run(self.argv_on(host, argv), capture_output=True, text=True, timeout=timeout,
                                env=full_env, stdin=subprocess.DEVNULL, check=False)
        if check and result.returncode != 0:
            raise LabError("%s on %s failed (rc=%d): %s" % (" ".join(argv), host.name, result.returncode,
                                                            (result.stderr or result.stdout).strip()[-2000:]))
        return result

    def script(self, host, command, *options, check=True, timeout=180):
        """Run the host's instance script (controller_instance.sh / agent_4445.sh / joc.sh)."""
        path = os.path.join(host.seen(host.home), host.script)
        result = self.run_on(host, [path, command] + list(options), timeout=timeout)
        if command != "status":
            self.timeline("lab", "InstanceScript", target=host.name, command=command, rc=result.returncode)
        if check and result.returncode != 0:
            raise LabError("%s %s on %s failed (rc=%d):\n%s" % (path, command, host.name, result.returncode,
                                                                (result.stdout + result.stderr).strip()[-3000:]))
        return result

    def path(self, host, logical):
        """A host file as the lab CLI sees it."""
        return host.physical(logical)

    def client_files(self):
        """(cert, key) the lab's own probes present on HTTPS: the lab client certificate (pki.CLIENT_IDENTITY),
        which Controllers and Agents with https-client-authentication demand (E§1.5)."""
        if not self.config["tls"]:
            return None, None
        from . import pki  # pylint: disable=import-outside-toplevel
        cert, key = pki.client_files(self.dir)
        return (cert, key) if os.path.exists(cert) else (None, None)

    def client(self, timeout=10.0):
        cfg = self.config
        cert, key = self.client_files()
        return Client(user=cfg.get("controller_user"), password=cfg.get("controller_password"),
                      ca_file=os.path.join(self.dir, "pki", "ca.pem") if cfg["tls"] else None,
                      client_cert=cert, client_key=key, timeout=timeout)

    def url(self, host):
        return host.url(self.config["tls"])

    def http(self, host, path, method="GET", body=None, headers=None, timeout=10.0, accept="application/json"):
        return self.client(timeout).call(method, self.url(host) + path, body=body, headers=headers, accept=accept)

    def timeline(self, host, event, **fields):
        record = {"ts": time.time(), "host": host, "component": "lab", "event": event}
        record.update(fields)
        with open(os.path.join(self.dir, "timeline.jsonl"), "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record, sort_keys=True) + "\n")

    def scaled(self, seconds):
        return seconds * float(self.config["time_scale"])

    def cluster_hosts(self, k):
        return (self.by_name["c%d-primary" % k], self.by_name["c%d-secondary" % k], self.by_name["c%d-agent" % k])

    @property
    def joc(self):
        return self.by_name["joc"]


# ---------------------------------------------------------------------------------- JOC API


class JocSession:
    """The lab's own JOC API client (the JOC user of the inventory, J§1)."""

    def __init__(self, rt):
        self.rt = rt
        self.base = rt.url(rt.joc) + "/joc/api"
        cert, key = rt.client_files()
        self.client = Client(user=layout.JOC_USER, password=layout.JOC_PASSWORD,
                             ca_file=os.path.join(rt.dir, "pki", "ca.pem") if rt.config["tls"] else None,
                             client_cert=cert, client_key=key, timeout=30)
        response = self.client.post(self.base + "/authentication/login", None)
        if response.status != 200:
            raise LabError("JOC login as %s failed: HTTP %s %s" % (layout.JOC_USER, response.status, response.body[:300]))
        self.token = response.headers.get("X-Access-Token")
        self.client.user = None  # Basic only for the login (J§1.1)

    def post(self, path, body):
        response = self.client.post(self.base + path, body, headers={"X-Access-Token": self.token})
        return response.status, response.json()

    def logout(self):
        try:
            self.client.post(self.base + "/authentication/logout", None, headers={"X-Access-Token": self.token})
        except Unreachable:
            pass


def registration_body(rt, k, controller_id=""):
    """What the GUI submits (J§2.4 step 3), with ``clusterWatcher`` for 2.5 (J§3.3)."""
    primary, secondary, agent = rt.cluster_hosts(k)
    body = {"controllerId": controller_id,
            "controllers": [{"url": rt.url(primary), "clusterUrl": rt.url(primary), "role": "PRIMARY",
                             "title": "PRIMARY"},
                            {"url": rt.url(secondary), "clusterUrl": rt.url(secondary), "role": "BACKUP",
                             "title": "SECONDARY"}],
            "auditLog": {"comment": "js7 lab: register %s" % primary.cluster_name}}
    if rt.config["version"] == "2.5":
        body["clusterWatcher"] = {"agentId": "agent%d" % k, "agentName": "agent%d" % k, "url": rt.url(agent)}
    return body


def register_cluster(rt, k, update=False):
    joc = JocSession(rt)
    try:
        body = registration_body(rt, k, controller_id=rt.cluster_hosts(k)[0].controller_id if update else "")
        status, answer = joc.post("/controller/register", body)
        if status != 200:
            raise LabError("JOC ./controller/register of cluster%d failed: HTTP %s %s" % (k, status, answer))
        return answer
    finally:
        joc.logout()


# ---------------------------------------------------------------------------------- waiting


def cluster_state(rt, host):
    response = rt.http(host, "/controller/api/cluster")
    if response.status != 200:
        return None, response
    return response.json(), response


def wait_cluster_type(rt, host, wanted, timeout, active_id=None):
    """Wait until the node reports a cluster TYPE in ``wanted`` (and, if given, ``active_id`` active),
    driven by the event API (E§3.8: GET /controller/api/cluster for eventId, then /controller/api/event
    long-polls)."""
    wanted = set(wanted) if not isinstance(wanted, str) else {wanted}
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            state, response = cluster_state(rt, host)
        except Unreachable as error:
            last = str(error)
            time.sleep(0.1)
            continue
        if state is None:
            last = "HTTP %s %s" % (response.status, response.body[:200])
            time.sleep(0.1)
            continue
        last = state.get("TYPE")
        if last in wanted and (active_id is None or state["setting"]["activeId"] == active_id):
            return state
        remaining = max(0.1, deadline - time.time())
        try:
            rt.http(host, "/controller/api/event?return=ClusterEvent&after=%s&timeout=%.1f&limit=1"
                    % (state["eventId"], min(remaining, 5.0)), accept="application/x-ndjson",
                    timeout=min(remaining, 5.0) + 5)
        except Unreachable:
            time.sleep(0.1)
    raise LabError("%s did not reach cluster state %s%s within %.0f s (last: %s)"
                   % (host.name, "/".join(sorted(wanted)), " with %s active" % active_id if active_id else "", timeout,
                      last))


def wait_log_line(path, pattern, timeout, what):
    """Wait for a line matching ``pattern`` in a log file (tailing it)."""
    regex = re.compile(pattern)
    deadline = time.time() + timeout
    position = 0
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as stream:
                stream.seek(position)
                for line in stream:
                    if regex.search(line):
                        return line.rstrip("\n")
                position = stream.tell()
        time.sleep(0.05)
    raise LabError("%s: no line matching %r in %s within %.0f s" % (what, pattern, path, timeout))


def wait_http(rt, host, path, timeout, accept_status=(200,)):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            response = rt.http(host, path, timeout=5)
            if response.status in accept_status:
                return response
            last = "HTTP %s" % response.status
        except Unreachable as error:
            last = error.kind
        time.sleep(0.05)
    raise LabError("%s%s did not answer within %.0f s (last: %s)" % (rt.url(host), path, timeout, last))


# ---------------------------------------------------------------------------------- install


def _engine_install():
    try:
        from .engine import install  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise LabError("the lab engine (tests/lab/engine/install.py) is not available: %s" % error)
    return install


def install_host(rt, host, is_backup=None):
    """Lay out one host's installation. In netns mode this runs inside the host's mount namespace,
    so every path written into scripts and configs is the one the host sees."""
    spec = install_spec(rt, host, is_backup)
    if rt.netns:
        code = ("import json,sys; sys.path.insert(0, %r); from tests.lab import states; "
                "states.install_local(json.loads(sys.argv[1]))" % REPO_ROOT)
        rt.run_on(host, [rt.python, "-c", code, json.dumps(spec)], check=True, timeout=120)
    else:
        install_local(spec)


def install_spec(rt, host, is_backup):
    cfg = rt.config
    spec = {"kind": host.kind, "name": host.name, "home": host.seen(host.home), "data": host.seen(host.data),
            "address": host.address, "version": cfg["version_full"], "time_scale": cfg["time_scale"],
            "timeline": os.path.join(rt.dir, "timeline.jsonl"), "python": rt.python, "tls": cfg["tls"],
            "controller_auth": cfg["controller_auth"], "is_backup": is_backup,
            "pki": os.path.join(rt.dir, "pki", host.name) if cfg["tls"] else None,
            "ca": os.path.join(rt.dir, "pki", "ca.pem") if cfg["tls"] else None,
            "controller_id": host.controller_id if host.kind != "joc" else None,
            "controller_user": cfg.get("controller_user"), "controller_password": cfg.get("controller_password"),
            "joc_session_timeout": cfg.get("joc_session_timeout", 1800)}
    if host.kind in ("primary", "secondary"):
        k = host.cluster
        primary, secondary, agent = rt.cluster_hosts(k)
        spec["peer_url"] = rt.url(secondary if host.kind == "primary" else primary)
        spec["agent_url"] = rt.url(agent)
        if cfg.get("client_cert_required"):
            from . import pki  # pylint: disable=import-outside-toplevel
            # distinguished-names (E§1.4): the peer node's certificate -> user <ControllerId> (the docker
            # example's mapping); JOC's and the lab's own client certificate -> the user JOC logs in as.
            spec["peer_distinguished_names"] = [pki.distinguished_name(h.name) for h in (primary, secondary)]
            spec["user_distinguished_names"] = [pki.distinguished_name(rt.joc.name),
                                                pki.distinguished_name(pki.CLIENT_IDENTITY)]
    if host.kind != "joc":
        spec["client_auth"] = bool(cfg.get("client_cert_required"))
        if cfg.get("js7_user"):
            spec["js7_user"] = cfg["js7_user"]
            spec["python"] = cfg.get("engine_python") or rt.python
            spec["vendor_packages"] = cfg.get("vendor_packages") or []
    return spec


def install_local(spec):
    """Runs where the host's paths are visible (in-process in local mode, nsenter'd in netns)."""
    kind = spec["kind"]
    if kind == "joc":
        from .joc.install import install_joc  # pylint: disable=import-outside-toplevel
        settings = {
            "version": spec["version"], "time_scale": spec["time_scale"], "timeline": spec["timeline"],
            "host": spec["name"], "session_timeout": spec["joc_session_timeout"],
            "accounts": {layout.JOC_USER: {"password": layout.JOC_PASSWORD},
                         "viewer": {"password": "viewer", "permissions": ["view"]}},
            "controller_user": spec.get("controller_user"), "controller_password": spec.get("controller_password"),
            "cluster_watch_id": "JOC-1",
        }
        https = None
        if spec["tls"]:
            settings.update({"ca_file": spec["ca"], "https_cert": os.path.join(spec["pki"], "server.pem"),
                             "https_key": os.path.join(spec["pki"], "server.key"),
                             "client_cert": os.path.join(spec["pki"], "client.pem"),
                             "client_key": os.path.join(spec["pki"], "client.key")})
            https = "%s:%d" % (spec["address"], layout.HTTPS_PORT)
        install_joc(spec["home"], spec["data"], settings, spec["python"],
                    "%s:%d" % (spec["address"], layout.JOC_PORT), https)
        return
    _engine_install().install_from_lab_spec(spec)  # tests/lab/engine/install.py (E§1.6, E§6)


# ---------------------------------------------------------------------------------- up


def check_free_ports(hosts, tls):
    import socket  # pylint: disable=import-outside-toplevel
    busy = []
    for host in hosts:
        ports = [host.port] + ([layout.HTTPS_PORT] if tls else [])
        for port in ports:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((host.address, port))
                except OSError as error:
                    busy.append("%s:%d (%s, %s)" % (host.address, port, host.name, error.strerror))
    if busy:
        raise LabError("ports already in use: %s. Another lab (or program) uses them; stop it first "
                       "(python -m tests.lab down --dir <its dir>)" % ", ".join(busy), code=4)


def _step(rt, name):
    """Progress, and a test hook: JS7_LAB_FAIL_AT=<step> makes ``up`` fail there on purpose."""
    rt.record.data.setdefault("steps", []).append(name)
    rt.record.save()
    if os.environ.get("JS7_LAB_FAIL_AT") == name:
        raise LabError("failing at step '%s' because JS7_LAB_FAIL_AT is set (test hook)" % name)
    if os.environ.get("JS7_LAB_VERBOSE"):
        sys.stderr.write("lab: %s\n" % name)


def up(config, out=sys.stdout):
    lab_dir = config["dir"]
    os.makedirs(lab_dir, exist_ok=True)
    record = layout.Record(lab_dir, {"config": config, "status": "starting", "started": time.time()})
    record.save()
    rt = Runtime(record)
    open(os.path.join(lab_dir, "timeline.jsonl"), "a").close()
    rt.timeline("lab", "LabStarting", state=config["state"], mode=config["mode"], version=config["version_full"])
    try:
        if rt.netns:
            _step(rt, "network")
            netns.create_mount_points(record)
            netns.create_bridge(record)
            for host in rt.hosts:
                netns.create_host_network(host, record)
            netns.prepare_ssh(lab_dir, rt.hosts)
            for host in rt.hosts:
                netns.start_holder(host, lab_dir, record)
        if config["tls"]:
            _step(rt, "pki")
            from . import pki  # pylint: disable=import-outside-toplevel
            pki.create_ca(os.path.join(lab_dir, "pki"))
            for host in rt.hosts:
                pki.issue_host(os.path.join(lab_dir, "pki"), host.name, [host.address])
            pki.issue_client(os.path.join(lab_dir, "pki"))
        if config.get("js7_user"):
            _step(rt, "js7-user")
            from . import js7user  # pylint: disable=import-outside-toplevel
            js7user.prepare(rt)
        _step(rt, "install")
        backup_flag = {"healthy": True, "joc-down": True, "standalone-secondary": False, "stale-watch": True}
        for host in rt.hosts:
            os.makedirs(host.root, exist_ok=True)
            install_host(rt, host, is_backup=backup_flag[config["state"]] if host.kind == "secondary" else None)
            if config.get("js7_user") and host.kind != "joc":
                js7user.hand_over(rt, host)
        _step(rt, "start")
        STATE_FUNCTIONS[config["state"]](rt)
        _step(rt, "inventory")
        inventory.write(os.path.join(lab_dir, "inventory.yml"), rt.hosts, config)
        record.data["status"] = "up"
        record.data["up_at"] = time.time()
        record.save()
        rt.timeline("lab", "LabUp", state=config["state"])
    except BaseException as error:
        record.data["status"] = "failed"
        record.data["error"] = str(error)
        record.save()
        rt.timeline("lab", "LabFailed", error=str(error))
        raise
    return rt


def _start_joc(rt):
    rt.script(rt.joc, "start")
    wait_http(rt, rt.joc, "/joc/api", 30)


def _for_clusters(rt, function):
    """Run function(rt, k) for every cluster in parallel; re-raise the first failure."""
    errors = []

    def run(k):
        try:
            function(rt, k)
        except BaseException as error:  # pylint: disable=broad-except
            errors.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(1, rt.config["clusters"] + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _coupling_timeout(rt):
    return max(30.0, rt.scaled(150.0))


def _healthy_cluster(rt, k):
    primary, secondary, agent = rt.cluster_hosts(k)
    rt.script(agent, "start")
    rt.script(primary, "start")
    rt.script(secondary, "start")
    _step(rt, "register")
    register_cluster(rt, k)
    wait_cluster_type(rt, primary, "Coupled", _coupling_timeout(rt))
    rt.timeline("lab", "StateReached", cluster=k, state="Coupled")


def state_healthy(rt):
    _start_joc(rt)
    _for_clusters(rt, _healthy_cluster)


def _standalone_secondary_cluster(rt, k, update=False):
    primary, secondary, agent = rt.cluster_hosts(k)
    rt.script(agent, "start")
    # The Secondary is started once without is-backup: an active standalone node (E§1.3).
    rt.script(secondary, "start")
    wait_http(rt, secondary, "/controller/api/cluster", 30)
    rt.script(primary, "start")
    wait_http(rt, primary, "/controller/api/cluster", 30)
    register_cluster(rt, k, update=update)
    wait_cluster_type(rt, primary, "NodesAppointed", _coupling_timeout(rt))
    warn = wait_log_line(rt.path(primary, primary.log_file), r"WARN .*ClusterNodeIsNotBackup",
                         _coupling_timeout(rt), "Primary of cluster%d" % k)
    wait_log_line(rt.path(rt.joc, rt.joc.log_file), r"ERROR .*%s.*ClusterNodeIsNotBackup" % primary.controller_id,
                  _coupling_timeout(rt), "JOC")
    rt.timeline("lab", "StateReached", cluster=k, state="NodesAppointed", warn=warn)


def state_standalone_secondary(rt):
    _start_joc(rt)
    _for_clusters(rt, _standalone_secondary_cluster)


def _empty_state(rt, host):
    """Delete the contents of the host's state/ directory (what the runbook's rm does)."""
    state_dir = rt.path(host, os.path.join(host.data, "state"))
    for entry in os.listdir(state_dir) if os.path.isdir(state_dir) else []:
        path = os.path.join(state_dir, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def set_is_backup(rt, host, value):
    """Edit the Secondary's controller.conf the way the installer does (E§6.4): the flat line,
    replacing a commented one; ``value=None`` comments it out again (the installer's example)."""
    path = rt.path(host, os.path.join(host.data, "config", "controller.conf"))
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    line_re = re.compile(r"^[# ]*js7\.journal\.cluster\.node\.is-backup\s*=.*$", re.M)
    new_line = ("# js7.journal.cluster.node.is-backup = yes" if value is None
                else "js7.journal.cluster.node.is-backup = %s" % ("yes" if value else "no"))
    if line_re.search(text):
        text = line_re.sub(new_line, text, count=1)
    else:
        text = text.rstrip("\n") + "\n" + new_line + "\n"
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)


def switch_over(rt, k):
    """JOC's "switch-over" button: ``ClusterSwitchOver`` to the active node (E§3.6, E§3.7); returns when
    the other node is active and the nodes are coupled again (event API, E§3.8)."""
    primary, secondary, _agent = rt.cluster_hosts(k)
    state, _response = cluster_state(rt, primary)
    active, passive = (secondary, primary) if state["setting"]["activeId"] == "Backup" else (primary, secondary)
    response = rt.http(active, "/controller/api/command", method="POST", body={"TYPE": "ClusterSwitchOver"})
    if response.status != 200:
        raise LabError("ClusterSwitchOver on %s failed: HTTP %s %s" % (active.name, response.status, response.body[:300]))
    return wait_cluster_type(rt, passive, "Coupled", _coupling_timeout(rt),
                             active_id="Backup" if passive is secondary else "Primary")


def _stale_watch_cluster(rt, k):
    """How a legacy Agent watch goes stale in reality (E§5.1, E§5.2): the Agent remembers the cluster's
    last state only in memory, and nothing tells it when the Controllers are re-installed.

    1. Incarnation 1 runs healthy; an operator switches over, so the Secondary (``Backup``) is active and
       the watch Agent holds ``Coupled`` with ``activeId = Backup``.
    2. Both Controllers are stopped and re-installed (both ``state/`` emptied; the Secondary's
       controller.conf again without is-backup) — the Agent keeps running.
    3. Incarnation 2 comes up as in ``standalone-secondary`` (JOC registration as an update). Its
       Primary is active, so every report it sends (events and heartbeats) comes from a node the watch
       holds as inactive: ``ClusterWatchInactiveNode``, however old the Backup's last heartbeat is (2.5.9
       rules, E§5.2). Coupling needs the watch's consent, so runbook phase 1 cannot couple; only a restart
       of the Agent (phase 2) clears what it holds.
    """
    primary, secondary, _agent = rt.cluster_hosts(k)
    _healthy_cluster(rt, k)  # the Agent now watches incarnation 1 (in memory, E§5.1)
    state = switch_over(rt, k)
    rt.timeline("lab", "WatchHoldsIncarnation1", cluster=k, active=state["setting"]["activeId"])
    # Both Controllers are re-installed; the Secondary's installation lacks is-backup again.
    rt.script(primary, "stop")
    rt.script(secondary, "stop")
    _empty_state(rt, primary)
    _empty_state(rt, secondary)
    set_is_backup(rt, secondary, None)
    rt.timeline("lab", "ControllersReinstalled", cluster=k, agent_restarted=False)
    _standalone_secondary_cluster(rt, k, update=True)
    # Evidence that the watch is stale: the new Primary's reports are refused (WARN of HttpClusterWatch).
    line = wait_log_line(rt.path(primary, primary.log_file), r"WARN .*ClusterWatch .*(ClusterWatchInactiveNode|"
                         r"ClusterWatchHeartbeatMismatch|ClusterWatchEventMismatch)", _coupling_timeout(rt),
                         "Primary of cluster%d (stale watch)" % k)
    rt.timeline("lab", "StateReached", cluster=k, state="StaleWatch", watch_problem=line)


def state_stale_watch(rt):
    _start_joc(rt)
    _for_clusters(rt, _stale_watch_cluster)


def state_joc_down(rt):
    state_healthy(rt)
    rt.script(rt.joc, "stop")


STATE_FUNCTIONS = {
    "healthy": state_healthy,
    "standalone-secondary": state_standalone_secondary,
    "stale-watch": state_stale_watch,
    "joc-down": state_joc_down,
}


# ---------------------------------------------------------------------------------- down


def _local_lab_pids(lab_dir):
    """Processes of a local-mode lab: their command line names a path under <dir>/hosts/."""
    marker = os.path.join(os.path.realpath(lab_dir), "hosts") + "/"
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as stream:
                cmdline = stream.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(entry))
    return pids


def lab_processes(rt):
    if rt.netns:
        pids = []
        for resource in rt.record.resources("netns"):
            pids.extend(netns.netns_pids(resource["name"]))
        return sorted(set(pids))
    return _local_lab_pids(rt.dir)


def down(lab_dir):
    """Remove everything the lab created; returns a list of problems (empty: all gone)."""
    record = layout.Record.load(lab_dir)
    rt = Runtime(record)
    errors = []
    if rt.netns:
        netns.teardown(record.resources(), errors)
    netns.kill_pids(_local_lab_pids(lab_dir))
    leftovers = _local_lab_pids(lab_dir)
    if leftovers:
        errors.append("processes still running: %s" % leftovers)
    if not errors:
        for name in ("hosts", "ssh", "pki", "inventory.yml"):
            path = os.path.join(lab_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.exists(path):
                os.unlink(path)
        if record.resources("js7_user") or record.resources("chmod") or record.resources("chown"):
            from . import js7user  # pylint: disable=import-outside-toplevel
            js7user.teardown(record, errors)
        if not errors:
            os.unlink(os.path.join(lab_dir, layout.LAB_JSON))
    return errors
