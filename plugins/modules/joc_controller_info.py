#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: joc_controller_info
short_description: Controller cluster state as JOC Cockpit sees it, and waiting for a state
version_added: 0.1.0
description:
  - Reads C(./controller/components) of JOC Cockpit for one Controller ID and returns the cluster state text
    (for example C(ClusterCoupled)), whether the cluster is coupled, each Controller node's connection, component
    and cluster node state, and the JOC Cockpit instances.
  - RV(coupled) is true only when the cluster state is C(ClusterCoupled), both nodes are C(established) and report
    themselves coupled, and exactly one node is C(active).
  - With O(wait_for) the module waits for a state. JOC Cockpit offers no event stream for this, so the module polls
    C(./controller/components) with a growing interval (1 second, then 1.5 times longer each time, at most 5 seconds)
    and returns RV(wait_method=polling). To wait on events, use M(jobscheduler.js7.controller_info) against the
    Controller itself.
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
    details: The module only reads; it behaves the same in check mode, waiting included.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  controller_id:
    description: The Controller ID.
    type: str
    required: true
  wait_for:
    description:
      - Wait until the cluster reaches this state, given as a cluster TYPE (V(Coupled)) or as JOC Cockpit's text
        (V(ClusterCoupled)).
      - V(Coupled) / V(ClusterCoupled) waits for RV(coupled) (the full predicate, not only the text).
      - While waiting, JOC Cockpit being unreachable (restarting) or answering with a transient error is waited out;
        refused credentials fail at once.
    type: str
    choices: [Empty, NodesAppointed, PreparedToBeCoupled, Coupled, ActiveShutDown, PassiveLost, SwitchedOver, FailedOver,
              ClusterEmpty, ClusterNodesAppointed, ClusterPreparedToBeCoupled, ClusterCoupled, ClusterActiveShutDown,
              ClusterPassiveLost, ClusterSwitchedOver, ClusterFailedOver, ClusterActiveNodeIsNotReady,
              ClusterNodeLossToBeConfirmed, ClusterFailoverToBeConfirmed, ClusterUnknown]
  wait_timeout:
    description: Seconds to wait for O(wait_for); then the module fails with the last state it read.
    type: int
    default: 120
notes:
  - The API modules run where the task runs; usually delegate them to the control node. They need Python 3.8 or
    later and nothing beyond the standard library.
seealso:
  - module: jobscheduler.js7.joc_controller
  - module: jobscheduler.js7.controller_info
'''

EXAMPLES = r'''
- name: Cluster state as JOC Cockpit sees it
  jobscheduler.js7.joc_controller_info:
    joc_url: "{{ js7_joc_url }}"
    joc_user: "{{ js7_joc_user }}"
    joc_password: "{{ js7_joc_password }}"
    controller_id: "{{ js7_controller_id }}"
  delegate_to: localhost
  register: joc_view

- name: Report
  ansible.builtin.debug:
    msg: "{{ joc_view.cluster_state }}, coupled: {{ joc_view.coupled }}, active: {{ joc_view.active_node }}"

- name: Wait for coupling after submitting the registration
  jobscheduler.js7.joc_controller_info:
    joc_url: "{{ js7_joc_url }}"
    joc_user: "{{ js7_joc_user }}"
    joc_password: "{{ js7_joc_password }}"
    controller_id: "{{ js7_controller_id }}"
    wait_for: Coupled
    wait_timeout: 120
  delegate_to: localhost
'''

RETURN = r'''
cluster_state:
  description: JOC Cockpit's C(clusterState._text), for example C(ClusterCoupled), C(ClusterNodesAppointed), C(ClusterUnknown).
  returned: always
  type: str
  sample: ClusterCoupled
cluster_state_severity:
  description: Severity of the cluster state (0 coupled, 1 warning, 2 error, 4 unknown).
  returned: always
  type: int
loss_node:
  description: C(Primary) or C(Backup) when JOC's Cluster Watch waits for a node loss to be confirmed.
  returned: always
  type: str
coupled:
  description: Whether the cluster is coupled (the predicate described above).
  returned: always
  type: bool
active_node:
  description: Role (C(PRIMARY) or C(BACKUP)) of the one node JOC reports as active; null otherwise.
  returned: always
  type: str
nodes:
  description: The Controller nodes.
  returned: always
  type: list
  elements: dict
  contains:
    role:
      description: C(PRIMARY), C(BACKUP) or C(STANDALONE).
      type: str
    url:
      description: URL JOC uses.
      type: str
    cluster_url:
      description: URL the partner uses.
      type: str
    title:
      description: Title.
      type: str
    controller_id:
      description: Controller ID.
      type: str
    version:
      description: JS7 version of the node.
      type: str
    is_coupled:
      description: Whether the node reports the cluster Coupled.
      type: bool
    connection_state:
      description: C(established), C(unstable), C(unreachable) or C(unknown).
      type: str
    component_state:
      description: C(operational), C(limited), C(inoperable) or C(unknown).
      type: str
    cluster_node_state:
      description: C(active), C(inactive) or C(unknown).
      type: str
jocs:
  description:
    - JOC Cockpit instances (C(url), C(member_id), C(instance_id), C(current), C(is_api_server)),
      with C(cluster_node_state) (C(active) for the active instance), C(component_state) and C(connection_state).
  returned: always
  type: list
  elements: dict
