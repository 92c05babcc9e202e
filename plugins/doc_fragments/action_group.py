# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # The js7 action group of meta/runtime.yml: controller_info, joc_controller, joc_controller_info.
    DOCUMENTATION = r'''
attributes:
  action_group:
    description:
      - Use C(group/jobscheduler.js7.js7) in C(module_defaults) to set the connection options once for every
        module of the group.
      - Every module of the group accepts the connection options of both APIs (O(url), O(user), O(password),
        O(auth), O(joc_url), O(joc_user), O(joc_password) and the TLS options), and ignores those of the API it does
        not call, so one C(module_defaults) block can serve them all. O(validate_certs), O(ca_path),
        O(client_cert), O(client_key), O(timeout) and O(retries) apply to whichever API the module calls.
    support: full
    membership:
      - jobscheduler.js7.js7
'''
