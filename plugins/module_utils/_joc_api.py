# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The JOC Cockpit REST API (joc-api.md) on top of the shared HttpClient."""

from __future__ import annotations

import json

from ansible.module_utils.basic import env_fallback

from ansible_collections.jobscheduler.js7.plugins.module_utils._http import (
    HttpClient,
    JS7ApiError,
    _excerpt,
    tls_argument_spec,
)

API = '/joc/api'
JOC_ENV = dict(url='JS7_JOC_URL', user='JS7_JOC_USER', password='JS7_JOC_PASSWORD')

# joc-api.md §1.5: the permission each call checks (named in 403 messages).
PERMISSIONS = {
    './controller/register': 'sos:products:joc:administration:controllers:manage',
    './controller/test': 'sos:products:joc:administration:controllers:view',
    './controllers/p': 'sos:products:controller:view',
    './controller/components': 'sos:products:controller:view',
}

# joc-api.md §6: error.code -> what it usually means for Controller management, and what to do.
JOC_ERROR_HINTS = {
    'JOC-400': 'JOC Cockpit rejected the request (invalid value or unmet precondition).',
    'JOC-401': 'JOC Cockpit got no answer in time from the Controller (or an authentication problem, see the exception name).',
    'JOC-402': ('JOC Cockpit cannot reach the Controller at that URL (connection refused or timed out, or TLS trust between '
                'JOC Cockpit and the Controller). Check that the Controller runs and that the URL is right as seen from '
                'the JOC Cockpit server.'),
    'JOC-404': 'JOC Cockpit does not know this Controller ID.',
    'JOC-405': ('The Controller answered, but with another Controller ID than expected (or with unexpected content): check '
                'controller_id and the URL.'),
    'JOC-406': 'A required parameter is missing.',
    'JOC-408': 'JOC Cockpit has no Controller with this ID in its database.',
    'JOC-171': 'The object exists already, or the security level differs from JOC Cockpit\'s.',
    'JOC-444': 'JOC Cockpit has no license for a Controller cluster.',
    'JOC-503': ('A Controller answered 503 (e.g. ClusterNodeIsNotReady), or the call needs the ACTIVE JOC Cockpit '
                'instance: point joc_url at the active one.'),
}


def joc_credential_argument_spec():
    """joc_url/joc_user/joc_password. controller_info accepts (and ignores) these so that one
    module_defaults block for group/jobscheduler.js7.js7 serves every module of the group."""
    return dict(
        joc_url=dict(type='str', fallback=(env_fallback, [JOC_ENV['url']])),
        joc_user=dict(type='str', fallback=(env_fallback, [JOC_ENV['user']])),
        joc_password=dict(type='str', no_log=True, fallback=(env_fallback, [JOC_ENV['password']])),
    )


def joc_connection_argument_spec():
    """Matches doc fragment jobscheduler.js7.joc_connection exactly."""
    spec = joc_credential_argument_spec()
    spec.update(tls_argument_spec())
    return spec


def joc_client_from_params(params, sleep=None):
    option_names = dict(url='joc_url (or environment variable %s)' % JOC_ENV['url'])
    kwargs = dict(validate_certs=params['validate_certs'], ca_path=params['ca_path'],
                  client_cert=params['client_cert'], client_key=params['client_key'],
                  timeout=params['timeout'], retries=params['retries'], option_names=option_names)
    if sleep is not None:
        kwargs['sleep'] = sleep
    http = HttpClient(params.get('joc_url'), **kwargs)
    if not params.get('joc_user') and not params.get('client_cert'):
        raise JS7ApiError('Option joc_user is required (or environment variable %s), unless JOC Cockpit authenticates '
                          'the client certificate given with client_cert.' % JOC_ENV['user'], kind='config')
    return JocApi(http, user=params.get('joc_user'), password=params.get('joc_password'))


class JocError(JS7ApiError):
    """JOC Cockpit answered with an error status."""


def _error_body(resp):
    try:
        body = json.loads(resp.text) if resp.body.strip() else {}
    except ValueError:
        body = None
    return body if isinstance(body, dict) else None


def is_session_loss(resp):
    """440, or 420 carrying UnknownSessionException (joc-api.md §1.3: the GUI treats both as session loss)."""
    if resp.status == 440:
        return True
    if resp.status == 420:
        body = _error_body(resp) or {}
        message = ((body.get('error') or {}).get('message') or '') if isinstance(body.get('error'), dict) else ''
        return 'UnknownSessionException' in message or 'SessionNotExistException' in message
    return False


