"""HTTP(S) server, request/response objects, GateKeeper (auth + sessions) and TLS contexts.

Facts: E§3.2 (sessions, Basic, public, 401/403), E§3.3 (Problem JSON), E§1.5 (HTTPS settings).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import ssl
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .common import dumps
from .problems import STATUS_REASONS, Problem

API_CACHE_CONTROL = "max-age=0, no-store, no-cache"  # every API response (E§3.1)


class Response:
    def __init__(self, status=200, body=b"", content_type="application/json", headers=None, stream=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.stream = stream  # iterator of bytes; the connection is closed at its end


def json_response(obj, status=200, headers=None):
    return Response(status, dumps(obj), "application/json", headers)


def problem_response(problem: Problem, headers=None):
    return Response(problem.status, dumps(problem.to_json()), "application/json", headers)


class HttpError(Exception):
    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


class Request:
    def __init__(self, handler, method, body):
        self.handler = handler
        self.method = method
        parsed = urllib.parse.urlsplit(handler.path)
        self.path = parsed.path
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        self.headers = handler.headers
        self.body = body
        self.client_address = handler.client_address
        self.local_address = handler.connection.getsockname()
        self.scheme = "https" if isinstance(handler.connection, ssl.SSLSocket) else "http"
        self.peer_cert = None
        if self.scheme == "https":
            try:
                self.peer_cert = handler.connection.getpeercert()
            except (ValueError, ssl.SSLError):
                self.peer_cert = None
        self.user = None

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise Problem(message="JSON ParsingFailure: %s" % exc) from exc

    def header(self, name, default=None):
        return self.headers.get(name, default)


class _Handler(BaseHTTPRequestHandler):
    server_version = "js7-lab"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def do_GET(self):  # noqa: N802 - http.server API
        self._handle("GET")

    def do_HEAD(self):  # noqa: N802
        self._handle("HEAD")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method):
        web = self.server.web
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self, method, body)
            try:
                response = web.app(request)
            except Problem as problem:
                response = problem_response(problem, {"Cache-Control": API_CACHE_CONTROL})
            except HttpError as error:
                response = error.response
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception:  # pylint: disable=broad-except
            web.log.error(web.logger, "HTTP %s %s failed: %s" % (method, self.path, traceback.format_exc().replace("\n", " | ")))
            response = problem_response(Problem(message="Internal server error"), {})
            response.status = 500
        self._send(method, response)

    def _send(self, method, response):
        try:
            self.send_response(response.status, STATUS_REASONS.get(response.status, ""))
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.stream is not None:
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for chunk in response.stream:
                    if chunk:
                        self.wfile.write(chunk)
                        self.wfile.flush()
            else:
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            close = getattr(response.stream, "close", None)
            if close:
                close()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        web = self.server.web
        web.log.debug(web.logger + ".access", "%s %s" % (self.client_address[0], format % args))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, web, ssl_context):
        self.web = web
        self.ssl_context = ssl_context
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        if self.ssl_context is not None:
            # TLS handshake in the request's own thread, so a slow client blocks nobody.
            try:
                request.settimeout(10)
                request = self.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as exc:
                self.web.log.info(self.web.logger, "TLS handshake with %s failed: %s" % (client_address[0], exc))
                return
            try:
                self.RequestHandlerClass(request, client_address, self)
            finally:
                try:
                    request.close()
                except OSError:
                    pass
            return
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        pass


class WebServer:
    """Listeners from --http-port/--https-port; ``app(request) -> Response``."""

    def __init__(self, app, log, logger):
        self.app = app
        self.log = log
        self.logger = logger
        self.servers = []
        self.threads = []

    def add_listener(self, host, port, ssl_context=None):
        server = _Server((host, port), self, ssl_context)
        self.servers.append(server)
        return server

    def start(self):
        for server in self.servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                                      name="http-%s" % server.server_address[1])
            thread.start()
            self.threads.append(thread)

    def close(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()


# --------------------------------------------------------------------------- authentication

class User:
    def __init__(self, user_id, anonymous=False, permissions=()):
        self.id = user_id
        self.anonymous = anonymous
        self.permissions = set(permissions)

    def __repr__(self):
        return "User(%s)" % self.id


ANONYMOUS_ID = "Anonymous"


def _dn_normalise(text):
    return ",".join(part.strip() for part in str(text).split(",")).lower()


def _cert_dn(cert):
    """RFC 2253-like DN of a peer certificate (most specific first), e.g. ``CN=a,O=b``."""
    if not cert:
        return None
    names = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
                     "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}.get(key, key)
            names.append("%s=%s" % (short, value))
    return ",".join(reversed(names))


class GateKeeper:
    """js7.auth.users, js7.web.server.auth.* and the session register (E§1.4, E§3.2)."""

    def __init__(self, config, realm, invalid_delay, log, logger, session_timeout=3600.0):
        self.realm = config.get_str("js7.web.server.auth.realm", realm)
        self.invalid_delay = invalid_delay
        self.log = log
        self.logger = logger
        self.public = config.get_bool("js7.web.server.auth.public", False)
        self.loopback_is_public = config.get_bool("js7.web.server.auth.loopback-is-public", False)
        self.get_is_public = config.get_bool("js7.web.server.auth.get-is-public", False)
        self.session_timeout = session_timeout
        self.users = {}
        self.dn_to_user = {}
        users = config.get("js7.auth.users") or {}
        for user_id in list(users.keys()) if hasattr(users, "keys") else []:
            entry = users.get(user_id)
            permissions, dns = (), ()
            if hasattr(entry, "get") and not isinstance(entry, str):
                password = entry.get("password", None)
                permissions = entry.get("permissions", []) or []
                dns = entry.get("distinguished-names", []) or []
            else:
                password = entry
            user_id = str(user_id).strip('"')
            self.users[user_id] = (None if password is None else str(password), set(permissions))
            for dn in dns:
                self.dn_to_user[_dn_normalise(dn)] = user_id
            if password is not None and str(password) != "":
                scheme = str(password).split(":", 1)[0] if ":" in str(password) else None
                if scheme is None:
                    log.error(logger, "Missing password encoding scheme for User '%s'. Try to prefix the configured password "
                              "with 'plain:' or 'sha512:'" % user_id)
                elif scheme not in ("plain", "sha512"):
                    log.error(logger, "Unknown password encoding scheme for User '%s'" % user_id)
        self._sessions = {}
        self._counter = 0
        self._lock = threading.Lock()

    # -- passwords
    def check_password(self, user_id, password) -> bool:
        entry = self.users.get(user_id)
        if entry is None or entry[0] is None:
            return False
        configured = entry[0]
        if configured == "":
            return password == ""
        scheme, _ignored, value = configured.partition(":")
        if scheme == "plain":
            return hmac.compare_digest(value.encode(), str(password).encode())
        if scheme == "sha512":
            digest = hashlib.sha512(str(password).encode()).hexdigest()
            return hmac.compare_digest(value.lower().encode(), digest.encode())
        return False

    def _invalid(self, problem_code="InvalidLogin"):
        time.sleep(self.invalid_delay)  # js7.web.server.auth.invalid-authentication-delay (scaled)
        response = problem_response(Problem(problem_code), {
            "WWW-Authenticate": 'Basic realm="%s"' % self.realm, "Cache-Control": API_CACHE_CONTROL})
        response.status = 401
        return HttpError(response)

    def _challenge(self):
        response = problem_response(
            Problem(message="The resource requires authentication, which was not supplied with the request"),
            {"WWW-Authenticate": 'Basic realm="%s"' % self.realm, "Cache-Control": API_CACHE_CONTROL})
        response.status = 401
        return HttpError(response)

    def _is_public_for(self, request) -> bool:
        if self.public:
            return True
        if self.loopback_is_public and request.local_address[0].startswith("127."):
            return True
        return self.get_is_public and request.method in ("GET", "HEAD")

    def authenticate(self, request, required=True) -> User:
        token = request.header("x-js7-session")
        if token:
            user = self.session_user(token)
            if user is None:
                raise HttpError(problem_response(Problem("InvalidSessionToken"), {"Cache-Control": API_CACHE_CONTROL}))
            return user
        authorization = request.header("Authorization")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization.split(None, 1)[1]).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise self._invalid() from None
            user_id, _ignored, password = decoded.partition(":")
            if self.check_password(user_id, password):
                return User(user_id, permissions=self.users[user_id][1])
            self.log.warn(self.logger, "Login: unknown user or invalid password for UserId '%s'" % user_id)
            raise self._invalid()
        dn = _cert_dn(request.peer_cert)
        if dn and _dn_normalise(dn) in self.dn_to_user:
            user_id = self.dn_to_user[_dn_normalise(dn)]
            return User(user_id, permissions=self.users[user_id][1])
        if self._is_public_for(request) or not required:
            return User(ANONYMOUS_ID, anonymous=True)
        raise self._challenge()

    # -- sessions
    def session_user(self, token):
        with self._lock:
            entry = self._sessions.get(token)
            if entry is None:
                return None
            user, expires = entry
            if time.time() > expires:
                del self._sessions[token]
                return None
            self._sessions[token] = (user, time.time() + self.session_timeout)
            return user

    def create_session(self, user: User) -> str:
        with self._lock:
            self._counter += 1
            token = "%d,%s" % (self._counter, secrets.token_urlsafe(18))
            self._sessions[token] = (user, time.time() + self.session_timeout)
            return token

    def login(self, request, body, server_version):
        """POST .../api/session {"TYPE":"Login"} (E§3.2)."""
        user_and_password = body.get("userAndPassword")
        if user_and_password:
            user_id = user_and_password.get("userId", "")
            if not self.check_password(user_id, user_and_password.get("password", "")):
                self.log.warn(self.logger, "Login: unknown user or invalid password for UserId '%s'" % user_id)
                raise self._invalid()
            user = User(user_id, permissions=self.users[user_id][1])
        else:
            user = self.authenticate(request, required=True)
        token = self.create_session(user)
        self.log.debug(self.logger, "Session #%s for %s added" % (token.split(",")[0], user.id))
        return {"TYPE": "LoggedIn", "sessionToken": token, "js7Version": server_version}

    def logout(self, token):
        with self._lock:
            self._sessions.pop(token, None)

    def session_list(self):
        with self._lock:
            return [{"userId": user.id} for user, _ignored in self._sessions.values()]


# --------------------------------------------------------------------------- TLS

def _load_store_as_pem(path, password, work_dir, name, want_key):
    """A PKCS12 keystore (the product's format) or a PEM file -> (certfile, keyfile) paths.

    PKCS12 needs ``cryptography`` (the lab venv has it); the PEM form is a lab convenience.
    """
    with open(path, "rb") as file:
        data = file.read()
    if b"-----BEGIN" in data:
        return path, (path if want_key else None)
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.serialization import pkcs12  # pylint: disable=import-outside-toplevel
    key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    os.makedirs(work_dir, exist_ok=True)
    out = os.path.join(work_dir, name + ".pem")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        if key is not None and want_key:
            file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        for certificate in ([cert] if cert else []) + list(extra or []):
            file.write(certificate.public_bytes(serialization.Encoding.PEM))
    return out, (out if want_key else None)


def _truststore_bundle(config, work_dir):
    stores = config.get("js7.web.https.truststores") or []
    paths = []
    for index, store in enumerate(stores):
        path = store.get("file")
        if path and os.path.exists(path):
            pem, _ignored = _load_store_as_pem(path, store.get("store-password", None), work_dir, "truststore-%d" % index, False)
            paths.append(pem)
    return paths


def server_ssl_context(config, config_dir, work_dir):
    """HTTPS listener context from js7.web.https.keystore / truststores (E§1.5)."""
    keystore = config.get_str("js7.web.https.keystore.file", os.path.join(config_dir, "private", "https-keystore.p12"))
    if not os.path.exists(keystore):
        raise FileNotFoundError("HTTPS keystore not found: %s" % keystore)
    certfile, keyfile = _load_store_as_pem(keystore, config.get_str("js7.web.https.keystore.store-password"),
                                           work_dir, "https-keystore", True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile, password=config.get_str("js7.web.https.keystore.key-password"))
    trust = _truststore_bundle(config, work_dir)
    if trust and config.get_bool("js7.web.server.auth.https-client-authentication", True):
        for path in trust:
            context.load_verify_locations(path)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(config, config_dir, work_dir):
    """Context for node-to-node HTTPS: truststores verify the peer; client keystore identifies us."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    trust = _truststore_bundle(config, work_dir)
    if trust:
        for path in trust:
            context.load_verify_locations(path)
    else:
        context.load_default_certs()
    client_store = config.get_str("js7.web.https.client-keystore.file",
                                  os.path.join(config_dir, "private", "https-client-keystore.p12"))
    password_key = "js7.web.https.client-keystore"
    if not os.path.exists(client_store):
        client_store = config.get_str("js7.web.https.keystore.file", os.path.join(config_dir, "private", "https-keystore.p12"))
        password_key = "js7.web.https.keystore"
    if os.path.exists(client_store):
        certfile, keyfile = _load_store_as_pem(client_store, config.get_str(password_key + ".store-password"),
                                               work_dir, "https-client-keystore", True)
        context.load_cert_chain(certfile, keyfile, password=config.get_str(password_key + ".key-password"))
    return context


def is_port_free(host, port) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False
