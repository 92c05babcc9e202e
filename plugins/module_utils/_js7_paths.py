# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where a JS7 Controller or Agent instance lives on the managed node.

Private to the collection (leading underscore): no compatibility promise.

The defaults follow the JS7 installer (js7-engine.md §1.6, §6.1-§6.4). The argument
spec below is shared by the ``instance`` and ``journal_reset`` modules and matches the
``jobscheduler.js7.instance_location`` doc fragment option for option.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# Shared by every module that locates an instance (doc fragment: instance_location).
INSTANCE_LOCATION_ARGUMENT_SPEC = dict(
    component=dict(type='str', default='controller', choices=['controller', 'agent']),
    data_dir=dict(type='path'),
    controller_id=dict(type='str', default='controller'),
    http_port=dict(type='str'),
)

COMPONENTS = {
    # js7-engine.md §1.6 (directories), §6.1 (scripts), §6.3 (PID file, GetPid pattern),
    # §6.4 (systemd unit names), §6.5 (ports), §3.1 / §7 (API base path).
    'controller': dict(
        home='/opt/sos-berlin.com/js7/controller',
        data='/var/sos-berlin.com/js7/controller/var',
        port=4444,
        main_class='js7.controller.ControllerMain',
        pid_file='controller.pid',
        log_file='controller.log',
        api_path='/controller/api',
        journal_base='controller',
    ),
    'agent': dict(
        home='/opt/sos-berlin.com/js7/agent',
        data='/var/sos-berlin.com/js7/agent/var_{port}',
        port=4445,
        main_class='js7.agent.main.AgentMain',
        pid_file='agent.pid',
        log_file='agent.log',
        api_path='/agent/api',
        journal_base='agent',
    ),
}


class HttpPortError(ValueError):
    pass


def parse_http_port(value, default_port):
    """Split ``[iface:]port`` (the engine's ``--http-port`` syntax, js7-engine.md §1.5).

    Returns ``(iface or None, port)``; raises HttpPortError with a readable message.
    IPv6 interfaces are written in brackets, e.g. ``[::1]:4444``.
    """
    if value is None or str(value).strip() == '':
        return None, default_port
    text = str(value).strip()
    iface = None
    port_text = text
    if text.startswith('['):
        end = text.find(']')
        if end < 0 or text[end + 1:end + 2] != ':':
            raise HttpPortError('http_port %r is not [iface:]port (IPv6 interfaces go in brackets: [::1]:4444)' % text)
        iface = text[1:end]
        port_text = text[end + 2:]
    elif ':' in text:
        iface, port_text = text.rsplit(':', 1)
        if ':' in iface:
            raise HttpPortError('http_port %r is not [iface:]port (IPv6 interfaces go in brackets: [::1]:4444)' % text)
    try:
        port = int(port_text)
    except ValueError:
        raise HttpPortError('http_port %r is not [iface:]port: %r is not a port number' % (text, port_text))
    if not 0 < port < 65536:
        raise HttpPortError('http_port %r: port %d is outside 1-65535' % (text, port))
    return (iface or None), port


class InstanceLocation:
    """The files of one Controller or Agent instance, derived from the module options."""

    def __init__(self, component, data_dir=None, controller_id='controller', http_port=None, home=None):
        if component not in COMPONENTS:
            raise ValueError('component must be one of %s' % ', '.join(sorted(COMPONENTS)))
        self.component = component
        self.facts = COMPONENTS[component]
        self.controller_id = controller_id or 'controller'
        self.http_iface, self.port = parse_http_port(http_port, self.facts['port'])
        self.http_port_given = http_port is not None and str(http_port).strip() != ''
        self.home = os.path.abspath(home or self.facts['home'])
        self.data_dir = os.path.abspath(data_dir or self.facts['data'].format(port=self.port))

    @classmethod
    def from_params(cls, params):
        return cls(
            component=params['component'],
            data_dir=params.get('data_dir'),
            controller_id=params.get('controller_id'),
            http_port=params.get('http_port'),
            home=params.get('home'),
        )

    # --- names -----------------------------------------------------------------------
    @property
    def title(self):
        """A name for messages, e.g. ``Controller 'controller' (/var/.../var)``."""
        if self.component == 'controller':
            return "Controller '%s' (data directory %s)" % (self.controller_id, self.data_dir)
        return 'Agent on port %d (data directory %s)' % (self.port, self.data_dir)

    @property
    def label(self):
        """A file-name-safe name of the instance: ``controller-<id>`` or ``agent-<port>``."""
        if self.component == 'controller':
            safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in self.controller_id)
            return 'controller-%s' % safe
        return 'agent-%d' % self.port

    @property
    def default_service_name(self):
        # js7-engine.md §6.4: js7_controller_<controller-id>.service / js7_agent_<http-port>.service
        if self.component == 'controller':
            return 'js7_controller_%s.service' % self.controller_id
        return 'js7_agent_%d.service' % self.port

    @property
    def default_script(self):
        # js7-engine.md §6.1: controller_instance.sh; the Agent's is agent_<http-port>.sh
        if self.component == 'controller':
            return os.path.join(self.home, 'bin', 'controller_instance.sh')
        return os.path.join(self.home, 'bin', 'agent_%d.sh' % self.port)

    # --- files -----------------------------------------------------------------------
    @property
    def state_dir(self):
        return os.path.join(self.data_dir, 'state')

    @property
    def lock_file(self):
        # js7-engine.md §2.1: the engine writes its PID into state/lock and holds a lock on it.
        return os.path.join(self.state_dir, 'lock')

    @property
    def logs_dir(self):
        # js7-engine.md §1.6, §6.3: JS7_*_LOGS and JS7_*_PID_FILE_DIR default to <data>/logs.
        return os.path.join(self.data_dir, 'logs')

    @property
    def pid_file(self):
        return os.path.join(self.logs_dir, self.facts['pid_file'])

    @property
    def log_file(self):
        return os.path.join(self.logs_dir, self.facts['log_file'])

    @property
    def http_uri_file(self):
        # js7-engine.md §2.1: work/http-uri holds the URL of the last run, e.g. http://127.0.0.1:4444/controller
        return os.path.join(self.data_dir, 'work', 'http-uri')

    @property
    def main_class(self):
        return self.facts['main_class']

    @property
    def api_path(self):
        return self.facts['api_path']

    def probe_host(self, iface=None):
        """The address to reach an ``--http-port`` interface from the node itself."""
        iface = iface if iface is not None else self.http_iface
        if iface in (None, '', '0.0.0.0'):
            return '127.0.0.1'
        if iface in ('::', '[::]'):
            return '::1'
        return iface


def format_host(host):
    """Bracket IPv6 literals for URLs."""
    if ':' in host and not host.startswith('['):
        return '[%s]' % host
    return host
