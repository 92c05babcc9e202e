"""Hosts, addresses and paths of a lab (DESIGN.md "Hosts, addresses, paths").

A lab is N clusters (hosts ``c<k>-primary``, ``c<k>-secondary``, ``c<k>-agent``) and one ``joc`` host.
Each host has a host root ``<dir>/hosts/<host>/`` holding ``opt/sos-berlin.com/...`` and
``var/sos-berlin.com/...``. In local mode the host's programs see those trees under the host root
(``<dir>/hosts/<host>/opt/sos-berlin.com/...``); in netns mode the trees are bind-mounted on
``/opt/sos-berlin.com`` and ``/var/sos-berlin.com`` in the host's own mount namespace, so the
host sees the installer's default paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Installer defaults (js7-engine.md §1.6, §6.4, design.md §3).
CONTROLLER_HOME = "/opt/sos-berlin.com/js7/controller"
CONTROLLER_DATA = "/var/sos-berlin.com/js7/controller/var"
AGENT_HOME = "/opt/sos-berlin.com/js7/agent"
AGENT_DATA = "/var/sos-berlin.com/js7/agent/var_4445"
JOC_HOME = "/opt/sos-berlin.com/js7/joc"
JOC_DATA = "/var/sos-berlin.com/js7/joc/jetty_base"
MOUNT_POINTS = ("/opt/sos-berlin.com", "/var/sos-berlin.com")

# Default ports (js7-engine.md §6.5); HTTPS on 4443 of each host's address (DESIGN.md).
CONTROLLER_PORT = 4444
AGENT_PORT = 4445
JOC_PORT = 4446
HTTPS_PORT = 4443

VERSIONS = {"2.5": "2.5.9", "2.7": "2.7.1"}
STATES = ("healthy", "standalone-secondary", "stale-watch", "joc-down")
MODES = ("local", "netns")
MAX_CLUSTERS = 20  # 127.0.0.(10k+3) must stay below 255

BRIDGE = "js7lab0"
BRIDGE_ADDRESS = "198.18.0.1"
PREFIX = 15  # 198.18.0.0/15 (RFC 2544 benchmarking range)

JOC_USER = "root"  # the product's default JOC account
JOC_PASSWORD = "root"
LAB_JSON = "lab.json"


@dataclass
class Host:
    name: str
    kind: str  # primary | secondary | agent | joc
    cluster: int  # 0 for joc
    address: str
    mode: str
    lab_dir: str
    index: int
    extra: dict = field(default_factory=dict)

    @property
    def root(self) -> str:
        """The host root as the lab CLI (root namespace) sees it."""
        return os.path.join(self.lab_dir, "hosts", self.name)

    def physical(self, path: str) -> str:
        """Where a host path lives for the lab CLI (it always writes through the host root)."""
        return os.path.join(self.root, path.lstrip("/"))

    def seen(self, path: str) -> str:
        """The path as the host's own processes (and ansible on the host) see it."""
        return self.physical(path) if self.mode == "local" else path

    @property
    def netns(self) -> str:
        return "js7lab-" + self.name

    @property
    def veth(self) -> str:
        return "js7v%d" % self.index  # interface names are at most 15 characters

    @property
    def controller_id(self) -> str:
        return "controller%d" % self.cluster

    @property
    def cluster_name(self) -> str:
        return "cluster%d" % self.cluster

    @property
    def role(self) -> str:
        return {"primary": "primary", "secondary": "secondary", "agent": "cluster_watch", "joc": "joc"}[self.kind]

    @property
    def port(self) -> int:
        return {"primary": CONTROLLER_PORT, "secondary": CONTROLLER_PORT, "agent": AGENT_PORT,
                "joc": JOC_PORT}[self.kind]

    def url(self, tls: bool = False) -> str:
        if tls:
            return "https://%s:%d" % (self.address, HTTPS_PORT)
        return "http://%s:%d" % (self.address, self.port)

    @property
    def home(self) -> str:
        return {"primary": CONTROLLER_HOME, "secondary": CONTROLLER_HOME, "agent": AGENT_HOME,
                "joc": JOC_HOME}[self.kind]

    @property
    def data(self) -> str:
        return {"primary": CONTROLLER_DATA, "secondary": CONTROLLER_DATA, "agent": AGENT_DATA,
                "joc": JOC_DATA}[self.kind]

    @property
    def component(self) -> str:
        return {"primary": "controller", "secondary": "controller", "agent": "agent", "joc": "joc"}[self.kind]

    @property
    def script(self) -> str:
        """The instance script the lab (and the collection) uses (js7-engine.md §6.1)."""
        return {"controller": "bin/controller_instance.sh", "agent": "bin/agent_%d.sh" % AGENT_PORT,
                "joc": "bin/joc.sh"}[self.component]

    @property
    def log_file(self) -> str:
        return os.path.join(self.data, "logs", {"controller": "controller.log", "agent": "agent.log",
                                                "joc": "joc.log"}[self.component])


DEFAULT_LOOPBACK_NET = "127.0.0"


def local_address(kind: str, cluster: int, net: str = DEFAULT_LOOPBACK_NET) -> str:
    if kind == "joc":
        return "%s.2" % net
    offset = {"primary": 1, "secondary": 2, "agent": 3}[kind]
    return "%s.%d" % (net, 10 * cluster + offset)


def netns_address(kind: str, cluster: int) -> str:
    if kind == "joc":
        return "198.18.0.2"
    offset = {"primary": 1, "secondary": 2, "agent": 3}[kind]
    return "198.18.%d.%d" % (cluster, offset)


def plan_hosts(lab_dir: str, mode: str, clusters: int, loopback_net: str = DEFAULT_LOOPBACK_NET):
    hosts = []
    index = 0
    for cluster in range(1, clusters + 1):
        for kind in ("primary", "secondary", "agent"):
            address = local_address(kind, cluster, loopback_net) if mode == "local" else netns_address(kind, cluster)
            hosts.append(Host("c%d-%s" % (cluster, kind), kind, cluster, address, mode, lab_dir, index))
            index += 1
    address = local_address("joc", 0, loopback_net) if mode == "local" else netns_address("joc", 0)
    hosts.append(Host("joc", "joc", 0, address, mode, lab_dir, index))
    return hosts


def hosts_by_name(hosts):
    return {h.name: h for h in hosts}


class Record:
    """``<dir>/lab.json``: the lab's settings and every resource it created, written before
    each resource is created, so ``down`` can remove everything even after a failed ``up``."""

    def __init__(self, lab_dir, data):
        self.lab_dir = lab_dir
        self.path = os.path.join(lab_dir, LAB_JSON)
        self.data = data
        self.data.setdefault("resources", [])

    @classmethod
    def load(cls, lab_dir):
        import json
        path = os.path.join(lab_dir, LAB_JSON)
        with open(path, encoding="utf-8") as stream:
            return cls(lab_dir, json.load(stream))

    def save(self):
        import json
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as stream:
            json.dump(self.data, stream, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def add(self, resource):
        self.data["resources"].append(resource)
        self.save()

    def resources(self, kind=None):
        return [r for r in self.data["resources"] if kind is None or r["type"] == kind]

    @property
    def config(self):
        return self.data["config"]
