# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An AnsibleModule look-alike for action plugins (ONLY for action plugins of this collection).

Action plugins do not get AnsibleModule's argument checking, check/diff flags or
no_log scrubbing. This base gives them the same contract, after the pattern of
community.crypto's private plugin_utils/_action_module.py (ansible-conventions.md §2.2):

- arguments are validated with ArgumentSpecValidator (types, choices, defaults,
  mutually_exclusive, ...), errors end the task with a clean ``msg``;
- ``check_mode`` and ``_diff`` come from the task (which carries the play context);
- values of ``no_log`` options and every secret registered with add_no_log_value()
  are removed from the whole result (``invocation`` included) before Ansible sees it,
  so neither the callback nor ``-vvvv`` can print them;
- exit_json()/fail_json() end run_module() like they end a module.
"""

from __future__ import annotations

import abc
import traceback

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

# Secrets shorter than this are not scrubbed from free text: replacing every "no" or "1"
# in a result would garble it while protecting nothing.
MIN_SCRUB_LENGTH = 3


class _ModuleExit(Exception):
    def __init__(self, result):
        super(_ModuleExit, self).__init__('module exit')
        self.result = result


class AnsibleActionModule(object):
    def __init__(self, action_plugin, argument_spec, mutually_exclusive=None, required_together=None,
                 required_one_of=None, required_if=None, required_by=None, supports_check_mode=True):
        self._action = action_plugin
        self.argument_spec = argument_spec
        self.supports_check_mode = supports_check_mode
        self.check_mode = bool(action_plugin._task.check_mode)
        self._diff = bool(action_plugin._task.diff)
        self._verbosity = action_plugin._display.verbosity
        self.no_log_values = set()
        self._warnings = []
        self._deprecations = []
        self.params = {}
        self._validator = ArgumentSpecValidator(
            argument_spec,
            mutually_exclusive=mutually_exclusive,
            required_together=required_together,
            required_one_of=required_one_of,
            required_if=required_if,
            required_by=required_by,
        )

    def validate(self):
        """Check the task's arguments; fail_json() on errors (like AnsibleModule does)."""
        validation = self._validator.validate(dict(self._action._task.args))
        self.no_log_values.update(v for v in validation._no_log_values if v)
        self.params = validation.validated_parameters
        if validation.error_messages:
            self.fail_json(msg='Invalid arguments for %s: %s' % (self._action._task.action, validation.errors.msg))

    def add_no_log_value(self, value):
        if value is not None and len(str(value)) >= MIN_SCRUB_LENGTH:
            self.no_log_values.add(str(value))

    def warn(self, warning):
        self._warnings.append(warning)

    def deprecate(self, msg, version=None, collection_name='jobscheduler.js7'):
        self._deprecations.append({'msg': msg, 'version': version, 'collection_name': collection_name})

    def debug(self, msg):
        self._action._display.vvvv(msg)

    def _finish(self, result):
        if self._warnings:
            result['warnings'] = list(self._warnings)
        if self._deprecations:
            result['deprecations'] = list(self._deprecations)
        raise _ModuleExit(result)

    def exit_json(self, **result):
        result.setdefault('changed', False)
        self._finish(result)

    def fail_json(self, msg, **result):
        result['failed'] = True
        result['msg'] = msg
        result.setdefault('changed', False)
        self._finish(result)


class ActionModuleBase(ActionBase):
    """Subclasses define argument_spec (and constraints) and run_module(module, task_vars)."""

    _supports_check_mode = True
    _supports_async = False

    argument_spec = {}
    mutually_exclusive = None
    required_together = None
    required_one_of = None
    required_if = None
    required_by = None

    def invocation_args(self, module):
        """The module_args reported in ``invocation`` (before no_log scrubbing)."""
        return dict(module.params)

    @abc.abstractmethod
    def run_module(self, module, task_vars):
        """Do the work; end with module.exit_json() or module.fail_json()."""

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModuleBase, self).run(tmp, task_vars)
        del tmp
        module = None
        try:
            module = AnsibleActionModule(
                self, self.argument_spec, mutually_exclusive=self.mutually_exclusive,
                required_together=self.required_together, required_one_of=self.required_one_of,
                required_if=self.required_if, required_by=self.required_by,
                supports_check_mode=self._supports_check_mode)
            module.validate()
            self.run_module(module, task_vars or {})
            module.fail_json(msg='%s ended without a result (a bug in the collection)' % self._task.action)
        except _ModuleExit as exc:
            result.update(exc.result)
        except AnsibleError as exc:
            result.update(failed=True, changed=False, msg='%s: %s' % (self._task.action, exc))
        except Exception as exc:  # pylint: disable=broad-except
            # A bug, not bad input: say so and show the traceback with -vvv (it holds code, not values).
            self._display.vvv(traceback.format_exc())
            result.update(failed=True, changed=False,
                          msg='%s failed unexpectedly (please report it): %s: %s' % (self._task.action, type(exc).__name__, exc))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if module is not None:
            result['invocation'] = {'module_args': self.invocation_args(module)}
            no_log = set(module.no_log_values)
            if no_log:
                result = remove_values(result, no_log)
        return result
