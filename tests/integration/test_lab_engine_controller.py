"""The lab's simulated Controller as a single process: start-up, files, log format, HTTP API, auth.

Real processes started by the instance scripts, real HTTP (tests/lab/DESIGN.md). Addresses
127.0.0.200-209 keep clear of a lab the orchestration runs on 127.0.0.2/11-13.
"""
import json
import os
import re
import threading
import time

import pytest

from tests.lab.engine.testing import EngineLab, basic, http

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d{3} (info |debug|trace|WARN |ERROR) [\w.$]+ - ")


@pytest.fixture
def engine(tmp_path):
    lab = EngineLab(str(tmp_path))
    yield lab
    lab.cleanup()


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


def test_start_layout_log_and_overview(engine):
    # js7-engine.md §2.1, §2.2, §3.4, §4.2, §6.3
    primary = engine.controller("c9-primary", "127.0.0.200:4444", is_backup=False)
    result = primary.start()
    assert result.returncode == 0, result.stderr
    pid = int(read(primary.pid_file))
    assert read(os.path.join(primary.state_dir, "lock")) == str(pid)
    assert os.readlink(os.path.join(primary.state_dir, "controller-journal")) == "controller--0.journal"
    journal = read(os.path.join(primary.state_dir, "controller--0.journal")).splitlines()
    assert json.loads(journal[0])["TYPE"] == "JS7.Journal"
    assert journal[1] == '"-------SNAPSHOT-------"' and '"-------EVENTS-------"' in journal
    assert [json.loads(l)["TYPE"] for l in journal if l.startswith('{"eventId"')] == ["ControllerInitialized", "ControllerReady"]
    assert read(os.path.join(primary.work_dir, "http-uri")).strip() == "http://127.0.0.200:4444/controller"

    status, headers, body = http("GET", primary.api)
    overview = json.loads(body)
    assert status == 200 and headers["cache-control"] == "max-age=0, no-store, no-cache"
    assert overview["id"] == "controller9" and overview["version"] == "2.7.1"
    assert isinstance(overview["startedAt"], int) and isinstance(overview["initiallyStartedAt"], int)
    assert "isTerminating" not in overview and overview["orderCount"] == 0
    status, _ignored, body = http("GET", "http://127.0.0.200:4444/")
    assert status == 404 and body.decode() == "Try http://127.0.0.200:4444/controller/api"

    assert primary.status().returncode == 0
    stop = primary.stop()
    assert stop.returncode == 0, stop.stderr
    assert primary.status().returncode == 3
    assert not os.path.exists(primary.pid_file)
    lines = read(primary.log_file).splitlines()
    assert " Begin JS7 " in lines[0] and lines[-1].endswith(" End of logging")
    assert all(LOG_LINE.match(line) for line in lines[1:-1]), lines
    debug = read(os.path.join(primary.logs_dir, "controller-debug.log"))
    assert "debug js7.cluster.ClusterNode - Active primary cluster Node:Primary, no backup node appointed" in debug
    # a second start continues the journal in a new file and empties work/
    open(os.path.join(primary.work_dir, "leftover"), "w").close()
    assert primary.start().returncode == 0
    assert not os.path.exists(os.path.join(primary.work_dir, "leftover"))
    assert len([n for n in os.listdir(primary.state_dir) if n.endswith(".journal")]) == 1


def test_duplicate_start_is_refused(engine):
    # js7-engine.md §2.1: a second process on the same state/lock prints "Duplicate start" and fails
    primary = engine.controller("c9-primary", "127.0.0.201:4444", is_backup=False)
    assert primary.start().returncode == 0
    again = primary.start()  # the script finds the running process (GetPid) and starts nothing
    assert again.returncode == 0 and "already running" in again.stdout
    # another engine on the same data directory (other port, so GetPid does not see the first one)
    result = primary.run("start", "--http-port=127.0.0.201:4454")
    assert result.returncode == 1
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\S* Duplicate start of JS7$", result.stderr, re.M), result.stderr
    assert primary.status().returncode == 0  # the first one still runs


