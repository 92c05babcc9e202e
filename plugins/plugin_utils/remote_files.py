# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read files of the managed node from an action plugin, the way ansible-core's fetch does
under become: with ansible.legacy.slurp, which runs with the task's become settings."""

from __future__ import annotations

import base64
import binascii

from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_read import ConfigFileError

BECOME_HINT = ('Use become: true (or become_user: the user JS7 runs as); private/private.conf is normally '
               'readable by the JS7 run user only')


def slurp_fetcher(action, task_vars):
    """A fetch(path) for ConfigSet: bytes, None when the file does not exist, ConfigFileError otherwise."""

    def fetch(path):
        result = action._execute_module(module_name='ansible.legacy.slurp', module_args={'src': path},
                                        task_vars=task_vars)
        if result.get('failed'):
            msg = str(result.get('msg') or '')
            if msg.startswith('File not found'):
                return None
            if msg.startswith('File is not readable'):
                raise ConfigFileError(path, 'permission denied', hint=BECOME_HINT)
            if 'is a directory' in msg:
                raise ConfigFileError(path, 'is a directory, not a file')
            raise ConfigFileError(path, 'cannot be read: %s' % (msg or 'slurp failed'))
        try:
            return base64.b64decode(result.get('content') or '')
        except (binascii.Error, TypeError, ValueError):
            raise ConfigFileError(path, 'the managed node returned content that is not base64')

    return fetch
