# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The JS7 Controller HTTP API (js7-engine.md §3) on top of the shared HttpClient."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.jobscheduler.js7.plugins.module_utils._http import (
    HttpClient,
    JS7ApiError,
    _excerpt,
    parse_problem,
    tls_argument_spec,
)

API = '/controller/api'
CONTROLLER_ENV = dict(url='JS7_CONTROLLER_URL', user='JS7_CONTROLLER_USER', password='JS7_CONTROLLER_PASSWORD')

# Problems that mean "the node is there but cannot answer this yet" (js7-engine.md §3.3, HTTP 503).
TRANSIENT_PROBLEMS = ('BackupClusterNodeNotAppointed', 'ClusterNodeIsNotReady', 'ClusterNodeIsNotActive',
                      'ClusterModuleShuttingDown', 'ShuttingDown')


def controller_credential_argument_spec():
    """url/user/password/auth. The JOC modules accept (and ignore) these so that one
    module_defaults block for group/jobscheduler.js7.js7 serves every module of the group."""
    return dict(
        url=dict(type='str', fallback=(env_fallback, [CONTROLLER_ENV['url']])),
        user=dict(type='str', fallback=(env_fallback, [CONTROLLER_ENV['user']])),
        password=dict(type='str', no_log=True, fallback=(env_fallback, [CONTROLLER_ENV['password']])),
        auth=dict(type='str', default='basic', choices=['basic', 'session']),
    )


def controller_connection_argument_spec():
    """Matches doc fragment jobscheduler.js7.controller_connection exactly."""
    spec = controller_credential_argument_spec()
    spec.update(tls_argument_spec())
    return spec


def controller_client_from_params(params, url=None, sleep=None):
    """Build a ControllerApi from module parameters (``url`` overrides ``params['url']``, e.g. for the peer)."""
    option_names = dict(url='url (or environment variable %s)' % CONTROLLER_ENV['url'])
    kwargs = dict(validate_certs=params['validate_certs'], ca_path=params['ca_path'],
                  client_cert=params['client_cert'], client_key=params['client_key'],
                  timeout=params['timeout'], retries=params['retries'], option_names=option_names)
    if sleep is not None:
        kwargs['sleep'] = sleep
    http = HttpClient(url or params['url'], **kwargs)
    return ControllerApi(http, user=params.get('user'), password=params.get('password'), auth=params.get('auth') or 'basic')


class ControllerProblem(JS7ApiError):
    """The Controller answered with an HTTP error status (normally a JS7 Problem body)."""


