# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # TLS, timeout and retries of every API module (Controller and JOC Cockpit alike).
    # Must match plugins/module_utils/_http.py tls_argument_spec() exactly
    # (tests/unit/plugins/doc_fragments/test_api_fragments.py checks it).
    DOCUMENTATION = r'''
options:
  validate_certs:
    description:
      - Verify the server's TLS certificate and host name (HTTPS URLs only).
      - Set to V(false) only on test systems; it makes the connection open to interception.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s) that signed the server certificate.
      - When set, only these CAs are trusted; when unset, the system trust store is used.
      - The file must exist on the host that runs the module.
    type: path
  client_cert:
    description:
      - PEM file with a client certificate, for servers that require HTTPS client authentication
        (a Controller with C(js7.web.server.auth.https-client-authentication), certificate login to JOC Cockpit).
      - The file must exist on the host that runs the module.
    type: path
  client_key:
    description:
      - PEM file with the private key of O(client_cert), if the key is not inside that file.
    type: path
  timeout:
    description:
      - Seconds to wait for a connection and for each answer.
    type: int
    default: 30
  retries:
    description:
      - How often a request is repeated after a connection failure (refused, reset, timed out),
        with a delay that doubles from 1 second up to 8 seconds. HTTP error answers are never repeated.
      - V(0) tries once.
    type: int
    default: 3
'''
