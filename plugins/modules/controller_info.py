#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: controller_info
short_description: Read the state of a JS7 Controller node and wait for a cluster state
version_added: 0.1.0
description:
  - Reads one Controller node through its HTTP API (C(/controller/api)) - the overview, the cluster
    state and the node's own cluster node state - and returns them in plain words.
  - JS7 Problems the node answers with (for example HTTP 503 C(BackupClusterNodeNotAppointed) from a backup
    that nobody has appointed yet) are returned in RV(problems); they describe the node and do not fail the module.
    Unreachable nodes, TLS failures and refused credentials fail it with a message that says what to do.
  - With O(wait_for) the module waits until the node reports that cluster state. The wait follows the
    Controller's event stream (C(/controller/api/event), long-polling from the last event ID) and wakes up on the
    event; it polls only where the event API is not available and says so in RV(wait_method).
  - With O(fail_fast) the wait ends at once, with the evidence, when it cannot succeed (see O(fail_fast)).
author:
  - jobscheduler.js7 contributors (@jobscheduler)
extends_documentation_fragment:
  - jobscheduler.js7.controller_connection
  - jobscheduler.js7.api_transport
  - jobscheduler.js7.joc_connection.ignored
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
  wait_for:
    description:
      - Wait until the node reports this cluster TYPE (C(TYPE) of C(/controller/api/cluster)).
      - JOC Cockpit's spelling with the C(Cluster) prefix (V(ClusterCoupled)) is accepted too.
      - While waiting, a node that does not answer (it may be restarting) or answers HTTP 503
        (C(ClusterNodeIsNotReady), C(BackupClusterNodeNotAppointed)) is asked again until O(wait_timeout).
      - Ask the active node (normally the Primary). A passive node serves the replicated state; the module
        reads it again at least every 5 seconds because a passive node may not stream the active node's events.
    type: str
    choices: [Empty, NodesAppointed, PreparedToBeCoupled, Coupled, ActiveShutDown, PassiveLost, SwitchedOver, FailedOver,
              ClusterEmpty, ClusterNodesAppointed, ClusterPreparedToBeCoupled, ClusterCoupled, ClusterActiveShutDown,
              ClusterPassiveLost, ClusterSwitchedOver, ClusterFailedOver]
  wait_timeout:
    description:
      - Seconds to wait for O(wait_for). When they pass, the module fails and returns the last state and the
        events it saw.
    type: int
    default: 120
  fail_fast:
    description:
      - End the wait for O(wait_for) at once, failing with the evidence in RV(wait_blocker), when it cannot
        succeed. Exactly two situations are detected.
      - "C(PeerIsActiveStandalone): O(wait_for) is V(Coupled) or V(PreparedToBeCoupled), the node asked is the active
        node, the cluster is C(NodesAppointed), and the other node (O(peer_url), by default its URI from the cluster
        setting's C(idToUri)) answers C(/controller/api/cluster?return=ClusterNodeState) with cluster state C(Empty)
        and C(isBackup: false). That node was started without C(js7.journal.cluster.node.is-backup = yes); it refuses
        C(ClusterStartBackupNode) with C(ClusterNodeIsNotBackup) for ever. The other node is asked at most every
        2 seconds, with the same credentials and TLS options; if it cannot be reached the wait goes on."
      - "C(BackupNotAppointed): the node asked is a backup that has not been appointed (HTTP 503
        C(BackupClusterNodeNotAppointed)); it cannot report the cluster state. Ask the Primary instead."
      - Without O(fail_fast) both situations are waited out (an appointment may still come) until O(wait_timeout).
    type: bool
    default: false
  peer_url:
    description:
      - URL of the other cluster node for the O(fail_fast) check, when its URI in the cluster setting
        (the cluster URL the nodes use among themselves) cannot be reached from the host that runs the module.
    type: str
