# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The HTTP client shared by the Controller and JOC Cockpit API modules.

It runs wherever the module runs (often a managed node), so it uses only the
standard library and ``ansible.module_utils.urls``. It knows nothing about JS7
routes; it sends requests, retries what is safe to retry, and turns every
transport failure into a ``JS7ApiError`` whose ``msg`` says what to do.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import ConnectionError as AnsibleUrlsConnectionError
from ansible.module_utils.urls import Request

__all__ = ['JS7ApiError', 'HttpClient', 'Response', 'tls_argument_spec', 'parse_problem', 'redact']

USER_AGENT = 'jobscheduler.js7-ansible'

# Connection failures worth another attempt: the peer is restarting, the network
# hiccuped. Certificate and name-resolution errors are not (they do not heal).
_RETRYABLE_ERRNO_TYPES = (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError,
                          BrokenPipeError, socket.timeout, TimeoutError)


def tls_argument_spec():
    """Options every API module shares: TLS, timeout and retries (doc fragments controller_connection/joc_connection)."""
    return dict(
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path'),
        client_cert=dict(type='path'),
        client_key=dict(type='path', no_log=False),
        timeout=dict(type='int', default=30),
        retries=dict(type='int', default=3),
    )


class JS7ApiError(Exception):
    """A failed API call. ``msg`` is written for the person reading the play output.

    ``kind`` is one of ``config`` (bad option), ``connection`` (unreachable after the retries),
    ``timeout``, ``tls``, ``http`` (an answer with status >= 400), ``auth`` (credentials refused),
    ``protocol`` (an answer that is not what the API promises).
    """

    def __init__(self, msg, kind='http', url=None, method=None, status=None, code=None,
                 message=None, body=None, attempts=1):
        super(JS7ApiError, self).__init__(msg)
        self.msg = msg
        self.kind = kind
        self.url = url
        self.method = method
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        self.attempts = attempts

    def to_dict(self):
        """The error as it appears in results: no headers, no request body, never a secret."""
        return dict(kind=self.kind, url=self.url, method=self.method, http_status=self.status,
                    code=self.code, message=self.message if self.message is not None else self.msg)


class Response(object):
    """A complete HTTP answer (the body is read eagerly; JS7 answers are small)."""

    def __init__(self, status, headers, body, url):
        self.status = status
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())
        self.body = body or b''
        self.url = url

    @property
    def text(self):
        return to_text(self.body, errors='surrogate_or_replace')

    def json(self, default=None):
        """Parse the body as JSON; ``default`` for an empty body; JS7ApiError(kind=protocol) when it is not JSON."""
        if not self.body.strip():
            return default
        try:
            return json.loads(self.text)
        except ValueError:
            raise JS7ApiError(
                'The server at %s answered HTTP %s with a body that is not JSON (%s). Check that the URL points at '
                'the right service and port.' % (self.url, self.status, _excerpt(self.text)),
                kind='protocol', url=self.url, status=self.status)


def _excerpt(text, limit=200):
    text = ' '.join(to_text(text).split())
    return text if len(text) <= limit else text[:limit] + '...'


def redact(text, secrets):
    """Replace every secret value in ``text`` (error messages may echo request data)."""
    text = to_text(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, '********')
    return text


def parse_problem(body):
    """A JS7 engine Problem body as ``(code, message)`` or ``None`` (js7-engine.md §3.3).

    ``{"TYPE":"Problem","code":"C","message":"m"}``; ``code`` is absent for uncoded problems.
    The ``text/plain`` form is ``Code: message``.
    """
    if isinstance(body, (bytes, bytearray)):
        body = to_text(body, errors='surrogate_or_replace')
    if not isinstance(body, dict):
        text = (body or '').strip()
        try:
            body = json.loads(text) if text.startswith('{') else None
        except ValueError:
            body = None
        if body is None:
            if text and ':' in text.split('\n', 1)[0] and ' ' not in text.split(':', 1)[0]:
                code, message = text.split(':', 1)
                return code.strip(), message.strip()
            return None
    if body.get('TYPE') != 'Problem':
        return None
    return body.get('code'), body.get('message') or body.get('code') or 'Problem without a message'


