"""The lab's Controller cluster protocol through real processes and HTTP (tests/lab/DESIGN.md).

Addresses 127.0.0.210-249 keep clear of a lab the orchestration runs on 127.0.0.2/11-13.
"""
import json
import os
import re
import shutil
import ssl

import pytest

from tests.lab.engine.testing import (ClusterWatchClient, EngineLab, appoint, client_context, cluster_type, http,
                                      make_ca, make_cert, make_legacy_watch_stale, wait_for)

NDJSON = {"Accept": "application/x-ndjson"}


@pytest.fixture
def engine(tmp_path):
    lab = EngineLab(str(tmp_path))
    yield lab
    lab.cleanup()


def events(inst, after=0, kind="ClusterEvent"):
    status, _ignored, body = http("GET", inst.api + "/event?return=%s&after=%d&timeout=0" % (kind, after), headers=NDJSON)
    assert status == 200, body
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


@pytest.mark.parametrize("version, pattern", [
    ("2.5", r"WARN  js7\.cluster\.ClusterCommon - 'ClusterStartBackupNode' command failed with HTTP 400 Bad Request: "
            r"POST http://127\.0\.0\.(21[02]|22[02]):4444/controller/api/cluster/command => ClusterNodeIsNotBackup: "
            r"The cluster node to be appointed is not configured as a backup node$"),
    ("2.6", r"WARN  js7\.cluster\.ClusterCommon - 🔴 ClusterStartBackupNode command failed with HTTP 400 Bad Request: "
            r"POST http://\S+/controller/api/cluster/command => ClusterNodeIsNotBackup: "),
    ("2.7", r"WARN  js7\.cluster\.ClusterCommon - 🔴 ClusterStartBackupNode\(ClusterSetting\(.*\) command failed with "
            r"HTTP 400 Bad Request: POST http://\S+/controller/api/cluster/command => ClusterNodeIsNotBackup: "),
])
def test_standalone_secondary_refuses_start_backup_node(engine, version, pattern):
    # js7-engine.md §1.3 (1)-(2), §4.3; the runbook's symptom
    engine.version = version
    net = {"2.5": "210", "2.6": "214", "2.7": "220"}[version]
    primary = engine.controller("primary", "127.0.0.%s:4444" % (int(net) + 1), is_backup=False)
    secondary = engine.controller("secondary", "127.0.0.%s:4444" % (int(net) + 2), is_backup="commented")
    assert primary.start().returncode == 0 and secondary.start().returncode == 0
    assert cluster_type(secondary) == "Empty"  # an active standalone node with its own journal
    assert os.path.exists(os.path.join(secondary.state_dir, "controller--0.journal"))
    assert json.loads(appoint(primary, secondary)[2]) == {"TYPE": "Accepted"}
    assert json.loads(appoint(primary, secondary)[2]) == {"TYPE": "Accepted"}  # idempotent
    wait_for(lambda: len(re.findall(pattern, primary.log_text(), re.M)) >= 2, 30, message="WARN lines")
    assert cluster_type(primary) == "NodesAppointed"
    status, _ignored, body = http("POST", secondary.api + "/cluster/command", {"TYPE": "ClusterStartBackupNode"})
    assert status == 400 and json.loads(body)["code"] == "ClusterNodeIsNotBackup"
    if version == "2.7":  # escalation: ⚪ (not logged), 🟡 debug, 🟠 info, 🔴 WARN
        debug = open(os.path.join(primary.logs_dir, "controller-debug.log"), encoding="utf-8").read()
        assert re.search(r"debug js7\.cluster\.ClusterCommon - 🟡 ClusterStartBackupNode\(", debug)
        assert re.search(r"info  js7\.cluster\.ClusterCommon - 🟠 ClusterStartBackupNode\(", primary.log_text())
        assert "⚪" not in debug
    # a different setting (other than the passive URI) is not updatable; the passive URI alone is
    body = {"TYPE": "ClusterAppointNodes", "idToUri": {"Primary": primary.http_uri, "Backup": secondary.http_uri},
            "activeId": "Backup"}
    status, _ignored, problem = http("POST", primary.api + "/command", body)
    problem = json.loads(problem)
    assert status == 400 and problem["code"] == "ClusterSettingNotUpdatable"
    if version == "2.5":
        assert problem["message"] == "ClusterState cannot be updated in this state"
    else:
        assert problem["message"].startswith("Current ClusterState cannot be updated: NodesAppointed(")
    status, _ignored, _ignored = appoint(primary, secondary, idToUri={"Primary": primary.http_uri, "Backup": "http://127.0.0.249:4444"})
    assert status == 200 and events(primary)[-1]["TYPE"] == "ClusterSettingUpdated"
    # passive URI back: the refusal continues
    assert appoint(primary, secondary)[0] == 200