class ControllerApi(object):
    """Calls of one Controller node. Basic authentication sends the credentials with every request
    (js7-engine.md §3.2: accepted on any request); ``auth='session'`` logs in once and sends
    ``x-js7-session``, logging in again once when the Controller says the token is invalid (403)."""

    def __init__(self, http, user=None, password=None, auth='basic'):
        self.http = http
        self.user = user or None
        self.password = password if password is not None else ''
        self.auth = auth
        self.session_token = None
        self.version = None
        if password:
            http.add_secret(password)

    @property
    def url(self):
        return self.http.base_url

    # ---- authentication ------------------------------------------------------------------
    def login(self):
        """Session login (js7-engine.md §3.2). Only with ``auth=session`` and a user."""
        body = {'TYPE': 'Login'}
        if self.user:
            body['userAndPassword'] = {'userId': self.user, 'password': self.password}
        resp = self.http.request('POST', API + '/session', json_body=body, retry=True)
        if resp.status != 200:
            raise self._error(resp, 'POST', API + '/session')
        answer = resp.json(default={}) or {}
        token = answer.get('sessionToken')
        if not token:
            raise JS7ApiError('Session login at %s answered without a sessionToken (%s).' % (self.url, _excerpt(resp.text)),
                              kind='protocol', url=resp.url, status=resp.status)
        self.http.add_secret(token)
        self.session_token = token
        self.version = answer.get('js7Version')
        return token

    def logout(self):
        """End the session; failures are ignored (the session times out on its own, js7.auth.session.timeout)."""
        if not self.session_token:
            return
        token, self.session_token = self.session_token, None
        try:
            self.http.request('POST', API + '/session', json_body={'TYPE': 'Logout', 'sessionToken': token},
                              headers={'x-js7-session': token}, retry=False)
        except JS7ApiError:
            pass

    def _auth_kwargs(self):
        if self.auth == 'session' and self.user:
            if not self.session_token:
                self.login()
            return dict(headers={'x-js7-session': self.session_token})
        if self.user:
            return dict(url_username=self.user, url_password=self.password, force_basic_auth=True)
        return {}

    # ---- requests ------------------------------------------------------------------------
    def call(self, method, path, params=None, json_body=None, accept=None, timeout=None, retry=True):
        """One API call: the Response of a 2xx answer, else ControllerProblem/JS7ApiError."""
        full = API + path if path.startswith('/') or not path else API + '/' + path
        if params:
            full += '?' + urlencode(params)
        relogged = False
        while True:
            kwargs = self._auth_kwargs()
            headers = dict(kwargs.pop('headers', {}))
            if accept:
                headers['Accept'] = accept
            resp = self.http.request(method, full, json_body=json_body, headers=headers, timeout=timeout,
                                     retry=retry, **kwargs)
            if 200 <= resp.status < 300:
                return resp
            problem = parse_problem(resp.body)
            if (resp.status == 403 and self.session_token and not relogged and problem
                    and problem[0] == 'InvalidSessionToken'):
                # The session ended (timeout, Controller restart): log in again once (js7-engine.md §3.2).
                self.session_token = None
                relogged = True
                continue
            raise self._error(resp, method, full)

    def get_json(self, path, params=None):
        return self.call('GET', path, params=params).json(default={})

    def _error(self, resp, method, path):
        problem = parse_problem(resp.body)
        code, message = problem if problem else (None, None)
        who = "user '%s'" % self.user if self.user else 'anonymous access'
        if resp.status == 401:
            if self.user:
                msg = ('The Controller at %s refused the credentials of %s (HTTP 401%s). Check user and password '
                       '(environment variables %s / %s) against js7.auth.users in the Controller\'s private.conf.'
                       % (self.url, who, ' ' + code + ': ' + message if code else '',
                          CONTROLLER_ENV['user'], CONTROLLER_ENV['password']))
            else:
                msg = ('The Controller at %s requires authentication (HTTP 401) and no user was given: set user and '
                       'password (or %s / %s).' % (self.url, CONTROLLER_ENV['user'], CONTROLLER_ENV['password']))
            return ControllerProblem(msg, kind='auth', url=resp.url, method=method, status=401, code=code or 'Unauthorized',
                                     message=message or 'authentication required')
        if resp.status == 403:
            detail = ' ' + code + ': ' + message if code else ''
            msg = ('The Controller at %s denied %s %s to %s (HTTP 403%s). The user needs the permission for this '
                   'call in js7.auth.users.' % (self.url, method, path.split('?')[0], who, detail))
            return ControllerProblem(msg, kind='auth', url=resp.url, method=method, status=403, code=code or 'Forbidden',
                                     message=message or 'forbidden')
        if problem:
            msg = 'The Controller at %s answered %s %s with HTTP %s %s: %s' % (
                self.url, method, path.split('?')[0], resp.status, code or 'Problem', message)
            return ControllerProblem(msg, kind='http', url=resp.url, method=method, status=resp.status,
                                     code=code, message=message)
        text = _excerpt(resp.text)
        if resp.status == 404:
            msg = ('%s%s answered HTTP 404 (%s). Is %s the URL of a JS7 Controller (e.g. http://host:4444)?'
                   % (self.url, path.split('?')[0], text or 'not found', self.url))
        else:
            msg = 'The Controller at %s answered %s %s with HTTP %s: %s' % (self.url, method, path.split('?')[0], resp.status, text)
        return ControllerProblem(msg, kind='http', url=resp.url, method=method, status=resp.status, message=text)

    # ---- the calls the modules use (js7-engine.md §3.4, §3.5, §3.8) ------------------------
    def overview(self):
        return self.get_json('')

    def cluster_state(self):
        return self.get_json('/cluster')

    def cluster_node_state(self):
        return self.get_json('/cluster', params={'return': 'ClusterNodeState'})

    def events(self, after, timeout, event_types='ClusterEvent', limit=1):
        """Long-poll ``/controller/api/event`` (js7-engine.md §3.8); a list of Stamped events, empty on timeout.

        The Accept header must match application/x-ndjson or the route rejects the request.
        ``limit=1`` returns as soon as the first event is there (without it the server keeps
        appending until the timeout).
        """
        params = [('return', event_types), ('after', str(after)), ('timeout', '%ds' % max(1, int(timeout)))]
        if limit:
            params.append(('limit', str(limit)))
        resp = self.call('GET', '/event?' + urlencode(params), accept='application/x-ndjson',
                         timeout=self.http.timeout + int(timeout) + 1, retry=False)
        events = []
        for line in to_text(resp.body, errors='surrogate_or_replace').splitlines():
            line = line.strip()
            if not line:
                continue  # heartbeat / keep-alive line
            try:
                event = json.loads(line)
            except ValueError:
                raise JS7ApiError('The event stream of %s sent a line that is not JSON: %s' % (self.url, _excerpt(line)),
                                  kind='protocol', url=resp.url, status=resp.status)
            if isinstance(event, dict):
                events.append(event)
        return events


