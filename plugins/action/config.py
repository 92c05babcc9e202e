# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin of jobscheduler.js7.config; documentation in plugins/modules/config.py.

Reads the files from the managed node, edits their text on the control node
(plugin_utils/hocon_edit.py), verifies the edit by re-parsing with pyhocon, and writes
through the ansible.legacy.copy action like ansible-core's template action does: that
gives an atomic move, backup, owner/group/mode, become and check mode.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.jobscheduler.js7.plugins.plugin_utils._action_module import ActionModuleBase
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.config_common import (
    CONFIG_LOCATION_ARGSPEC, CONFIG_LOCATION_MUTUALLY_EXCLUSIVE, ConfigSet, resolve_location,
)
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_edit import (
    ABSENT, EditRefused, edit_text, verify_change,
)
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_read import (
    HAS_PYHOCON, MISSING, PYHOCON_MISSING_MSG, ConfigFileError, deep_merge, lookup,
)
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_syntax import BOM, render_path, split_key
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.remote_files import slurp_fetcher
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.secrets import (
    MASK, is_secret_path, is_secret_value, mask_text, mask_tree,
)

# A private.conf the plugin creates holds secrets: never world-readable by default.
NEW_PRIVATE_CONF_MODE = '0600'


class ActionModule(ActionModuleBase):
    TRANSFERS_FILES = True

    argument_spec = dict(
        CONFIG_LOCATION_ARGSPEC,
        settings=dict(type='dict', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        backup=dict(type='bool', default=False),
        owner=dict(type='str'),
        group=dict(type='str'),
        mode=dict(type='raw'),
        show_secrets=dict(type='bool', default=False),
    )
    mutually_exclusive = CONFIG_LOCATION_MUTUALLY_EXCLUSIVE

    def invocation_args(self, module):
        args = dict(module.params)
        settings = args.get('settings')
        if isinstance(settings, dict) and not args.get('show_secrets'):
            masked = {}
            for key, value in settings.items():
                try:
                    secret = is_secret_path(split_key(str(key)))
                except ValueError:
                    secret = False
                masked[key] = MASK if (secret or is_secret_value(value)) and value not in (None, '') else value
            args['settings'] = masked
        return args

    def run_module(self, module, task_vars):
        if not HAS_PYHOCON:
            module.fail_json(msg=PYHOCON_MISSING_MSG)
        params = module.params
        show_secrets = params['show_secrets']

        changes = {}
        for key, value in params['settings'].items():
            try:
                path = split_key(str(key))
            except ValueError as exc:
                module.fail_json(msg='settings: %r is not a HOCON path: %s' % (key, exc))
            if params['state'] == 'absent':
                value = ABSENT
            elif not show_secrets and (is_secret_path(path) or is_secret_value(value)):
                module.add_no_log_value(value)
            changes[path] = value
        if not changes:
            module.fail_json(msg='settings is empty: name at least one key')

        try:
            location = resolve_location(params, task_vars)
            configs = ConfigSet(location, slurp_fetcher(self, task_vars))
        except ConfigFileError as exc:
            module.fail_json(msg=str(exc), path=exc.path)
        if not show_secrets:
            for tree in (configs.main_tree, configs.private_tree):
                for secret in mask_tree(tree)[1]:
                    module.add_no_log_value(secret)

        main, private = configs.main, configs.private
        if location.private is not None and not main.exists and not private.exists:
            module.fail_json(msg='neither %s nor %s exists on the managed node: is data_dir (or path) right? '
                                 'Refusing to create a configuration in a place JS7 may not read'
                                 % (main.path, private.path), path=main.path)

        per_file = self._route(configs, changes)
        edits = []
        key_results = {}
        try:
            for cfg, file_changes in per_file:
                old_text = cfg.text if cfg.exists else ''
                new_text, strategies = edit_text(old_text, file_changes, lambda text, cfg=cfg: configs.parse_text(cfg, text),
                                                 cfg.path)
                for path, strategy in strategies.items():
                    key_results[render_path(path)] = {'file': cfg.path, 'action': strategy or 'unchanged'}
                edits.append((cfg, old_text, new_text))
            self._verify_effective(configs, edits, changes)
        except EditRefused as exc:
            module.fail_json(msg=str(exc))
        except ConfigFileError as exc:
            module.fail_json(msg='refusing to write: the edited text does not parse: %s' % exc, path=exc.path)

        content_changed = [(cfg, old, new) for cfg, old, new in edits if old != new or not cfg.exists]
        attributes_given = any(params.get(k) is not None for k in ('owner', 'group', 'mode'))
        to_write = edits if attributes_given else content_changed

        result = dict(changed=False, restart_required=False, settings=key_results, files=[])
        diffs = []
        written = []
        for cfg, old_text, new_text in to_write:
            if old_text != new_text and module._diff:
                diffs.append(self._make_diff(cfg, old_text, new_text, configs, changes, show_secrets))
            copy_result = self._write(module, task_vars, cfg, new_text)
            if copy_result.get('failed'):
                rolled_back = self._roll_back(module, task_vars, written)
                module.fail_json(msg='writing %s failed: %s%s' % (cfg.path, copy_result.get('msg', 'copy failed'), rolled_back),
                                 path=cfg.path)
            file_changed = bool(copy_result.get('changed'))
            info = {'path': cfg.path, 'changed': file_changed, 'content_changed': old_text != new_text or not cfg.exists}
            if copy_result.get('backup_file'):
                info['backup_file'] = copy_result['backup_file']
                result.setdefault('backup_file', copy_result['backup_file'])
            result['files'].append(info)
            if file_changed:
                written.append((cfg, old_text))
                result['changed'] = True
                if info['content_changed']:
                    result['restart_required'] = True
        if diffs:
            result['diff'] = diffs[0] if len(diffs) == 1 else diffs
        module.exit_json(**result)

    # -- planning ------------------------------------------------------------

    def _route(self, configs, changes):
        """Which file each change goes to: [(ConfigFile, {path: value})].

        The effective occurrence decides (js7-engine.md §1.1: private.conf overrides):
        a key that private/private.conf sets is edited there; a new secret key (password,
        js7.auth.*) goes to private.conf when it exists (js7-engine.md §1.4); anything
        else to controller.conf/agent.conf. Removing a key removes it from both.
        """
        main, private = configs.main, configs.private
        main_changes, private_changes = {}, {}
        private_usable = private is not None and private.exists
        for path, value in changes.items():
            in_private = private_usable and lookup(configs.private_tree, path, MISSING) is not MISSING
            if value is ABSENT:
                main_changes[path] = ABSENT
                if private_usable:
                    private_changes[path] = ABSENT
            elif in_private or (private_usable and is_secret_path(path)):
                private_changes[path] = value
            else:
                main_changes[path] = value
        routed = []
        if main_changes and (main.exists or any(v is not ABSENT for v in main_changes.values())):
            routed.append((main, main_changes))
        if private_changes:
            routed.append((private, private_changes))
        return routed

    @staticmethod
    def _verify_effective(configs, edits, changes):
        """The merged result (controller.conf + private.conf) must show exactly the change."""
        main_tree, private_tree = configs.main_tree, configs.private_tree
        for cfg, _old, new_text in edits:
            tree = configs.parse_text(cfg, new_text)
            if cfg is configs.main:
                main_tree = tree
            else:
                private_tree = tree
        problem = verify_change(configs.merged, deep_merge(main_tree, private_tree), changes)
        if problem:
            where = configs.main.path
            if configs.private is not None:
                where = '%s merged with %s' % (configs.main.path, configs.private.path)
            raise EditRefused('refusing to write: in the effective configuration (%s) %s' % (where, problem))

    # -- output --------------------------------------------------------------

    def _make_diff(self, cfg, old_text, new_text, configs, changes, show_secrets):
        before, after = old_text, new_text
        if not show_secrets:
            secrets = set(mask_tree(configs.main_tree)[1]) | set(mask_tree(configs.private_tree)[1])
            secrets |= set(str(v) for p, v in changes.items()
                           if v is not ABSENT and v not in (None, '') and (is_secret_path(p) or is_secret_value(v)))
            before = mask_text(old_text, secrets)
            after = mask_text(new_text, secrets)
        return {
            'before_header': cfg.path if cfg.exists else '%s (absent)' % cfg.path,
            'after_header': cfg.path,
            'before': before,
            'after': after,
        }

    # -- writing -------------------------------------------------------------

    def _write(self, module, task_vars, cfg, text):
        data = to_bytes((BOM if cfg.bom else '') + text, encoding='utf-8')
        if cfg.exists and not module.check_mode:
            # Someone may have changed the file since it was read: never overwrite that.
            current = slurp_fetcher(self, task_vars)(cfg.path)
            if current is None or hashlib.sha256(current).hexdigest() != cfg.sha256:
                return {'failed': True, 'msg': 'the file changed on the managed node while it was being edited; '
                                               'nothing was written, run the task again'}
        args = dict(dest=cfg.path, backup=module.params['backup'], follow=True, force=True)
        for option in ('owner', 'group', 'mode'):
            if module.params.get(option) is not None:
                args[option] = module.params[option]
        if not cfg.exists and (cfg.role == 'private' or cfg.path.endswith('/private.conf')) and 'mode' not in args:
            args['mode'] = NEW_PRIVATE_CONF_MODE
        return self._run_copy(task_vars, cfg.path, data, args)

    def _run_copy(self, task_vars, dest, data, args):
        local_dir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        try:
            local_file = os.path.join(local_dir, os.path.basename(dest))
            with open(local_file, 'wb') as handle:
                handle.write(data)
            new_task = self._task.copy()
            new_task.args = dict(args, src=local_file)
            # The diff is made here, with secrets masked; copy's own diff would show them.
            new_task.diff = False
            copy_action = self._shared_loader_obj.action_loader.get(
                'ansible.legacy.copy', task=new_task, connection=self._connection, play_context=self._play_context,
                loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
            result = copy_action.run(task_vars=task_vars)
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
        return dict(result)

    def _roll_back(self, module, task_vars, written):
        """Put back what this task already wrote when a later file fails: no partial edits."""
        if not written or module.check_mode:
            return ''
        notes = []
        for cfg, old_text in written:
            data = to_bytes((BOM if cfg.bom else '') + old_text, encoding='utf-8')
            args = dict(dest=cfg.path, backup=False, follow=True, force=True)
            result = self._run_copy(task_vars, cfg.path, data, args)
            notes.append('%s %s' % (cfg.path, 'restored' if not result.get('failed') else 'NOT restored: %s' % result.get('msg')))
        return ' (already written files: %s)' % ', '.join(notes)
