"""The shared argument spec and the doc fragment must say the same."""

from __future__ import annotations

import yaml

from ansible_collections.jobscheduler.js7.plugins.doc_fragments.config_location import ModuleDocFragment
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.config_common import (
    CONFIG_LOCATION_ARGSPEC, CONFIG_LOCATION_MUTUALLY_EXCLUSIVE,
)


def test_doc_fragment_matches_argument_spec():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert set(documented) == set(CONFIG_LOCATION_ARGSPEC)
    for name, spec in CONFIG_LOCATION_ARGSPEC.items():
        doc = documented[name]
        assert doc['type'] == spec['type'], name
        assert doc.get('default') == spec.get('default'), name
        assert doc.get('choices') == spec.get('choices'), name
        assert bool(doc.get('required', False)) == bool(spec.get('required', False)), name
    assert CONFIG_LOCATION_MUTUALLY_EXCLUSIVE == [('data_dir', 'path')]
    assert 'Mutually exclusive with O(path)' in documented['data_dir']['description'][-1]
