# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin of jobscheduler.js7.config_info; documentation in plugins/modules/config_info.py.

Runs on the control node: the JS7 hosts need no pyhocon (ansible-conventions.md §2).
"""

from __future__ import annotations

from ansible_collections.jobscheduler.js7.plugins.plugin_utils._action_module import ActionModuleBase
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.config_common import (
    CONFIG_LOCATION_ARGSPEC, CONFIG_LOCATION_MUTUALLY_EXCLUSIVE, ConfigSet, resolve_location,
)
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_read import (
    HAS_PYHOCON, PYHOCON_MISSING_MSG, ConfigFileError,
)
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.js7_summary import (
    EXPECTED_ROLES, auth_summary, cluster_summary, quoted_key_findings, role_findings,
)
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.remote_files import slurp_fetcher
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.secrets import mask_tree

_SEVERITY_ORDER = {'error': 0, 'warning': 1, 'info': 2}


class ActionModule(ActionModuleBase):
    argument_spec = dict(
        CONFIG_LOCATION_ARGSPEC,
        expected_role=dict(type='str', choices=list(EXPECTED_ROLES)),
        show_secrets=dict(type='bool', default=False),
    )
    mutually_exclusive = CONFIG_LOCATION_MUTUALLY_EXCLUSIVE

    def run_module(self, module, task_vars):
        if not HAS_PYHOCON:
            module.fail_json(msg=PYHOCON_MISSING_MSG)
        params = module.params
        component = params['component']
        expected_role = params['expected_role']
        if expected_role == 'agent' and component != 'agent':
            module.fail_json(msg='expected_role=agent needs component=agent')
        if expected_role and expected_role != 'agent' and component == 'agent':
            module.fail_json(msg='expected_role=%s is a Controller role; use component=controller' % expected_role)

        try:
            location = resolve_location(params, task_vars)
            configs = ConfigSet(location, slurp_fetcher(self, task_vars))
        except ConfigFileError as exc:
            module.fail_json(msg=str(exc), path=exc.path)

        main, private = configs.main, configs.private
        if not main.exists and (private is None or not private.exists):
            if private is None:
                module.fail_json(msg='%s does not exist on the managed node' % main.path, path=main.path)
            module.fail_json(
                msg='neither %s nor %s exists on the managed node: is this the right host, and is data_dir the JS7 %s '
                    'data directory (path: the configuration directory)?' % (main.path, private.path, component),
                path=main.path, files=configs.files_info())

        findings = []
        if not main.exists:
            # JS7 starts without it (js7-engine.md §1.1: the file is optional); say so, do not fail.
            findings.append({'code': 'main-config-missing', 'severity': 'warning',
                             'message': '%s does not exist; JS7 then uses its built-in defaults' % main.path})
        for name in configs.missing_includes:
            findings.append({'code': 'include-missing', 'severity': 'info',
                             'message': 'optional include %s was not read: it does not exist on the managed node (or it is a '
                                        'URL, which is not fetched); JS7 ignores a missing optional include' % name})
        quoted_key_findings(findings, configs.main_tree, main.path)
        if private is not None and private.exists:
            quoted_key_findings(findings, configs.private_tree, private.path)

        merged = configs.merged
        cluster = cluster_summary(merged, findings)
        auth = auth_summary(merged, findings)
        if component == 'controller':
            role_findings(findings, component, cluster, expected_role, main.path)
        findings.sort(key=lambda f: _SEVERITY_ORDER.get(f['severity'], 3))

        if params['show_secrets']:
            config = merged
        else:
            config, secrets = mask_tree(merged)
            # Secrets overridden by private.conf are not in the merged tree but were read too.
            for tree in (configs.main_tree, configs.private_tree):
                secrets |= mask_tree(tree)[1]
            for secret in secrets:
                module.add_no_log_value(secret)

        module.exit_json(
            changed=False,
            component=component,
            config_dir=location.config_dir,
            config=config,
            cluster=cluster,
            auth=auth,
            files=configs.files_info(),
            findings=findings,
        )
