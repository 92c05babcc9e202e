#!/usr/bin/python
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the action plugin plugins/action/config.py, which does the work
# on the control node.

from __future__ import annotations

DOCUMENTATION = r'''
---
module: config
short_description: Set or remove keys in a JS7 controller.conf, agent.conf or private.conf with a minimal edit
version_added: 0.1.0
description:
  - Sets or removes HOCON keys, for example C(js7.journal.cluster.node.is-backup), by editing only the line (or the
    value) concerned. Comments, blank lines, order, indentation, line endings (CRLF stays CRLF), a UTF-8 byte order
    mark and every other byte of the file stay as they are.
  - "The effective occurrence of a key is edited: the last place in the file that sets it, written flat
    (C(a.b.c = v)), nested (C(a { b { c = v } })) or mixed (C(a.b { c = v })), with C(=) or C(:).
    When the key is not set but a comment line is exactly C(# key = value) or C(// key = value), that line is
    uncommented and given the new value (as the JS7 installer does). Otherwise the flat line C(key = value) is
    appended."
  - When C(private/private.conf) sets the key, the edit is made there, because JS7 lets private.conf override
    controller.conf. A new password key (under C(js7.auth), or any key containing C(password)) is written to
    C(private/private.conf) when that file exists.
  - The edited text is parsed again with pyhocon on the control node. Nothing is written unless exactly the named keys
    changed, to exactly the requested values, in the files and in the merged configuration.
  - The file is written by the M(ansible.builtin.copy) action, so the write is atomic and O(backup), O(owner),
    O(group), O(mode), privilege escalation and check mode work as they do there.
author:
  - jobscheduler.js7 contributors (@jobscheduler)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - action_common_attributes.files
  - jobscheduler.js7.config_location
attributes:
  action:
    support: full
  async:
    support: none
    details: This action runs on the control node.
  become:
    support: full
    details: The files are read and written with the task's privilege escalation settings.
  bypass_host_loop:
    support: none
  connection:
    support: full
  delegation:
    support: full
    details: The files are read and written on the host the task is delegated to.
  check_mode:
    support: full
    details: Predicts the edit exactly (the same text is computed) and writes nothing.
  diff_mode:
    support: full
    details: Shows the text before and after; secrets are masked unless O(show_secrets=true).
  platform:
    platforms: posix
  safe_file_operations:
    support: full
  vault:
    support: none
options:
  settings:
    description:
      - The keys to set (O(state=present)) or remove (O(state=absent)), as a dictionary of HOCON paths to values.
      - A path is written as in HOCON, for example C(js7.journal.cluster.node.is-backup); a segment that contains a
        dot is quoted, for example C(js7.auth.users."my.user".password).
      - Booleans are written V(yes)/V(no) as the JS7 installer does, or in the style of the value they replace
        (V(true)/V(false), V(on)/V(off)). Strings are written bare when HOCON reads them back unchanged and the
        value they replace was bare (V(3s), V(Backup)), otherwise quoted; passwords are always quoted. Numbers are
        written as numbers, lists and dictionaries as HOCON arrays and objects.
      - A value that means the same to JS7 as the one configured (V(true) and C(yes), V(3) and C("3")) is not
        rewritten.
      - With O(state=absent) the values are ignored (use V(null)).
    type: dict
    required: true
  state:
    description:
      - V(present) sets the keys, V(absent) removes every occurrence of them (and an enclosing C({ }) block that would
        be left empty and holds no comments).
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Keep a copy of the original file next to it, with a timestamp in its name (as M(ansible.builtin.copy) does).
    type: bool
    default: false
  owner:
    description:
      - Owner of the file. By default an existing file keeps its owner.
    type: str
  group:
    description:
      - Group of the file. By default an existing file keeps its group.
    type: str
  mode:
    description:
      - Permissions of the file, as for M(ansible.builtin.copy). By default an existing file keeps its mode and a
        C(private/private.conf) that this task creates gets V(0600).
    type: raw
  show_secrets:
    description:
      - Show passwords in the diff and in the returned C(invocation). By default they are replaced by V(********).
    type: bool
    default: false
notes:
  - JS7 reads its configuration at start only. RV(restart_required) tells when the instance must be restarted
    (for example with M(jobscheduler.js7.instance)).
  - C(js7.journal.cluster.node.is-backup = yes) must be in place before the Secondary Controller's first start; a
    node that already ran as a standalone primary also needs its journal reset (M(jobscheduler.js7.journal_reset)).
  - Keys set only in an included file cannot be removed by this module (it edits the main file or private.conf).
  - Between reading a file and writing it, the module reads it once more and refuses to write when someone else
    changed it in the meantime.
seealso:
  - module: jobscheduler.js7.config_info
  - module: ansible.builtin.copy
'''

EXAMPLES = r'''
- name: Make the Secondary Controller a backup node (what the JS7 installer's --standby does)
  jobscheduler.js7.config:
    settings:
      js7.journal.cluster.node.is-backup: true
    backup: true
  become: true
  register: secondary_conf

- name: Set the cluster timings
  jobscheduler.js7.config:
    settings:
      js7.journal.cluster.heartbeat: 3s
      js7.journal.cluster.heartbeat-timeout: 10s
  become: true

- name: Remove the legacy Cluster Watch Agents after an upgrade to JS7 2.6 or newer
  jobscheduler.js7.config:
    settings:
      js7.journal.cluster.watches:
    state: absent
  become: true
'''

RETURN = r'''
changed:
  description: Whether a file was (or, in check mode, would be) changed, in content or attributes.
  returned: always
  type: bool
restart_required:
  description: Whether the content of a file changed, so the JS7 instance must be restarted to use it.
  returned: success
  type: bool
  sample: true
settings:
  description: For each key, the file edited and how.
  returned: success
  type: dict
  sample:
    js7.journal.cluster.node.is-backup:
      file: /var/sos-berlin.com/js7/controller/var/config/controller.conf
      action: uncomment
  contains:
    file:
      description: The file that holds the key's effective occurrence.
      type: str
    action:
      description: V(replace), V(uncomment), V(append), V(remove) or V(unchanged).
      type: str
files:
  description: The files written (or that would be written).
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: Path on the managed node.
      type: str
    changed:
      description: Whether the file changed (content or attributes).
      type: bool
    content_changed:
      description: Whether its content changed.
      type: bool
    backup_file:
      description: The backup made of it, with O(backup=true).
      type: str
backup_file:
  description: The backup of the (first) file changed, with O(backup=true).
  returned: changed and backup is true
  type: str
  sample: /var/sos-berlin.com/js7/controller/var/config/controller.conf.12345.2026-01-27@00:00:08~
'''
