# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Matches INSTANCE_LOCATION_ARGUMENT_SPEC in plugins/module_utils/_js7_paths.py option for option.
    DOCUMENTATION = r'''
options:
  component:
    description:
      - Which JS7 program the instance runs.
    type: str
    choices: [controller, agent]
    default: controller
  data_dir:
    description:
      - The instance's data directory (C(JS7_CONTROLLER_DATA) / C(JS7_AGENT_DATA)) holding C(config/), C(state/), C(logs/) and C(work/).
      - Defaults to the installer's C(/var/sos-berlin.com/js7/controller/var) for a Controller and
        C(/var/sos-berlin.com/js7/agent/var_<port>) for an Agent, with the port of O(http_port).
      - The PID file is C(<data_dir>/logs/controller.pid) or C(agent.pid), the log C(<data_dir>/logs/controller.log) or C(agent.log),
        the lock C(<data_dir>/state/lock).
    type: path
  controller_id:
    description:
      - The Controller ID (C(JS7_CONTROLLER_ID)); the same on both nodes of a cluster.
      - Names the default systemd unit C(js7_controller_<controller_id>.service) and the archives of M(jobscheduler.js7.journal_reset).
      - Ignored for an Agent.
    type: str
    default: controller
  http_port:
    description:
      - The instance's HTTP port as the engine's C(--http-port) takes it, C([iface:]port), for example V(4444) or V(127.0.0.11:4444).
      - Defaults to V(4444) for a Controller and V(4445) for an Agent, on C(127.0.0.1).
      - Give the interface when the instance listens on one address only, so that the module can reach it there.
      - For an Agent it also names the instance script C(agent_<port>.sh), the unit C(js7_agent_<port>.service) and the default O(data_dir).
    type: str
'''
