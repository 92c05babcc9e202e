"""``python -m tests.lab up|down|status|fault|demo`` (run from the repository root).

Exit codes:
  0  done
  1  the lab failed (a step of ``up``, a fault, ``down`` could not remove everything)
  2  bad command line (unknown state/host/fault, a combination JS7 does not have)
  3  this machine cannot run the requested mode (netns without root or without sshd)
  4  conflict: the --dir already holds a lab, ports or the netns bridge are in use
  5  ``status``/``down``/``fault``: there is no lab in --dir
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

from . import layout, netns
from .netns import LabError

EXIT_FAILED, EXIT_USAGE, EXIT_PREREQ, EXIT_CONFLICT, EXIT_NO_LAB = 1, 2, 3, 4, 5


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    if not 1 <= value <= layout.MAX_CLUSTERS:
        raise argparse.ArgumentTypeError("must be between 1 and %d" % layout.MAX_CLUSTERS)
    return value


def _time_scale(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)
    if not 0.01 <= value <= 10:
        raise argparse.ArgumentTypeError("must be between 0.01 and 10 (1 = real JS7 timing)")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number of seconds" % text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def parser():
    top = argparse.ArgumentParser(prog="python -m tests.lab",
                                  description="The JS7 lab: simulated Controller clusters, Agents and JOC Cockpit.",
                                  epilog="Exit codes: 0 done, 1 failed, 2 bad input, 3 machine cannot run the mode, "
                                         "4 conflict (running lab, ports, bridge), 5 no lab in --dir.")
    sub = top.add_subparsers(dest="command", metavar="up|down|status|fault|demo")
    sub.required = True

    def common(p):
        p.add_argument("--dir", default=".lab", help="lab directory (default: .lab)")

    def up_options(p):
        p.add_argument("--mode", choices=layout.MODES, default="local",
                       help="local: 127.0.0.x and directory trees (no root); netns: namespaces, mounts, sshd (root)")
        p.add_argument("--clusters", type=_positive_int, default=1, help="number of Controller clusters (default 1)")
        p.add_argument("--version", choices=sorted(layout.VERSIONS), default="2.7",
                       help="2.5 (Agent Cluster Watch) or 2.7 (JOC Cluster Watch; default)")
        p.add_argument("--state", default="healthy", help="start state: %s" % ", ".join(layout.STATES))
        p.add_argument("--tls", action="store_true", help="HTTPS on port 4443 with the lab CA")
        p.add_argument("--controller-auth", choices=("public", "basic"), default="public",
                       help="public: js7.web.server.auth.public = true (product default); basic: users required")
        p.add_argument("--time-scale", type=_time_scale, default=0.2,
                       help="factor on JS7's delays (default 0.2; 1 = real time)")
        p.add_argument("--loopback-net", default=os.environ.get("JS7_LAB_LOOPBACK_NET", layout.DEFAULT_LOOPBACK_NET),
                       help="local mode: the first three octets of the hosts' loopback addresses (default 127.0.0, "
                            "env JS7_LAB_LOOPBACK_NET), so that two local labs can run side by side")
        p.add_argument("--joc-session-timeout", type=_seconds, default=1800.0,
                       help="JOC idle session timeout in seconds (default 1800 = 30 min, the product default)")
        p.add_argument("--client-cert-required", action="store_true",
                       help="Controllers and Agents demand a client certificate on HTTPS "
                            "(https-client-authentication = on with the lab CA as truststore); implies --tls")
        p.add_argument("--js7-user", metavar="NAME",
                       help="root only: run Controllers and Agents as this unprivileged account (created if missing, "
                            "removed at down only then), which owns their data directories")

    p = sub.add_parser("up", help="bring a lab up in a start state and write <dir>/inventory.yml")
    common(p)
    up_options(p)
    p = sub.add_parser("down", help="stop and remove everything the lab in --dir created")
    common(p)
    p = sub.add_parser("status", help="processes, cluster state from the API and JOC's view")
    common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("fault", help="inject a fault: stop|start|kill|cut|restore|corrupt-config|restore-config")
    common(p)
    p.add_argument("action", help="stop, start, kill, cut, restore, corrupt-config, restore-config")
    p.add_argument("host", help="lab host, e.g. c1-secondary, c1-agent, joc")
    p.add_argument("--file", help="corrupt-config: another file in the config directory (e.g. private/private.conf)")
    p.add_argument("--signal", action="store_true",
                   help="kill: SIGKILL the PID from state/lock directly instead of the script's cancel")
    p = sub.add_parser("demo", help="standalone-secondary lab: show the symptom, then tear it down")
    common(p)
    p.add_argument("--version", choices=sorted(layout.VERSIONS), default="2.7")
    p.add_argument("--mode", choices=layout.MODES, default="local")
    p.add_argument("--keep", action="store_true", help="leave the lab up after the demo")
    return top


def validate_up(args):
    """Turn the arguments into the lab config, or raise LabError with a clear message."""
    if args.state not in layout.STATES:
        raise LabError("unknown state '%s'; choose one of: %s" % (args.state, ", ".join(layout.STATES)), EXIT_USAGE)
    if args.state == "stale-watch" and args.version != "2.5":
        raise LabError("--state stale-watch needs --version 2.5: from 2.6 on JOC Cockpit is the Cluster Watch and "
                       "no Agent takes part (js7-engine.md §5.1), so no Agent can hold a stale watch state",
                       EXIT_USAGE)
    lab_dir = os.path.abspath(args.dir)
    if os.path.exists(os.path.join(lab_dir, layout.LAB_JSON)):
        try:
            with open(os.path.join(lab_dir, layout.LAB_JSON), encoding="utf-8") as stream:
                old = json.load(stream)
            what = "a %s lab (state %s, status %s)" % (old["config"]["mode"], old["config"]["state"], old["status"])
        except (OSError, ValueError, KeyError):
            what = "a lab"
        raise LabError("%s already holds %s; run `python -m tests.lab down --dir %s` first, or choose another --dir"
                       % (args.dir, what, args.dir), EXIT_CONFLICT)
    if args.mode == "netns":
        missing = netns.missing_prerequisites()
        if missing:
            raise LabError("--mode netns needs: %s. Use --mode local (no root needed) instead."
                           % "; ".join(missing), EXIT_PREREQ)
        if lab_dir.startswith(tuple(p + "/" for p in layout.MOUNT_POINTS)):
            raise LabError("--dir must not be under %s (those are the lab hosts' mount points)"
                           % " or ".join(layout.MOUNT_POINTS), EXIT_USAGE)
    if not re.fullmatch(r"127\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)", args.loopback_net):
        raise LabError("--loopback-net must be like 127.0.0 (three octets in 127.0.0.0/8), not %r"
                       % args.loopback_net, EXIT_USAGE)
    client_cert_required = bool(getattr(args, "client_cert_required", False))
    js7_user = getattr(args, "js7_user", None)
    if js7_user is not None:
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,30}", js7_user) or js7_user == "root":
            raise LabError("--js7-user %r is not a usable account name (lower-case letters, digits, _ and -, at most "
                           "31 characters, not root)" % js7_user, EXIT_USAGE)
        if os.geteuid() != 0:
            raise LabError("--js7-user needs root: the lab creates the account, hands it the data directories and "
                           "the instance scripts switch to it when started by root (js7-engine.md §6.3)", EXIT_PREREQ)
    config = {
        "loopback_net": args.loopback_net,
        "dir": lab_dir, "mode": args.mode, "clusters": args.clusters, "version": args.version,
        "version_full": layout.VERSIONS[args.version], "state": args.state, "tls": bool(args.tls) or client_cert_required,
        "client_cert_required": client_cert_required, "js7_user": js7_user,
        "controller_auth": args.controller_auth, "time_scale": args.time_scale,
        "joc_session_timeout": args.joc_session_timeout, "python": sys.executable,
        "user": _user(),
    }
    if args.controller_auth == "basic":
        # JOC and the lab log in to the Controllers with this user (js7-engine.md §1.4, private.conf).
        config["controller_user"] = "JOC"
        config["controller_password"] = "JOC-lab-secret"
    return config


def _user():
    import getpass  # pylint: disable=import-outside-toplevel
    return getpass.getuser()


def _load(lab_dir):
    from .states import Runtime  # pylint: disable=import-outside-toplevel
    if not os.path.exists(os.path.join(lab_dir, layout.LAB_JSON)):
        raise LabError("there is no lab in %s (no %s)" % (lab_dir, layout.LAB_JSON), EXIT_NO_LAB)
    return Runtime(layout.Record.load(lab_dir))


def cmd_up(args, out):
    from . import states  # pylint: disable=import-outside-toplevel
    config = validate_up(args)
    hosts = layout.plan_hosts(config["dir"], config["mode"], config["clusters"], config["loopback_net"])
    if config["mode"] == "local":
        states.check_free_ports(hosts, config["tls"])
    started = time.time()
    try:
        rt = states.up(config)
    except LabError as error:
        raise LabError("up failed: %s\nThe half-built lab is left for inspection in %s; remove it with "
                       "`python -m tests.lab down --dir %s`." % (error, config["dir"], args.dir), EXIT_FAILED)
    out.write("lab up in %.1f s: %s, %d cluster(s), JS7 %s, state %s, dir %s\n"
              % (time.time() - started, config["mode"], config["clusters"], config["version_full"],
                 config["state"], config["dir"]))
    out.write("inventory: %s\n" % os.path.join(config["dir"], "inventory.yml"))
    out.write("JOC: %s (user %s)\n" % (rt.url(rt.joc), layout.JOC_USER))
    for host in rt.hosts:
        out.write("  %-14s %-9s %s\n" % (host.name, host.kind, rt.url(host)))
    return 0


def cmd_down(args, out):
    from . import states  # pylint: disable=import-outside-toplevel
    lab_dir = os.path.abspath(args.dir)
    if not os.path.exists(os.path.join(lab_dir, layout.LAB_JSON)):
        raise LabError("there is no lab in %s (nothing to do)" % args.dir, EXIT_NO_LAB)
    errors = states.down(lab_dir)
    if errors:
        raise LabError("down could not remove everything:\n  " + "\n  ".join(errors), EXIT_FAILED)
    out.write("lab in %s is down: no process, namespace, mount or interface left\n" % args.dir)
    return 0


def gather_status(rt):
    from . import faults, states  # pylint: disable=import-outside-toplevel
    report = {"dir": rt.dir, "config": {k: rt.config[k] for k in ("mode", "version_full", "state", "clusters", "tls")},
              "status": rt.record.data.get("status"), "hosts": {}, "clusters": {}}
    for host in rt.hosts:
        script = rt.script(host, "status", check=False, timeout=30)
        report["hosts"][host.name] = {"kind": host.kind, "url": rt.url(host),
                                      "running": script.returncode == 0, "pid": faults.lock_pid(rt, host),
                                      "script": script.stdout.strip()}
    joc_session = None
    if report["hosts"]["joc"]["running"]:
        try:
            joc_session = states.JocSession(rt)
        except (LabError, states.Unreachable) as error:
            report["joc_error"] = str(error)
    for k in range(1, rt.config["clusters"] + 1):
        primary, secondary, _agent = rt.cluster_hosts(k)
        entry = {}
        for host in (primary, secondary):
            try:
                response = rt.http(host, "/controller/api/cluster", timeout=5)
                body = response.json() or {}
                entry[host.name] = body.get("TYPE") if response.status == 200 else \
                    "HTTP %s %s" % (response.status, body.get("code", ""))
            except states.Unreachable as error:
                entry[host.name] = "unreachable (%s)" % error.kind
        if joc_session:
            try:
                status, answer = joc_session.post("/controller/components", {"controllerId": primary.controller_id})
                entry["joc"] = answer["clusterState"]["_text"] if status == 200 else \
                    "HTTP %s %s" % (status, (answer or {}).get("error", answer))
            except states.Unreachable as error:
                entry["joc"] = "unreachable (%s)" % error.kind
        else:
            entry["joc"] = "JOC not running"
        report["clusters"][primary.controller_id] = entry
    if joc_session:
        joc_session.logout()
    return report


def cmd_status(args, out):
    rt = _load(os.path.abspath(args.dir))
    report = gather_status(rt)
    if args.json:
        out.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
        return 0
    cfg = report["config"]
    out.write("lab %s: %s, JS7 %s, start state %s, status %s\n"
              % (rt.dir, cfg["mode"], cfg["version_full"], cfg["state"], report["status"]))
    for name, host in report["hosts"].items():
        running = "running (pid %s)" % host["pid"] if host["running"] else "stopped"
        out.write("  %-14s %-9s %-28s %s\n" % (name, host["kind"], host["url"], running))
    for controller_id, entry in report["clusters"].items():
        out.write("  %s: " % controller_id + ", ".join("%s=%s" % item for item in entry.items()) + "\n")
    return 0


def cmd_fault(args, out):
    from . import faults  # pylint: disable=import-outside-toplevel
    if args.action not in faults.ACTIONS:
        raise LabError("unknown fault '%s'; one of: %s" % (args.action, ", ".join(faults.ACTIONS)), EXIT_USAGE)
    rt = _load(os.path.abspath(args.dir))
    out.write(faults.inject(rt, args.action, args.host, file=args.file, hard_signal=args.signal) + "\n")
    return 0


def main(argv=None, out=None):
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        if args.command == "up":
            return cmd_up(args, out)
        if args.command == "down":
            return cmd_down(args, out)
        if args.command == "status":
            return cmd_status(args, out)
        if args.command == "fault":
            return cmd_fault(args, out)
        if args.command == "demo":
            from .demo import run_demo  # pylint: disable=import-outside-toplevel
            return run_demo(args, out)
    except LabError as error:
        sys.stderr.write("lab: %s\n" % error)
        return error.code
    except (OSError, subprocess.SubprocessError) as error:
        sys.stderr.write("lab: %s: %s\n" % (type(error).__name__, error))
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("lab: interrupted; run `python -m tests.lab down --dir %s` to clean up\n" % args.dir)
        return EXIT_FAILED
    return EXIT_USAGE