def test_coupling_with_cluster_watch_2_7(engine):
    # js7-engine.md §3.7, §5.1; DESIGN.md "Cluster Watch wiring"
    primary = engine.controller("primary", "127.0.0.231:4444", is_backup=False)
    backup = engine.controller("secondary", "127.0.0.232:4444", is_backup=True)
    assert primary.start().returncode == 0 and backup.start().returncode == 0
    http("POST", primary.api + "/command", {"TYPE": "AddOrder", "order": {"id": "before-coupling", "workflowPath": "wf"}})
    assert appoint(primary, backup)[0] == 200
    wait_for(lambda: cluster_type(primary) == "PreparedToBeCoupled", 20)
    # no Cluster Watch: ClusterCouple is refused with NoClusterWatch and retried
    wait_for(lambda: re.search(r"ClusterCouple\(Primary,Backup\) command failed with HTTP 400 Bad Request: POST "
                               r"http://127\.0\.0\.231:4444/controller/api/cluster/command => NoClusterWatch: "
                               r"No ClusterWatch has registered itself", backup.log_text()), 30, message="NoClusterWatch")
    assert cluster_type(primary) == "PreparedToBeCoupled"
    # the backup replicated the journal with the same file name
    name = os.readlink(os.path.join(primary.state_dir, "controller-journal"))
    assert os.readlink(os.path.join(backup.state_dir, "controller-journal")) == name
    watch = ClusterWatchClient([primary.http_uri, backup.http_uri], "JOC-test").start()
    try:
        wait_for(lambda: cluster_type(primary) == "Coupled", 30)
        kinds = [e["TYPE"] for e in events(primary)]
        assert kinds.index("ClusterWatchRegistered") < kinds.index("ClusterCoupled")
        state = json.loads(http("GET", primary.api + "/cluster")[2])
        assert state["setting"]["clusterWatchId"] == "JOC-test" and "clusterWatches" not in state["setting"]
        node = json.loads(http("GET", backup.api + "/cluster?return=ClusterNodeState")[2])
        assert node["nodeId"] == "Backup" and node["isBackup"] is True and node["clusterState"]["TYPE"] == "Coupled"
        assert any(r["TYPE"] == "ClusterWatchCheckState" for r in watch.requests)
        # orders are replicated; commands on the passive node are refused
        http("POST", primary.api + "/command", {"TYPE": "AddOrder", "order": {"id": "coupled", "workflowPath": "wf"}})
        wait_for(lambda: json.loads(http("GET", backup.api)[2]).get("orderCount") == 2, 10)
        status, _ignored, body = http("POST", backup.api + "/command", {"TYPE": "AddOrder", "order": {"id": "x", "workflowPath": "wf"}})
        assert status == 503 and json.loads(body)["code"] == "ClusterNodeIsNotActive"
        # the passive node dies: PassiveLost after heartbeat + heartbeat-timeout (scaled)
        assert backup.cancel().returncode == 0
        wait_for(lambda: cluster_type(primary) == "PassiveLost", 30)
        # ... and comes back: coupled again
        assert backup.start().returncode == 0
        wait_for(lambda: cluster_type(primary) == "Coupled", 30)
        # the backup's state is deleted: the orders live on in the active node's journal
        assert backup.stop().returncode == 0
        wait_for(lambda: cluster_type(primary) == "PassiveLost", 30)
        shutil.rmtree(backup.state_dir)
        assert backup.start().returncode == 0
        assert http("GET", backup.api + "/cluster")[0] == 503  # a fresh backup, awaiting appointment
        assert primary.stop().returncode == 0 and primary.start().returncode == 0
        assert json.loads(http("GET", primary.api)[2])["orderCount"] == 2
        timeline = [e["event"] for e in engine.timeline_events()]
        assert {"ClusterNodesAppointed", "ClusterCouplingPrepared", "ClusterCoupled", "ClusterPassiveLost"} <= set(timeline)
    finally:
        watch.stop()