def test_fresh_backup_awaits_appointment(engine):
    # js7-engine.md §1.3 (4), §2.2, §3.5
    backup = engine.controller("c9-secondary", "127.0.0.202:4444", is_backup=True)
    assert backup.start().returncode == 0
    for path in ("/cluster", "/cluster?return=ClusterNodeState", "/event?timeout=0"):
        status, _ignored, body = http("GET", backup.api + path, headers={"Accept": "application/x-ndjson"})
        assert status == 503 and json.loads(body)["code"] == "BackupClusterNodeNotAppointed", path
    assert http("GET", backup.api)[0] == 200
    assert [n for n in os.listdir(backup.state_dir) if n.startswith("controller")] == []  # no journal until appointed
    assert "info  js7.cluster.ClusterNode - Backup cluster Node:Backup, awaiting appointment from a primary node" in backup.log_text()


def test_backup_with_standalone_journal_refuses_to_start(engine):
    # js7-engine.md §1.3 (3): is-backup=yes added later, journal kept
    secondary = engine.controller("c9-secondary", "127.0.0.203:4444", is_backup="commented")
    assert secondary.start().returncode == 0
    assert json.loads(http("GET", secondary.api + "/cluster")[2])["TYPE"] == "Empty"
    assert secondary.stop().returncode == 0
    conf = read(secondary.conf_file).replace("# js7.journal.cluster.node.is-backup = yes", "js7.journal.cluster.node.is-backup = yes")
    with open(secondary.conf_file, "w", encoding="utf-8") as file:
        file.write(conf)
    result = secondary.start()
    assert result.returncode == 1
    assert "PrimaryClusterNodeMayNotBecomeBackup: The cluster node has already been started as a primary node" in result.stderr
    assert re.search(r"ERROR js7\.controller\.ControllerMain - PrimaryClusterNodeMayNotBecomeBackup", secondary.log_text())
    assert secondary.status().returncode == 3
    # the documented fix: empty state/ and start again -> awaiting appointment
    for name in os.listdir(secondary.state_dir):
        os.unlink(os.path.join(secondary.state_dir, name))
    assert secondary.start().returncode == 0
    assert http("GET", secondary.api + "/cluster")[0] == 503


def test_authentication_session_basic_public(engine):
    # js7-engine.md §1.4, §3.2
    primary = engine.controller("c9-primary", "127.0.0.204:4444", is_backup=False,
                                auth={"public": False, "users": {"ops": {"password": "s3cret"}}})
    assert primary.start().returncode == 0
    status, headers, _ignored = http("GET", primary.api + "/cluster")
    assert status == 401 and headers["www-authenticate"] == 'Basic realm="JS7 JobScheduler Controller"'
    status, headers, body = http("GET", primary.api + "/cluster", headers=basic("ops", "wrong"))
    assert status == 401 and json.loads(body)["code"] == "InvalidLogin"
    assert http("GET", primary.api + "/cluster", headers=basic("ops", "s3cret"))[0] == 200
    login = {"TYPE": "Login", "userAndPassword": {"userId": "ops", "password": "nope"}}
    status, _ignored, body = http("POST", primary.api + "/session", login)
    assert status == 401 and json.loads(body) == {
        "TYPE": "Problem", "code": "InvalidLogin", "message": "Login: unknown user or invalid password"}
    login["userAndPassword"]["password"] = "s3cret"
    status, _ignored, body = http("POST", primary.api + "/session", login)
    logged_in = json.loads(body)
    assert status == 200 and logged_in["TYPE"] == "LoggedIn" and logged_in["js7Version"] == "2.7.1"
    session = {"x-js7-session": logged_in["sessionToken"]}
    assert http("GET", primary.api + "/cluster", headers=session)[0] == 200
    assert http("POST", primary.api + "/session", {"TYPE": "Logout", "sessionToken": logged_in["sessionToken"]},
                headers=session)[0] == 200
    status, _ignored, body = http("GET", primary.api + "/cluster", headers=session)
    assert status == 403 and json.loads(body)["code"] == "InvalidSessionToken"
    # the History user of the installer's private.conf is sha512-encoded
    assert "sha512:" in read(primary.private_conf_file)
    assert http("GET", primary.api + "/cluster", headers=basic("History", "history"))[0] == 200


