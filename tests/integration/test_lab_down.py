"""down leaves nothing behind: no process, namespace, mount, veth/bridge or sshd — also after a failed up."""

import os
import subprocess

import pytest


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


def running(pid):
    """True while the process exists and is not a zombie (init reaps orphans when it gets to it)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def assert_nothing_left(lab, resources):
    """``resources``: what lab.json recorded before ``down`` (it is gone afterwards)."""
    assert lab_pids(lab.dir) == []  # every engine, JOC, sshd and namespace holder named the lab's dir
    assert not os.path.exists(os.path.join(lab.dir, "lab.json"))
    if lab.mode != "netns":
        return  # a local lab creates no namespace, mount or interface (another netns lab may exist)
    assert {r["type"] for r in resources} >= {"netns", "veth", "bridge", "holder"}, resources
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert "js7lab-" not in namespaces
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    for resource in resources:
        if resource["type"] in ("veth", "bridge"):
            assert resource["name"] + ":" not in links and resource["name"] + "@" not in links, resource
        if resource["type"] == "mountpoint":  # created by up (absent before), so down removes it again
            assert not os.path.exists(resource["path"]), resource
        if resource["type"] == "holder":
            assert not running(resource["pid"]), resource
    with open("/proc/self/mountinfo", encoding="utf-8") as stream:
        assert "sos-berlin.com" not in stream.read()
    # -ww: no cut at $COLUMNS (which readline exports into this process's environment)
    processes = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert "sshd -D -f " + lab.dir not in processes


def test_down_after_up(lab_mode, lab_factory):
    lab = lab_factory(state="healthy")
    assert lab_pids(lab.dir) or lab.mode == "netns"
    resources = lab.record.get("resources", [])
    result = lab.cli("down")
    assert result.returncode == 0, result.stderr
    assert_nothing_left(lab, resources)


@pytest.mark.parametrize("step", ["install", "register"])
def test_down_after_failed_up(lab_mode, lab_factory, step):
    lab = lab_factory(state="healthy", expect_failure=True, env={"JS7_LAB_FAIL_AT": step})
    assert lab.up_result.returncode == 1
    assert "failing at step '%s'" % step in lab.up_result.stderr
    assert "down --dir" in lab.up_result.stderr
    assert lab.record["status"] == "failed"
    resources = lab.record.get("resources", [])
    result = lab.cli("down")
    assert result.returncode == 0, result.stderr
    assert_nothing_left(lab, resources)
