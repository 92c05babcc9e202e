"""Entry point of the simulated JOC Cockpit process (main class ``com.sos.joc.lab.JocMain``).

    run.py com.sos.joc.lab.JocMain --http-port=<ip>:4446 [--https-port=<ip>:4443] --jetty-base=<data>

Settings: ``<jetty_base>/resources/joc/lab-joc.json`` (written by the lab orchestration).
Log: ``<jetty_base>/logs/joc.log``.
"""

import base64
import binascii
import json
import os
import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .cockpit import AUTH_LOGGER, Cockpit, Settings, require_id
from .errors import AccountError, JocError, account_answer, bad_request, joc_date
from .logs import JocLog

API = "/joc/api/"

# path -> (method name on Handler, permission or None). All are POST with a JSON body (J§1.2).
ROUTES = {
    "authentication/login": ("login", None),
    "authentication/logout": ("logout", None),
    "touch": ("touch", None),
    "controller/test": ("test", "view"),
    "controller/register": ("register", "manage"),
    "controller/unregister": ("unregister", "manage"),
    "controller/cleanup": ("unregister", "manage"),
    "controller/components": ("components", "view"),
    "controller/cluster/appoint_nodes": ("appoint_nodes", "switch_over"),
    "controllers/p": ("controllers_p", "view"),
    "controller/p": ("controller_p", "view"),
    "controller": ("controller", "view"),
    "controllers": ("controllers", "view"),
    "controller/ids": ("controller_ids", "view"),
    "joc/is_active": ("is_active", None),
    "joc/versions": ("versions", None),
}


