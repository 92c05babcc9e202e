#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: instance
short_description: Start, stop, restart or kill a JS7 Controller or Agent instance
version_added: 0.1.0
description:
  - Brings a JS7 Controller or Agent instance on the managed node to O(state), through systemd or the instance script
    (C(<home>/bin/controller_instance.sh), C(<home>/bin/agent_<port>.sh)).
  - Knows whether the instance runs from the engine's lock file C(<data_dir>/state/lock) (the PID the engine writes there and the OS
    lock it holds), the script's PID file C(<data_dir>/logs/controller.pid) or C(agent.pid), and the process table. A PID counts only
    when that process is alive and its command line names the instance's main class and data directory, so a stale PID file or a PID
    reused by another program never passes for the instance.
  - With O(wait=true), waits until the process is gone and the lock released (O(state=stopped), O(state=aborted)), or until the
    instance's HTTP API answers (O(state=started), O(state=restarted)). Any HTTP answer counts, including
    C(503 BackupClusterNodeNotAppointed) of a backup node that is not appointed yet and C(401) of an instance that requires a login.
    When the instance does not come up or ends during start-up, the task fails with the last lines of its log and of the script's
    error output.
  - Stopping never makes an active cluster node hand over its role unless O(fail_over=true).
options:
  state:
    description:
      - V(started) starts the instance if it is not running.
      - V(stopped) stops it the regular way (script C(stop), or C(systemctl stop)), without fail-over unless O(fail_over=true).
      - V(restarted) stops it the same way if it runs, then starts it; always reports a change.
      - V(aborted) kills it (script C(cancel), or C(systemctl kill --signal=SIGKILL)). An active cluster node that is killed
        B(fails over) to the standby node. Use it only when a regular stop does not end the instance.
    type: str
    choices: [started, stopped, restarted, aborted]
    default: started
  method:
    description:
      - How to control the instance.
      - V(auto) uses systemd when systemd is the running init (C(/run/systemd/system) exists), C(systemctl) is found and the unit
        O(service_name) exists; otherwise the instance script. When the instance runs but its unit is inactive (it was started by the
        script), V(auto) stops it with the script, since C(systemctl stop) would not reach it.
      - V(systemd) fails when systemd or the unit is missing. V(script) never uses systemd.
      - The method used is returned in RV(method).
    type: str
    choices: [auto, systemd, script]
    default: auto
  home:
    description:
      - The installation directory holding C(bin/) (C(JS7_CONTROLLER_HOME) / C(JS7_AGENT_HOME)).
      - Defaults to C(/opt/sos-berlin.com/js7/controller) or C(/opt/sos-berlin.com/js7/agent).
    type: path
  service_name:
    description:
      - The systemd unit. Defaults to the installer's C(js7_controller_<controller_id>.service) or C(js7_agent_<port>.service).
      - C(.service) is appended when the name has no suffix.
    type: str
  script:
    description:
      - The instance script. Defaults to C(<home>/bin/controller_instance.sh) or C(<home>/bin/agent_<port>.sh).
    type: path
  http_url:
    description:
      - Base URL at which the instance answers on this node, for example V(http://127.0.0.11:4444).
      - The readiness probe sends C(GET <http_url>/controller/api) (or C(/agent/api)) without credentials and without certificate
        checks; it only asks whether the instance's web server answers.
      - Defaults to the C(--http-port) / C(--https-port) of the running process (an interface V(0.0.0.0) is reached on V(127.0.0.1)),
        else O(http_port).
    type: str
  wait:
    description:
      - Wait until the instance is up (its HTTP API answers) or gone (process ended, lock released).
      - With V(false) the module returns as soon as the command returns; note that the script's C(stop) itself waits for the end of the
        instance.
      - O(state=restarted) with the script always waits for the old process to end before it starts the new one.
    type: bool
    default: true
  timeout:
    description:
      - Seconds for the whole task, commands and waiting included.
      - The module polls the process table and the port at short, growing intervals (0.1 s up to 1 s); there is no event for the
        start of a process.
    type: int
    default: 120
  fail_over:
    description:
      - When stopping an active cluster node, hand its role to the standby node (script C(stop --fail-over)).
      - V(false) (the default) stops without fail-over, as the script's plain C(stop) does.
      - With systemd the unit's C(ExecStop) decides; the module refuses to stop through a unit whose C(ExecStop) does not match this
        option and asks for O(method=script).
      - Not used by O(state=aborted), which always causes a fail-over of an active node.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - jobscheduler.js7.instance_location
attributes:
  check_mode:
    support: full
    details:
      - Predicts the change and the command (RV(commands)) from the instance's current state and never runs a command.
  diff_mode:
    support: none
    details:
      - An instance has no file content to compare; C(changed), RV(running) and RV(commands) tell what happened.
  platform:
    platforms: posix
    details:
      - Linux. The lock and process checks read C(/proc); without C(/proc/locks) the lock is tested by taking it briefly.
notes:
  - Run the module as the JS7 user (C(become_user)) or as root. The instance script switches to C(JS7_CONTROLLER_USER) /
    C(JS7_AGENT_USER) when run by root; C(systemctl) needs root (C(become_user=root)) unless polkit allows the JS7 user.
    The JS7 user must be able to read C(<data_dir>/state/lock), C(<data_dir>/logs/) and the C(/proc) entries of the instance's process.
  - The script's C(stop --timeout=N) is not used, since after N seconds it kills the instance, which makes an active node fail over.
    Use O(state=aborted) explicitly for that.
  - Exit codes of the JS7 instance scripts are not documented; the module decides by the process and the lock, not by the exit code,
    except that a C(start) that exits non-zero fails the task.
seealso:
  - module: jobscheduler.js7.journal_reset
  - module: jobscheduler.js7.controller_info
author:
  - jobscheduler.js7 contributors (@jobscheduler)
'''

EXAMPLES = r'''
- name: Stop the Secondary Controller (never fails over)
  jobscheduler.js7.instance:
    component: controller
    state: stopped
    home: "{{ js7_controller_home }}"
    data_dir: "{{ js7_controller_data }}"
    controller_id: "{{ js7_controller_id }}"

- name: Start it again and wait until its API answers (an unappointed backup answers 503, which counts)
  jobscheduler.js7.instance:
    component: controller
    state: started
    home: "{{ js7_controller_home }}"
    data_dir: "{{ js7_controller_data }}"
    controller_id: "{{ js7_controller_id }}"
    http_url: "{{ js7_controller_url }}"
    timeout: 180
  register: secondary

- name: Show the new PID
  ansible.builtin.debug:
    msg: "PID {{ secondary.pid }} via {{ secondary.method }} after {{ secondary.elapsed }} s"

- name: Restart the Cluster Watch Agent through its script
  jobscheduler.js7.instance:
    component: agent
    state: restarted
    method: script
    home: "{{ js7_agent_home }}"
    data_dir: "{{ js7_agent_data }}"
    http_url: "{{ js7_agent_url }}"

- name: Stop the active Primary and hand its role to the Secondary
  jobscheduler.js7.instance:
    state: stopped
    fail_over: true
    home: "{{ js7_controller_home }}"
    data_dir: "{{ js7_controller_data }}"
    controller_id: "{{ js7_controller_id }}"
'''

RETURN = r'''
pid:
  description: PID of the instance's process after the task; V(null) when it does not run.
  returned: always
  type: int
  sample: 4242
running:
  description: Whether the instance runs after the task (in check mode, before it).
  returned: always
  type: bool
  sample: true
ready:
  description: Whether the instance's HTTP API answered (any HTTP status) at the end of the task.
  returned: always
  type: bool
  sample: true
method:
  description: How the instance was (or would be) controlled.
  returned: always
  type: str
  choices: [systemd, script]
  sample: script
elapsed:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 3.214
commands:
  description: The commands run (in check mode, the commands that would run), each as a list of arguments.
  returned: always
  type: list
  elements: list
  sample: [["/opt/sos-berlin.com/js7/controller/bin/controller_instance.sh", "stop"]]
state:
  description: The requested state.
  returned: success
  type: str
  sample: started
api_url:
  description: The URL that answered the readiness probe.
  returned: success
  type: str
  sample: http://127.0.0.11:4444/controller/api
http_status:
  description: The HTTP status of that answer, for example V(200), V(401) or V(503).
  returned: success
  type: int
  sample: 503
script:
  description: The instance script.
  returned: when RV(method=script)
  type: str
  sample: /opt/sos-berlin.com/js7/controller/bin/controller_instance.sh
service_name:
  description: The systemd unit.
  returned: when RV(method=systemd)
  type: str
  sample: js7_controller_controller.service
log_tail:
  description: The last lines of the instance's log (written during the task when there are such lines).
  returned: failure
  type: list
  elements: str
script_stderr:
  description: The last lines the instance script wrote to its error output.
  returned: failure, when the script wrote any
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.jobscheduler.js7.plugins.module_utils._instance_control import instance_argument_spec, run_module


def main():
    module = AnsibleModule(argument_spec=instance_argument_spec(), supports_check_mode=True)
    run_module(module)


if __name__ == '__main__':
    main()
