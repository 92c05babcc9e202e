"""HTTP client JOC uses to talk to Controllers (and the lab CLI to talk to anything).

Never uses environment proxies: lab traffic stays on 127.0.0.0/8 and 198.18.0.0/15.
"""

import base64
import errno
import json
import socket
import ssl
import urllib.error
import urllib.request


class Unreachable(Exception):
    """No HTTP answer. ``kind`` is 'refused', 'timeout' (connect), 'read-timeout' or 'io'."""

    def __init__(self, url, kind, detail):
        super().__init__("%s: %s (%s)" % (url, kind, detail))
        self.url = url
        self.kind = kind
        self.detail = detail


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except ValueError:
            return None


def make_ssl_context(ca_file=None, client_cert=None, client_key=None):
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if client_cert:
        context.load_cert_chain(client_cert, client_key)
    return context


class Client:
    def __init__(self, user=None, password=None, ca_file=None, client_cert=None, client_key=None,
                 timeout=10.0):
        self.user = user
        self.password = password
        self.timeout = timeout
        handlers = [urllib.request.ProxyHandler({})]
        self._context = None
        if ca_file or client_cert:
            self._context = make_ssl_context(ca_file, client_cert, client_key)
            handlers.append(urllib.request.HTTPSHandler(context=self._context))
        self._opener = urllib.request.build_opener(*handlers)

    def _request(self, method, url, body=None, headers=None, accept="application/json"):
        data = None
        all_headers = {"Accept": accept}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        if self.user is not None:
            token = base64.b64encode(("%s:%s" % (self.user, self.password or "")).encode("utf-8")).decode("ascii")
            all_headers["Authorization"] = "Basic " + token
        all_headers.update(headers or {})
        return urllib.request.Request(url, data=data, headers=all_headers, method=method)

    def open(self, method, url, body=None, headers=None, accept="application/json", timeout=None):
        """Returns the raw response object (for streams) or raises Unreachable / returns HTTPError."""
        request = self._request(method, url, body, headers, accept)
        try:
            return self._opener.open(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as error:
            return error
        except urllib.error.URLError as error:
            raise _unreachable(url, error.reason)
        except (socket.timeout, TimeoutError) as error:
            raise Unreachable(url, "read-timeout", str(error))
        except OSError as error:
            raise _unreachable(url, error)

    def call(self, method, url, body=None, headers=None, accept="application/json", timeout=None):
        response = self.open(method, url, body, headers, accept, timeout)
        try:
            payload = response.read()
        except (socket.timeout, TimeoutError) as error:
            raise Unreachable(url, "read-timeout", str(error))
        except OSError as error:
            raise _unreachable(url, error)
        finally:
            response.close()
        status = getattr(response, "status", None) or response.getcode()
        return Response(status, dict(response.headers.items()), payload)

    def get(self, url, **kw):
        return self.call("GET", url, **kw)

    def post(self, url, body, **kw):
        return self.call("POST", url, body=body, **kw)


def _unreachable(url, reason):
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return Unreachable(url, "timeout", str(reason))
    if isinstance(reason, ConnectionRefusedError) or getattr(reason, "errno", None) == errno.ECONNREFUSED:
        return Unreachable(url, "refused", "Connection refused")
    if getattr(reason, "errno", None) in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return Unreachable(url, "timeout", str(reason))
    if isinstance(reason, ssl.SSLError):
        return Unreachable(url, "ssl", str(reason))
    return Unreachable(url, "io", str(reason))
