#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: joc_controller
short_description: Register a JS7 Controller (cluster) in JOC Cockpit, or submit its registration again
version_added: 0.1.0
description:
  - "Does through the JOC Cockpit REST API what an operator does in I(Manage Controllers/Agents): open the
    registration of a Controller, test the connection to each URL, and submit."
  - Reads the current registration (C(./controllers/p)). Options left unset keep their current values, so
    O(controller_id) alone describes the registration as it is.
  - Tests every Controller URL from the JOC Cockpit server (C(./controller/test) with the Controller ID) and returns
    the results in RV(connection_tests). What a failed test does is set by O(test_connection).
  - Submits C(./controller/register) when the registration differs, or always with O(resubmit=true) (the runbook's
    I(edit, check connection, submit)). An existing Controller ID is always submitted as an B(update); the module
    never unregisters a Controller, because C(./controller/unregister) deletes the Controller's Agents from the
    inventory.
  - Submitting needs the B(active) JOC Cockpit instance. The module asks C(./joc/is_active) first; if the instance
    at O(joc_url) is a standby and a submission is due, it fails and names the active instance.
  - JS7 2.0-2.5 can use an Agent as Cluster Watch (O(cluster_watcher)); the module asks C(./joc/versions) and refuses
    O(cluster_watcher) from JS7 2.6 on, where JOC Cockpit itself is the Cluster Watch.
  - JOC Cockpit's HTTP 200 does not prove that the cluster couples; it appoints the nodes in the background.
    Follow the module with M(jobscheduler.js7.joc_controller_info) or M(jobscheduler.js7.controller_info) and
    O(jobscheduler.js7.controller_info#module:wait_for=Coupled).
author:
  - jobscheduler.js7 contributors (@jobscheduler)
extends_documentation_fragment:
  - jobscheduler.js7.joc_connection
  - jobscheduler.js7.api_transport
  - jobscheduler.js7.controller_connection.ignored
  - jobscheduler.js7.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The connection tests run (they change nothing); nothing is submitted. C(changed) predicts a submission.
  diff_mode:
    support: full
    details: The registration before and after (predicted in check mode).
  idempotent:
    description: Running the task again with the same options changes nothing.
    support: full
    details: Without O(resubmit) a registration that already matches is not submitted again.
  platform:
    platforms: posix
options:
  controller_id:
    description:
      - The Controller ID (C(js7_controller_id) in the inventory, the ID the Controller reports).
      - An ID JOC Cockpit knows is updated. An unknown ID is registered as a new Controller; JOC Cockpit takes the ID
        from the Controller's answer, which the connection test checks against this value.
    type: str
    required: true
  primary_url:
    description:
      - URL JOC Cockpit uses to reach the Primary Controller (or the standalone Controller).
      - Required for a new registration; unset keeps the current one.
    type: str
  primary_cluster_url:
    description:
      - URL the Secondary Controller uses to reach the Primary (clusters only).
      - Unset keeps a cluster URL that was set explicitly; otherwise it follows O(primary_url).
    type: str
  primary_title:
    description:
      - Title shown in JOC Cockpit (at most 30 characters). Unset keeps the current title (JOC's default is the role).
    type: str
  secondary_url:
    description:
      - URL JOC Cockpit uses to reach the Secondary Controller. Setting it makes the registration a cluster.
      - Unset keeps the current Secondary. Turning a cluster into a standalone Controller is not done by this module
        (use the JOC Cockpit GUI); the module never removes a node.
    type: str
  secondary_cluster_url:
    description:
      - URL the Primary Controller uses to reach the Secondary (clusters only).
      - Unset keeps a cluster URL that was set explicitly; otherwise it follows O(secondary_url).
    type: str
  secondary_title:
    description:
      - Title of the Secondary in JOC Cockpit. Unset keeps the current title.
    type: str
  force_failover_confirmation:
    description:
      - Cluster only, JS7 2.8.4 or later. The JOC Cockpit Cluster Watch then asks a person to confirm a fail-over.
      - Unset keeps the current setting.
    type: bool
  cluster_watcher:
    description:
      - JS7 2.0-2.5 only. The Agent that acts as Cluster Watch (C(clusterWatcher) of C(./controller/register)).
      - When unset, the Cluster Watch Agent of the current registration is kept (on 2.5, leaving it out would make
        JOC Cockpit the Cluster Watch instead).
      - Refused when JOC Cockpit is 2.6 or later.
    type: dict
    suboptions:
      agent_id:
        description: Agent ID.
        type: str
        required: true
      agent_name:
        description: Agent name; defaults to O(cluster_watcher.agent_id).
        type: str
      url:
        description: URL of the Agent, for example V(http://agent.example.com:4445).
        type: str
        required: true
      as_standalone_agent:
        description: For a new Agent only (JS7 2.4/2.5), register it as a standalone Agent instead of a Director.
        type: bool
      primary_director_id:
        description: Subagent ID of the Director (JS7 2.4/2.5); JOC's default is O(cluster_watcher.agent_id).
        type: str
  test_connection:
    description:
      - What to do with the connection test of each URL (C(./controller/test), run from the JOC Cockpit server).
      - V(required) fails the module before anything is submitted when a test fails, with JOC Cockpit's error
        (for example C(JOC-402) unreachable or C(JOC-405) another Controller ID).
      - V(warn) reports failed tests as warnings and submits anyway (JOC Cockpit accepts an update for a Controller
        that is down).
      - V(skip) runs no test.
    type: str
    choices: [required, warn, skip]
    default: required
  resubmit:
    description:
      - Submit the registration even when nothing differs. JOC Cockpit then checks the Controllers again and
        appoints the cluster nodes again if the Controller's setting differs from the registration - the runbook's
        I(submit) step after a Secondary's journal was reset. Reports C(changed=true).
    type: bool
    default: false
  audit_comment:
    description: Comment for JOC Cockpit's audit log (required when JOC is configured to force audit comments).
    type: str
  audit_time_spent:
    description: Minutes spent, for the audit log.
    type: int
  audit_ticket_link:
    description: Link to a ticket, for the audit log.
    type: str
notes:
  - The API modules run where the task runs; usually delegate them to the control node. They need Python 3.8 or
    later and nothing beyond the standard library.
seealso:
  - module: jobscheduler.js7.joc_controller_info
  - module: jobscheduler.js7.controller_info
  - name: JS7 - Manage Controllers/Agents
    description: The GUI dialog this module drives.
    link: https://kb.sos-berlin.com/display/JS7/JS7+-+Initial+Operation
'''

EXAMPLES = r'''
- name: Submit the registration of the cluster again (edit, check connection, submit)
  jobscheduler.js7.joc_controller:
    joc_url: "{{ js7_joc_url }}"
    joc_user: "{{ js7_joc_user }}"
    joc_password: "{{ js7_joc_password }}"
    controller_id: "{{ js7_controller_id }}"
    resubmit: true
    audit_comment: Secondary journal reset, registration submitted again
  delegate_to: localhost
  run_once: true
  register: registration

- name: Wait until JOC Cockpit sees the cluster coupled
  jobscheduler.js7.joc_controller_info:
    joc_url: "{{ js7_joc_url }}"
    joc_user: "{{ js7_joc_user }}"
    joc_password: "{{ js7_joc_password }}"
    controller_id: "{{ js7_controller_id }}"
    wait_for: Coupled
    wait_timeout: 120
  delegate_to: localhost
  run_once: true

- name: Register (or update) a cluster; joc_url/joc_user/joc_password may also come from JS7_JOC_URL/JS7_JOC_USER/JS7_JOC_PASSWORD
  jobscheduler.js7.joc_controller:
    joc_url: "{{ js7_joc_url }}"
    joc_user: "{{ js7_joc_user }}"
    joc_password: "{{ js7_joc_password }}"
    controller_id: "{{ js7_controller_id }}"
    primary_url: "{{ hostvars[groups['js7_controller_primary'][0]].js7_controller_url }}"
    secondary_url: "{{ hostvars[groups['js7_controller_secondary'][0]].js7_controller_url }}"
    primary_title: PRIMARY
    secondary_title: SECONDARY
  delegate_to: localhost
  run_once: true

- name: Connection options once for the whole js7 group
  module_defaults:
    group/jobscheduler.js7.js7:
      joc_url: "{{ js7_joc_url }}"
      joc_user: "{{ js7_joc_user }}"
      joc_password: "{{ js7_joc_password }}"
  delegate_to: localhost
  run_once: true
  block:
    - name: Show what JOC Cockpit has registered, without changing it
      jobscheduler.js7.joc_controller:
        controller_id: "{{ js7_controller_id }}"
        test_connection: warn
      check_mode: true
      register: current

    - name: Cluster state as JOC Cockpit sees it
      jobscheduler.js7.joc_controller_info:
        controller_id: "{{ js7_controller_id }}"
'''

RETURN = r'''
registration:
  description: The registration before and after (after = predicted in check mode or when nothing was submitted).
  returned: always
  type: dict
  contains:
    before:
      description: >-
        Registration read from JOC Cockpit: C(controller_id), C(primary) and C(secondary) (each C(url), C(cluster_url),
        C(title); C(secondary) null for a standalone Controller), C(force_failover_confirmation), C(cluster_watcher)
        (JS7 <= 2.5). Null when the ID was not registered.
      type: dict
    after:
      description: The registration as JOC Cockpit stores it after the submission, in the same shape.
      type: dict
  sample:
    before:
      controller_id: controller1
      primary: {url: "http://127.0.0.11:4444", cluster_url: "http://127.0.0.11:4444", title: PRIMARY}
      secondary: {url: "http://127.0.0.12:4444", cluster_url: "http://127.0.0.12:4444", title: SECONDARY}
      force_failover_confirmation: false
      cluster_watcher: null
connection_tests:
  description: One entry per URL tested through JOC Cockpit (empty with O(test_connection=skip)).
  returned: always
  type: list
  elements: dict
  contains:
    role:
      description: V(primary), V(secondary) or V(standalone).
      type: str
    url:
      description: The URL tested.
      type: str
    ok:
      description: Whether JOC Cockpit reached a Controller with the expected ID.
      type: bool
    connection_state:
      description: JOC's C(connectionState._text), for example C(established).
      type: str
    controller_id:
      description: The Controller ID the URL answered with.
      type: str
    error:
      description: JOC Cockpit's error for a failed test (C(http_status), C(code) such as C(JOC-402), C(message)).
      type: dict
submitted:
  description: Whether C(./controller/register) was sent.
  returned: always
  type: bool
joc:
  description: The JOC Cockpit instance asked.
  returned: always
  type: dict
  contains:
    url:
      description: O(joc_url).
      type: str
    version:
      description: JOC Cockpit version from C(./joc/versions) (null if it could not be read).
      type: str
    active:
      description: Whether this instance is the active JOC Cockpit cluster member.
      type: bool
    active_urls:
      description: URLs of the active instance, when this one is not active and JOC could name it.
      type: list
      elements: str
    controller_versions:
      description: C(controllerVersions) from C(./joc/versions).
      type: list
      elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.jobscheduler.js7.plugins.module_utils._controller_api import controller_credential_argument_spec
from ansible_collections.jobscheduler.js7.plugins.module_utils._http import JS7ApiError
from ansible_collections.jobscheduler.js7.plugins.module_utils._joc_api import (
    JocError,
    active_joc_urls,
    describe_components,
    joc_client_from_params,
    joc_connection_argument_spec,
)
from ansible_collections.jobscheduler.js7.plugins.module_utils._joc_registration import (
    RegistrationError,
    describe_registration,
    desired_registration,
    nodes_to_test,
    parse_version,
    register_body,
)


def argument_spec():
    spec = joc_connection_argument_spec()
    spec.update(controller_credential_argument_spec())  # accepted and ignored: module_defaults of the js7 group
    spec.update(
        controller_id=dict(type='str', required=True),
        primary_url=dict(type='str'),
        primary_cluster_url=dict(type='str'),
        primary_title=dict(type='str'),
        secondary_url=dict(type='str'),
        secondary_cluster_url=dict(type='str'),
        secondary_title=dict(type='str'),
        force_failover_confirmation=dict(type='bool'),
        cluster_watcher=dict(type='dict', options=dict(
            agent_id=dict(type='str', required=True),
            agent_name=dict(type='str'),
            url=dict(type='str', required=True),
            as_standalone_agent=dict(type='bool'),
            primary_director_id=dict(type='str'),
        )),
        test_connection=dict(type='str', default='required', choices=['required', 'warn', 'skip']),
        resubmit=dict(type='bool', default=False),
        audit_comment=dict(type='str'),
        audit_time_spent=dict(type='int'),
        audit_ticket_link=dict(type='str'),
    )
    return spec


def run_connection_tests(module, api, desired, result):
    for role, url in nodes_to_test(desired):
        entry = dict(role=role, url=url, ok=False, connection_state=None, controller_id=None, error=None)
        try:
            answer = api.test(url, desired['controller_id'])
        except JocError as exc:
            if exc.kind == 'auth':
                raise
            entry['error'] = dict(http_status=exc.status, code=exc.code, message=exc.message or exc.msg)
            entry['msg'] = exc.msg
        else:
            ctl = answer.get('controller') if isinstance(answer.get('controller'), dict) else answer
            state = ctl.get('connectionState')
            entry['connection_state'] = state.get('_text') if isinstance(state, dict) else state
            entry['controller_id'] = ctl.get('controllerId')
            entry['ok'] = entry['connection_state'] == 'established' and entry['controller_id'] in (None, desired['controller_id'])
            if not entry['ok']:
                entry['error'] = dict(http_status=200, code=None, message='connection state %s, Controller ID %s'
                                      % (entry['connection_state'], entry['controller_id']))
        result['connection_tests'].append(entry)
    failed = [t for t in result['connection_tests'] if not t['ok']]
    for test in failed:
        test_msg = test.pop('msg', None) or test['error']['message']
        text = 'Connection test of the %s Controller %s through JOC Cockpit failed: %s' % (test['role'], test['url'], test_msg)
        if module.params['test_connection'] == 'required':
            module.fail_json(msg=text + ' Nothing was submitted. Fix the Controller or the URL, or set '
                             'test_connection=warn to submit anyway.', **result)
        module.warn(text)
    for test in result['connection_tests']:
        test.pop('msg', None)


def run(module, client_factory=joc_client_from_params):
    params = module.params
    result = dict(changed=False, submitted=False, registration=dict(before=None, after=None), connection_tests=[],
                  joc=dict(url=params.get('joc_url'), version=None, active=None, active_urls=[], controller_versions=[]))
    try:
        api = client_factory(params)
    except JS7ApiError as exc:
        module.fail_json(msg=exc.msg, error=exc.to_dict(), **result)
    result['joc']['url'] = api.url
    controller_id = params['controller_id']
    try:
        try:
            api.login()
            # ./joc/is_active first: only the active instance may register (joc-api.md §2.3 step 1).
            result['joc']['active'] = api.is_active()
            if not result['joc']['active']:
                try:
                    result['joc']['active_urls'] = active_joc_urls(describe_components(api.components(controller_id))['jocs'])
                except JocError as exc:
                    if exc.kind == 'auth' and exc.status in (401, 440):
                        raise
            try:
                versions = api.versions(controller_id)
                result['joc']['version'] = versions.get('jocVersion')
                result['joc']['controller_versions'] = versions.get('controllerVersions') or []
            except JocError as exc:
                if exc.kind == 'auth' and exc.status in (401, 440):
                    raise
                module.warn('Could not read the JOC Cockpit version (./joc/versions): %s' % exc.msg)
            joc_version = parse_version(result['joc']['version'])

            before = describe_registration(api.registration(controller_id), controller_id)
            result['registration']['before'] = before
            try:
                desired = desired_registration(params, before)
            except RegistrationError as exc:
                module.fail_json(msg=str(exc), **result)
            if params['cluster_watcher'] and joc_version and joc_version >= (2, 6):
                module.fail_json(msg='cluster_watcher is for JS7 2.0-2.5 only. JOC Cockpit %s is itself the Cluster Watch '
                                 '(from 2.6 on no Agent takes part): remove cluster_watcher.' % result['joc']['version'],
                                 **result)
            if desired['secondary'] and not desired['cluster_watcher'] and joc_version and joc_version < (2, 5):
                module.fail_json(msg='JOC Cockpit %s (JS7 < 2.5) needs a Cluster Watch Agent for a Controller cluster: set '
                                 'cluster_watcher (agent_id, url).' % result['joc']['version'], **result)
            if desired['force_failover_confirmation'] and joc_version and joc_version < (2, 8, 4):
                module.warn('force_failover_confirmation needs JS7 2.8.4 or later; JOC Cockpit %s ignores it.'
                            % result['joc']['version'])

            if params['test_connection'] != 'skip':
                run_connection_tests(module, api, desired, result)

            differs = before != desired
            result['changed'] = differs or params['resubmit']
            result['registration']['after'] = desired
            if result['changed']:
                if not result['joc']['active']:
                    others = result['joc']['active_urls']
                    module.fail_json(msg='JOC Cockpit at %s is not the active instance of its cluster, and only the active one '
                                     'accepts ./controller/register. %s' % (
                                         api.url, 'The active instance is %s: set joc_url to it.' % ', '.join(others)
                                         if others else 'Set joc_url to the active JOC Cockpit instance.'), **result)
                if not module.check_mode:
                    api.register(register_body(desired, before is not None, params))
                    result['submitted'] = True
                    after = describe_registration(api.registration(controller_id), controller_id)
                    if after is None:
                        module.fail_json(msg='JOC Cockpit accepted ./controller/register, but no Controller with ID %s is '
                                         'registered afterwards: the Controller at %s reports another ID.'
                                         % (controller_id, desired['primary']['url']), **result)
                    result['registration']['after'] = after
        finally:
            api.logout()
    except JS7ApiError as exc:
        module.fail_json(msg=exc.msg, error=exc.to_dict(), **result)
    if result['changed']:
        result['diff'] = dict(before=result['registration']['before'] or {}, after=result['registration']['after'] or {},
                              before_header='JOC Cockpit registration of %s' % controller_id,
                              after_header='JOC Cockpit registration of %s' % controller_id)
    module.exit_json(**result)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run(module)


if __name__ == '__main__':
    main()
