"""The simulated JOC Cockpit's API (joc-api.md), through real HTTP against a healthy lab."""

import re
import time

import pytest


@pytest.fixture(scope="module")
def joc_lab(tmp_path_factory):
    """One healthy 2.7 lab for all JOC API tests of this module (idle timeout 3 s)."""
    from conftest import Lab, free_loopback_net  # pylint: disable=import-outside-toplevel
    lab = Lab(str(tmp_path_factory.mktemp("joclab") / "lab"), "local")
    try:
        lab.up_result = lab.cli("up", "--state", "healthy", "--joc-session-timeout", "3",
                                "--loopback-net", free_loopback_net())
        assert lab.up_result.returncode == 0, lab.up_result.stderr
        yield lab
    finally:
        result = lab.down()  # also after a failed up: nothing may outlive the module
    assert result is None or result.returncode == 0, result.stderr


def login(lab, user="root", password="root"):
    return lab.http("joc", "/joc/api/authentication/login", method="POST", user=user, password=password)


def test_login_answer(joc_lab):
    status, headers, body = login(joc_lab)
    assert status == 200
    assert headers["X-Access-Token"] == body["accessToken"]  # J§1.1: header and body
    assert body["isAuthenticated"] is True and body["account"] == "root"
    assert 0 < body["sessionTimeout"] <= 3000  # remaining idle time in ms (J§1.3)
    assert int(headers["X-JOC-Timeout"]) == body["sessionTimeout"]


def test_wrong_password_401_account_answer(joc_lab):
    status, _ignored, body = login(joc_lab, password="wrong")
    assert status == 401
    assert body["isAuthenticated"] is False and body["message"] == "Access denied"
    assert body["accessToken"] == ""


def test_malformed_authorization_420(joc_lab):
    status, _ignored, body = joc_lab.http("joc", "/joc/api/authentication/login", method="POST",
                                          headers={"Authorization": "Basic !!!"})
    assert status == 420
    assert body["error"]["message"].endswith("Authorization header with basic based64part expected")
    assert set(body) == {"deliveryDate", "surveyDate", "error"}


def test_idle_timeout_440_and_logout(joc_lab):
    token = joc_lab.joc_login()
    status, _ignored, body = joc_lab.joc("joc/is_active", token=token)
    assert (status, body["ok"]) == (200, True)
    time.sleep(3.3)  # the lab's idle timeout knob (--joc-session-timeout 3)
    status, _ignored, body = joc_lab.joc("joc/is_active", token=token)
    assert status == 440
    assert body["message"].startswith("SessionNotExistException")
    token = joc_lab.joc_login()
    status, _ignored, body = joc_lab.joc("authentication/logout", token=token)
    assert status == 200 and body["isAuthenticated"] is False and body["accessToken"] == ""
    assert joc_lab.joc("joc/is_active", token=token)[0] == 440


def test_missing_permission_403(joc_lab):
    token = joc_lab.joc_login("viewer", "viewer")
    status, _ignored, body = joc_lab.joc("controller/cluster/appoint_nodes", {"controllerId": "controller1"}, token=token)
    assert status == 403 and body["isPermitted"] is False


def test_controllers_p(joc_lab):
    status, _ignored, body = joc_lab.joc("controllers/p", {"controllerId": "controller1"})
    assert status == 200
    roles = {c["role"]: c for c in body["controllers"]}
    assert set(roles) == {"PRIMARY", "BACKUP"}
    assert roles["PRIMARY"]["url"] == joc_lab.hosts["c1-primary"]["js7_controller_url"]
    assert roles["BACKUP"]["clusterUrl"] == joc_lab.hosts["c1-secondary"]["js7_controller_url"]
    assert body["agents"] == [] and body["clusterAgents"] == []


def test_controller_test(joc_lab):
    url = joc_lab.hosts["c1-primary"]["js7_controller_url"]
    status, _ignored, body = joc_lab.joc("controller/test", {"url": url, "controllerId": "controller1"})
    assert status == 200
    assert body["controller"] == {"url": url, "controllerId": "controller1",
                                  "connectionState": {"severity": 0, "_text": "established"}}
    status, _ignored, body = joc_lab.joc("controller/test", {"url": url, "controllerId": "other"})
    assert status == 420 and body["error"]["code"] == "JOC-405"
    assert "is not the expected Controller ID 'other'" in body["error"]["message"]
    status, _ignored, body = joc_lab.joc("controller/test", {"url": "http://127.0.0.99:4444"})
    assert status == 420 and body["error"]["code"] in ("JOC-400", "JOC-402")
    status, _ignored, body = joc_lab.joc("controller/test", {"url": "not a url"})
    assert status == 420 and body["error"]["code"] == "JOC-400"


