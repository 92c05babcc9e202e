"""The API modules' doc fragments and their shared argument specs say the same.

validate-modules compares a module's documentation with its argument_spec, but only as
a whole; this names the pair that drifted apart: each fragment against the spec
function it documents (option names, types, defaults, choices, no_log on secrets).
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.jobscheduler.js7.plugins.doc_fragments import api_transport, controller_connection, joc_connection
from ansible_collections.jobscheduler.js7.plugins.module_utils._controller_api import controller_credential_argument_spec
from ansible_collections.jobscheduler.js7.plugins.module_utils._http import tls_argument_spec
from ansible_collections.jobscheduler.js7.plugins.module_utils._joc_api import joc_credential_argument_spec

PAIRS = [
    (controller_connection.ModuleDocFragment.DOCUMENTATION, controller_credential_argument_spec),
    (joc_connection.ModuleDocFragment.DOCUMENTATION, joc_credential_argument_spec),
    (api_transport.ModuleDocFragment.DOCUMENTATION, tls_argument_spec),
]


@pytest.mark.parametrize('fragment, spec_function', PAIRS, ids=['controller_connection', 'joc_connection', 'api_transport'])
def test_fragment_matches_spec(fragment, spec_function):
    documented = yaml.safe_load(fragment)['options']
    spec = spec_function()
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert doc.get('type', 'str') == option.get('type', 'str'), name
        assert doc.get('default') == option.get('default'), name
        assert doc.get('choices') == option.get('choices'), name
        if 'password' in name:
            assert option.get('no_log') is True, name


def test_ignored_fragments_list_the_other_apis_credentials():
    for fragment, spec_function in ((controller_connection.ModuleDocFragment.IGNORED, controller_credential_argument_spec),
                                    (joc_connection.ModuleDocFragment.IGNORED, joc_credential_argument_spec)):
        assert set(yaml.safe_load(fragment)['options']) <= set(spec_function())
