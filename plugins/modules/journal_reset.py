#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: journal_reset
short_description: Archive and empty the state directory (journal) of a stopped JS7 Controller or Agent
version_added: 0.1.0
description:
  - Empties C(<data_dir>/state/) of a JS7 Controller or Agent, the documented way to drop its journal (for example a Secondary
    Controller that was started as a standalone node and now refuses to start as a backup with C(PrimaryClusterNodeMayNotBecomeBackup)).
  - Removes every entry in C(state/) - the C(lock) file, the journal files C(controller--<EventId>.journal) (or C(agent--...)), the
    C(controller-journal) symlink (the link is removed, its target is not followed), C(.tmp) files, the C(controller-DELETE!) marker,
    C(~TRUNCATED-AFTER-FAILOVER) and C(~DELETED-AFTER-FAILOVER) files and subdirectories - and keeps the directory itself with its owner
    and mode.
  - Refuses while the instance may run. It tries to take the lock on C(state/lock) without waiting and releases it at once (both
    C(flock) and POSIX locks; the file is never created), names the process holding it, looks for the instance's process (PID in
    C(state/lock), PID file, command line) and refuses when the instance's HTTP port accepts connections.
  - Archives first by default (O(backup=true)) - a tar.gz of the contents of C(state/) with a C(sha256sum) file beside it - and reads
    the archive back (whole gzip stream, every member's name, type and size) before anything is deleted. When the archive cannot be
    written or verified (disk full, no permission), nothing is deleted and the partial archive is removed.
  - Checks the lock again after archiving and refuses to delete when C(state/) changed meanwhile.
  - There is no option to skip these checks.
options:
  backup:
    description:
      - Archive the contents of C(state/) before emptying it.
      - With V(false) the journal is gone for good. Keep V(true) unless an archive was made by other means.
    type: bool
    default: true
  backup_dir:
    description:
      - Directory for the archive C(<component>-<controller_id or port>-state-<UTC timestamp>.tar.gz) and its C(.sha256) file.
        Created (mode 0750) when missing. The archive is created with mode 0600 since journals hold order variables.
      - Defaults to C(<data_dir>/backups). A directory inside C(state/) is refused.
      - To restore, stop the instance, empty C(state/) and run C(tar -xzf <archive> -C <data_dir>/state) as the JS7 user.
    type: path
  http_url:
    description:
      - A URL at which the instance would answer, for example V(http://127.0.0.11:4444). The module refuses when anything accepts
        connections at its host and port.
      - Always checked as well - O(http_port) (default V(4444) or V(4445) on C(127.0.0.1)) and the URL of the instance's last run from
        C(<data_dir>/work/http-uri) when that file exists.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - jobscheduler.js7.instance_location
attributes:
  check_mode:
    support: full
    details:
      - Runs every safety check, then reports what would be archived (RV(archive) with the predicted path and members) and removed
        (RV(removed)) without writing or deleting anything.
  diff_mode:
    support: full
    details:
      - Before is the list of entries in C(state/), after is empty.
  platform:
    platforms: posix
    details:
      - Linux. The lock holder is read from C(/proc/locks).
notes:
  - Run as the JS7 user (C(become_user)) or root, so that the module can read and delete every file in C(state/) and write the archive.
  - Stop the instance first with M(jobscheduler.js7.instance).
  - Never reset the journal of the active cluster node, since its journal is the cluster's state. The module cannot tell which node is
    active while the instance is stopped; the roles of this collection check that before they call it.
seealso:
  - module: jobscheduler.js7.instance
author:
  - jobscheduler.js7 contributors (@jobscheduler)
'''

EXAMPLES = r'''
- name: Stop the Secondary Controller
  jobscheduler.js7.instance:
    state: stopped
    home: "{{ js7_controller_home }}"
    data_dir: "{{ js7_controller_data }}"
    controller_id: "{{ js7_controller_id }}"

- name: Show what a reset would archive and remove
  jobscheduler.js7.journal_reset:
    component: controller
    data_dir: "{{ js7_controller_data }}"
    controller_id: "{{ js7_controller_id }}"
    http_url: "{{ js7_controller_url }}"
  check_mode: true
  diff: true

- name: Archive and empty its state directory
  jobscheduler.js7.journal_reset:
    component: controller
    data_dir: "{{ js7_controller_data }}"
    controller_id: "{{ js7_controller_id }}"
    http_url: "{{ js7_controller_url }}"
  register: reset

- name: Show where the archive went
  ansible.builtin.debug:
    msg: "{{ reset.archive.path }} (sha256 {{ reset.archive.sha256 }}), removed {{ reset.removed | length }} entries"
  when: reset.changed

- name: Start the Secondary on the empty journal
  jobscheduler.js7.instance:
    state: started
    home: "{{ js7_controller_home }}"
    data_dir: "{{ js7_controller_data }}"
    controller_id: "{{ js7_controller_id }}"
    http_url: "{{ js7_controller_url }}"

- name: Stop the Cluster Watch Agent
  jobscheduler.js7.instance:
    component: agent
    state: stopped
    home: "{{ js7_agent_home }}"
    data_dir: "{{ js7_agent_data }}"

- name: Reset the Agent's journal, archiving next to its data directory
  jobscheduler.js7.journal_reset:
    component: agent
    data_dir: "{{ js7_agent_data }}"
    backup_dir: "{{ js7_agent_data | dirname }}/journal-archives"
    http_url: "{{ js7_agent_url }}"

- name: Start the Agent again
  jobscheduler.js7.instance:
    component: agent
    state: started
    home: "{{ js7_agent_home }}"
    data_dir: "{{ js7_agent_data }}"
    http_url: "{{ js7_agent_url }}"
'''

RETURN = r'''
removed:
  description: Absolute paths of the entries of C(state/) that were (in check mode, would be) removed, subdirectories as one entry.
  returned: always
  type: list
  elements: str
  sample: ["/var/sos-berlin.com/js7/controller/var/state/controller--0.journal", "/var/sos-berlin.com/js7/controller/var/state/lock"]
archive:
  description: The archive; V(null) when O(backup=false) or nothing was to reset.
  returned: always
  type: dict
  contains:
    path:
      description: Path of the tar.gz archive (in check mode, the predicted path).
      type: str
      sample: /var/sos-berlin.com/js7/controller/var/backups/controller-controller-state-20250101T030000Z.tar.gz
    sha256:
      description: SHA-256 of the archive; V(null) in check mode.
      type: str
    size:
      description: Size of the archive in bytes; V(null) in check mode.
      type: int
    members:
      description: Names of the archived entries, relative to C(state/).
      type: list
      elements: str
      sample: ["controller--0.journal", "controller-journal", "lock"]
    checksum_file:
      description: The C(sha256sum -c) file beside the archive.
      type: str
state_dir:
  description: The state directory.
  returned: always
  type: str
  sample: /var/sos-berlin.com/js7/controller/var/state
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.jobscheduler.js7.plugins.module_utils._state_archive import journal_reset_argument_spec, run_module


def main():
    module = AnsibleModule(argument_spec=journal_reset_argument_spec(), supports_check_mode=True)
    run_module(module)


if __name__ == '__main__':
    main()
