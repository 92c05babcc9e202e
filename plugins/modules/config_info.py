#!/usr/bin/python
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the action plugin plugins/action/config_info.py, which does the work
# on the control node.

from __future__ import annotations

DOCUMENTATION = r'''
---
module: config_info
short_description: Read a JS7 Controller or Agent configuration (controller.conf, private.conf)
version_added: 0.1.0
description:
  - Reads C(controller.conf) (or C(agent.conf)) and C(private/private.conf) from the managed node, together with
    the files they C(include), parses them on the control node and merges them as JS7 does
    (C(private/private.conf) overrides C(controller.conf)).
  - Returns the configuration as data, the node's cluster role (RV(cluster.is_backup) as a real boolean for every
    spelling HOCON allows), the user names of C(js7.auth), the files read with their SHA-256, and findings such as a
    Secondary Controller that is not configured as a backup node.
  - Substitutions such as C(${js7.config-directory}) are not resolved (JS7 supplies them at run time) and the
    control node's environment is never read; they are returned as written, e.g.
    V(${js7.config-directory}/private/trusted-pgp-keys).
  - Secrets are masked unless O(show_secrets=true).
author:
  - jobscheduler.js7 contributors (@jobscheduler)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - jobscheduler.js7.config_location
attributes:
  action:
    support: full
  async:
    support: none
    details: This action runs on the control node; it reads the files with M(ansible.builtin.slurp).
  become:
    support: full
    details: The files are read with the task's privilege escalation settings.
  bypass_host_loop:
    support: none
  connection:
    support: full
  delegation:
    support: full
    details: The files are read and written on the host the task is delegated to.
  check_mode:
    support: full
    details: Reading changes nothing and runs in check mode too.
  diff_mode:
    support: none
    details: Nothing is changed, so there is nothing to show.
  platform:
    platforms: posix
options:
  expected_role:
    description:
      - What the node is supposed to be. The configuration is checked against it and the differences are returned in
        RV(findings).
      - V(secondary) expects C(js7.journal.cluster.node.is-backup = yes); V(primary) and V(standalone) expect it to be
        unset or V(no); V(agent) needs O(component=agent).
      - When not given, only problems that hold for every role are reported.
    type: str
    choices: [primary, secondary, standalone, agent]
  show_secrets:
    description:
      - Return passwords (C(js7.auth.users.*), C(js7.auth.cluster.password), C(js7.auth.agents.*), keystore and
        truststore passwords, any C(plain:)/C(sha512:) value) as they are written.
      - By default they are replaced by V(********) everywhere in the result.
    type: bool
    default: false
notes:
  - A missing C(private/private.conf) is normal. A missing C(controller.conf) is reported as the finding
    C(main-config-missing) (JS7 itself starts without it and uses its defaults); the task fails only when neither
    file exists, which usually means a wrong O(data_dir) or host.
  - An C(include) is read from the managed node, relative to the including file. A missing optional include is the
    finding C(include-missing); a missing C(include required(...)) target fails the task. C(include url(...)),
    C(classpath(...)) and wildcard includes are not read.
  - Durations are returned in RV(config) as written (V(3s), V(10 seconds)), as Typesafe Config keeps them;
    RV(cluster) gives the cluster timings in seconds.
seealso:
  - module: jobscheduler.js7.config
  - name: JS7 - Controller Configuration Items
    description: The SOS knowledge base page on controller.conf and private.conf.
    link: https://kb.sos-berlin.com/display/JS7/JS7+-+Controller+Configuration+Items
'''

EXAMPLES = r'''
- name: Read the Secondary Controller's configuration and check that it is a backup node
  jobscheduler.js7.config_info:
    expected_role: secondary
  become: true
  register: js7_conf

- name: Stop when the Secondary would start as a standalone instance
  ansible.builtin.assert:
    that: js7_conf.cluster.is_backup
    fail_msg: "{{ js7_conf.findings | map(attribute='message') | join('; ') }}"

- name: Read an Agent's configuration from its data directory
  jobscheduler.js7.config_info:
    component: agent
    data_dir: "{{ js7_agent_data | default('/var/sos-berlin.com/js7/agent/var_4445') }}"
  become: true
  register: agent_conf
  when: "'js7_agent' in group_names"

- name: Read one file only, here the Controller's private.conf
  jobscheduler.js7.config_info:
    path: "{{ js7_controller_data | default('/var/sos-berlin.com/js7/controller/var') }}/config/private/private.conf"
  become: true
  when: "'js7_agent' not in group_names"
'''