def test_switchover_and_shutdown_semantics(engine):
    # js7-engine.md §3.6 (ClusterSwitchOver, ShutDown without clusterAction), §6.2
    primary = engine.controller("primary", "127.0.0.233:4444", is_backup=False)
    backup = engine.controller("secondary", "127.0.0.234:4444", is_backup=True)
    assert primary.start().returncode == 0 and backup.start().returncode == 0
    watch = ClusterWatchClient([primary.http_uri, backup.http_uri]).start()
    try:
        status, _ignored, body = http("POST", primary.api + "/command", {"TYPE": "ClusterSwitchOver"})
        assert status == 400 and json.loads(body)["code"] == "ClusterSwitchOverButNotCoupled"
        assert appoint(primary, backup)[0] == 200
        wait_for(lambda: cluster_type(primary) == "Coupled", 30)
        assert http("POST", primary.api + "/command", {"TYPE": "ClusterSwitchOver"})[0] == 200
        wait_for(lambda: json.loads(http("GET", backup.api + "/cluster")[2]).get("setting", {}).get("activeId") == "Backup"
                 and cluster_type(backup) == "Coupled", 30)
        # stop without fail-over on the active (now Backup): ActiveShutDown, nobody takes over
        assert backup.stop().returncode == 0
        wait_for(lambda: cluster_type(primary) == "ActiveShutDown", 10)
        # Nobody takes over: no ClusterFailedOver within the active-lost timeout (heartbeat + heartbeat-timeout,
        # 3 s + 10 s at the time scale 0.2 = 2.6 s, E§1.2) and a margin. The event API returns at once if it happens.
        eid = json.loads(http("GET", primary.api + "/cluster")[2])["eventId"]
        status, _ignored, body = http("GET", primary.api + "/event?return=ClusterFailedOver&after=%d&timeout=3.5" % eid,
                                      headers=NDJSON, timeout=15)
        assert status == 200 and body == b"", body
        assert cluster_type(primary) == "ActiveShutDown"
        assert backup.start().returncode == 0
        wait_for(lambda: cluster_type(backup) == "Coupled", 30)
        # stop --fail-over: the passive node takes over with the Cluster Watch's consent
        result = backup.stop("--fail-over")
        assert result.returncode == 0, result.stderr
        wait_for(lambda: cluster_type(primary) == "FailedOver", 30)
        state = json.loads(http("GET", primary.api + "/cluster")[2])
        assert state["setting"]["activeId"] == "Primary" and "failedAt" in state
    finally:
        watch.stop()


