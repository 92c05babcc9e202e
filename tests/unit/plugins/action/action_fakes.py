"""A fake managed node for the config action plugins: slurp and the copy action over a dict of files."""

from __future__ import annotations

import base64
import os
from unittest.mock import MagicMock

from ansible.playbook.play_context import PlayContext

CORPUS = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'hocon'))
DATA = '/var/sos-berlin.com/js7/controller/var'
MAIN = DATA + '/config/controller.conf'
PRIVATE = DATA + '/config/private/private.conf'


def corpus_bytes(*parts):
    with open(os.path.join(CORPUS, *parts), 'rb') as handle:
        return handle.read()


class FakeNode(object):
    """Files by path (bytes); paths in ``unreadable`` fail like slurp does without become."""

    def __init__(self, files=None, unreadable=()):
        self.files = dict(files or {})
        self.unreadable = set(unreadable)
        self.slurped = []
        self.copies = []

    def execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        assert module_name == 'ansible.legacy.slurp', module_name
        path = module_args['src']
        self.slurped.append(path)
        if path in self.unreadable:
            return {'failed': True, 'msg': 'File is not readable: %s' % path}
        if path not in self.files:
            return {'failed': True, 'msg': 'File not found: %s' % path}
        return {'content': base64.b64encode(self.files[path]).decode(), 'encoding': 'base64', 'source': path}


class FakeCopyAction(object):
    def __init__(self, node, task, fail=None):
        self.node = node
        self.task = task
        self.fail = fail

    def run(self, task_vars=None):
        args = dict(self.task.args)
        with open(args['src'], 'rb') as handle:
            data = handle.read()
        self.node.copies.append({'args': args, 'data': data, 'check_mode': self.task.check_mode, 'diff': self.task.diff})
        if self.fail and self.fail(args['dest']):
            return {'failed': True, 'msg': 'Destination directory does not exist'}
        changed = self.node.files.get(args['dest']) != data
        result = {'changed': changed, 'dest': args['dest']}
        if changed and not self.task.check_mode:
            if args.get('backup') and args['dest'] in self.node.files:
                result['backup_file'] = args['dest'] + '.1234.backup~'
                self.node.files[result['backup_file']] = self.node.files[args['dest']]
            self.node.files[args['dest']] = data
        return result


class FakeTask(object):
    def __init__(self, action, args, check_mode=False, diff=False):
        self.action = action
        self.args = args
        self.check_mode = check_mode
        self.diff = diff
        self.async_val = 0

    def copy(self):
        return FakeTask(self.action, dict(self.args), self.check_mode, self.diff)


def make_action(action_class, name, node, args, check_mode=False, diff=False, copy_fails=None):
    task = FakeTask('jobscheduler.js7.' + name, args, check_mode, diff)
    connection = MagicMock()
    connection._shell.tmpdir = None
    loader = MagicMock()
    shared = MagicMock()
    shared.action_loader.get.side_effect = lambda name, task, **kw: FakeCopyAction(node, task, copy_fails)
    action = action_class(task, connection, PlayContext(), loader, None, shared)
    # ansible-core 2.19 ignores the shared_loader_obj argument and uses ansible.plugins.loader
    action._shared_loader_obj = shared
    action._execute_module = node.execute_module
    action._make_tmp_path = MagicMock()
    action._remove_tmp_path = MagicMock()
    return action
