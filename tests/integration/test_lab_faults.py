"""Run-time faults: stop/kill/start, corrupt a config, cut and restore a host's network."""

import os

import pytest


def test_stop_kill_start(lab_mode, lab_factory):
    lab = lab_factory(state="healthy")
    result = lab.cli("fault", "stop", "c1-secondary")
    assert result.returncode == 0, result.stderr
    result = lab.cli("status", "--json")
    assert '"running": false' in result.stdout
    assert lab.cli("fault", "start", "c1-secondary").returncode == 0
    result = lab.cli("fault", "kill", "c1-agent", "--signal")
    assert result.returncode == 0 and "SIGKILL sent to pid" in result.stdout, result
    status = lab.cli("status")
    assert "c1-agent" in status.stdout
    assert lab.cli("fault", "kill", "joc").returncode == 0
    assert lab.cli("fault", "bogus", "joc").returncode == 2
    assert lab.cli("fault", "stop", "c9-primary").returncode == 2


def test_corrupt_config(lab_factory):
    lab = lab_factory(state="healthy")
    data = lab.hosts["c1-secondary"]["js7_controller_data"]
    assert lab.cli("fault", "corrupt-config", "c1-secondary").returncode == 0
    text = lab.read("c1-secondary", data + "/config/controller.conf")
    assert text.count("{") > text.count("}")
    assert os.path.exists(lab.host_path("c1-secondary", data + "/config/controller.conf.lab-orig"))
    assert lab.cli("fault", "stop", "c1-secondary").returncode == 0
    result = lab.cli("fault", "start", "c1-secondary")
    assert result.returncode == 1  # the Controller cannot read its configuration
    assert lab.cli("fault", "restore-config", "c1-secondary").returncode == 0
    assert lab.cli("fault", "start", "c1-secondary").returncode == 0


def test_cut_needs_netns(lab_factory):
    lab = lab_factory(state="healthy", mode="local")
    result = lab.cli("fault", "cut", "c1-secondary")
    assert result.returncode == 2 and "needs a netns lab" in result.stderr


def test_cut_and_restore_network(lab_mode, lab_factory):
    if lab_mode != "netns":
        pytest.skip("network cuts need netns mode")
    lab = lab_factory(state="healthy")
    assert lab.cli("fault", "cut", "c1-secondary").returncode == 0
    status, _ignored, body = lab.joc("controller/test", {"url": lab.hosts["c1-secondary"]["js7_controller_url"]})
    assert status == 420 and body["error"]["code"] in ("JOC-402", "JOC-401")
    assert lab.cli("fault", "restore", "c1-secondary").returncode == 0
    status, _ignored, body = lab.joc("controller/test", {"url": lab.hosts["c1-secondary"]["js7_controller_url"]})
    assert status == 200, body
