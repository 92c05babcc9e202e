"""The resolution transcript of issue 3: the seed's runbook performed by hand on the lab.

Only the instance scripts, ``rm`` and the JOC API are used — exactly what an operator has.
"""

import glob
import os
import re
import subprocess
import time

import pytest


class Operator:
    """What an operator does on the hosts: instance scripts and rm (via the host in netns mode)."""

    def __init__(self, lab):
        self.lab = lab

    def sh(self, host, command):
        if self.lab.mode == "netns":
            argv = ["ssh", "-i", self.lab.dir + "/ssh/id_ed25519", "-o",
                    "UserKnownHostsFile=%s/ssh/known_hosts" % self.lab.dir, "-o", "BatchMode=yes",
                    "root@" + self.lab.hosts[host]["ansible_host"], command]
        else:
            argv = ["sh", "-c", command]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        return result.stdout

    def controller(self, host, action):
        return self.sh(host, "%s/bin/controller_instance.sh %s" % (self.lab.hosts[host]["js7_controller_home"],
                                                                   action))

    def agent(self, host, action):
        return self.sh(host, "%s/bin/agent_4445.sh %s" % (self.lab.hosts[host]["js7_agent_home"], action))

    def empty_state(self, host, key):
        self.sh(host, "rm -rf %s/state/*" % self.lab.hosts[host][key])

    def set_is_backup(self, host):
        conf = self.lab.hosts[host]["js7_controller_data"] + "/config/controller.conf"
        self.sh(host, "sed -i 's/^[# ]*js7.journal.cluster.node.is-backup.*/js7.journal.cluster.node.is-backup = yes/' "
                + conf)

    def resubmit(self):
        """JOC: Manage Controllers -> edit -> test connection -> submit (J§2.4)."""
        token = self.lab.joc_login()
        status, _ignored, current = self.lab.joc("controllers/p", {"controllerId": "controller1"}, token=token)
        assert status == 200
        for item in current["controllers"]:
            status, _ignored, answer = self.lab.joc("controller/test", {"url": item["url"], "controllerId": "controller1"},
                                                    token=token)
            assert status == 200, answer
        body = {"controllerId": "controller1",
                "controllers": [{k: item[k] for k in ("url", "clusterUrl", "role", "title")}
                                for item in current["controllers"]]}
        if self.lab.hosts["c1-agent"].get("js7_node_role") == "cluster_watch":
            body["clusterWatcher"] = {"agentId": "agent1", "agentName": "agent1",
                                      "url": self.lab.hosts["c1-agent"]["js7_agent_url"]}
        status, _ignored, answer = self.lab.joc("controller/register", body, token=token)
        assert status == 200, answer

    def wait_for(self, wanted, timeout):
        import sys  # pylint: disable=import-outside-toplevel
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        from tests.lab import layout, states  # pylint: disable=import-outside-toplevel
        rt = states.Runtime(layout.Record.load(self.lab.dir))
        return states.wait_cluster_type(rt, rt.by_name["c1-primary"], wanted, timeout)

    def cluster_type(self, host="c1-primary"):
        return self.lab.http(host, "/controller/api/cluster")[2]["TYPE"]


@pytest.mark.parametrize("version", ["2.7", "2.5"])
def test_standalone_secondary_resolved_by_hand(lab_mode, lab_factory, version):
    lab = lab_factory(state="standalone-secondary", version=version)
    op = Operator(lab)
    log = lab.read("c1-primary", lab.hosts["c1-primary"]["js7_controller_data"] + "/logs/controller.log")
    assert re.search(r" WARN  js7\.cluster\.ClusterCommon - .*ClusterNodeIsNotBackup", log)
    joc_log = lab.read("joc", lab.hosts["joc"]["js7_joc_data"] + "/logs/joc.log")
    assert "ClusterNodeIsNotBackup" in joc_log
    assert op.cluster_type() == "NodesAppointed"

    # Runbook phase 1 (shared/seed): stop, empty state/, set is-backup, start, re-submit in JOC.
    op.controller("c1-secondary", "stop")
    op.empty_state("c1-secondary", "js7_controller_data")
    state_dir = lab.host_path("c1-secondary", lab.hosts["c1-secondary"]["js7_controller_data"] + "/state")
    assert glob.glob(state_dir + "/*") == []
    op.set_is_backup("c1-secondary")
    op.controller("c1-secondary", "start")
    op.resubmit()
    state = op.wait_for("Coupled", 60)
    assert state["TYPE"] == "Coupled"
    status, _ignored, components = lab.joc("controller/components", {"controllerId": "controller1"})
    assert components["clusterState"]["_text"] == "ClusterCoupled"