notes:
  - The API modules run where the task runs; usually delegate them to the control node or to a host that reaches
    the Controllers (C(delegate_to)). They need Python 3.8 or later and nothing beyond the standard library.
  - "C(jobscheduler.js7.joc_controller) only submits the registration; pair it with this module and
    O(wait_for=Coupled) to see the cluster couple (JOC's HTTP 200 does not prove coupling)."
seealso:
  - module: jobscheduler.js7.joc_controller_info
  - module: jobscheduler.js7.joc_controller
  - name: JS7 Controller cluster states
    description: The cluster state machine the module follows.
    link: https://kb.sos-berlin.com/display/JS7/JS7+-+Controller+Cluster
'''

EXAMPLES = r'''
- name: Read this Controller node (public Controller; the inventory of design.md)
  jobscheduler.js7.controller_info:
    url: "{{ js7_controller_url }}"
  delegate_to: localhost
  register: node

- name: Show cluster state and whether the node is active
  ansible.builtin.debug:
    msg: "{{ node.cluster.type | default('unknown') }} (active: {{ node.node.is_active | default('unknown') }})"

- name: Wait up to two minutes for the cluster to couple; stop at once if the Secondary runs standalone
  jobscheduler.js7.controller_info:
    url: "{{ js7_controller_url }}"
    wait_for: Coupled
    wait_timeout: 120
    fail_fast: true
  delegate_to: localhost
  when: js7_node_role == 'primary'

- name: Set the connection once for every module of the js7 group
  module_defaults:
    group/jobscheduler.js7.js7:
      user: "{{ js7_controller_user | default(omit) }}"
      password: "{{ js7_controller_password | default(omit) }}"
      joc_url: "{{ js7_joc_url }}"
      joc_user: "{{ js7_joc_user }}"
      joc_password: "{{ js7_joc_password }}"
      ca_path: "{{ js7_controller_ca_path | default(omit) }}"
  delegate_to: localhost
  block:
    - name: Read this Controller node with an authenticated session
      jobscheduler.js7.controller_info:
        url: "{{ js7_controller_url }}"
        auth: session
      register: node_state

    - name: Cluster state as JOC Cockpit sees it (same connection options)
      jobscheduler.js7.joc_controller_info:
        controller_id: "{{ js7_controller_id }}"
      run_once: true
'''

RETURN = r'''
url:
  description: The base URL that was asked.
  returned: always
  type: str
  sample: http://127.0.0.11:4444
overview:
  description: The Controller overview (C(GET /controller/api)); null when the node did not answer it.
  returned: always
  type: dict
  contains:
    id:
      description: Controller ID.
      type: str
      sample: controller
    version:
      description: JS7 version.
      type: str
      sample: 2.7.1
    build_id:
      description: Build ID.
      type: str
    started_at:
      description: Start time, epoch milliseconds.
      type: int
    initially_started_at:
      description: First start of the journal, epoch milliseconds; absent while the state is not ready.
      type: int
    total_running_time:
      description: Seconds.
      type: float
    order_count:
      description: Number of orders, when the node knows it.
      type: int
    hostname:
      description: Host name the Controller reports.
      type: str
    java_version:
      description: Java version.
      type: str
cluster:
  description: The cluster state (C(GET /controller/api/cluster)); null when the node did not answer it.
  returned: always
  type: dict
  contains:
    type:
      description: The cluster TYPE.
      type: str
      sample: Coupled
    event_id:
      description: EventId of the state (epoch microseconds); the wait follows events after it.
      type: int
    active_id:
      description: Node ID of the active node (C(Primary) or C(Backup)).
      type: str
    passive_id:
      description: The other node ID of the setting.
      type: str
    id_to_uri:
      description: Node ID to cluster URI.
      type: dict
      sample: {Primary: "http://primary:4444", Backup: "http://secondary:4444"}
    active_uri:
      description: URI of the active node.
      type: str
    cluster_watch_id:
      description: ID of the registered Cluster Watch (JOC Cockpit from JS7 2.6 on).
      type: str
    cluster_watches:
      description: URIs of Cluster Watch Agents of a JS7 2.5 setting (C(clusterWatches)); empty otherwise.
      type: list
      elements: str
    timing:
      description: C(heartbeat), C(heartbeatTimeout) (and from 2.8 C(consentTimeout)), seconds.
      type: dict
    failed_at:
      description: Journal position of a fail-over (C(FailedOver) only).
      type: dict
node:
  description: The node's own view (C(?return=ClusterNodeState)); null when unknown.
  returned: always
  type: dict
  contains:
    node_id:
      description: C(Primary) or C(Backup); null for an unappointed backup.
      type: str
    is_backup:
      description: Whether the node runs with C(js7.journal.cluster.node.is-backup = yes).
      type: bool
    is_active:
      description: Active node (cluster C(Empty) and not a backup, or the node is the setting's active node).
      type: bool
    appointed:
      description: Whether the node knows a cluster setting (cluster state other than C(Empty)).
      type: bool
    cluster_type:
      description: The cluster TYPE in the node state.
      type: str
problems:
  description: JS7 Problems the node answered with.
  returned: always
  type: list
  elements: dict
  contains:
    request:
      description: The request, for example C(GET /controller/api/cluster).
      type: str
    code:
      description: Problem code, for example C(BackupClusterNodeNotAppointed).
      type: str
    message:
      description: Problem message.
      type: str
    http_status:
      description: HTTP status of the answer.
      type: int
  sample: [{request: GET /controller/api/cluster, code: BackupClusterNodeNotAppointed, http_status: 503,
            message: This backup cluster node has not yet been appointed}]
waited:
  description: Seconds spent waiting for O(wait_for); 0 without O(wait_for).
  returned: always
  type: float
  sample: 7.412
wait_method:
  description: V(events) (event stream), V(polling) (event API not available, see RV(wait_method_reason)), or V(none).
  returned: always
  type: str
  sample: events
wait_method_reason:
  description: Why the wait fell back to polling.
  returned: when polling was used
  type: str
events:
  description: The cluster events seen while waiting, oldest first (C(type), C(event_id), C(epoch_seconds) and the event's fields).
  returned: always
  type: list
  elements: dict
  sample: [{type: ClusterCouplingPrepared, activeId: Primary, event_id: 1700000000000456, epoch_seconds: 1700000000.0}]
wait_blocker:
  description: With O(fail_fast), why the wait could not succeed (C(code), C(message), C(evidence)); null otherwise.
  returned: always
  type: dict
  sample: {code: PeerIsActiveStandalone, message: "The cluster is NodesAppointed and ...", evidence: {}}
wait_errors:
  description: Transient failures met while waiting (unreachable node, 503), the last ten.
  returned: when O(wait_for) is set
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.jobscheduler.js7.plugins.module_utils._cluster_wait import (
    CLUSTER_TYPES,
    ClusterWaiter,
    normalize_cluster_type,
)
from ansible_collections.jobscheduler.js7.plugins.module_utils._controller_api import (
    ControllerProblem,
    controller_client_from_params,
    controller_connection_argument_spec,
    describe_overview,
    problem_entry,
    read_node,
)
from ansible_collections.jobscheduler.js7.plugins.module_utils._http import JS7ApiError
from ansible_collections.jobscheduler.js7.plugins.module_utils._joc_api import joc_credential_argument_spec


def argument_spec():
    spec = controller_connection_argument_spec()
    spec.update(joc_credential_argument_spec())  # accepted and ignored: module_defaults of the js7 group
    wait_choices = list(CLUSTER_TYPES) + ['Cluster' + t for t in CLUSTER_TYPES]
    spec.update(
        wait_for=dict(type='str', choices=wait_choices),
        wait_timeout=dict(type='int', default=120),
        fail_fast=dict(type='bool', default=False),
        peer_url=dict(type='str'),
    )
    return spec


def run(module, client_factory=controller_client_from_params):
    params = module.params
    result = dict(changed=False, url=params['url'], overview=None, cluster=None, node=None, problems=[],
                  waited=0.0, wait_method='none', events=[], wait_blocker=None)
    target = normalize_cluster_type(params['wait_for'])
    if params['wait_timeout'] < 0:
        module.fail_json(msg='wait_timeout must be 0 or more seconds.', **result)
    try:
        api = client_factory(params)
    except JS7ApiError as exc:
        module.fail_json(msg=exc.msg, error=exc.to_dict(), **result)
    result['url'] = api.url
    try:
        try:
            if target:
                waiter = ClusterWaiter(api, target, params['wait_timeout'], fail_fast=params['fail_fast'],
                                       peer_api_factory=lambda url: client_factory(params, url=url),
                                       peer_url=params['peer_url'])
                outcome = waiter.run()
                snapshot = dict(outcome['snapshot'] or {})
                snapshot['problems'] = list(snapshot.get('problems') or [])
                if outcome['snapshot'] is not None:
                    # The wait reads only the cluster; add the overview for the result.
                    try:
                        snapshot['overview'] = describe_overview(api.overview())
                    except ControllerProblem as exc:
                        if exc.kind == 'auth':
                            raise
                        snapshot['problems'].append(problem_entry(exc, 'GET /controller/api'))
                    except JS7ApiError:
                        pass  # gone again since the last read; the wait's evidence stands
                result.update(waited=outcome['waited'], wait_method=outcome['wait_method'], events=outcome['events'],
                              wait_blocker=outcome['blocker'], wait_errors=outcome['errors'])
                if outcome['wait_method_reason']:
                    result['wait_method_reason'] = outcome['wait_method_reason']
                if outcome['events_dropped']:
                    result['events_dropped'] = outcome['events_dropped']
            else:
                outcome = None
                snapshot = read_node(api)
        finally:
            api.logout()
    except JS7ApiError as exc:
        module.fail_json(msg=exc.msg, error=exc.to_dict(), **result)

    for key in ('overview', 'cluster', 'node', 'problems'):
        if snapshot and snapshot.get(key) is not None:
            result[key] = snapshot[key]
    if outcome is not None and not outcome['reached']:
        if outcome['blocker']:
            module.fail_json(msg=outcome['blocker']['message'], **result)
        state = (result['cluster'] or {}).get('type')
        if state:
            where = 'it is %s' % state
        elif result['problems']:
            where = 'the node answers %s' % ', '.join('%s' % p['code'] for p in result['problems'])
        else:
            last = outcome['errors'][-1]['message'] if outcome['errors'] else 'no answer'
            where = 'the node could not be read (%s)' % last
        module.fail_json(msg='The cluster seen from %s did not reach %s within %s seconds: %s. %d cluster event(s) seen.'
                         % (api.url, target, params['wait_timeout'], where, len(outcome['events'])), **result)
    module.exit_json(**result)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run(module)


if __name__ == '__main__':
    main()
