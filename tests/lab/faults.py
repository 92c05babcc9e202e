"""Faults injected into a running lab (``python -m tests.lab fault ACTION HOST``).

- ``stop`` / ``start``: the host's instance script (``stop`` never fails over, E§6.2).
- ``kill``: the instance script's ``cancel`` (SIGKILL, E§6.2); ``--signal`` sends SIGKILL to the PID
  from ``state/lock`` directly (a crash, as the OOM killer would do it).
- ``cut`` / ``restore``: the host's network link down / up (netns mode only: a host that is
  merely loopback-addressed cannot be cut off selectively).
- ``corrupt-config``: append an unbalanced ``{`` to controller.conf / agent.conf (or ``--file``),
  keeping a copy ``<file>.lab-orig``; ``restore-config`` puts the copy back.
"""

from __future__ import annotations

import os
import shutil
import signal

from . import netns
from .netns import LabError

ACTIONS = ("stop", "start", "kill", "cut", "restore", "corrupt-config", "restore-config")


def config_file(rt, host, name=None):
    if host.kind == "joc":
        default = os.path.join(host.data, "resources", "joc", "joc.properties")
    elif host.kind == "agent":
        default = os.path.join(host.data, "config", "agent.conf")
    else:
        default = os.path.join(host.data, "config", "controller.conf")
    if name:
        default = name if os.path.isabs(name) else os.path.join(os.path.dirname(default), name)
    return rt.path(host, default)


def lock_pid(rt, host):
    """The engine writes its PID into state/lock (E§2.1); JOC has its joc.pid."""
    if host.kind == "joc":
        path = rt.path(host, os.path.join(host.data, "logs", "joc.pid"))
    else:
        path = rt.path(host, os.path.join(host.data, "state", "lock"))
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read().strip()
        return int(text.split()[0]) if text else None
    except (OSError, ValueError):
        return None


def inject(rt, action, host_name, file=None, hard_signal=False):
    host = rt.host(host_name)
    if action not in ACTIONS:
        raise LabError("unknown fault '%s'; one of: %s" % (action, ", ".join(ACTIONS)), code=2)
    message = None
    if action == "stop":
        result = rt.script(host, "stop")
        message = result.stdout.strip()
    elif action == "start":
        result = rt.script(host, "start")
        message = result.stdout.strip()
    elif action == "kill":
        if hard_signal:
            pid = lock_pid(rt, host)
            if pid is None:
                raise LabError("%s: no PID in its lock/pid file; is it running?" % host.name)
            if rt.netns:
                rt.run_on(host, ["kill", "-KILL", str(pid)], check=True)
            else:
                os.kill(pid, signal.SIGKILL)
            message = "SIGKILL sent to pid %d" % pid
        else:
            result = rt.script(host, "cancel")
            message = result.stdout.strip()
    elif action in ("cut", "restore"):
        if not rt.netns:
            raise LabError("'%s' needs a netns lab (--mode netns): in local mode every host shares the "
                           "loopback interface, so one host cannot be cut off" % action, code=2)
        netns.link_set(host, up=(action == "restore"))
        message = "network of %s is %s" % (host.name, "restored" if action == "restore" else "cut")
    elif action == "corrupt-config":
        path = config_file(rt, host, file)
        if not os.path.exists(path):
            raise LabError("%s: %s does not exist" % (host.name, path))
        if not os.path.exists(path + ".lab-orig"):
            shutil.copy2(path, path + ".lab-orig")
        with open(path, "a", encoding="utf-8") as stream:
            stream.write("\n# corrupted by the JS7 lab: unbalanced brace\njs7.lab.corrupted {\n  broken = yes\n")
        message = "%s now has an unbalanced '{' (original kept as %s.lab-orig)" % (path, path)
    elif action == "restore-config":
        path = config_file(rt, host, file)
        if not os.path.exists(path + ".lab-orig"):
            raise LabError("%s: no %s.lab-orig to restore" % (host.name, path))
        os.replace(path + ".lab-orig", path)
        message = "%s restored" % path
    rt.timeline("lab", "Fault", fault=action, target=host.name)
    return message
