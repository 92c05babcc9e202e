"""Bad input to the lab CLI gives clear errors and documented exit codes (tests/lab/cli.py)."""

import json
import os
import shutil
import socket
import subprocess

import pytest

from conftest import PYTHON, REPO, free_loopback_net


def lab(*args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([PYTHON, "-m", "tests.lab"] + list(args), cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=full_env, check=False)


@pytest.mark.parametrize("args, code, message", [
    (["up", "--state", "broken"], 2, "unknown state 'broken'; choose one of: healthy, standalone-secondary"),
    (["up", "--state", "stale-watch", "--version", "2.7"], 2, "--state stale-watch needs --version 2.5"),
    (["up", "--clusters", "0"], 2, "must be between 1 and 20"),
    (["up", "--version", "2.4"], 2, "invalid choice: '2.4'"),
    (["up", "--mode", "docker"], 2, "invalid choice: 'docker'"),
    (["up", "--time-scale", "fast"], 2, "'fast' is not a number"),
    (["nonsense"], 2, "invalid choice: 'nonsense'"),
])
def test_bad_arguments(tmp_path, args, code, message):
    result = lab(*(args + ["--dir", str(tmp_path / "lab")] if args[0] == "up" else args))
    assert result.returncode == code, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "lab" / "lab.json").exists()


def test_no_lab_in_dir(tmp_path):
    for command in (["status"], ["down"], ["fault", "stop", "c1-primary"]):
        result = lab(*(command[:1] + ["--dir", str(tmp_path)] + command[1:]))
        assert result.returncode == 5, result
        assert "no lab in" in result.stderr


def test_dir_with_a_lab_is_refused(tmp_path):
    (tmp_path / "lab.json").write_text(json.dumps({"config": {"mode": "local", "state": "healthy"},
                                                   "status": "up", "resources": []}))
    result = lab("up", "--dir", str(tmp_path))
    assert result.returncode == 4, result
    assert "already holds a local lab (state healthy, status up)" in result.stderr
    assert "down --dir" in result.stderr


def test_port_in_use_is_refused(tmp_path):
    net = free_loopback_net()
    try:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((net + ".12", 4444))
            sock.listen()
            result = lab("up", "--dir", str(tmp_path / "lab"), "--loopback-net", net)
    finally:
        if (tmp_path / "lab" / "lab.json").exists():  # a lab that came up anyway must not outlive the test
            lab("down", "--dir", str(tmp_path / "lab"))
    assert result.returncode == 4, result
    assert "ports already in use:" in result.stderr and net + ".12:4444 (c1-secondary" in result.stderr
    assert not (tmp_path / "lab" / "lab.json").exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop to nobody")
def test_netns_without_root_is_refused(tmp_path):
    tmp_path.chmod(0o777)
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", PYTHON, "-m",
                             "tests.lab", "up", "--mode", "netns", "--dir", str(tmp_path / "lab")],
                            cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
    assert result.returncode == 3, result
    assert "--mode netns needs: root" in result.stderr
    assert "Use --mode local" in result.stderr
