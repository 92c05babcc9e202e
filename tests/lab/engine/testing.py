"""Small helpers for the engine's own tests and for the orchestration side.

- :class:`ClusterWatchClient`: a minimal ≥ 2.6 Cluster Watch (what JOC does, DESIGN.md 'Cluster Watch
  wiring'): reads ``clusterWatchMessage`` streams of both nodes and confirms every request.
- :func:`make_legacy_watch_stale`: makes a ≤ 2.5 watch Agent remember another incarnation of the
  cluster by a real POST to ``/agent/api/clusterWatch`` (E§5.2).
- :func:`http`: one request -> (status, headers, body).
- :func:`wait_for`: wait for a condition (polling a local process state; tests only).
- :func:`make_ca` / :func:`make_cert`: a tiny PKI with ``cryptography`` (PEM and PKCS12).
"""
from __future__ import annotations

import base64
import http.client as http_client
import json
import os
import ssl
import threading
import time
import urllib.parse
import uuid

from .httpclient import Js7Client


def http(method, url, body=None, headers=None, timeout=10, context=None):
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https":
        connection = http_client.HTTPSConnection(parsed.hostname, parsed.port, timeout=timeout, context=context)
    else:
        connection = http_client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    target = parsed.path + ("?" + parsed.query if parsed.query else "")
    try:
        connection.request(method, target, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
    finally:
        connection.close()


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


def wait_for(condition, timeout=30.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # pylint: disable=broad-except
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError("Timed out waiting for %s (last: %r)" % (message, last))


class ClusterWatchClient:
    """Connects to the clusterWatchMessage stream of each node URI and confirms requests."""

    def __init__(self, node_uris, cluster_watch_id="JOC-lab-watch", user_id=None, password=None, ssl_context=None,
                 keep_alive=1.0, reject=None):
        self.node_uris = list(node_uris)
        self.cluster_watch_id = cluster_watch_id
        self.run_id = uuid.uuid4().hex
        self.user_id = user_id
        self.password = password
        self.ssl_context = ssl_context
        self.keep_alive = keep_alive
        self.reject = reject  # optional predicate(request) -> problem dict to refuse a request
        self.requests = []
        self.confirmed = []
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        for uri in self.node_uris:
            thread = threading.Thread(target=self._run, args=(uri,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self):
        self._stop.set()

    def _run(self, uri):
        while not self._stop.is_set():
            client = Js7Client(uri, "controller", self.user_id, self.password, ssl_context=self.ssl_context, timeout=5)
            try:
                response, _ignored = client.request(
                    "GET", "/controller/api/cluster/clusterWatchMessage?clusterWatchId=%s&keepAlive=%s" % (
                        self.cluster_watch_id, self.keep_alive),
                    headers={"Accept": "application/x-ndjson"}, stream=True, timeout=self.keep_alive * 5 + 5)
                while not self._stop.is_set():
                    line = response.readline()
                    if not line:
                        break
                    if not line.strip():
                        continue
                    request = json.loads(line)
                    self.requests.append(request)
                    confirm = {"TYPE": "ClusterWatchConfirm", "requestId": request["requestId"],
                               "clusterWatchId": self.cluster_watch_id, "clusterWatchRunId": self.run_id}
                    problem = self.reject(request) if self.reject else None
                    if problem:
                        confirm["problem"] = problem
                    try:
                        client.cluster_command(confirm)
                        self.confirmed.append(request)
                    except Exception:  # pylint: disable=broad-except
                        pass
                response.close()
            except Exception:  # pylint: disable=broad-except
                pass
            self._stop.wait(0.3)


def make_legacy_watch_stale(agent_uri, controller_id, id_to_uri, active_id="Backup", password=None, state_type="Coupled",
                            ssl_context=None):
    """Teach a ≤ 2.5 watch Agent the ClusterState of an *earlier incarnation* of the cluster.

    A real POST of ``ClusterWatchEvents`` to ``/agent/api/clusterWatch``, as the active node of that
    earlier incarnation would have sent it (default: Coupled with the Backup active). The Agent
    accepts it only while it holds nothing for ``controller_id`` (i.e. right after its start);
    afterwards every report of a cluster whose Primary is active comes from a node the watch holds as
    inactive (``ClusterWatchInactiveNode``) until the Agent is restarted (E§5.2). With ``active_id="Primary"``
    the watch is not stale: the Primary's next heartbeat re-teaches it (2.5.9 rules, agent.py).
    """
    setting = {"idToUri": dict(id_to_uri), "activeId": active_id, "timing": {"heartbeat": 3, "heartbeatTimeout": 10},
               "clusterWatches": [{"uri": agent_uri}]}
    state = {"TYPE": state_type, "setting": setting}
    client = Js7Client(agent_uri, "agent", controller_id if password is not None else None, password, ssl_context=ssl_context)
    query = "" if password is not None else "?controllerId=%s" % urllib.parse.quote(controller_id)
    return client.post_json("/agent/api/clusterWatch" + query,
                            {"TYPE": "ClusterWatchEvents", "from": active_id, "events": [], "clusterState": state})


# ---------------------------------------------------------------------------------------------- PKI

def make_ca(directory, name="JS7 Lab Test CA"):
    """A self-signed CA -> (ca_cert_pem_path, (key, cert))."""
    import datetime  # pylint: disable=import-outside-toplevel
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "ca.pem")
    with open(path, "wb") as file:
        file.write(cert.public_bytes(serialization.Encoding.PEM))
    return path, (key, cert)


def make_cert(directory, ca, common_name, ip_addresses, p12_password="jobscheduler"):
    """A server+client certificate for ``ip_addresses`` -> (p12_path, pem_path)."""
    import datetime  # pylint: disable=import-outside-toplevel
    import ipaddress  # pylint: disable=import-outside-toplevel
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.serialization import pkcs12  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel

    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    p12 = os.path.join(directory, common_name + ".p12")
    with open(p12, "wb") as file:
        file.write(pkcs12.serialize_key_and_certificates(
            common_name.encode(), key, cert, [ca_cert], serialization.BestAvailableEncryption(p12_password.encode())))
    pem = os.path.join(directory, common_name + ".pem")
    with open(pem, "wb") as file:
        file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        file.write(cert.public_bytes(serialization.Encoding.PEM))
    return p12, pem


def client_context(ca_pem, cert_pem=None):
    context = ssl.create_default_context(cafile=ca_pem)
    if cert_pem:
        context.load_cert_chain(cert_pem)
    return context


class EngineLab:
    """Installs components under one directory and kills them all at the end (tests only)."""

    def __init__(self, root, version="2.7", time_scale=0.2):
        self.root = root
        self.version = version
        self.time_scale = time_scale
        self.timeline = os.path.join(root, "timeline.jsonl")
        self.installs = []

    def controller(self, name, address, controller_id="controller9", **kw):
        from .install import install_controller  # pylint: disable=import-outside-toplevel
        kw.setdefault("version", self.version)
        kw.setdefault("time_scale", self.time_scale)
        inst = install_controller(os.path.join(self.root, "hosts", name), controller_id, address, timeline=self.timeline,
                                  host=name, **kw)
        self.installs.append(inst)
        return inst

    def agent(self, name, address, **kw):
        from .install import install_agent  # pylint: disable=import-outside-toplevel
        kw.setdefault("version", self.version)
        kw.setdefault("time_scale", self.time_scale)
        inst = install_agent(os.path.join(self.root, "hosts", name), address, timeline=self.timeline, host=name, **kw)
        self.installs.append(inst)
        return inst

    def timeline_events(self):
        try:
            with open(self.timeline, encoding="utf-8") as file:
                return [json.loads(line) for line in file if line.strip()]
        except FileNotFoundError:
            return []

    def cleanup(self):
        for inst in reversed(self.installs):
            try:
                inst.cancel(timeout=30)
            except Exception:  # pylint: disable=broad-except
                pass


def cluster_type(inst, **kw):
    status, _ignored, body = http("GET", inst.api + "/cluster", **kw)
    return json.loads(body).get("TYPE") if status == 200 else "HTTP %d" % status


def appoint(primary, backup, **extra):
    body = {"TYPE": "ClusterAppointNodes", "idToUri": {"Primary": primary.http_uri, "Backup": backup.http_uri},
            "activeId": "Primary"}
    body.update(extra)
    return http("POST", primary.api + "/command", body)