def registration(lab, controller_id="controller1", **changes):
    body = {"controllerId": controller_id, "controllers": [
        {"url": lab.hosts["c1-primary"]["js7_controller_url"], "role": "PRIMARY", "title": "PRIMARY",
         "clusterUrl": lab.hosts["c1-primary"]["js7_controller_url"]},
        {"url": lab.hosts["c1-secondary"]["js7_controller_url"], "role": "BACKUP", "title": "SECONDARY",
         "clusterUrl": lab.hosts["c1-secondary"]["js7_controller_url"]}]}
    body.update(changes)
    return body


def test_register_validation(joc_lab):
    cases = [
        ({"controllers": []}, "JOC-400"),
        ({"controllers": [{"url": "http://a:1", "role": "PRIMARY"}, {"url": "http://a:1", "role": "BACKUP"}]},
         "JOC-400"),
        ({"controllers": [{"url": "ftp://a", "role": "PRIMARY"}]}, "JOC-400"),
        # reachable Controllers answering another ID: JOC-405 comes first (J§2.3 step 5)
        (registration(joc_lab, controller_id="nosuch"), "JOC-405"),
        # unreachable on update is tolerated, then the unknown ID fails (J§2.3 step 6)
        ({"controllerId": "nosuch", "controllers": [{"url": "http://127.0.0.1:9", "role": "STANDALONE"}]},
         "JOC-408"),
        (registration(joc_lab, controller_id=""), "JOC-171"),  # new registration of an existing ID
    ]
    for body, code in cases:
        status, _ignored, answer = joc_lab.joc("controller/register", body)
        assert (status, answer["error"]["code"]) == (420, code), (body, answer)


def test_resubmit_unchanged_sends_no_appointment(joc_lab):
    before = [e for e in joc_lab.timeline() if e["event"] == "ClusterAppointNodesSent"]
    status, _ignored, answer = joc_lab.joc("controller/register", registration(joc_lab, auditLog={"comment": "resubmit"}))
    assert status == 200 and answer["ok"] is True
    deadline = time.time() + 10
    log_path = joc_lab.hosts["joc"]["js7_joc_data"] + "/logs/joc.log"
    while time.time() < deadline and "cluster nodes are already appointed" not in joc_lab.read("joc", log_path):
        time.sleep(0.1)
    assert "controller1: cluster nodes are already appointed" in joc_lab.read("joc", log_path)
    after = [e for e in joc_lab.timeline() if e["event"] == "ClusterAppointNodesSent"]
    assert after == before  # J§2.3 step 10: only when the URIs differ


def test_components_versions_is_active(joc_lab):
    status, _ignored, body = joc_lab.joc("controller/components", {"controllerId": "controller1"})
    assert status == 200 and body["clusterState"]["_text"] == "ClusterCoupled"
    assert body["jocs"][0]["current"] is True
    status, _ignored, body = joc_lab.joc("joc/versions", {})
    assert status == 200 and body["jocVersion"] == "2.7.1"
    assert {v["version"] for v in body["controllerVersions"]} == {"2.7.1"}
    status, _ignored, body = joc_lab.joc("controller/components", {})
    assert status == 420 and body["error"]["code"] == "JOC-400"


def test_components_with_one_node_down_is_unknown(joc_lab):
    """J§2.7: one node unreachable and the other Coupled/PreparedToBeCoupled -> ClusterUnknown."""
    assert joc_lab.cli("fault", "kill", "c1-secondary").returncode == 0
    try:
        status, _ignored, body = joc_lab.joc("controller/components", {"controllerId": "controller1"})
        assert status == 200
        backup = next(c for c in body["controllers"] if c["role"] == "BACKUP")
        assert backup["connectionState"]["_text"] == "unreachable"
        if body["clusterState"]["_text"] != "ClusterPassiveLost":  # before the Primary noticed
            assert body["clusterState"]["_text"] == "ClusterUnknown"
            assert all(c["isCoupled"] is False for c in body["controllers"])
    finally:
        assert joc_lab.cli("fault", "start", "c1-secondary").returncode == 0
    joc_log = joc_lab.read("joc", joc_lab.hosts["joc"]["js7_joc_data"] + "/logs/joc.log")
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d{3} info  \[", joc_log, re.M)
