# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Where and as whom to reach a Controller. Must match
    # plugins/module_utils/_controller_api.py controller_credential_argument_spec() exactly;
    # TLS, timeout and retries are in jobscheduler.js7.api_transport.
    DOCUMENTATION = r'''
options:
  url:
    description:
      - Base URL of one Controller node, as seen from the host that runs the module, for example
        V(http://controller.example.com:4444) or V(https://controller.example.com:4443).
      - Without the path; the module adds C(/controller/api).
      - If not set, the environment variable E(JS7_CONTROLLER_URL) is used. One of the two is required.
      - A user name or password inside the URL is refused; use O(user) and O(password).
    type: str
  user:
    description:
      - User ID of an entry in C(js7.auth.users) of the Controller.
      - If not set, the environment variable E(JS7_CONTROLLER_USER) is used.
      - Leave it unset for a public Controller (C(js7.web.server.auth.public = true), the product default).
    type: str
  password:
    description:
      - Password of O(user).
      - If not set, the environment variable E(JS7_CONTROLLER_PASSWORD) is used.
      - Never shown in results or logs, not even with C(-vvvv).
    type: str
  auth:
    description:
      - How O(user) and O(password) reach the Controller.
      - V(basic) sends HTTP Basic authentication with every request; the Controller accepts it on any call.
      - V(session) logs in once (C(POST /controller/api/session)), sends the session token in the
        C(x-js7-session) header, logs in again once when the Controller answers C(403 InvalidSessionToken),
        and logs out at the end. The token is never returned.
      - Without O(user) the requests are anonymous and this option does not matter.
    type: str
    choices: [basic, session]
    default: basic
notes:
  - "Environment variables for the connection (for example injected by an AWX / Automation Controller
    credential type, see C(docs/awx.md)): E(JS7_CONTROLLER_URL), E(JS7_CONTROLLER_USER), E(JS7_CONTROLLER_PASSWORD).
    Task options win over them."
'''

    # For the JOC Cockpit modules: accepted so that one module_defaults block for
    # group/jobscheduler.js7.js7 can carry the Controller credentials too.
    IGNORED = r'''
options:
  url:
    description:
      - Not used by this module. Accepted so that one C(module_defaults) block for
        C(group/jobscheduler.js7.js7) can carry the options of every module of the group.
    type: str
  user:
    description:
      - Not used by this module; see O(url).
    type: str
  password:
    description:
      - Not used by this module; see O(url).
    type: str
  auth:
    description:
      - Not used by this module; see O(url).
    type: str
    choices: [basic, session]
    default: basic
'''
