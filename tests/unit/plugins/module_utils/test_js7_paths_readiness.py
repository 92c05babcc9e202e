"""Unit tests of _js7_paths (defaults, [iface:]port) and _readiness (probe URLs, any HTTP answer counts)."""

from __future__ import annotations

import http.server
import threading

import pytest

from ansible_collections.jobscheduler.js7.plugins.doc_fragments.instance_location import ModuleDocFragment
from ansible_collections.jobscheduler.js7.plugins.module_utils import _readiness
from ansible_collections.jobscheduler.js7.plugins.module_utils._js7_paths import (
    INSTANCE_LOCATION_ARGUMENT_SPEC,
    HttpPortError,
    InstanceLocation,
    parse_http_port,
)

yaml = pytest.importorskip('yaml')


def test_doc_fragment_matches_the_shared_argument_spec():
    options = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert sorted(options) == sorted(INSTANCE_LOCATION_ARGUMENT_SPEC)
    for name, spec in INSTANCE_LOCATION_ARGUMENT_SPEC.items():
        assert options[name]['type'] == spec['type'], name
        assert options[name].get('default') == spec.get('default'), name
        assert options[name].get('choices') == spec.get('choices'), name


@pytest.mark.parametrize('value, expected', [
    (None, (None, 4444)), ('', (None, 4444)), ('4444', (None, 4444)), ('127.0.0.11:4444', ('127.0.0.11', 4444)),
    ('0.0.0.0:5555', ('0.0.0.0', 5555)), ('[::1]:4444', ('::1', 4444)), (' 4455 ', (None, 4455)),
])
def test_parse_http_port(value, expected):
    assert parse_http_port(value, 4444) == expected


@pytest.mark.parametrize('value', ['host:port', '70000', '::1:4444', '[::1]4444', '0'])
def test_parse_http_port_rejects(value):
    with pytest.raises(HttpPortError):
        parse_http_port(value, 4444)


def test_installer_defaults():
    controller = InstanceLocation('controller', controller_id='prod')
    assert controller.data_dir == '/var/sos-berlin.com/js7/controller/var'
    assert controller.default_script == '/opt/sos-berlin.com/js7/controller/bin/controller_instance.sh'
    assert controller.default_service_name == 'js7_controller_prod.service'
    assert controller.pid_file == '/var/sos-berlin.com/js7/controller/var/logs/controller.pid'
    assert controller.lock_file == '/var/sos-berlin.com/js7/controller/var/state/lock'
    assert controller.label == 'controller-prod'
    agent = InstanceLocation('agent', http_port='127.0.0.13:4445')
    assert agent.data_dir == '/var/sos-berlin.com/js7/agent/var_4445'
    assert agent.default_script == '/opt/sos-berlin.com/js7/agent/bin/agent_4445.sh'
    assert agent.default_service_name == 'js7_agent_4445.service'
    assert agent.log_file == '/var/sos-berlin.com/js7/agent/var_4445/logs/agent.log'
    assert agent.label == 'agent-4445'
    assert InstanceLocation('controller', controller_id='a/b c').label == 'controller-a_b_c'


def test_probe_urls_prefer_the_process_own_ports():
    loc = InstanceLocation('controller')
    argv = ['java', 'js7.controller.ControllerMain', '--http-port=127.0.0.11:4444', '--https-port=127.0.0.11:4443']
    assert _readiness.probe_urls(loc, argv) == ['http://127.0.0.11:4444/controller/api', 'https://127.0.0.11:4443/controller/api']
    assert _readiness.probe_urls(loc, ['x', '--http-port=4444']) == ['http://127.0.0.1:4444/controller/api']
    assert _readiness.probe_urls(loc, ['x', '--http-port=0.0.0.0:4444']) == ['http://127.0.0.1:4444/controller/api']
    assert _readiness.probe_urls(loc, None) == ['http://127.0.0.1:4444/controller/api']
    assert _readiness.probe_urls(InstanceLocation('agent', http_port='[::1]:4445'), None) == ['http://[::1]:4445/agent/api']
    assert _readiness.probe_urls(loc, argv, http_url='http://h:1/') == ['http://h:1/controller/api']
    assert _readiness.probe_urls(loc, argv, http_url='http://h:1/controller/api') == ['http://h:1/controller/api']


@pytest.fixture
def server():
    statuses = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(statuses[0])
            self.end_headers()
            self.wfile.write(b'{"TYPE":"Problem","code":"BackupClusterNodeNotAppointed"}')

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, statuses
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize('status', [200, 401, 403, 503])
def test_any_http_answer_counts(server, status):
    httpd, statuses = server
    statuses.append(status)
    url = 'http://127.0.0.1:%d/controller/api' % httpd.server_address[1]
    assert _readiness.probe(url) == (True, status, 'HTTP %d' % status)
    assert _readiness.first_answer(['http://127.0.0.1:1/controller/api', url]) == (url, status)
    assert _readiness.port_open(url)


def test_nothing_listening():
    answered, status, detail = _readiness.probe('http://127.0.0.1:1/controller/api', timeout=1)
    assert (answered, status) == (False, None) and 'refused' in detail.lower()
    assert not _readiness.port_open('http://127.0.0.1:1/')