def wait_timeline(lab, predicate, count, timeout):
    """Wait until ``count`` timeline records satisfy ``predicate`` (the lab's own event log; a file is watched,
    not a clock). Returns the matching records."""
    deadline = time.monotonic() + timeout
    while True:
        found = [record for record in lab.timeline() if predicate(record)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_stale_watch_needs_phase_2(lab_mode, lab_factory):
    lab = lab_factory(state="stale-watch", version="2.5")
    op = Operator(lab)
    assert op.cluster_type() == "NodesAppointed"
    # The stale watch: the Agent still holds incarnation 1, in which the Backup was active (E§5.2).
    status, _ignored, held = lab.http("c1-agent", "/agent/api/clusterWatch?controllerId=controller1")
    assert status == 200 and held["setting"]["activeId"] == "Backup", held
    # Runbook phase 1
    op.controller("c1-secondary", "stop")
    op.empty_state("c1-secondary", "js7_controller_data")
    op.set_is_backup("c1-secondary")
    phase1 = time.time()
    op.controller("c1-secondary", "start")
    op.resubmit()
    after = lab.http("c1-primary", "/controller/api/cluster")[2]["eventId"]
    # Bounded and event-driven: the Backup now asks to couple and retries; wait until the Primary has
    # refused three attempts because the watch refuses them, then check that nothing was persisted.
    refusals = wait_timeline(lab, lambda r: r["ts"] > phase1 and r["event"] == "ClusterWatchRefusedEvent"
                             and r["host"] == "c1-primary", 3, 60)
    assert len(refusals) >= 3, lab.timeline()[-20:]
    assert {r["code"] for r in refusals} == {"ClusterWatchInactiveNode"}
    status, _ignored, events = lab.http("c1-primary", "/controller/api/event?return=ClusterCouplingPrepared,ClusterCoupled"
                                        "&after=%d&timeout=0" % after, accept="application/x-ndjson")
    assert status == 200 and not events, events
    assert op.cluster_type() == "NodesAppointed"
    backup_log = lab.read("c1-secondary", lab.hosts["c1-secondary"]["js7_controller_data"] + "/logs/controller.log")
    assert re.search(r" WARN  js7\.cluster\.ClusterCommon - 'ClusterPrepareCoupling' command failed with HTTP 400 "
                     r"Bad Request: POST \S+ => ClusterWatchInactiveNode", backup_log)
    # Runbook phase 2: stop Primary, empty Secondary state, stop Agent, empty its state, start Agent, start Primary.
    # The runbook empties the Secondary's state/ without saying to stop it; it must be stopped first
    # (its state/lock is held while it runs, E§2.1), and started again after the Primary.
    op.controller("c1-primary", "stop")
    op.controller("c1-secondary", "stop")
    op.empty_state("c1-secondary", "js7_controller_data")
    op.agent("c1-agent", "stop")
    op.empty_state("c1-agent", "js7_agent_data")
    op.agent("c1-agent", "start")
    op.controller("c1-primary", "start")
    op.controller("c1-secondary", "start")
    assert op.wait_for("Coupled", 60)["TYPE"] == "Coupled"
    status, _ignored, held = lab.http("c1-agent", "/agent/api/clusterWatch?controllerId=controller1")
    assert held["TYPE"] == "Coupled" and held["setting"]["activeId"] == "Primary", held