waited:
  description: Seconds spent waiting for O(wait_for); 0 without it.
  returned: always
  type: float
wait_method:
  description: V(polling) with O(wait_for), V(none) without.
  returned: always
  type: str
history:
  description: Each change of the cluster state seen while waiting (C(after_seconds), C(cluster_state), C(coupled)).
  returned: always
  type: list
  elements: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.jobscheduler.js7.plugins.module_utils._cluster_wait import normalize_cluster_type
from ansible_collections.jobscheduler.js7.plugins.module_utils._controller_api import controller_credential_argument_spec
from ansible_collections.jobscheduler.js7.plugins.module_utils._http import JS7ApiError
from ansible_collections.jobscheduler.js7.plugins.module_utils._joc_api import (
    describe_components,
    joc_client_from_params,
    joc_connection_argument_spec,
)

JOC_ONLY_STATES = ('ClusterActiveNodeIsNotReady', 'ClusterNodeLossToBeConfirmed', 'ClusterFailoverToBeConfirmed', 'ClusterUnknown')
POLL_FIRST = 1.0
POLL_FACTOR = 1.5
POLL_MAX = 5.0


def argument_spec():
    spec = joc_connection_argument_spec()
    spec.update(controller_credential_argument_spec())  # accepted and ignored: module_defaults of the js7 group
    spec.update(
        controller_id=dict(type='str', required=True),
        wait_for=dict(type='str', choices=[
            'Empty', 'NodesAppointed', 'PreparedToBeCoupled', 'Coupled', 'ActiveShutDown', 'PassiveLost', 'SwitchedOver',
            'FailedOver', 'ClusterEmpty', 'ClusterNodesAppointed', 'ClusterPreparedToBeCoupled', 'ClusterCoupled',
            'ClusterActiveShutDown', 'ClusterPassiveLost', 'ClusterSwitchedOver', 'ClusterFailedOver'] + list(JOC_ONLY_STATES)),
        wait_timeout=dict(type='int', default=120),
    )
    return spec


def target_predicate(wait_for):
    """The condition for wait_for on a describe_components() dict."""
    if wait_for in JOC_ONLY_STATES:
        return lambda state: state['cluster_state'] == wait_for
    cluster_type = normalize_cluster_type(wait_for)
    if cluster_type == 'Coupled':
        return lambda state: state['coupled']
    return lambda state: state['cluster_state'] == 'Cluster' + cluster_type


def wait(api, controller_id, predicate, timeout, clock=time.monotonic, sleep=time.sleep):
    """Poll ./controller/components until predicate holds: (reached, state, waited, history, errors)."""
    start = clock()
    deadline = start + timeout
    delay = POLL_FIRST
    history = []
    errors = []
    state = None
    while True:
        try:
            state = describe_components(api.components(controller_id))
        except JS7ApiError as exc:
            # JOC restarting, or a transient JOC/Controller error: wait on; bad credentials/options: stop.
            if exc.kind in ('auth', 'config', 'tls', 'protocol'):
                raise
            errors.append(dict(kind=exc.kind, message=exc.msg))
            del errors[:-10]
        else:
            if not history or (history[-1]['cluster_state'], history[-1]['coupled']) != (state['cluster_state'], state['coupled']):
                history.append(dict(after_seconds=round(clock() - start, 3), cluster_state=state['cluster_state'],
                                    coupled=state['coupled']))
            if predicate(state):
                return True, state, round(clock() - start, 3), history, errors
        remaining = deadline - clock()
        if remaining <= 0:
            return False, state, round(clock() - start, 3), history, errors
        sleep(min(delay, remaining))
        delay = min(delay * POLL_FACTOR, POLL_MAX)


def run(module, client_factory=joc_client_from_params, clock=time.monotonic, sleep=time.sleep):
    params = module.params
    result = dict(changed=False, cluster_state=None, cluster_state_severity=None, loss_node=None, coupled=False,
                  active_node=None, nodes=[], jocs=[], waited=0.0, wait_method='none', history=[])
    if params['wait_timeout'] < 0:
        module.fail_json(msg='wait_timeout must be 0 or more seconds.', **result)
    try:
        api = client_factory(params)
    except JS7ApiError as exc:
        module.fail_json(msg=exc.msg, error=exc.to_dict(), **result)
    reached = True
    errors = []
    try:
        try:
            api.login()
            if params['wait_for']:
                result['wait_method'] = 'polling'
                reached, state, waited, history, errors = wait(api, params['controller_id'], target_predicate(params['wait_for']),
                                                               params['wait_timeout'], clock=clock, sleep=sleep)
                result.update(waited=waited, history=history)
                if errors:
                    result['wait_errors'] = errors
            else:
                state = describe_components(api.components(params['controller_id']))
        finally:
            api.logout()
    except JS7ApiError as exc:
        module.fail_json(msg=exc.msg, error=exc.to_dict(), **result)
    if state:
        result.update(state)
    if not reached:
        seen = ('it is %s (coupled: %s)' % (result['cluster_state'], result['coupled']) if state
                else 'JOC Cockpit could not be read (%s)' % (errors[-1]['message'] if errors else 'no answer'))
        module.fail_json(msg='The cluster of Controller %s did not reach %s in JOC Cockpit within %s seconds: %s.'
                         % (params['controller_id'], params['wait_for'], params['wait_timeout'], seen), **result)
    module.exit_json(**result)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run(module)


if __name__ == '__main__':
    main()
