# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # The options that say where a JS7 component's configuration is. Used by
    # jobscheduler.js7.config_info and jobscheduler.js7.config; the argument spec is
    # CONFIG_LOCATION_ARGSPEC in plugins/plugin_utils/config_common.py (a unit test
    # keeps both equal).
    DOCUMENTATION = r'''
options:
  component:
    description:
      - Which JS7 component's configuration to use.
      - V(controller) reads C(controller.conf), V(agent) reads C(agent.conf); both also use
        C(private/private.conf) next to it.
    type: str
    choices: [controller, agent]
    default: controller
  data_dir:
    description:
      - The component's data directory on the managed node (C(JS7_CONTROLLER_DATA) or C(JS7_AGENT_DATA)).
        The configuration directory is C(<data_dir>/config).
      - When neither O(data_dir) nor O(path) is given, the host variable C(js7_controller_data)
        (O(component=controller)) or C(js7_agent_data) (O(component=agent)) is used, and without it the
        installer default C(/var/sos-berlin.com/js7/controller/var) or C(/var/sos-berlin.com/js7/agent/var_4445).
      - Must be an absolute path. Mutually exclusive with O(path).
    type: str
  path:
    description:
      - An explicit location on the managed node, for installations that use C(--config-directory).
      - A path ending in C(.conf) names one file, which is used alone (with its includes). Nothing is merged
        and no C(private/private.conf) is read or edited. Use it to read or edit C(private/private.conf) itself.
      - Any other path is a configuration directory holding C(controller.conf) or C(agent.conf) and
        C(private/private.conf).
      - Must be an absolute path. Mutually exclusive with O(data_dir).
    type: str
notes:
  - The files are read with M(ansible.builtin.slurp) and parsed on the control node, which needs the Python
    library C(pyhocon); the JS7 hosts need nothing but Python 3.
  - Reading C(private/private.conf) usually needs privilege escalation (C(become)), or C(become_user) set to the JS7 run user.
requirements:
  - pyhocon >= 0.3.60 on the Ansible control node
'''
