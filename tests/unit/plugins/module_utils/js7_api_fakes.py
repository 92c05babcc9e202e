# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-process HTTP(S) servers on 127.0.0.1 that answer like a JS7 Controller or JOC Cockpit.

Real sockets, real TLS: the client under test goes through ansible's urls code unchanged.
Only the behaviours the unit tests need are here; the full simulation is tests/lab.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


# ---- certificates -------------------------------------------------------------------------

def make_pki(directory):
    """A CA, a server certificate for 127.0.0.1, a client certificate and an unrelated CA (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def ca(cn):
        k = key()
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(k.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
                .sign(k, hashes.SHA256()))
        return k, cert

    def leaf(cn, ca_key, ca_cert, usage, san=None):
        k = key()
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject).public_key(k.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return k, builder.sign(ca_key, hashes.SHA256())

    def write(path, *items):
        with open(path, 'wb') as stream:
            for item in items:
                if hasattr(item, 'private_bytes'):
                    stream.write(item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
                else:
                    stream.write(item.public_bytes(serialization.Encoding.PEM))
        return str(path)

    ca_key, ca_cert = ca('JS7 unit test CA')
    other_key, other_cert = ca('Some other CA')
    server_key, server_cert = leaf('127.0.0.1', ca_key, ca_cert, ExtendedKeyUsageOID.SERVER_AUTH,
                                   [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))])
    client_key, client_cert = leaf('ansible-client', ca_key, ca_cert, ExtendedKeyUsageOID.CLIENT_AUTH)
    return dict(
        ca=write(directory / 'ca.pem', ca_cert),
        other_ca=write(directory / 'other-ca.pem', other_cert),
        server_cert=write(directory / 'server.pem', server_cert),
        server_key=write(directory / 'server.key', server_key),
        client_cert=write(directory / 'client.pem', client_cert),
        client_key=write(directory / 'client.key', client_key),
    )


# ---- a generic server ----------------------------------------------------------------------

class Request(object):
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def header(self, name):
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def json(self):
        return json.loads(self.body.decode('utf-8')) if self.body.strip() else None

    def basic(self):
        value = self.header('Authorization') or ''
        if not value.startswith('Basic '):
            return None
        user, _sep, password = base64.b64decode(value[6:]).decode('utf-8').partition(':')
        return user, password


class FakeServer(object):
    """``app(request) -> (status, headers, body)``; every request is recorded in ``requests``."""

    def __init__(self, app, tls=None, require_client_cert=False):
        self.app = app
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                query = dict((k, v[-1]) for k, v in parse_qs(parts.query, keep_blank_values=True).items())
                request = Request(self.command, parts.path, query, dict(self.headers.items()), body)
                server.requests.append(request)
                status, headers, payload = server.app(request)
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode('utf-8')
                    headers = dict({'Content-Type': 'application/json'}, **(headers or {}))
                elif isinstance(payload, str):
                    payload = payload.encode('utf-8')
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header('Content-Length', str(len(payload or b'')))
                self.end_headers()
                self.wfile.write(payload or b'')

            do_GET = do_POST = _serve  # noqa: N815

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = 'http'
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls['server_cert'], tls['server_key'])
            if require_client_cert:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(tls['ca'])
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = 'https'
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return '%s://127.0.0.1:%d' % (self.scheme, self.httpd.server_address[1])

    def paths(self):
        return ['%s %s' % (r.method, r.path) for r in self.requests]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port():
    """A port nothing listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class ResettingServer(object):
    """Accepts and closes every connection at once; counts the connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
            conn.close()

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.sock.getsockname()[1]

    def close(self):
        self.stop = True
        self.sock.close()


class SilentServer(object):
    """Accepts connections and never answers (read timeout)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.conns = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.sock.getsockname()[1]

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


def problem(code, message, status=400):
    return status, {'Content-Type': 'application/json'}, {'TYPE': 'Problem', 'code': code, 'message': message}


# ---- a Controller ----------------------------------------------------------------------------

