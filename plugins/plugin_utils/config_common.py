# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What config_info and config share: the location options and reading the files.

CONFIG_LOCATION_ARGSPEC must match plugins/doc_fragments/config_location.py exactly
(tests/unit/plugins/plugin_utils/test_config_common.py compares them).
"""

from __future__ import annotations

import hashlib
import posixpath

from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_read import (
    ConfigFileError, check_syntax, decode_config, deep_merge, include_paths, parse_config,
)

# Installer defaults of the data directories (js7-engine.md §1.6, design §3).
DEFAULT_DATA_DIRS = {
    'controller': '/var/sos-berlin.com/js7/controller/var',
    'agent': '/var/sos-berlin.com/js7/agent/var_4445',
}
# Inventory variables of the design's inventory contract (design §3) used when data_dir is not given.
DATA_DIR_VARS = {
    'controller': 'js7_controller_data',
    'agent': 'js7_agent_data',
}
MAIN_FILES = {'controller': 'controller.conf', 'agent': 'agent.conf'}

CONFIG_LOCATION_ARGSPEC = dict(
    component=dict(type='str', default='controller', choices=['controller', 'agent']),
    data_dir=dict(type='str'),
    path=dict(type='str'),
)
CONFIG_LOCATION_MUTUALLY_EXCLUSIVE = [('data_dir', 'path')]

# Includes nest; a loop (a.conf includes b.conf includes a.conf) must end somewhere.
MAX_INCLUDE_FILES = 50


class ConfigLocation(object):
    """Where the files are. ``private`` is None when a single file was named with ``path``."""

    def __init__(self, main, private, config_dir, data_dir):
        self.main = main
        self.private = private
        self.config_dir = config_dir
        self.data_dir = data_dir


def resolve_location(params, task_vars):
    """Turn component/data_dir/path (and the js7_*_data inventory variable) into file paths.

    - ``path`` ending in ``.conf``: that one file (with its includes), nothing merged;
    - ``path`` otherwise: a configuration directory (``--config-directory``) holding
      ``controller.conf``/``agent.conf`` and ``private/private.conf``;
    - ``data_dir``: the data directory; the configuration is in ``<data_dir>/config``;
    - neither: ``js7_controller_data``/``js7_agent_data`` from the host's variables,
      else the installer default.
    Paths must be absolute (they are paths on the managed node).
    """
    component = params['component']
    path = params.get('path')
    data_dir = params.get('data_dir')
    if path:
        _require_absolute('path', path)
        path = posixpath.normpath(path)
        if path.endswith('.conf'):
            return ConfigLocation(path, None, posixpath.dirname(path), None)
        config_dir = path
    else:
        if not data_dir:
            data_dir = (task_vars or {}).get(DATA_DIR_VARS[component]) or DEFAULT_DATA_DIRS[component]
            data_dir = str(data_dir)
        _require_absolute('data_dir', data_dir)
        data_dir = posixpath.normpath(data_dir)
        config_dir = posixpath.join(data_dir, 'config')
    return ConfigLocation(posixpath.join(config_dir, MAIN_FILES[component]),
                          posixpath.join(config_dir, 'private', 'private.conf'),
                          config_dir, data_dir)


def _require_absolute(option, value):
    if not posixpath.isabs(value):
        raise ConfigFileError(value, 'option %s must be an absolute path on the managed node' % option)


class ConfigFile(object):
    def __init__(self, path, role, data):
        self.path = path
        self.role = role          # 'main', 'private' or 'include'
        self.exists = data is not None
        self.data = data
        self.text = None
        self.bom = False
        if data is not None:
            self.text, self.bom = decode_config(path, data)

    @property
    def sha256(self):
        return hashlib.sha256(self.data).hexdigest() if self.data is not None else None

    def info(self):
        return {'path': self.path, 'role': self.role, 'exists': self.exists, 'sha256': self.sha256,
                'size': len(self.data) if self.data is not None else None}


class ConfigSet(object):
    """The files of one component as read from the managed node, parsed and merged."""

    def __init__(self, location, fetch):
        """``fetch(path)`` returns the bytes of a remote file, None when it does not exist,
        and raises ConfigFileError when it cannot be read."""
        self.location = location
        self._fetch = fetch
        self.files = []
        self.texts = {}             # path -> text, every file read (None: missing)
        self.missing_includes = []
        self.main = self._read(location.main, 'main')
        self.private = self._read(location.private, 'private') if location.private else None
        self.main_tree = self._parse(self.main)
        self.private_tree = self._parse(self.private) if self.private else {}
        # js7-engine.md §1.1: private/private.conf overrides controller.conf.
        self.merged = deep_merge(self.main_tree, self.private_tree)

    def _read(self, path, role):
        data = self._fetch(path)
        cfg = ConfigFile(path, role, data)
        self.files.append(cfg)
        self.texts[path] = cfg.text
        if cfg.exists:
            check_syntax(path, cfg.text)
            self._read_includes(cfg)
        return cfg

    def _read_includes(self, cfg):
        for target, required in include_paths(cfg.text, cfg.path):
            if target in self.texts or target + '.conf' in self.texts:
                continue
            if len(self.texts) >= MAX_INCLUDE_FILES:
                raise ConfigFileError(cfg.path, 'more than %d files included; an include loop?' % MAX_INCLUDE_FILES)
            name = target
            data = self._fetch(target)
            if data is None and not posixpath.splitext(target)[1]:
                # Typesafe Config tries the .conf extension for an include without one.
                alternative = self._fetch(target + '.conf')
                if alternative is not None:
                    name, data = target + '.conf', alternative
            inc = ConfigFile(name, 'include', data)
            self.texts[name] = inc.text
            self.files.append(inc)
            if data is None:
                if required:
                    raise ConfigFileError(cfg.path, 'the file named by include required(...), %s, does not exist on the '
                                          'managed node' % target, hint='Create it or remove the include')
                continue
            check_syntax(name, inc.text)
            self._read_includes(inc)

    def _parse(self, cfg):
        if not cfg.exists:
            return {}
        tree, missing = parse_config(cfg.path, cfg.text, self.texts)
        for name in missing:
            if name not in self.missing_includes:
                self.missing_includes.append(name)
        return tree

    def parse_text(self, cfg, text):
        """Parse a new text for the file ``cfg`` (an edit), with the same includes."""
        check_syntax(cfg.path, text)
        return parse_config(cfg.path, text, self.texts)[0]

    def files_info(self):
        return [f.info() for f in self.files]
