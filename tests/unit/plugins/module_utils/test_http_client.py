# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared HTTP client against real sockets on 127.0.0.1: auth, retries, TLS, error messages."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.jobscheduler.js7.plugins.module_utils._http import HttpClient, JS7ApiError, parse_problem, redact

from js7_api_fakes import FakeServer, ResettingServer, SilentServer, free_port, make_pki


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp('pki'))


@pytest.fixture
def echo():
    server = FakeServer(lambda r: (200, {}, {'ok': True}))
    yield server
    server.close()


def sleeps():
    calls = []
    return calls, calls.append


def test_basic_auth_header_is_sent_and_body_parsed(echo):
    client = HttpClient(echo.url)
    resp = client.request('GET', '/x', url_username='u', url_password='p w', force_basic_auth=True)
    assert resp.status == 200 and resp.json() == {'ok': True}
    auth = echo.requests[0].header('Authorization')
    assert auth == 'Basic ' + base64.b64encode(b'u:p w').decode()


def test_no_credentials_no_authorization_header(echo):
    HttpClient(echo.url).request('GET', '/x')
    assert echo.requests[0].header('Authorization') is None


def test_error_status_is_returned_not_raised():
    server = FakeServer(lambda r: (503, {}, {'TYPE': 'Problem', 'code': 'ClusterNodeIsNotReady', 'message': 'not ready'}))
    try:
        resp = HttpClient(server.url).request('GET', '/controller/api/cluster')
        assert resp.status == 503
        assert parse_problem(resp.body) == ('ClusterNodeIsNotReady', 'not ready')
        assert len(server.requests) == 1  # an HTTP answer is never retried
    finally:
        server.close()


def test_connection_refused_is_retried_with_backoff_then_fails_clearly():
    calls, sleep = sleeps()
    client = HttpClient('http://127.0.0.1:%d' % free_port(), retries=3, retry_delay=0.5, max_retry_delay=1.5, sleep=sleep)
    with pytest.raises(JS7ApiError) as info:
        client.request('GET', '/controller/api')
    err = info.value
    assert err.kind == 'connection'
    assert err.attempts == 4
    assert calls == [0.5, 1.0, 1.5]  # doubling, capped
    assert 'connection refused' in err.msg and 'gave up after 4 attempts' in err.msg
    assert len(client.retry_log) == 3


def test_reset_connections_are_retried_and_counted():
    server = ResettingServer()
    calls, sleep = sleeps()
    try:
        with pytest.raises(JS7ApiError) as info:
            HttpClient(server.url, retries=2, sleep=sleep).request('GET', '/')
        assert info.value.kind == 'connection'
        assert server.connections == 3
        assert len(calls) == 2
    finally:
        server.close()


def test_no_retry_when_disabled():
    calls, sleep = sleeps()
    with pytest.raises(JS7ApiError) as info:
        HttpClient('http://127.0.0.1:%d' % free_port(), retries=5, sleep=sleep).request('POST', '/x', retry=False)
    assert info.value.attempts == 1 and calls == []


def test_read_timeout():
    server = SilentServer()
    try:
        with pytest.raises(JS7ApiError) as info:
            HttpClient(server.url, timeout=1, retries=0).request('GET', '/')
        assert info.value.kind == 'timeout'
        assert 'no answer within 1 seconds' in info.value.msg
    finally:
        server.close()


@pytest.mark.parametrize('url, fragment', [
    ('', 'is required'),
    ('controller:4444', 'not an http:// or https:// URL'),
    ('ftp://x', 'not an http:// or https:// URL'),
    ('http://user:secret@host:4444', 'must not contain a user name or password'),
])
def test_bad_urls_are_config_errors(url, fragment):
    with pytest.raises(JS7ApiError) as info:
        HttpClient(url)
    assert info.value.kind == 'config' and fragment in info.value.msg
    assert 'secret' not in info.value.msg


def test_unknown_host_is_a_clear_config_error():
    with pytest.raises(JS7ApiError) as info:
        HttpClient('http://no-such-host.invalid:4444', retries=0).request('GET', '/')
    assert info.value.kind == 'config' and 'Cannot resolve' in info.value.msg