# ---- reading and describing the state of one node ----------------------------------------

def describe_cluster(stamped):
    """The Stamped ClusterState of ``/controller/api/cluster`` in the collection's words (js7-engine.md §3.5)."""
    if not isinstance(stamped, dict):
        return None
    setting = stamped.get('setting') or {}
    id_to_uri = setting.get('idToUri') or {}
    active_id = setting.get('activeId')
    passive_ids = [node_id for node_id in sorted(id_to_uri) if node_id != active_id]
    watches = setting.get('clusterWatches')
    return dict(
        type=stamped.get('TYPE'),
        event_id=stamped.get('eventId'),
        active_id=active_id,
        passive_id=passive_ids[0] if passive_ids else None,
        id_to_uri=id_to_uri,
        active_uri=id_to_uri.get(active_id) if active_id else None,
        cluster_watch_id=setting.get('clusterWatchId'),
        # JS7 2.5: an Agent as Cluster Watch, listed in the setting (js7-engine.md §3.5, §5.1)
        cluster_watches=[w.get('uri') for w in watches if isinstance(w, dict)] if isinstance(watches, list) else [],
        timing=setting.get('timing') or {},
        failed_at=stamped.get('failedAt'),
    )


def describe_overview(overview):
    """``GET /controller/api`` (js7-engine.md §3.4) in the collection's words; None stays None."""
    if not isinstance(overview, dict):
        return None
    return dict(
        id=overview.get('id'), version=overview.get('version'), build_id=overview.get('buildId'),
        started_at=overview.get('startedAt'), initially_started_at=overview.get('initiallyStartedAt'),
        total_running_time=overview.get('totalRunningTime'), order_count=overview.get('orderCount'),
        hostname=(overview.get('system') or {}).get('hostname'),
        java_version=(overview.get('java') or {}).get('version'))


def node_is_active(node_id, is_backup, cluster_type, active_id):
    """js7-engine.md §3.5: active iff (cluster Empty and not a backup) or nodeId == setting.activeId."""
    if cluster_type == 'Empty':
        return not is_backup
    return node_id is not None and node_id == active_id


def problem_entry(error, request):
    return dict(request=request, code=error.code, message=error.message if error.message is not None else error.msg,
                http_status=error.status)


def read_node(api, with_overview=True):
    """Overview (unless ``with_overview`` is false), cluster state and node state of one node.

    JS7 Problems (e.g. 503 BackupClusterNodeNotAppointed of an unappointed backup) are facts
    about the node and go to ``problems``; transport and authentication failures raise.
    """
    problems = []
    result = dict(url=api.url, overview=None, cluster=None, node=None, problems=problems)

    def attempt(request, func):
        try:
            return func()
        except ControllerProblem as exc:
            if exc.kind == 'auth':
                raise
            problems.append(problem_entry(exc, request))
            return None

    overview = attempt('GET /controller/api', api.overview) if with_overview else None
    result['overview'] = describe_overview(overview)
    stamped = attempt('GET /controller/api/cluster', api.cluster_state)
    result['cluster'] = describe_cluster(stamped)
    node_state = attempt('GET /controller/api/cluster?return=ClusterNodeState', api.cluster_node_state)
    codes = [p['code'] for p in problems]
    if node_state is not None:
        cluster = node_state.get('clusterState') or {}
        setting = cluster.get('setting') or {}
        is_backup = bool(node_state.get('isBackup'))
        result['node'] = dict(
            node_id=node_state.get('nodeId'), is_backup=is_backup, appointed=cluster.get('TYPE') not in (None, 'Empty'),
            is_active=node_is_active(node_state.get('nodeId'), is_backup, cluster.get('TYPE'), setting.get('activeId')),
            cluster_type=cluster.get('TYPE'))
        if result['cluster'] is None and cluster:
            stamped_cluster = dict(cluster)
            stamped_cluster['eventId'] = node_state.get('eventId')
            result['cluster'] = describe_cluster(stamped_cluster)
    elif 'BackupClusterNodeNotAppointed' in codes:
        # The Problem itself says what the node is: a backup nobody has appointed yet (js7-engine.md §3.3).
        result['node'] = dict(node_id=None, is_backup=True, appointed=False, is_active=False, cluster_type=None)
    return result