class HttpClient(object):
    """Requests against one base URL with the TLS settings, timeout and retry policy of the task.

    ``retries`` is the number of extra attempts after a connection failure (refused, reset,
    timed out); the delay doubles from ``retry_delay`` seconds up to ``max_retry_delay``.
    An HTTP answer is never retried here: an error status is a fact for the caller to judge.
    """

    def __init__(self, base_url, validate_certs=True, ca_path=None, client_cert=None, client_key=None,
                 timeout=30, retries=3, retry_delay=1.0, max_retry_delay=8.0, sleep=time.sleep,
                 option_names=None):
        self.option_names = dict(url='url', validate_certs='validate_certs', ca_path='ca_path',
                                 client_cert='client_cert', client_key='client_key')
        self.option_names.update(option_names or {})
        self.base_url = self._check_base_url(base_url)
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.timeout = timeout
        self.retries = max(0, int(retries or 0))
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.sleep = sleep
        self.secrets = []
        self.retry_log = []
        self._check_tls_files()
        self._request = Request(http_agent=USER_AGENT, follow_redirects='safe', use_proxy=True,
                                validate_certs=validate_certs, ca_path=ca_path,
                                client_cert=client_cert, client_key=client_key, timeout=timeout)

    # ---- option checks -------------------------------------------------------------------
    def _check_base_url(self, base_url):
        name = self.option_names['url']
        if not base_url:
            raise JS7ApiError('Option %s is required: the http:// or https:// URL of the server.' % name, kind='config')
        base_url = to_native(base_url).strip()
        parts = urlsplit(base_url)
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            raise JS7ApiError('Option %s=%s is not an http:// or https:// URL (e.g. http://controller.example.com:4444).'
                              % (name, base_url), kind='config')
        if parts.username or parts.password:
            # Credentials in a URL end up in logs and results; refuse them rather than mask them.
            raise JS7ApiError('Option %s must not contain a user name or password; use the user and password '
                              'options (or their environment variables) instead.' % name, kind='config')
        return base_url.rstrip('/')

    def _check_tls_files(self):
        for option in ('ca_path', 'client_cert', 'client_key'):
            path = getattr(self, option)
            if path and not os.path.isfile(path):
                raise JS7ApiError('Option %s=%s: no such file on the host that runs the module (%s). The files must exist '
                                  'where the task runs (delegate_to changes that).'
                                  % (self.option_names[option], path, socket.gethostname()), kind='config')
            if path and not os.access(path, os.R_OK):
                raise JS7ApiError('Option %s=%s: the file is not readable by the user the module runs as.'
                                  % (self.option_names[option], path), kind='config')
        if self.client_key and not self.client_cert:
            raise JS7ApiError('Option %s needs %s as well.' % (self.option_names['client_key'], self.option_names['client_cert']),
                              kind='config')

    def add_secret(self, value):
        """Remember a value (password, token) that must never appear in an error message."""
        if value and value not in self.secrets:
            self.secrets.append(value)

    # ---- requests ------------------------------------------------------------------------
    def url(self, path):
        if path.startswith('http://') or path.startswith('https://'):
            return path
        return self.base_url + '/' + path.lstrip('/')

    def request(self, method, path, data=None, json_body=None, headers=None, timeout=None,
                url_username=None, url_password=None, force_basic_auth=False, retry=True):
        """Send one request; return a Response for any HTTP status, raise JS7ApiError on transport failure.

        Callers decide what an HTTP error status means (JS7 Problem, JOC error body).
        """
        url = self.url(path)
        send_headers = {'Accept': 'application/json'}
        if json_body is not None:
            data = json.dumps(json_body, sort_keys=True)
            send_headers['Content-Type'] = 'application/json'
        send_headers.update(headers or {})
        attempts = 0
        delay = self.retry_delay
        while True:
            attempts += 1
            try:
                return self._open(method, url, data, send_headers, timeout, url_username, url_password, force_basic_auth)
            except JS7ApiError as exc:
                exc.attempts = attempts
                if not (retry and exc.kind in ('connection', 'timeout') and attempts <= self.retries):
                    if attempts > 1:
                        exc.msg = '%s (gave up after %d attempts)' % (exc.msg, attempts)
                        exc.args = (exc.msg,)
                    raise
                self.retry_log.append(dict(url=url, method=method, attempt=attempts, error=exc.msg, delay=delay))
                self.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)

    def _open(self, method, url, data, headers, timeout, url_username, url_password, force_basic_auth):
        kwargs = dict(data=data, headers=dict(headers), timeout=timeout or self.timeout)
        if url_username is not None:
            kwargs.update(url_username=url_username, url_password=url_password or '',
                          force_basic_auth=force_basic_auth)
        else:
            # Never fall back to ~/.netrc: the credentials used must be the ones the task shows.
            kwargs.update(use_netrc=False)
        try:
            resp = self._request.open(method, url, **kwargs)
            try:
                body = resp.read()
            finally:
                resp.close()
            return Response(resp.getcode(), dict(resp.headers.items()), body, url)
        except HTTPError as exc:
            try:
                body = exc.read()
            except Exception:  # the error body is a courtesy; a broken one must not hide the status
                body = b''
            headers = dict(exc.headers.items()) if exc.headers is not None else {}
            return Response(exc.code, headers, body, url)
        except (URLError, AnsibleUrlsConnectionError, HTTPException, OSError, ssl.SSLError, ValueError) as exc:
            raise self._transport_error(exc, method, url, timeout or self.timeout)

    def _transport_error(self, exc, method, url, timeout):
        reason = getattr(exc, 'reason', exc)
        where = '%s %s' % (method, url)
        tls_hint = ('Set %s to the CA file that signed the server certificate, or (test systems only) %s: false.'
                    % (self.option_names['ca_path'], self.option_names['validate_certs']))
        if isinstance(reason, ssl.SSLCertVerificationError) or 'CERTIFICATE_VERIFY_FAILED' in to_native(reason):
            detail = getattr(reason, 'verify_message', None) or to_native(reason)
            return JS7ApiError('TLS certificate of %s could not be verified (%s). %s' % (url, detail, tls_hint),
                               kind='tls', url=url, method=method, message=to_native(detail))
        if isinstance(reason, ssl.CertificateError):
            return JS7ApiError('TLS certificate of %s does not match the host name (%s). Use the host name the '
                               'certificate was issued for. %s' % (url, to_native(reason), tls_hint),
                               kind='tls', url=url, method=method, message=to_native(reason))
        if isinstance(reason, ssl.SSLError) or isinstance(exc, ssl.SSLError):
            text = to_native(reason)
            hint = ''
            upper = text.upper()
            if 'CERTIFICATE_REQUIRED' in upper or 'HANDSHAKE_FAILURE' in upper or 'BAD_CERTIFICATE' in upper \
                    or 'UNKNOWN_CA' in upper or ('EOF' in upper and not self.client_cert):
                # A server that demands a client certificate drops the handshake (TLS 1.3: an EOF after it).
                hint = (' If the server requires HTTPS client authentication, set %s and %s to a certificate it trusts.'
                        % (self.option_names['client_cert'], self.option_names['client_key']))
            elif 'WRONG_VERSION_NUMBER' in upper or 'record layer failure' in text.lower():
                hint = ' The port does not speak TLS: use http:// or the HTTPS port.'
            elif 'PEM' in upper or 'KEY_VALUES_MISMATCH' in upper:
                hint = (' Check %s and %s: PEM files of one certificate and its private key.'
                        % (self.option_names['client_cert'], self.option_names['client_key']))
            return JS7ApiError('TLS failure talking to %s: %s.%s' % (url, text, hint),
                               kind='tls', url=url, method=method, message=text)
        if isinstance(reason, socket.gaierror):
            return JS7ApiError('Cannot resolve the host name of %s (%s). Check the %s option and DNS on the host that '
                               'runs the module.' % (url, to_native(reason), self.option_names['url']),
                               kind='config', url=url, method=method, message=to_native(reason))
        if isinstance(reason, (socket.timeout, TimeoutError)) or 'timed out' in to_native(reason):
            return JS7ApiError('%s: no answer within %s seconds. The server may be overloaded or a firewall drops '
                               'the packets; raise timeout if the server is just slow.' % (where, timeout),
                               kind='timeout', url=url, method=method, message='timed out')
        if isinstance(reason, ConnectionRefusedError):
            return JS7ApiError('%s: connection refused. Nothing listens on that address and port: is the service '
                               'running and is the URL right?' % where,
                               kind='connection', url=url, method=method, message='connection refused')
        if isinstance(reason, _RETRYABLE_ERRNO_TYPES) or isinstance(exc, HTTPException):
            hint = ''
            if url.startswith('https://') and not self.client_cert:
                hint = (' If the server requires HTTPS client authentication, set %s and %s.'
                        % (self.option_names['client_cert'], self.option_names['client_key']))
            return JS7ApiError('%s: the connection broke (%s). The service may be restarting.%s'
                               % (where, to_native(reason) or type(reason).__name__, hint),
                               kind='connection', url=url, method=method, message=to_native(reason) or type(reason).__name__)
        if isinstance(reason, OSError):
            return JS7ApiError('%s: %s. Check the URL and the network path from the host that runs the module.'
                               % (where, to_native(reason)), kind='connection', url=url, method=method,
                               message=to_native(reason))
        return JS7ApiError('%s failed: %s' % (where, redact(to_native(reason), self.secrets)),
                           kind='connection', url=url, method=method, message=to_native(reason))
