"""``up --js7-user NAME``: Controllers and Agents run as a dedicated, unprivileged account.

js7-engine.md §6.3: ``JS7_CONTROLLER_USER`` / ``JS7_AGENT_USER`` name the run-as account, and the
instance script switches to it when started by root (the lab scripts do that with ``runuser``).
What the lab does for it, every step recorded in ``lab.json`` before it happens so ``down`` undoes it:

- the account: used as it is when it exists; otherwise created with
  ``useradd --system --user-group --no-create-home --shell /usr/sbin/nologin`` and removed at ``down``
  (only then: an account the lab did not create is never removed);
- the data directories of Controllers and Agents (``JS7_*_DATA``) are handed to the account
  (``chown -R``; the data directory itself ``0750``, so other unprivileged users cannot look into
  ``state/``) — **assumption**: the reference does not give the installer's modes; the homes stay root's;
- every directory above the lab directory that the account could not pass gets the ``o+x`` bit
  (restored at ``down``), and the timeline becomes group-writable for the account's group (the engines
  append to it);
- the engines run on an interpreter the account can execute: the lab's own when it can, else
  ``/usr/bin/python3`` with pyhocon/pyparsing copied into the installation (``lib/js7-lab/site-packages``).
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import time

from .netns import LabError

VENDORED_PACKAGES = ["pyhocon", "pyparsing"]
FALLBACK_PYTHON = "/usr/bin/python3"


def _run(argv, timeout=60):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)


def _exists(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _useradd(name):
    """useradd, retried while another process holds the lock on /etc/passwd (parallel test labs)."""
    last = None
    for _attempt in range(20):
        result = _run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
        if result.returncode == 0:
            return True
        if result.returncode == 9 or _exists(name):  # 9: the name is taken meanwhile - not ours, then
            return False
        last = (result.stderr or result.stdout).strip()
        time.sleep(0.2)
    raise LabError("useradd %s failed: %s" % (name, last))


def _groups_of(entry):
    import grp  # pylint: disable=import-outside-toplevel
    groups = {entry.pw_gid}
    groups.update(g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem)
    return groups


def _can_pass(st, entry, groups):
    if st.st_uid == entry.pw_uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _grant_traversal(record, lab_dir, entry):
    """o+x on every directory from / down to the lab directory the account could not pass (recorded)."""
    groups = _groups_of(entry)
    path = os.path.realpath(lab_dir)
    chain = []
    while True:
        chain.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(chain):
        st = os.stat(directory)
        if not _can_pass(st, entry, groups):
            mode = stat.S_IMODE(st.st_mode)
            record.add({"type": "chmod", "path": directory, "mode": mode})
            os.chmod(directory, mode | stat.S_IXOTH)


def _engine_python(name, lab_python):
    """The lab's interpreter when the account can run it with pyhocon, else the system Python + vendored packages."""
    probe = "import sys, pyhocon; sys.exit(0)"
    if _run(["runuser", "-u", name, "--", lab_python, "-c", probe]).returncode == 0:
        return lab_python, []
    check = "import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)"
    result = _run(["runuser", "-u", name, "--", FALLBACK_PYTHON, "-c", check])
    if result.returncode != 0:
        raise LabError("the JS7 user %s can run neither the lab's Python %s nor %s (3.9+): %s"
                       % (name, lab_python, FALLBACK_PYTHON, (result.stderr or result.stdout).strip()[-500:]))
    return FALLBACK_PYTHON, list(VENDORED_PACKAGES)


def prepare(rt):
    """Account, traversal, timeline and interpreter; before the installation (states.up step ``js7-user``)."""
    name = rt.config["js7_user"]
    record = rt.record
    entry = _exists(name)
    if entry is None:
        resource = {"type": "js7_user", "name": name, "created": True}
        record.add(resource)
        if not _useradd(name):
            resource["created"] = False
            record.save()
        entry = _exists(name)
    else:
        record.add({"type": "js7_user", "name": name, "created": False})
    _grant_traversal(record, rt.dir, entry)
    timeline = os.path.join(rt.dir, "timeline.jsonl")
    st = os.stat(timeline)
    record.add({"type": "chown", "path": timeline, "uid": st.st_uid, "gid": st.st_gid, "mode": stat.S_IMODE(st.st_mode)})
    os.chown(timeline, -1, entry.pw_gid)
    os.chmod(timeline, 0o664)
    python, vendored = _engine_python(name, rt.python)
    rt.config["engine_python"] = python
    rt.config["vendor_packages"] = vendored
    record.save()
    rt.timeline("lab", "Js7UserReady", user=name, uid=entry.pw_uid, created=record.resources("js7_user")[-1]["created"],
                python=python)


def hand_over(rt, host):
    """The host's JS7 data directory (and everything in it) to the account; the directory itself 0750."""
    entry = pwd.getpwnam(rt.config["js7_user"])
    data = rt.path(host, host.data)
    for root, dirs, files in os.walk(data):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(data, entry.pw_uid, entry.pw_gid)
    os.chmod(data, 0o750)


def teardown(record, errors):
    """Undo prepare(): timeline owner, o+x bits, and the account if the lab created it."""
    for resource in reversed(record.resources("chown")):
        try:
            if os.path.exists(resource["path"]):
                os.chown(resource["path"], resource["uid"], resource["gid"])
                os.chmod(resource["path"], resource["mode"])
        except OSError as error:
            errors.append("could not give %s back to uid %s: %s" % (resource["path"], resource["uid"], error))
    for resource in reversed(record.resources("chmod")):
        try:
            if os.path.isdir(resource["path"]):
                os.chmod(resource["path"], resource["mode"])
        except OSError as error:
            errors.append("could not restore the mode of %s: %s" % (resource["path"], error))
    for resource in record.resources("js7_user"):
        if not resource.get("created") or _exists(resource["name"]) is None:
            continue
        last = None
        for _attempt in range(20):
            result = _run(["userdel", resource["name"]])
            if result.returncode == 0 or _exists(resource["name"]) is None:
                last = None
                break
            last = (result.stderr or result.stdout).strip()
            time.sleep(0.2)
        if last:
            errors.append("userdel %s failed: %s" % (resource["name"], last))