RETURN = r'''
component:
  description: The component whose configuration was read.
  returned: success
  type: str
  sample: controller
config_dir:
  description: The configuration directory on the managed node.
  returned: success
  type: str
  sample: /var/sos-berlin.com/js7/controller/var/config
config:
  description:
    - The merged configuration (C(private/private.conf) over C(controller.conf), includes resolved) as plain data.
    - Secrets are V(********) unless O(show_secrets=true). Unresolved substitutions are strings such as
      V(${js7.config-directory}/private/trusted-pgp-keys). HOCON booleans written as V(yes)/V(no)/V(on)/V(off) stay
      strings, as in Typesafe Config; use RV(cluster) for the interpreted values.
  returned: success
  type: dict
  sample:
    js7:
      journal:
        cluster:
          node:
            is-backup: "yes"
      auth:
        users:
          Controller:
            password: "********"
cluster:
  description: The cluster settings of C(js7.journal.cluster), interpreted as JS7 does.
  returned: success
  type: dict
  contains:
    is_backup:
      description: Whether the node is a backup (Secondary) node. V(false) when not set (the JS7 default).
      type: bool
      sample: true
    is_backup_configured:
      description: Whether C(js7.journal.cluster.node.is-backup) is set at all.
      type: bool
    node_id:
      description: The node's cluster NodeId; V(Primary) or V(Backup) by default.
      type: str
      sample: Backup
    node_id_configured:
      description: Whether C(js7.journal.cluster.node.id) is set.
      type: bool
    nodes:
      description: C(js7.journal.cluster.nodes) (NodeId to URI), null when not set.
      type: dict
    watches:
      description: C(js7.journal.cluster.watches), the Cluster Watch Agents of JS7 2.5 and older; null when not set.
      type: list
      elements: str
    heartbeat:
      description: The heartbeat interval in seconds (default 3).
      type: float
      sample: 3
    heartbeat_timeout:
      description: The heartbeat timeout in seconds (default 10).
      type: float
      sample: 10
    consent_timeout:
      description: C(consent-timeout) in seconds (JS7 2.8 and newer), null when not set.
      type: float
    keep_truncated_rest:
      description: C(keep-truncated-rest) as a boolean.
      type: bool
    timings_text:
      description: The timings as written in the files, for those that are set.
      type: dict
      sample: {heartbeat: 3s}
auth:
  description: What C(js7.auth) configures, without any password.
  returned: success
  type: dict
  contains:
    users:
      description: The user IDs of C(js7.auth.users).
      type: list
      elements: str
      sample: [Controller, History, JOC]
    cluster_password_set:
      description: Whether C(js7.auth.cluster.password) is set (non-empty).
      type: bool
    agents:
      description: The keys of C(js7.auth.agents) (legacy Agent Cluster Watch logins).
      type: list
      elements: str
    public:
      description: C(js7.web.server.auth.public) as a boolean (V(false) when not set, the engine default).
      type: bool
files:
  description: Every file read or looked for.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: Path on the managed node.
      type: str
    role:
      description: V(main), V(private) or V(include).
      type: str
    exists:
      description: Whether the file exists.
      type: bool
    sha256:
      description: SHA-256 of the file's bytes, null when it does not exist.
      type: str
    size:
      description: Size in bytes, null when it does not exist.
      type: int
findings:
  description:
    - Problems found, errors first. Each has a stable RV(findings[].code).
    - Codes include C(not-backup) (expected secondary, but not a backup node), C(unexpected-backup),
      C(nodes-on-backup), C(is-backup-invalid), C(nodes-invalid), C(legacy-watches), C(cluster-timing-invalid),
      C(duration-invalid), C(password-scheme-unknown), C(password-scheme-missing), C(quoted-dotted-key),
      C(main-config-missing), C(include-missing).
  returned: success
  type: list
  elements: dict
  contains:
    code:
      description: A stable identifier.
      type: str
      sample: not-backup
    severity:
      description: V(error), V(warning) or V(info).
      type: str
    message:
      description: What is wrong and what to do; never contains a secret.
      type: str
'''
