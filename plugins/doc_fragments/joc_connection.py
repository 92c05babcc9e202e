# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Where and as whom to reach JOC Cockpit. Must match
    # plugins/module_utils/_joc_api.py joc_credential_argument_spec() exactly;
    # TLS, timeout and retries are in jobscheduler.js7.api_transport.
    DOCUMENTATION = r'''
options:
  joc_url:
    description:
      - Base URL of JOC Cockpit, as seen from the host that runs the module, for example
        V(http://joc.example.com:4446) or V(https://joc.example.com:4443).
      - Without the path; the module adds C(/joc/api).
      - If not set, the environment variable E(JS7_JOC_URL) is used. One of the two is required.
    type: str
  joc_user:
    description:
      - JOC Cockpit account. It needs the permissions of the calls the module makes
        (C(sos:products:controller:view); C(sos:products:joc:administration:controllers:view) for connection tests;
        C(sos:products:joc:administration:controllers:manage) to submit a registration).
      - If not set, the environment variable E(JS7_JOC_USER) is used.
      - May stay unset when JOC Cockpit authenticates the client certificate given in O(client_cert).
    type: str
  joc_password:
    description:
      - Password of O(joc_user).
      - If not set, the environment variable E(JS7_JOC_PASSWORD) is used.
      - Never shown in results or logs, not even with C(-vvvv); neither is the session's access token.
    type: str
notes:
  - "Environment variables for the connection (for example injected by an AWX / Automation Controller
    credential type, see C(docs/awx.md)): E(JS7_JOC_URL), E(JS7_JOC_USER), E(JS7_JOC_PASSWORD).
    Task options win over them."
  - The module logs in to JOC Cockpit (C(./authentication/login)) and logs out at the end. When JOC Cockpit
    answers HTTP 440 (idle session timeout) it logs in again once and repeats the call.
'''

    # For controller_info: accepted so that one module_defaults block for
    # group/jobscheduler.js7.js7 can carry the JOC Cockpit credentials too.
    IGNORED = r'''
options:
  joc_url:
    description:
      - Not used by this module. Accepted so that one C(module_defaults) block for
        C(group/jobscheduler.js7.js7) can carry the options of every module of the group.
    type: str
  joc_user:
    description:
      - Not used by this module; see O(joc_url).
    type: str
  joc_password:
    description:
      - Not used by this module; see O(joc_url).
    type: str
'''