class FakeController(object):
    """One Controller node: overview, cluster, ClusterNodeState, events (long-poll), sessions, auth."""

    def __init__(self, controller_id='controller', node_id='Primary', is_backup=False, users=None,
                 cluster=None, appointed=True, event_api=True):
        self.controller_id = controller_id
        self.node_id = node_id
        self.is_backup = is_backup
        self.users = users  # None = public
        self.appointed = appointed
        self.event_api = event_api
        self.cluster = cluster or {'TYPE': 'Empty'}
        self.event_id = 1000
        self.events = []
        self.sessions = {}
        self.cond = threading.Condition()
        self.logins = 0
        self.invalidate_sessions_once = False

    # state changes, as the cluster would make them
    def emit(self, event_type, **fields):
        with self.cond:
            self.event_id += 1
            event = dict(eventId=self.event_id, TYPE=event_type, **fields)
            self.events.append(event)
            transitions = {'ClusterCouplingPrepared': 'PreparedToBeCoupled', 'ClusterCoupled': 'Coupled',
                           'ClusterPassiveLost': 'PassiveLost', 'ClusterNodesAppointed': 'NodesAppointed'}
            if event_type in transitions:
                self.cluster = dict(self.cluster, TYPE=transitions[event_type])
                if event_type == 'ClusterNodesAppointed':
                    self.cluster['setting'] = fields['setting']
            self.cond.notify_all()

    def _auth(self, request):
        if self.users is None:
            return None
        token = request.header('x-js7-session')
        if token:
            if token not in self.sessions:
                return problem('InvalidSessionToken', 'Invalid session token', 403)
            return None
        creds = request.basic()
        if creds is None:
            return 401, {'WWW-Authenticate': 'Basic realm="JS7 JobScheduler Controller"'}, b''
        if self.users.get(creds[0]) != creds[1]:
            return problem('InvalidLogin', 'Login: unknown user or invalid password', 401)
        return None

    def __call__(self, request):
        path = request.path
        if not path.startswith('/controller/api'):
            return 404, {'Content-Type': 'text/plain'}, 'Try http://host:port/controller/api'
        sub = path[len('/controller/api'):].strip('/')
        if sub == 'session':
            body = request.json() or {}
            if body.get('TYPE') == 'Login':
                creds = body.get('userAndPassword') or {}
                if self.users is not None and self.users.get(creds.get('userId')) != creds.get('password'):
                    return problem('InvalidLogin', 'Login: unknown user or invalid password', 401)
                self.logins += 1
                token = '%d,secret-token-%d' % (self.logins, self.logins)
                self.sessions[token] = creds.get('userId')
                return 200, {}, {'TYPE': 'LoggedIn', 'sessionToken': token, 'js7Version': '2.7.1'}
            if body.get('TYPE') == 'Logout':
                self.sessions.pop(body.get('sessionToken'), None)
                return 200, {}, {'TYPE': 'Accepted'}
            return problem(None, 'Unknown session command')
        if self.invalidate_sessions_once and request.header('x-js7-session'):
            self.invalidate_sessions_once = False
            self.sessions.clear()
        denied = self._auth(request)
        if denied:
            return denied
        if sub == '':
            return 200, {}, {'id': self.controller_id, 'version': '2.7.1', 'buildId': 'b1', 'startedAt': 1700000000000,
                             'totalRunningTime': 12.5, 'system': {'hostname': 'node'}, 'java': {'version': '17'}}
        if sub == 'cluster':
            if self.is_backup and not self.appointed:
                return problem('BackupClusterNodeNotAppointed', 'This backup cluster node has not yet been appointed', 503)
            with self.cond:
                if request.query.get('return') == 'ClusterNodeState':
                    return 200, {}, {'eventId': self.event_id, 'nodeId': self.node_id, 'isBackup': self.is_backup,
                                     'clusterState': self.cluster}
                return 200, {}, dict({'eventId': self.event_id}, **self.cluster)
        if sub == 'event':
            if not self.event_api:
                return 404, {'Content-Type': 'text/plain'}, 'The requested resource could not be found.'
            if 'application/x-ndjson' not in (request.header('Accept') or ''):
                return 406, {'Content-Type': 'text/plain'}, 'only application/x-ndjson'
            after = int(request.query['after'])
            timeout = float(request.query.get('timeout', '1s').rstrip('s'))
            limit = int(request.query.get('limit') or 0)
            with self.cond:
                self.cond.wait_for(lambda: any(e['eventId'] > after for e in self.events), timeout)
                batch = [e for e in self.events if e['eventId'] > after]
            if limit:
                batch = batch[:limit]
            body = ''.join(json.dumps(e) + '\n' for e in batch)
            return 200, {'Content-Type': 'application/x-ndjson'}, body
        return 404, {'Content-Type': 'text/plain'}, 'The requested resource could not be found.'


def cluster_setting(primary_uri, backup_uri, active='Primary'):
    return {'idToUri': {'Primary': primary_uri, 'Backup': backup_uri}, 'activeId': active,
            'timing': {'heartbeat': 3, 'heartbeatTimeout': 10}}


# ---- JOC Cockpit -----------------------------------------------------------------------------

def joc_error(status, code, message):
    return status, {}, {'deliveryDate': '2026-01-01T00:00:00Z', 'error': {'code': code, 'message': message}}


