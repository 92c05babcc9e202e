# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""controller_info, joc_controller, joc_controller_info against the JS7 lab, through ansible-playbook."""

from __future__ import annotations

import json
import os
import socket

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(HERE, 'playbooks')


def run(lab, playbook, extra_vars=None, verbosity=0, **kw):
    """Run a playbook of tests/integration/playbooks; return (CompletedProcess, {name: registered result})."""
    out = os.path.join(lab.dir, 'results-%s.json' % os.path.basename(playbook))
    if os.path.exists(out):
        os.remove(out)
    variables = dict(api_results_file=out)
    variables.update(extra_vars or {})
    proc = lab.playbook(os.path.join(PLAYBOOKS, playbook), extra_vars=variables, verbosity=verbosity, **kw)
    results = {}
    if os.path.exists(out):
        with open(out, encoding='utf-8') as stream:
            results = json.load(stream)
    return proc, results


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_healthy_cluster_over_http(lab_factory):
    lab = lab_factory(state='healthy', joc_session_timeout=1)
    proc, r = run(lab, 'api_healthy.yml', extra_vars={'free_url': 'http://127.0.0.1:%d' % free_port()})
    assert proc.returncode == 0, proc.stdout + proc.stderr

    primary, secondary = r['primary'], r['secondary']
    assert primary['overview']['id'] == 'controller1' and primary['cluster']['type'] == 'Coupled'
    assert primary['node'] == dict(node_id='Primary', is_backup=False, appointed=True, is_active=True, cluster_type='Coupled')
    assert secondary['node']['is_backup'] is True and secondary['node']['is_active'] is False
    assert primary['cluster']['cluster_watch_id']

    # the registration: read, tested, not submitted (idempotent); check mode; resubmit
    assert r['registration']['changed'] is False and r['registration']['submitted'] is False
    assert [t['ok'] for t in r['registration']['connection_tests']] == [True, True]
    assert r['check']['changed'] is True and r['check']['submitted'] is False
    assert r['resubmit']['changed'] is True and r['resubmit']['submitted'] is True

    # JOC's view, waited for (the session idles out after 1 s: every poll re-logs in once)
    assert r['joc_view']['coupled'] is True and r['joc_view']['cluster_state'] == 'ClusterCoupled'

    # the restart: the wait follows events until the cluster couples again
    restarted = r['after_restart']
    assert restarted['cluster']['type'] == 'Coupled' and restarted['wait_method'] == 'events'

    # a wait that cannot be met within its time
    assert r['timeout']['failed'] and 'did not reach SwitchedOver within 2 seconds' in r['timeout']['msg']

    # JOC unreachable; a Controller unreachable during ./controller/test
    assert r['joc_down']['failed'] and 'connection refused' in r['joc_down']['msg']
    assert r['wrong_joc_password']['failed'] and 'refused the login' in r['wrong_joc_password']['msg']
    unreachable = r['secondary_down']
    assert unreachable['failed'] and 'Nothing was submitted' in unreachable['msg']
    failed_tests = [t for t in unreachable['connection_tests'] if not t['ok']]
    assert failed_tests and failed_tests[0]['role'] == 'secondary' and failed_tests[0]['error']['code']
    # JOC-side after-restart wait in the same play must not have left a trace of the password
    assert 'root' not in json.dumps(r['joc_view'].get('invocation', {}).get('module_args', {}).get('joc_password', ''))


def test_standalone_secondary_fails_fast(lab_factory):
    lab = lab_factory(state='standalone-secondary')
    proc, r = run(lab, 'api_fail_fast.yml')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    blocked = r['wait']
    assert blocked['failed'] and blocked['wait_blocker']['code'] == 'PeerIsActiveStandalone'
    peer = blocked['wait_blocker']['evidence']['peer']
    assert peer['answer']['isBackup'] is False and peer['answer']['clusterState']['TYPE'] == 'Empty'
    assert blocked['waited'] < 120  # returned on the evidence, not at the timeout
    assert r['secondary']['node']['is_active'] is True and r['secondary']['cluster']['type'] == 'Empty'
    assert r['joc_view']['coupled'] is False


def test_tls_ca_and_client_certificates(lab_factory):
    lab = lab_factory(state='healthy', tls=True)
    pki = os.path.join(lab.dir, 'pki')
    other_ca = os.path.join(lab.dir, 'other-ca.pem')
    _write_other_ca(other_ca)
    proc, r = run(lab, 'api_tls.yml', extra_vars={
        'client_cert': os.path.join(pki, 'joc', 'client.pem'), 'client_key': os.path.join(pki, 'joc', 'client.key'),
        'other_ca': other_ca})
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert r['verified']['cluster']['type'] == 'Coupled' and r['verified']['url'].startswith('https://')
    assert r['wrong_ca']['failed'] and 'could not be verified' in r['wrong_ca']['msg']
    assert r['wrong_ca']['error']['kind'] == 'tls'
    assert r['no_verify']['cluster']['type'] == 'Coupled'
    assert r['joc_tls']['coupled'] is True