def test_event_api_long_poll_and_orders_survive_restart(engine):
    # js7-engine.md §3.8
    primary = engine.controller("c9-primary", "127.0.0.205:4444", is_backup=False)
    assert primary.start().returncode == 0
    status, _ignored, _ignored = http("GET", primary.api + "/event?timeout=0", headers={"Accept": "application/json"})
    assert status == 406
    eid = json.loads(http("GET", primary.api + "/cluster")[2])["eventId"]
    status, headers, body = http("GET", primary.api + "/event?after=%d&timeout=0.3" % eid, headers={"Accept": "application/x-ndjson"})
    assert status == 200 and body == b"" and headers["content-type"] == "application/x-ndjson"
    result = {}

    def poll():
        result["response"] = http("GET", primary.api + "/event?return=OrderAdded&after=%d&timeout=20&limit=1" % eid,
                                  headers={"Accept": "*/*"}, timeout=30)
    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)
    answer = http("POST", primary.api + "/command", {"TYPE": "AddOrder", "order": {"id": "order-1", "workflowPath": "wf"}})
    assert json.loads(answer[2]) == {"TYPE": "AddOrder.Response", "ignoredBecauseDuplicate": False}
    thread.join(30)
    lines = result["response"][2].decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["Key"] == "order-1" and json.loads(lines[0])["eventId"] > eid

    assert primary.stop().returncode == 0
    assert primary.start().returncode == 0
    # the new journal file starts after the old events: older EventIds are torn
    status, _ignored, body = http("GET", primary.api + "/event?after=%d&timeout=0" % eid, headers={"Accept": "application/x-ndjson"})
    problem = json.loads(body)
    assert status == 400 and problem["code"] == "EventSeqTorn" and problem["arguments"]["requestedAfter"] == str(eid)
    assert json.loads(http("GET", primary.api)[2])["orderCount"] == 1
    assert json.loads(http("GET", primary.api + "/order")[2]) == {"count": 1}
    timeline = [e["event"] for e in engine.timeline_events()]
    assert timeline.count("ControllerStarted") == 2 and "ControllerStopped" in timeline


def test_stop_then_start_under_a_narrow_columns(engine):
    """Regression: GetPid read ``ps`` output cut at $COLUMNS (GNU readline exports COLUMNS=80 to every process a
    Python with readline starts, e.g. pytest or ansible), so ``stop`` found no process, said "not running" and
    left the engine up; the next ``start`` then failed with "Address already in use". Long paths, narrow columns."""
    deep = os.path.join(engine.root, "a-rather-long-directory-name-so-that-the-command-line-is-long" * 2)
    engine.root = deep
    primary = engine.controller("c9-primary", "127.0.0.206:4444", is_backup=False)
    narrow = {"COLUMNS": "40", "LINES": "10"}
    assert primary.start(env=narrow).returncode == 0
    pid = int(read(os.path.join(primary.state_dir, "lock")))
    assert "is running with pid=%d" % pid in primary.status(env=narrow).stdout
    result = primary.stop(env=narrow)
    assert result.returncode == 0 and "terminated" in result.stdout, result
    assert not os.path.exists("/proc/%d/cmdline" % pid) or read("/proc/%d/cmdline" % pid) == ""
    for name in os.listdir(primary.state_dir):
        os.unlink(os.path.join(primary.state_dir, name))  # the runbook's rm -rf state/*
    result = primary.start(env=narrow)
    assert result.returncode == 0, result.stdout + result.stderr