class FakeJoc(object):
    """JOC Cockpit with one account, sessions, registrations, tests and components."""

    def __init__(self, accounts=None, version='2.7.1', active=True):
        self.accounts = accounts if accounts is not None else {'root': 'root'}
        self.version = version
        self.active = active
        self.tokens = set()
        self.logins = 0
        self.logouts = 0
        self.expire_next = 0          # answer the next N calls with 440
        self.registrations = {}       # controllerId -> list of controllers (persisted form)
        self.agents = []
        self.test_results = {}        # url -> (status, body) override
        self.components = {}          # controllerId -> answer
        self.registered = []          # bodies of ./controller/register
        self.overrides = {}           # path -> (status, headers, body), answered once per entry
        self.jocs = [{'url': 'http://joc-a:4446', 'memberId': 'a', 'clusterNodeState': {'_text': 'inactive'}},
                     {'url': 'http://joc-b:4446', 'memberId': 'b', 'clusterNodeState': {'_text': 'active'}}]

    def __call__(self, request):
        path = request.path
        if not path.startswith('/joc/api/'):
            return 404, {'Content-Type': 'text/html'}, '<html>not found</html>'
        name = './' + path[len('/joc/api/'):]
        if name == './authentication/login':
            creds = request.basic()
            if creds is None or self.accounts.get(creds[0]) != creds[1]:
                return 401, {}, {'isAuthenticated': False, 'message': 'Access denied', 'accessToken': ''}
            self.logins += 1
            token = 'joc-token-%d' % self.logins
            self.tokens.add(token)
            return 200, {'X-Access-Token': token, 'X-JOC-Timeout': '1800000'}, {
                'accessToken': token, 'isAuthenticated': True, 'account': creds[0], 'sessionTimeout': 1800000}
        token = request.header('X-Access-Token')
        if name == './authentication/logout':
            self.logouts += 1
            self.tokens.discard(token)
            return 200, {}, {'accessToken': '', 'isAuthenticated': False}
        if token not in self.tokens:
            return 440, {}, {'isAuthenticated': False, 'message': 'SessionNotExistException: Session has expired.'}
        if self.expire_next:
            self.expire_next -= 1
            self.tokens.discard(token)
            return 440, {}, {'isAuthenticated': False, 'message': 'SessionNotExistException: Session has expired.'}
        if name in self.overrides and self.overrides[name]:
            return self.overrides[name].pop(0)
        body = request.json() or {}
        if name == './joc/is_active':
            return 200, {}, {'ok': self.active}
        if name == './joc/versions':
            return 200, {}, {'jocVersion': self.version, 'controllerVersions': [
                {'controllerId': c, 'version': self.version} for c in self.registrations]}
        if name == './controllers/p':
            cid = body.get('controllerId')
            if cid not in self.registrations:
                return 200, {}, {'controllers': [], 'agents': []}
            return 200, {}, {'controllers': [dict(c, controllerId=cid) for c in self.registrations[cid]],
                             'agents': self.agents}
        if name == './controller/test':
            url = body['url']
            if url in self.test_results:
                return self.test_results[url]
            return 200, {}, {'controller': {'url': url, 'controllerId': body.get('controllerId') or 'controller',
                                            'connectionState': {'severity': 0, '_text': 'established'}}}
        if name == './controller/register':
            if not self.active:
                return joc_error(420, 'JOC-503', 'JocServiceException: Registering the Controllers is possible only in the '
                                 'active JOC node.')
            self.registered.append(body)
            cid = body.get('controllerId') or 'controller'
            self.registrations[cid] = [dict(role=c['role'], url=c['url'], clusterUrl=c.get('clusterUrl'),
                                            title=c.get('title') or c['role']) for c in body['controllers']]
            return 200, {}, {'ok': True}
        if name == './controller/components':
            cid = body.get('controllerId')
            answer = self.components.get(cid) or {'controllers': [], 'clusterState': {'_text': 'ClusterUnknown', 'severity': 4}}
            return 200, {}, dict(answer, jocs=self.jocs)
        return joc_error(420, 'JOC-400', 'unknown call %s' % name)


def components(state_text, coupled=True, connection='established', active='PRIMARY'):
    nodes = []
    for role, url in (('PRIMARY', 'http://p:4444'), ('BACKUP', 'http://b:4444')):
        nodes.append({'role': role, 'url': url, 'controllerId': 'controller', 'isCoupled': coupled,
                      'connectionState': {'_text': connection}, 'componentState': {'_text': 'operational'},
                      'clusterNodeState': {'_text': 'active' if role == active else 'inactive'}})
    severity = 0 if state_text == 'ClusterCoupled' else 1
    return {'controllers': nodes, 'clusterState': {'_text': state_text, 'severity': severity}}