def test_controllers_that_require_a_client_certificate(lab_factory):
    """--client-cert-required: https-client-authentication = on (js7-engine.md §1.5); the lab client certificate's
    DN is mapped to the Controller user (distinguished-names, §1.4); JOC presents its own certificate."""
    lab = lab_factory(state='healthy', tls=True, controller_auth='basic', client_cert_required=True)
    hostvars = lab.hosts['c1-primary']
    assert hostvars['js7_lab_client_cert_required'] is True
    pki = os.path.join(lab.dir, 'pki')
    other_ca = os.path.join(lab.dir, 'other-ca.pem')
    _write_other_ca(other_ca)
    proc, r = run(lab, 'api_client_cert.yml', extra_vars={
        'other_ca': other_ca, 'unmapped_cert': os.path.join(pki, 'c1-agent', 'client.pem'),
        'unmapped_key': os.path.join(pki, 'c1-agent', 'client.key')})
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert 'Traceback' not in output

    # (a) no client certificate: the handshake is refused, and the message says what to set
    assert r['no_cert']['failed'] and r['no_cert']['error']['kind'] in ('tls', 'connection'), r['no_cert']
    assert 'client_cert' in r['no_cert']['msg'] and 'client_key' in r['no_cert']['msg'], r['no_cert']['msg']
    # (b) certificate + key + the lab CA; the certificate alone authenticates as the mapped user
    assert r['with_cert']['cluster']['type'] == 'Coupled' and r['with_cert']['url'].startswith('https://')
    assert r['cert_only']['overview']['id'] == 'controller1', r['cert_only']
    # a certificate the server trusts but whose DN maps to no user, without a password: 401, said clearly
    assert r['unmapped']['failed'] and 'requires authentication' in r['unmapped']['msg'], r['unmapped']
    # (c) a wrong CA fails on the server certificate
    assert r['wrong_ca']['failed'] and 'could not be verified' in r['wrong_ca']['msg']
    assert r['wrong_ca']['error']['kind'] == 'tls'
    # (d) validate_certs: false still needs the client certificate
    assert r['no_verify']['cluster']['type'] == 'Coupled'
    assert r['no_verify_no_cert']['failed'] and 'client_cert' in r['no_verify_no_cert']['msg']
    # JOC's ./controller/test reaches both nodes (JOC presents its client certificate) and sees them coupled
    assert [t['ok'] for t in r['registration']['connection_tests']] == [True, True], r['registration']
    assert r['registration']['changed'] is False
    assert r['joc_view']['coupled'] is True

    # the lab's own view (status probes present the lab client certificate) and the refusal at the socket
    status = lab.cli('status', '--json', check=True)
    assert json.loads(status.stdout)['clusters']['controller1']['c1-primary'] == 'Coupled'
    import ssl
    import urllib.error
    import urllib.request
    context = ssl.create_default_context(cafile=hostvars['js7_controller_ca_path'])
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)) as refused:
        urllib.request.urlopen(hostvars['js7_controller_url'] + '/controller/api', context=context, timeout=10)
    assert 'CERTIFICATE_REQUIRED' in str(refused.value).upper() or 'EOF' in str(refused.value).upper()


def test_authenticated_controllers_and_secrets(lab_factory):
    lab = lab_factory(state='healthy', controller_auth='basic')
    password = lab.hosts['c1-primary']['js7_controller_password']
    proc, r = run(lab, 'api_auth.yml', verbosity=4)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert r['basic']['cluster']['type'] == 'Coupled'
    assert r['session']['cluster']['type'] == 'Coupled' and r['session']['wait_method'] == 'events'
    assert r['wrong_password']['failed'] and r['wrong_password']['error']['code'] == 'InvalidLogin'
    assert r['wrong_password']['error']['http_status'] == 401
    assert r['anonymous']['failed'] and 'requires authentication' in r['anonymous']['msg']
    assert r['resubmit']['submitted'] is True
    # -vvvv shows module arguments and results: no password, no session token, no JOC access token
    assert password and password not in output
    assert 'wrong-password' not in output
    assert 'sessionToken' not in output and 'accessToken' not in output
    assert '"joc_password": "root"' not in output and "'joc_password': 'root'" not in output


def _write_other_ca(path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'Not the lab CA')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    with open(path, 'wb') as stream:
        stream.write(cert.public_bytes(serialization.Encoding.PEM))


@pytest.mark.parametrize('version', ['2.5'])
def test_joc_2_5_keeps_the_cluster_watch_agent(lab_factory, version):
    lab = lab_factory(state='healthy', version=version)
    proc, r = run(lab, 'api_legacy.yml')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert r['info']['cluster']['type'] == 'Coupled'
    assert r['resubmit']['submitted'] is True and r['resubmit']['joc']['version'].startswith('2.5')
    assert r['joc_view']['coupled'] is True


def test_module_examples_run_against_the_lab(lab_factory):
    """EXAMPLES of the three modules, as written, as the tasks of one play on the Primary."""
    import importlib

    import yaml

    tasks = []
    for name in ('controller_info', 'joc_controller', 'joc_controller_info'):
        module = importlib.import_module('ansible_collections.jobscheduler.js7.plugins.modules.' + name)
        tasks.extend(yaml.safe_load(module.EXAMPLES))
    play = [{'name': 'EXAMPLES of the API modules', 'hosts': 'js7_controller_primary', 'gather_facts': False, 'tasks': tasks}]
    lab = lab_factory(state='healthy')
    proc = lab.playbook(yaml.safe_dump(play, sort_keys=False))
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert 'failed=0' in proc.stdout