class JocApi(object):
    """A JOC Cockpit session: login (Basic, or client certificate) -> X-Access-Token -> calls -> logout."""

    def __init__(self, http, user=None, password=None):
        self.http = http
        self.user = user or None
        self.password = password if password is not None else ''
        self.token = None
        self.relogins = 0
        if password:
            http.add_secret(password)

    @property
    def url(self):
        return self.http.base_url

    def login(self):
        """POST ./authentication/login (joc-api.md §1.1); the token comes in X-Access-Token and accessToken."""
        kwargs = {}
        if self.user:
            kwargs = dict(url_username=self.user, url_password=self.password, force_basic_auth=True)
        resp = self.http.request('POST', API + '/authentication/login', data=b'',
                                 headers={'Content-Type': 'application/json'}, **kwargs)
        if resp.status == 401 or (resp.status == 200 and (_error_body(resp) or {}).get('isAuthenticated') is False):
            body = _error_body(resp) or {}
            raise JocError(
                "JOC Cockpit at %s refused the login of %s (HTTP %s: %s). Check joc_user and joc_password (environment "
                "variables %s / %s) and that the account is not locked or blocked in the identity service."
                % (self.url, "account '%s'" % self.user if self.user else 'the client certificate', resp.status,
                   body.get('message') or 'access denied', JOC_ENV['user'], JOC_ENV['password']),
                kind='auth', url=resp.url, method='POST', status=resp.status, code='JOC-401',
                message=body.get('message') or 'access denied')
        if resp.status != 200:
            raise self._error(resp, './authentication/login')
        body = resp.json(default={}) or {}
        token = resp.headers.get('x-access-token') or body.get('accessToken')
        if not token:
            raise JS7ApiError('JOC Cockpit at %s accepted the login but sent no access token (%s). Is joc_url the JOC '
                              'Cockpit URL (e.g. http://joc.example.com:4446)?' % (self.url, _excerpt(resp.text)),
                              kind='protocol', url=resp.url, status=resp.status)
        self.http.add_secret(token)
        self.token = token
        return body

    def logout(self):
        """POST ./authentication/logout (joc-api.md §1.4). Failures are ignored: the idle timeout ends it anyway."""
        if not self.token:
            return
        token, self.token = self.token, None
        try:
            self.http.request('POST', API + '/authentication/logout', data=b'',
                              headers={'X-Access-Token': token, 'Content-Type': 'application/json'}, retry=False)
        except JS7ApiError:
            pass

    def post(self, path, body=None):
        """POST ``./<path>`` with a JSON body; the decoded JSON answer of HTTP 200.

        An expired session (440) is renewed by one new login and the call repeated once.
        """
        if not self.token:
            self.login()
        api_path = './' + path.lstrip('./')
        renewed = False
        while True:
            resp = self.http.request('POST', API + '/' + path.lstrip('./'), json_body=body if body is not None else {},
                                     headers={'X-Access-Token': self.token})
            if resp.status == 200:
                return resp.json(default={}) or {}
            if is_session_loss(resp) and not renewed:
                # Idle timeout (joc-api.md §1.3): log in again once; a second 440 is an error.
                renewed = True
                self.relogins += 1
                self.token = None
                self.login()
                continue
            raise self._error(resp, api_path)

    def _error(self, resp, api_path):
        body = _error_body(resp)
        status = resp.status
        if body is None:
            text = _excerpt(resp.text)
            if status == 404:
                msg = ('JOC Cockpit at %s answered %s with HTTP 404 (%s). Is joc_url the JOC Cockpit URL (e.g. '
                       'http://joc.example.com:4446), and does this JOC version offer %s?' % (self.url, api_path, text, api_path))
            else:
                msg = 'JOC Cockpit at %s answered %s with HTTP %s: %s' % (self.url, api_path, status, text or '(empty body)')
            return JocError(msg, kind='http', url=resp.url, method='POST', status=status, message=text)
        error = body.get('error') if isinstance(body.get('error'), dict) else {}
        code = error.get('code')
        message = error.get('message') or body.get('message')
        if status == 440 or is_session_loss(resp):
            return JocError('The JOC Cockpit session expired again right after a new login (HTTP %s: %s). Check the '
                            'idle session timeout of the identity service.' % (status, message),
                            kind='auth', url=resp.url, method='POST', status=status, code=code or 'AUTH-440', message=message)
        if status == 401:
            return JocError('JOC Cockpit at %s does not accept the session for %s (HTTP 401: %s). Log in again; check '
                            'that the account still exists.' % (self.url, api_path, message),
                            kind='auth', url=resp.url, method='POST', status=status, code=code or 'JOC-401', message=message)
        if status == 403:
            permission = PERMISSIONS.get(api_path)
            return JocError("The JOC Cockpit account '%s' may not call %s (HTTP 403: %s).%s"
                            % (self.user, api_path, message or 'permission denied',
                               ' Grant the permission %s to one of its roles.' % permission if permission else ''),
                            kind='auth', url=resp.url, method='POST', status=status, code=code or 'JOC-403', message=message)
        if status == 433:
            approvers = [a.get('accountName') if isinstance(a, dict) else a for a in body.get('approvers') or []]
            return JocError('JOC Cockpit requires an approval for %s (HTTP 433, four-eyes principle). Ask an approver%s '
                            'to approve the request in JOC Cockpit, then run the task again.'
                            % (api_path, ' (%s)' % ', '.join(str(a) for a in approvers if a) if approvers else ''),
                            kind='http', url=resp.url, method='POST', status=status, code='JOC-433',
                            message=body.get('message') or 'approval required')
        if status == 419 and isinstance(body.get('errors'), list):
            parts = ['%s %s: %s' % (e.get('path') or '', e.get('code') or '', e.get('message') or '')
                     for e in body['errors'] if isinstance(e, dict)]
            return JocError('JOC Cockpit reported partial failures for %s (HTTP 419): %s' % (api_path, '; '.join(parts)),
                            kind='http', url=resp.url, method='POST', status=status, code='JOC-419', message='; '.join(parts))
        hint = JOC_ERROR_HINTS.get(code, '')
        return JocError('JOC Cockpit answered %s with HTTP %s %s: %s%s'
                        % (api_path, status, code or '', message or _excerpt(resp.text), ' ' + hint if hint else ''),
                        kind='http', url=resp.url, method='POST', status=status, code=code, message=message)

    # ---- the calls the modules use ----------------------------------------------------------
    def is_active(self):
        """./joc/is_active (joc-api.md §2.1): True when this JOC instance is the active cluster member."""
        try:
            answer = self.post('./joc/is_active')
        except JocError as exc:
            if exc.code == 'JOC-503':
                return False
            raise
        return bool(answer.get('ok', answer.get('isActive', False)))

    def versions(self, controller_id=None):
        return self.post('./joc/versions', {'controllerIds': [controller_id]} if controller_id else {})

    def registration(self, controller_id):
        """./controllers/p: the persisted registration, or None when JOC does not know the ID."""
        try:
            answer = self.post('./controllers/p', {'controllerId': controller_id})
        except JocError as exc:
            if exc.code in ('JOC-404', 'JOC-408'):
                return None
            raise
        controllers = [c for c in answer.get('controllers') or []
                       if isinstance(c, dict) and c.get('controllerId') in (None, controller_id)]
        if not controllers:
            return None
        return dict(controllers=controllers, agents=answer.get('agents') or [])

    def test(self, url, controller_id):
        return self.post('./controller/test', {'url': url, 'controllerId': controller_id or ''})

    def register(self, body):
        return self.post('./controller/register', body)

    def components(self, controller_id):
        return self.post('./controller/components', {'controllerId': controller_id})