def test_coupling_with_agent_watch_2_5_and_stale_watch(engine):
    # js7-engine.md §5.1, §5.2; the runbook's phase 2
    engine.version = "2.5"
    agent = engine.agent("agent", "127.0.0.243:4445", auth={"controllers": {"controller9": "agent-pw"}})
    assert agent.start().returncode == 0
    status, _ignored, body = http("GET", agent.api + "/clusterWatch?controllerId=controller9")
    assert status == 400 and json.loads(body)["message"] == "No ClusterState registered for 'controller9'"
    # the Agent remembers an earlier incarnation of the cluster
    uris = {"Primary": "http://127.0.0.241:4444", "Backup": "http://127.0.0.242:4444"}
    make_legacy_watch_stale(agent.http_uri, "controller9", uris, password="agent-pw")
    auth = {"agent_passwords": {agent.http_uri: "agent-pw"}}
    primary = engine.controller("primary", "127.0.0.241:4444", is_backup=False, watches=[agent.http_uri], auth=auth)
    backup = engine.controller("secondary", "127.0.0.242:4444", is_backup=True, auth=auth)
    assert primary.start().returncode == 0 and backup.start().returncode == 0
    assert appoint(primary, backup, clusterWatches=[{"uri": agent.http_uri}])[0] == 200
    # the Backup asks to couple; the Primary asks the watch first, which refuses (inactive node): three attempts
    refused = r"'ClusterPrepareCoupling' command failed with HTTP 400 Bad Request: POST \S+ => ClusterWatchInactiveNode"
    wait_for(lambda: len(re.findall(refused, backup.log_text())) >= 3, 20, message="the stale watch refusing")
    assert cluster_type(primary) == "NodesAppointed"
    assert not [e for e in events(primary) if e["TYPE"] in ("ClusterCouplingPrepared", "ClusterCoupled")]
    # restarting the Agent clears its memory; the cluster couples
    assert agent.stop().returncode == 0 and agent.start().returncode == 0
    wait_for(lambda: cluster_type(primary) == "Coupled", 30)
    held = json.loads(http("GET", agent.api + "/clusterWatch?controllerId=controller9")[2])
    assert held["TYPE"] == "Coupled" and held["setting"]["clusterWatches"] == [{"uri": agent.http_uri}]
    # a 2.5 Agent overview: no id, no isTerminating
    overview = json.loads(http("GET", agent.api)[2])
    assert overview["version"] == "2.5.9" and "id" not in overview and "isTerminating" not in overview
    assert os.readlink(os.path.join(agent.state_dir, "agent-journal")).startswith("agent--")


def test_cluster_password_mismatch(engine):
    # js7-engine.md §1.4: the node logs in to its peer as <ControllerId> with its own cluster password
    primary = engine.controller("primary", "127.0.0.235:4444", is_backup=False, auth={"cluster_password": "A"})
    backup = engine.controller("secondary", "127.0.0.236:4444", is_backup=True,
                               auth={"cluster_password": "B", "peer_password": "not-A"})
    assert primary.start().returncode == 0 and backup.start().returncode == 0
    assert appoint(primary, backup)[0] == 200
    wait_for(lambda: re.search(r"WARN  js7\.cluster\.ClusterCommon - 🔴 ClusterStartBackupNode\(.* command failed with "
                               r"HTTP 401 Unauthorized: POST http://127\.0\.0\.236:4444/controller/api/session => "
                               r"InvalidLogin: Login: unknown user or invalid password", primary.log_text(), re.M), 30)
    assert "Login: unknown user or invalid password for UserId 'controller9'" in backup.log_text()
    assert cluster_type(primary) == "NodesAppointed"


def test_https_with_lab_ca(engine, tmp_path):
    # js7-engine.md §1.5: keystore/truststore in config/private (PKCS12, the product's format)
    ca_pem, ca = make_ca(str(tmp_path / "pki"))
    p12, pem = make_cert(str(tmp_path / "pki"), ca, "primary", ["127.0.0.237"])
    tls = {"keystore": p12, "keystore_password": "jobscheduler", "key_password": "jobscheduler", "truststore": ca_pem}
    primary = engine.controller("primary", "127.0.0.237:4444", https_address="127.0.0.237:4443", is_backup=False,
                                tls=tls, auth={"client_auth": True})
    result = primary.start()
    assert result.returncode == 0, result.stderr
    url = "https://127.0.0.237:4443/controller/api"
    assert http("GET", url, context=client_context(ca_pem, pem))[0] == 200
    other_ca, _ignored = make_ca(str(tmp_path / "other"), "Another CA")
    with pytest.raises(ssl.SSLError):
        http("GET", url, context=client_context(other_ca, pem))
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):  # client certificate required
        http("GET", url, context=client_context(ca_pem))
    assert http("GET", primary.api)[0] == 200  # plain HTTP stays available on the HTTP port
