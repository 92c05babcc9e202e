"""Each start state comes up as specified, checked through real HTTP and real files."""

import os
import re

import pytest

WARN_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d{3} WARN  js7\.cluster\.ClusterCommon - .*"
                       r"ClusterNodeIsNotBackup: The cluster node to be appointed is not configured as a backup node")


def cluster_type(lab, host):
    status, _ignored, body = lab.http(host, "/controller/api/cluster")
    assert status == 200, body
    return body["TYPE"]


def components(lab, controller_id="controller1"):
    status, _ignored, body = lab.joc("controller/components", {"controllerId": controller_id})
    assert status == 200, body
    return body


@pytest.mark.parametrize("version", ["2.7", "2.5"])
def test_healthy(lab_mode, lab_factory, version):
    lab = lab_factory(state="healthy", version=version)
    assert cluster_type(lab, "c1-primary") == "Coupled"
    assert cluster_type(lab, "c1-secondary") == "Coupled"  # the passive node's replicated state (E§3.5)
    status, _ignored, overview = lab.http("c1-primary", "/controller/api")
    assert status == 200 and overview["id"] == "controller1"
    assert overview["version"] == {"2.7": "2.7.1", "2.5": "2.5.9"}[version]
    status, _ignored, node = lab.http("c1-secondary", "/controller/api/cluster?return=ClusterNodeState")
    assert node["nodeId"] == "Backup" and node["isBackup"] is True
    answer = components(lab)
    assert answer["clusterState"] == {"severity": 0, "_text": "ClusterCoupled"}
    assert [c["isCoupled"] for c in answer["controllers"]] == [True, True]
    assert sorted(c["clusterNodeState"]["_text"] for c in answer["controllers"]) == ["active", "inactive"]
    events = [e["event"] for e in lab.timeline()]
    assert "ClusterCoupled" in events
    if version == "2.7":
        # JOC is the Cluster Watch (J§3.1): its confirmation registers it before coupling (E§3.7).
        assert "ClusterWatchConfirmed" in events
        status, _ignored, state = lab.http("c1-primary", "/controller/api/cluster")
        assert state["setting"]["clusterWatchId"] == "JOC-1"
    conf = lab.read("c1-secondary", lab.hosts["c1-secondary"]["js7_controller_data"] + "/config/controller.conf")
    assert re.search(r"^js7\.journal\.cluster\.node\.is-backup = yes$", conf, re.M)


@pytest.mark.parametrize("version", ["2.7", "2.5"])
def test_standalone_secondary(lab_mode, lab_factory, version):
    lab = lab_factory(state="standalone-secondary", version=version)
    assert cluster_type(lab, "c1-primary") == "NodesAppointed"
    status, _ignored, node = lab.http("c1-secondary", "/controller/api/cluster?return=ClusterNodeState")
    assert status == 200
    assert node["isBackup"] is False and node["clusterState"]["TYPE"] == "Empty"  # active standalone
    secondary = lab.hosts["c1-secondary"]
    conf = lab.read("c1-secondary", secondary["js7_controller_data"] + "/config/controller.conf")
    assert re.search(r"^# *js7\.journal\.cluster\.node\.is-backup", conf, re.M)
    state_dir = lab.host_path("c1-secondary", secondary["js7_controller_data"] + "/state")
    assert any(name.startswith("controller--") and name.endswith(".journal") for name in os.listdir(state_dir))
    log = lab.read("c1-primary", lab.hosts["c1-primary"]["js7_controller_data"] + "/logs/controller.log")
    warns = [line for line in log.splitlines() if "ClusterNodeIsNotBackup" in line and " WARN " in line]
    assert warns, log[-3000:]
    if version == "2.5":
        # The seed's wording (<= 2.5), with the URI between POST and => (E§4.3).
        assert WARN_LINE.match(warns[-1]), warns[-1]
        assert "'ClusterStartBackupNode' command failed with HTTP 400 Bad Request: POST http://" in warns[-1]
    joc_log = lab.read("joc", lab.hosts["joc"]["js7_joc_data"] + "/logs/joc.log")
    assert re.search(r" ERROR .*controller1.*ClusterNodeIsNotBackup", joc_log), joc_log[-3000:]
    answer = components(lab)
    assert answer["clusterState"]["_text"] == "ClusterNodesAppointed"
    assert answer["clusterState"]["severity"] == 1


def test_joc_down(lab_mode, lab_factory):
    lab = lab_factory(state="joc-down")
    assert cluster_type(lab, "c1-primary") == "Coupled"
    result = lab.cli("status")
    assert result.returncode == 0, result.stderr
    assert re.search(r"joc +joc .* stopped", result.stdout), result.stdout
    assert "JOC not running" in result.stdout
    joc = lab.hosts["joc"]
    assert not os.path.exists(lab.host_path("joc", joc["js7_joc_data"] + "/logs/joc.pid"))


def test_stale_watch_comes_up_like_the_seed(lab_factory):
    lab = lab_factory(state="stale-watch", version="2.5")
    assert cluster_type(lab, "c1-primary") == "NodesAppointed"
    events = [e["event"] for e in lab.timeline()]
    assert "ControllersReinstalled" in events
    assert components(lab)["clusterState"]["_text"] == "ClusterNodesAppointed"


def test_two_clusters(lab_factory):
    lab = lab_factory(state="healthy", clusters=2)
    for k in (1, 2):
        assert cluster_type(lab, "c%d-primary" % k) == "Coupled"
        assert components(lab, "controller%d" % k)["clusterState"]["_text"] == "ClusterCoupled"
    assert lab.hosts["c2-primary"]["js7_cluster"] == "cluster2"
