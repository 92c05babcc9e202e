"""A small JS7 HTTP client (sessions, Problem bodies, NDJSON streams).

Failures render like PekkoHttpClient.HttpException.getMessage (E§3.3):
``HTTP 400 Bad Request: POST <uri> => <Code>: <message>``.
"""
from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import threading
import urllib.parse

from .common import dumps
from .problems import STATUS_REASONS, Problem


class HttpException(Exception):
    def __init__(self, status, method, uri, problem=None, text=None):
        self.status = status
        self.method = method
        self.uri = uri
        self.problem = problem
        self.text = text
        super().__init__(str(self))

    @property
    def code(self):
        return self.problem.code if self.problem else None

    def __str__(self):
        reason = STATUS_REASONS.get(self.status, "")
        detail = self.problem.render() if self.problem else (self.text or "").strip()
        return "HTTP %d %s: %s %s => %s" % (self.status, reason, self.method, self.uri, detail)


class ConnectionFailure(Exception):
    def __init__(self, method, uri, cause):
        self.method = method
        self.uri = uri
        self.cause = cause
        super().__init__(str(self))

    def __str__(self):
        return "%s %s => %s" % (self.method, self.uri, _describe(self.cause))


def _describe(exc):
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "Request timed out"
    if isinstance(exc, ssl.SSLError):
        return "TLS failure: %s" % (exc.reason or exc)
    return "%s: %s" % (type(exc).__name__, exc)


class Js7Client:
    """Client of one JS7 server (``base`` like ``http://127.0.0.1:4444``; ``prefix`` controller/agent)."""

    def __init__(self, base, prefix="controller", user_id=None, password=None, ssl_context=None, timeout=10.0, basic=False):
        self.base = base.rstrip("/")
        self.prefix = prefix
        self.user_id = user_id
        self.password = password
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.basic = basic
        self.session = None
        self._lock = threading.Lock()

    def uri(self, path):
        return self.base + path

    def _connection(self, timeout):
        parsed = urllib.parse.urlsplit(self.base)
        if parsed.scheme == "https":
            return http.client.HTTPSConnection(parsed.hostname, parsed.port or 443, timeout=timeout, context=self.ssl_context)
        return http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)

    def raw(self, method, path, body=None, headers=None, timeout=None, stream=False):
        """One request; returns (status, headers, body bytes) or (status, headers, response) if stream."""
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Accept", "application/json")
        connection = self._connection(timeout if timeout is not None else self.timeout)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            if stream:
                return response.status, dict(response.getheaders()), response
            payload = response.read()
            return response.status, dict(response.getheaders()), payload
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            connection.close()
            raise ConnectionFailure(method, self.uri(path), exc) from exc
        finally:
            if not stream:
                connection.close()

    def _auth_headers(self):
        if self.basic and self.user_id is not None:
            token = base64.b64encode(("%s:%s" % (self.user_id, self.password or "")).encode()).decode()
            return {"Authorization": "Basic " + token}
        if self.session:
            return {"x-js7-session": self.session}
        return {}

    def _raise_for(self, status, method, path, payload):
        problem = None
        try:
            obj = json.loads(payload.decode("utf-8"))
            if isinstance(obj, dict) and obj.get("TYPE") == "Problem":
                problem = Problem.from_json(obj, status)
        except (ValueError, UnicodeDecodeError):
            pass
        raise HttpException(status, method, self.uri(path), problem, payload.decode("utf-8", "replace") if problem is None else None)

    def login(self):
        path = "/%s/api/session" % self.prefix
        body = {"TYPE": "Login"}
        if self.user_id is not None:
            body["userAndPassword"] = {"userId": self.user_id, "password": self.password or ""}
        status, _ignored, payload = self.raw("POST", path, body)
        if status != 200:
            self._raise_for(status, "POST", path, payload)
        self.session = json.loads(payload)["sessionToken"]

    def logout(self):
        if self.session:
            try:
                self.raw("POST", "/%s/api/session" % self.prefix, {"TYPE": "Logout", "sessionToken": self.session},
                         headers={"x-js7-session": self.session})
            except ConnectionFailure:
                pass
            self.session = None

    def _ensure_session(self):
        if self.user_id is not None and not self.basic and self.session is None:
            with self._lock:
                if self.session is None:
                    self.login()

    def request(self, method, path, body=None, timeout=None, headers=None, stream=False):
        self._ensure_session()
        all_headers = dict(headers or {})
        all_headers.update(self._auth_headers())
        status, response_headers, payload = self.raw(method, path, body, all_headers, timeout, stream)
        if status == 403 and self.session and not stream:
            try:
                code = json.loads(payload).get("code")
            except (ValueError, AttributeError):
                code = None
            if code == "InvalidSessionToken":  # the server restarted: log in again, once
                self.session = None
                self._ensure_session()
                all_headers.update(self._auth_headers())
                status, response_headers, payload = self.raw(method, path, body, all_headers, timeout, stream)
        if stream:
            if status != 200:
                data = payload.read()
                payload.close()
                self._raise_for(status, method, path, data)
            return payload, response_headers
        if status >= 300:
            self._raise_for(status, method, path, payload)
        return payload, response_headers

    def get_json(self, path, timeout=None):
        payload, _ignored = self.request("GET", path, timeout=timeout)
        return json.loads(payload)

    def post_json(self, path, obj, timeout=None):
        payload, _ignored = self.request("POST", path, obj, timeout=timeout)
        return json.loads(payload) if payload else None

    def command(self, obj, timeout=None):
        return self.post_json("/%s/api/command" % self.prefix, obj, timeout)

    def cluster_command(self, obj, timeout=None):
        return self.post_json("/%s/api/cluster/command" % self.prefix, obj, timeout)