class Handler(BaseHTTPRequestHandler):
    server_version = "Jetty(lab)"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    @property
    def cockpit(self):
        return self.server.cockpit

    def log_message(self, format, *args):  # noqa: A002 - signature of BaseHTTPRequestHandler
        return  # request logging would drown joc.log

    def _send(self, status, body, headers=None):
        payload = json.dumps(body).encode("utf-8")
        reasons = {420: "Invalid Request", 434: "Invalid Request", 440: "Login Timeout"}
        self.send_response(status, reasons.get(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, no-store, no-transform, must-revalidate")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path.rstrip("/") in ("/joc", "/joc/api"):
            self._send(200, {"deliveryDate": joc_date(), "jocVersion": self.cockpit.settings.version})
            return
        self._send(404, {"deliveryDate": joc_date(), "error": {"code": "JOC-404", "message": "Not found: " + path}})

    def do_POST(self):
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not split.path.startswith(API) or split.path[len(API):].strip("/") not in ROUTES:
            self._send(404, {"deliveryDate": joc_date(),
                             "error": {"code": "JOC-404", "message": "Not found: " + split.path}})
            return
        name = split.path[len(API):].strip("/")
        method, permission = ROUTES[name]
        api_call = "./" + name
        try:
            body = {}
            if raw.strip():
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError as error:
                    raise bad_request("request body is no valid JSON: %s" % error)
                if not isinstance(body, dict):
                    raise bad_request("request body must be a JSON object")
            if method == "login":
                self._login(parse_qs(split.query))
                return
            session = self.cockpit.session(self.headers.get("X-Access-Token"), api_call)
            if permission:
                self.cockpit.permit(session, permission, api_call)
            status, answer = getattr(self, "_" + method)(body, session)
            self._send(status, answer)
        except JocError as error:
            self._send(error.status, error.body())
        except AccountError as error:
            self._send(error.status, error.body())
        except Exception as error:  # pylint: disable=broad-except
            self.cockpit.log.error("com.sos.joc.classes.JOCDefaultResponse", "%s: %r" % (api_call, error))
            self._send(420, JocError("JOC-420", type(error).__name__, str(error)).body())

    # ---- handlers --------------------------------------------------------------------------

    def _login(self, query):
        header = self.headers.get("Authorization")
        if header:
            scheme, _ignored, encoded = header.partition(" ")
            try:
                if scheme.lower() != "basic":
                    raise ValueError(scheme)
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
                if ":" not in decoded:
                    raise ValueError("no colon")
            except (ValueError, binascii.Error, UnicodeDecodeError):
                # J§1.1: a malformed Authorization header gives 420 with this message.
                raise bad_request("Authorization header with basic based64part expected")
            account, _ignored, password = decoded.partition(":")
        elif query.get("account"):
            account, password = query["account"][0], (query.get("pwd") or [""])[0]
        else:
            raise AccountError(401, "Access denied: no credentials", api_call="./authentication/login")
        session = self.cockpit.login(account, password)
        remaining = session.remaining_ms()
        answer = account_answer(account, session.token, authenticated=True, session_timeout=remaining,
                                caller=self.client_address[0])
        # J§1.1: token in the body and in X-Access-Token; X-JOC-Timeout carries the session timeout.
        self._send(200, answer, headers={"X-Access-Token": session.token, "X-JOC-Timeout": str(remaining)})

    def _logout(self, body, session):
        self.cockpit.log.info(AUTH_LOGGER, "Logout of account '%s'" % session.account)
        return 200, self.cockpit.logout(session.token)

    def _touch(self, body, session):
        return 200, {"deliveryDate": joc_date(), "ok": True}

    def _test(self, body, session):
        return 200, self.cockpit.test(body)

    def _register(self, body, session):
        return 200, self.cockpit.register(body, session)

    def _unregister(self, body, session):
        return 200, self.cockpit.unregister(body)

    def _components(self, body, session):
        return 200, self.cockpit.components(body)

    def _appoint_nodes(self, body, session):
        return 200, self.cockpit.appoint_nodes(body)

    def _controllers_p(self, body, session):
        return 200, self.cockpit.controllers_p(body)

    def _controller_p(self, body, session):
        answer = self.cockpit.controllers_p({"controllerId": require_id(body)})
        items = [c for c in answer["controllers"] if not body.get("url") or c["url"] == body["url"]]
        return 200, {"deliveryDate": answer["deliveryDate"], "controller": items[0] if items else None}

    def _controller(self, body, session):
        return 200, self.cockpit.controller_volatile(body)

    def _controllers(self, body, session):
        ids = [body["controllerId"]] if body.get("controllerId") else sorted(self.cockpit.db.controllers())
        controllers = []
        for controller_id in ids:
            controllers.extend(self.cockpit.components({"controllerId": controller_id})["controllers"])
        return 200, {"deliveryDate": joc_date(), "controllers": controllers}

    def _controller_ids(self, body, session):
        return 200, self.cockpit.controller_ids()

    def _is_active(self, body, session):
        # J§2.1: ok:true when this JOC is the active cluster member; the lab has one JOC (active).
        return 200, {"deliveryDate": joc_date(), "ok": bool(self.cockpit.settings.get("active", True))}

    def _versions(self, body, session):
        return 200, self.cockpit.versions(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def parse_address(value):
    host, _ignored, port = value.rpartition(":")
    return (host or "0.0.0.0"), int(port)


def parse_args(argv):
    options = {}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise SystemExit("JocMain: unknown argument %r" % arg)
        key, _ignored, value = arg[2:].partition("=")
        options[key] = value
    if "jetty-base" not in options or "http-port" not in options:
        raise SystemExit("JocMain: --jetty-base=<dir> and --http-port=[<ip>:]<port> are required")
    return options


def main(argv=None):
    options = parse_args(sys.argv[1:] if argv is None else argv)
    jetty_base = options["jetty-base"]
    settings = Settings(os.path.join(jetty_base, "resources", "joc", "lab-joc.json"))
    log = JocLog(os.path.join(jetty_base, "logs", "joc.log"), host=settings.get("host", "joc"),
                 timeline=settings.get("timeline"))
    http_address = parse_address(options["http-port"])
    servers = [Server(http_address, Handler)]
    scheme_url = "http://%s:%s" % http_address
    if options.get("https-port"):
        https_address = parse_address(options["https-port"])
        https = Server(https_address, Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(settings.get("https_cert"), settings.get("https_key"))
        if settings.get("https_client_ca"):
            context.load_verify_locations(settings.get("https_client_ca"))
            context.verify_mode = ssl.CERT_OPTIONAL
        https.socket = context.wrap_socket(https.socket, server_side=True)
        servers.append(https)
        scheme_url = "https://%s:%s" % https_address
    cockpit = Cockpit(settings, log, scheme_url)
    for server in servers:
        server.cockpit = cockpit
    log.info("com.sos.joc.servlet.JocServletContainer",
             "JOC Cockpit %s (lab) started, pid %d, listening on %s"
             % (settings.version, os.getpid(), ", ".join("%s:%s" % s.server_address[:2] for s in servers)))
    log.timeline("JocStarted", pid=os.getpid(), version=settings.version)

    stopping = threading.Event()

    def shutdown(signum, frame):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=lambda: [s.shutdown() for s in servers], daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    cockpit.start_background()
    servers[0].serve_forever()
    log.info("com.sos.joc.servlet.JocServletContainer", "JOC Cockpit stopped")
    log.timeline("JocStopped", pid=os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
