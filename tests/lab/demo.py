"""``python -m tests.lab demo`` (what ``make demo`` runs until the recovery role exists).

Brings up the standalone-secondary lab, shows the symptom the way an operator meets it
(the WARN line in the Primary's controller.log, the cluster state from the Controller API and
from JOC's ``./controller/components``, the error in joc.log) and tears the lab down again.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from . import layout
from .netns import LabError


def _last_matching(path, needle):
    if not os.path.exists(path):
        return None
    found = None
    with open(path, encoding="utf-8", errors="replace") as stream:
        for line in stream:
            if needle in line:
                found = line.rstrip("\n")
    return found


def _count(path, needle):
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8", errors="replace") as stream:
        return sum(1 for line in stream if needle in line)


def run_demo(args, out):
    from . import cli, states  # pylint: disable=import-outside-toplevel
    up_args = argparse.Namespace(dir=args.dir, mode=args.mode, clusters=1, version=args.version,
                                 state="standalone-secondary", tls=False, controller_auth="public",
                                 time_scale=0.2, joc_session_timeout=1800.0,
                                 loopback_net=os.environ.get("JS7_LAB_LOOPBACK_NET", layout.DEFAULT_LOOPBACK_NET))
    out.write("== JS7 lab demo: a Secondary Controller that was started without is-backup (JS7 %s, %s mode)\n"
              % (layout.VERSIONS[args.version], args.mode))
    out.write("$ python -m tests.lab up --state standalone-secondary --version %s --mode %s --dir %s\n"
              % (args.version, args.mode, args.dir))
    code = cli.cmd_up(up_args, out)
    if code:
        return code
    rt = cli._load(os.path.abspath(args.dir))  # pylint: disable=protected-access
    try:
        primary, secondary, _agent = rt.cluster_hosts(1)
        time.sleep(rt.scaled(5))  # let a few retries happen, so the repetition is visible
        log = rt.path(primary, primary.log_file)
        out.write("\n-- 1. The Primary's controller.log (%s) WARNs at every retry:\n" % primary.seen(primary.log_file))
        out.write("   %s\n" % _last_matching(log, "ClusterNodeIsNotBackup"))
        out.write("   (%d such lines so far)\n" % _count(log, "ClusterNodeIsNotBackup"))
        out.write("\n-- 2. The cluster state from the Controller API:\n")
        for host in (primary, secondary):
            response = rt.http(host, "/controller/api/cluster")
            out.write("   GET %s/controller/api/cluster -> HTTP %s %s\n"
                      % (rt.url(host), response.status, json.dumps(response.json(), sort_keys=True)[:400]))
            node = rt.http(host, "/controller/api/cluster?return=ClusterNodeState").json() or {}
            out.write("       ?return=ClusterNodeState: nodeId=%s isBackup=%s\n"
                      % (node.get("nodeId"), node.get("isBackup")))
        out.write("\n-- 3. JOC Cockpit's view (./controller/components):\n")
        joc = states.JocSession(rt)
        status, answer = joc.post("/controller/components", {"controllerId": primary.controller_id})
        joc.logout()
        if status == 200:
            out.write("   clusterState: %s\n" % answer["clusterState"]["_text"])
            for item in answer["controllers"]:
                out.write("   %-7s %-28s connection=%s component=%s clusterNode=%s isCoupled=%s\n"
                          % (item["role"], item["url"], item["connectionState"]["_text"],
                             item["componentState"]["_text"], item.get("clusterNodeState", {}).get("_text"),
                             item.get("isCoupled")))
        else:
            out.write("   HTTP %s %s\n" % (status, answer))
        joc_log = rt.path(rt.joc, rt.joc.log_file)
        out.write("\n-- 4. The error JOC Cockpit logged (%s):\n" % rt.joc.seen(rt.joc.log_file))
        out.write("   %s\n" % _last_matching(joc_log, "ClusterNodeIsNotBackup"))
        out.write("\nDiagnosis: the Secondary runs as an active standalone node with its own journal; "
                  "the runbook (shared/seed) resets it.\n")
    finally:
        if not args.keep:
            out.write("\n$ python -m tests.lab down --dir %s\n" % args.dir)
            errors = states.down(os.path.abspath(args.dir))
            if errors:
                raise LabError("down failed: %s" % "; ".join(errors))
            out.write("lab removed\n")
    return 0