# ---- ./controller/components in the collection's words (joc-api.md §2.7) -----------------

def _state_text(value):
    return value.get('_text') if isinstance(value, dict) else value


def describe_components(answer):
    """cluster_state, coupled (the joc-api.md §2.7 predicate), nodes and jocs."""
    cluster_state = answer.get('clusterState') or {}
    nodes = []
    for ctl in answer.get('controllers') or []:
        if not isinstance(ctl, dict):
            continue
        nodes.append(dict(
            role=ctl.get('role'), url=ctl.get('url'), cluster_url=ctl.get('clusterUrl'), title=ctl.get('title'),
            controller_id=ctl.get('controllerId'), version=ctl.get('version'), is_coupled=ctl.get('isCoupled'),
            connection_state=_state_text(ctl.get('connectionState')),
            component_state=_state_text(ctl.get('componentState')),
            cluster_node_state=_state_text(ctl.get('clusterNodeState'))))
    jocs = []
    for joc in answer.get('jocs') or []:
        if not isinstance(joc, dict):
            continue
        jocs.append(dict(
            url=joc.get('url'), member_id=joc.get('memberId'), instance_id=joc.get('instanceId'),
            current=joc.get('current'), is_api_server=joc.get('isApiServer'),
            cluster_node_state=_state_text(joc.get('clusterNodeState')),
            component_state=_state_text(joc.get('componentState')),
            connection_state=_state_text(joc.get('connectionState'))))
    text = cluster_state.get('_text')
    active = [n for n in nodes if n['cluster_node_state'] == 'active']
    coupled = (text == 'ClusterCoupled' and len(nodes) == 2
               and all(n['connection_state'] == 'established' for n in nodes)
               and all(n['is_coupled'] is True for n in nodes)
               and len(active) == 1)
    return dict(cluster_state=text, cluster_state_severity=cluster_state.get('severity'),
                loss_node=cluster_state.get('lossNode'), coupled=coupled,
                active_node=active[0]['role'] if len(active) == 1 else None,
                nodes=nodes, jocs=jocs)


def active_joc_urls(jocs):
    return [j['url'] for j in jocs if j.get('cluster_node_state') == 'active' and j.get('url')]