def test_missing_tls_files_are_reported_by_option_name(tmp_path):
    with pytest.raises(JS7ApiError) as info:
        HttpClient('https://127.0.0.1:1', ca_path=str(tmp_path / 'nope.pem'))
    assert 'ca_path' in info.value.msg and 'no such file' in info.value.msg
    with pytest.raises(JS7ApiError) as info:
        HttpClient('https://127.0.0.1:1', client_key=str(tmp_path))
    assert 'client_key' in info.value.msg


# ---- TLS ------------------------------------------------------------------------------------

@pytest.fixture
def tls_server(pki):
    server = FakeServer(lambda r: (200, {}, {'tls': True}), tls=pki)
    yield server
    server.close()


def test_tls_with_the_right_ca(pki, tls_server):
    assert HttpClient(tls_server.url, ca_path=pki['ca']).request('GET', '/').json() == {'tls': True}


def test_tls_with_a_wrong_ca_fails_with_advice(pki, tls_server):
    with pytest.raises(JS7ApiError) as info:
        HttpClient(tls_server.url, ca_path=pki['other_ca'], retries=3).request('GET', '/')
    err = info.value
    assert err.kind == 'tls' and err.attempts == 1  # certificate errors do not heal: no retry
    assert 'could not be verified' in err.msg and 'ca_path' in err.msg


def test_tls_host_name_mismatch(pki, tls_server):
    url = tls_server.url.replace('127.0.0.1', 'localhost')
    with pytest.raises(JS7ApiError) as info:
        HttpClient(url, ca_path=pki['ca']).request('GET', '/')
    assert info.value.kind == 'tls'


def test_tls_validate_certs_false_works(tls_server):
    assert HttpClient(tls_server.url, validate_certs=False).request('GET', '/').status == 200


def test_plain_http_to_a_tls_port_and_back(pki, tls_server):
    with pytest.raises(JS7ApiError):
        HttpClient(tls_server.url.replace('https', 'http'), retries=0).request('GET', '/')


def test_client_certificate_required_and_presented(pki):
    server = FakeServer(lambda r: (200, {}, {'mtls': True}), tls=pki, require_client_cert=True)
    try:
        with pytest.raises(JS7ApiError) as info:
            HttpClient(server.url, ca_path=pki['ca'], retries=0).request('GET', '/')
        assert info.value.kind in ('tls', 'connection')
        assert 'client_cert' in info.value.msg
        ok = HttpClient(server.url, ca_path=pki['ca'], client_cert=pki['client_cert'], client_key=pki['client_key'])
        assert ok.request('GET', '/').json() == {'mtls': True}
    finally:
        server.close()


def test_client_key_without_cert_is_refused(pki):
    with pytest.raises(JS7ApiError) as info:
        HttpClient('https://127.0.0.1:1', client_key=pki['client_key'])
    assert 'needs client_cert' in info.value.msg


# ---- helpers --------------------------------------------------------------------------------

def test_parse_problem_forms():
    assert parse_problem(b'{"TYPE":"Problem","code":"InvalidLogin","message":"Login: unknown user"}') == \
        ('InvalidLogin', 'Login: unknown user')
    assert parse_problem({'TYPE': 'Problem', 'message': 'uncoded'}) == (None, 'uncoded')
    assert parse_problem('ClusterNodeIsNotBackup: The cluster node ...') == ('ClusterNodeIsNotBackup', 'The cluster node ...')
    assert parse_problem(b'<html>') is None
    assert parse_problem({'TYPE': 'Coupled'}) is None


def test_redact():
    assert redact('token abc123 and abc123', ['abc123', None, '']) == 'token ******** and ********'


def test_non_json_body_is_a_protocol_error():
    server = FakeServer(lambda r: (200, {'Content-Type': 'text/html'}, '<html>JOC?</html>'))
    try:
        resp = HttpClient(server.url).request('GET', '/')
        with pytest.raises(JS7ApiError) as info:
            resp.json()
        assert info.value.kind == 'protocol' and 'not JSON' in info.value.msg
    finally:
        server.close()
