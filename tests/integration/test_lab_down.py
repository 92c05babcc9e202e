"""down leaves nothing behind: no process, namespace, mount, veth/bridge or sshd — also after a failed up."""

import os
import subprocess

import pytest

from conftest import Lab


def lab_pids(lab_dir):
    marker = lab_dir + "/"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as stream:
                    if marker.encode() in stream.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def assert_nothing_left(lab):
    assert lab_pids(lab.dir) == []
    assert not os.path.exists(os.path.join(lab.dir, "lab.json"))
    if lab.mode != "netns":
        return  # a local lab creates no namespace, mount or interface (another netns lab may exist)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "js7lab-" not in namespaces
    assert subprocess.run(["ip", "link", "show", "js7lab0"], capture_output=True).returncode != 0
    with open("/proc/self/mountinfo", encoding="utf-8") as stream:
        assert "sos-berlin.com" not in stream.read()
    assert "sshd -D -f " + lab.dir not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                                          text=True).stdout


def test_down_after_up(lab_mode, lab_factory):
    lab = lab_factory(state="healthy")
    assert lab_pids(lab.dir) or lab.mode == "netns"
    result = lab.cli("down")
    assert result.returncode == 0, result.stderr
    assert_nothing_left(lab)


@pytest.mark.parametrize("step", ["install", "register"])
def test_down_after_failed_up(lab_mode, lab_factory, step):
    lab = lab_factory(state="healthy", expect_failure=True, env={"JS7_LAB_FAIL_AT": step})
    assert lab.up_result.returncode == 1
    assert "failing at step '%s'" % step in lab.up_result.stderr
    assert "down --dir" in lab.up_result.stderr
    assert lab.record["status"] == "failed"
    result = lab.cli("down")
    assert result.returncode == 0, result.stderr
    assert_nothing_left(lab)
