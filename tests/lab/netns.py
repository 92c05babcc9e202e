"""netns mode: one network namespace, mount namespace and sshd per host (root only).

Per host ``h`` the lab creates:

- ``ip netns add js7lab-<h>``, a veth pair (``js7v<i>`` in the root namespace, enslaved to bridge
  ``js7lab0`` = 198.18.0.1/15; ``eth0`` inside with the host's 198.18.k.x/15, plus ``lo``);
  there is no default route, so a lab host can reach nothing outside 198.18.0.0/15;
- a long-lived holder process ``ip netns exec <ns> unshare --mount --propagation private sh -c
  'mount --bind <host root>/opt/sos-berlin.com /opt/sos-berlin.com; mount --bind ... /var/...;
  exec /usr/sbin/sshd -D -f <dir>/ssh/<h>/sshd_config'``: the host's own sshd, whose net and mount
  namespaces everything else the lab runs on that host enters with ``nsenter``.

Everything is recorded in ``<dir>/lab.json`` *before* it is created (see ``Record``), so ``down``
removes it even after a half-finished ``up``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

from . import layout

SSHD = "/usr/sbin/sshd"


class LabError(Exception):
    """A clear message for the user; the CLI prints it and exits with its code."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def missing_prerequisites():
    """What netns mode needs that this machine lacks (empty list: all there)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (netns mode creates network namespaces, mounts and an sshd per host)")
    for tool in ("ip", "nsenter", "unshare", "ssh-keygen", "ssh", "mount"):
        if shutil.which(tool) is None:
            missing.append("the command '%s'" % tool)
    if not os.access(SSHD, os.X_OK):
        missing.append("%s (run `make system-deps` as root: it installs openssh-server)" % SSHD)
    return missing


def run(argv, check=True, **kw):
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kw)
    if check and result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise LabError("command failed (rc=%d): %s\n%s" % (result.returncode, " ".join(argv), output))
    return result


def link_exists(name):
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def netns_list():
    result = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def create_bridge(record):
    if link_exists(layout.BRIDGE):
        raise LabError("the bridge %s already exists: another netns lab is running on this machine "
                       "(only one at a time); stop it with `python -m tests.lab down --dir <its dir>`"
                       % layout.BRIDGE, code=4)
    record.add({"type": "bridge", "name": layout.BRIDGE})
    run(["ip", "link", "add", layout.BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", "%s/%d" % (layout.BRIDGE_ADDRESS, layout.PREFIX), "dev", layout.BRIDGE])
    run(["ip", "link", "set", layout.BRIDGE, "up"])


def create_mount_points(record):
    for path in layout.MOUNT_POINTS:
        if not os.path.exists(path):
            record.add({"type": "mountpoint", "path": path})
            os.makedirs(path)
    if not os.path.isdir("/run/sshd"):  # Debian's sshd needs its privilege separation directory
        record.add({"type": "mountpoint", "path": "/run/sshd"})
        os.makedirs("/run/sshd", mode=0o755)


def create_host_network(host, record):
    if host.netns in netns_list():
        raise LabError("network namespace %s already exists: run `python -m tests.lab down` for the lab "
                       "that owns it" % host.netns, code=4)
    record.add({"type": "netns", "name": host.netns})
    run(["ip", "netns", "add", host.netns])
    record.add({"type": "veth", "name": host.veth})
    run(["ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns])
    run(["ip", "link", "set", host.veth, "master", layout.BRIDGE])
    run(["ip", "link", "set", host.veth, "up"])
    inside = ["ip", "netns", "exec", host.netns]
    run(inside + ["ip", "link", "set", "lo", "up"])
    run(inside + ["ip", "addr", "add", "%s/%d" % (host.address, layout.PREFIX), "dev", "eth0"])
    run(inside + ["ip", "link", "set", "eth0", "up"])


def prepare_ssh(lab_dir, hosts):
    """Client key, one host key per host, authorized_keys and known_hosts, all under <dir>/ssh/."""
    ssh_dir = os.path.join(lab_dir, "ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    client_key = os.path.join(ssh_dir, "id_ed25519")
    if not os.path.exists(client_key):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "js7lab", "-f", client_key])
    with open(client_key + ".pub", encoding="utf-8") as stream:
        public = stream.read()
    authorized = os.path.join(ssh_dir, "authorized_keys")
    with open(authorized, "w", encoding="utf-8") as stream:
        stream.write(public)
    os.chmod(authorized, 0o600)
    known = []
    for host in hosts:
        host_dir = os.path.join(ssh_dir, host.name)
        os.makedirs(host_dir, mode=0o700, exist_ok=True)
        host_key = os.path.join(host_dir, "ssh_host_ed25519_key")
        if not os.path.exists(host_key):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", host_key])
        with open(host_key + ".pub", encoding="utf-8") as stream:
            key_type, key = stream.read().split()[:2]
        known.append("%s,%s %s %s\n" % (host.address, host.name, key_type, key))
        with open(os.path.join(host_dir, "sshd_config"), "w", encoding="utf-8") as stream:
            stream.write(
                "# sshd of lab host %s (generated by python -m tests.lab)\n"
                "ListenAddress %s\nPort 22\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\n"
                "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPrintMotd no\n"
                "UseDNS no\nMaxStartups 50:30:100\nMaxSessions 50\n"
                "Subsystem sftp internal-sftp\n"
                % (host.name, host.address, host_key, os.path.join(host_dir, "sshd.pid"), authorized))
    with open(os.path.join(ssh_dir, "known_hosts"), "w", encoding="utf-8") as stream:
        stream.writelines(known)
    return {"key": client_key, "known_hosts": os.path.join(ssh_dir, "known_hosts")}


def start_holder(host, lab_dir, record):
    """Start the host's holder (its sshd in its own net+mount namespace); returns its PID."""
    opt_src = host.physical("/opt/sos-berlin.com")
    var_src = host.physical("/var/sos-berlin.com")
    os.makedirs(opt_src, exist_ok=True)
    os.makedirs(var_src, exist_ok=True)
    config = os.path.join(lab_dir, "ssh", host.name, "sshd_config")
    log = os.path.join(lab_dir, "ssh", host.name, "sshd.log")
    script = ('mount --bind "$1" /opt/sos-berlin.com && mount --bind "$2" /var/sos-berlin.com '
              '&& hostname "$5" && exec %s -D -f "$3" -E "$4"' % SSHD)
    # --uts: the host has its own host name too (what ansible_hostname reports).
    argv = ["ip", "netns", "exec", host.netns, "unshare", "--mount", "--uts", "--propagation", "private",
            "sh", "-c", script, "holder", opt_src, var_src, config, log, host.name]
    with open(os.path.join(lab_dir, "ssh", host.name, "holder.out"), "ab") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                   start_new_session=True)
    record.add({"type": "holder", "host": host.name, "pid": process.pid, "netns": host.netns})
    # Every exec in the chain keeps the PID; ready when it is sshd and listens.
    deadline = time.time() + 15
    while time.time() < deadline:
        if process.poll() is not None:
            with open(os.path.join(lab_dir, "ssh", host.name, "holder.out"), encoding="utf-8", errors="replace") as s:
                raise LabError("the holder of host %s (sshd in its namespaces) exited with rc=%s: %s"
                               % (host.name, process.returncode, s.read().strip()[-2000:]))
        try:
            with open("/proc/%d/comm" % process.pid, encoding="utf-8") as stream:
                comm = stream.read().strip()
        except OSError:
            comm = ""
        if comm == "sshd" and _listening(host.netns, host.address, 22):
            return process.pid
        time.sleep(0.05)
    raise LabError("sshd of lab host %s did not start listening on %s:22 within 15 s (see %s)"
                   % (host.name, host.address, log))


def _listening(netns, address, port):
    result = subprocess.run(["ip", "netns", "exec", netns, "ss", "-Hltn", "src", "%s:%d" % (address, port)],
                            capture_output=True, text=True, check=False)
    return result.returncode == 0 and bool(result.stdout.strip())


def nsenter_argv(pid, argv):
    """Run argv inside a lab host: its network and mount namespaces (those of its holder)."""
    return ["nsenter", "-t", str(pid), "-n", "-m", "-u", "--"] + list(argv)


def link_set(host, up):
    """Cut (down) or restore (up) the host's network: its veth in the root namespace."""
    run(["ip", "link", "set", host.veth, "up" if up else "down"])
    run(["ip", "netns", "exec", host.netns, "ip", "link", "set", "eth0", "up" if up else "down"])


def netns_pids(name):
    result = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in result.stdout.split() if p.isdigit()]


def kill_pids(pids, grace=3.0):
    pids = [p for p in pids if p != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + grace
    alive = list(pids)
    while alive and time.time() < deadline:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.05)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + 5
    while time.time() < deadline and any(_alive(p) for p in alive):
        time.sleep(0.05)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as stream:
            return stream.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def teardown(resources, errors):
    """Remove recorded netns resources (any order in the record; tolerant of what is gone)."""
    namespaces = [r["name"] for r in resources if r["type"] == "netns"]
    existing = set(netns_list())
    for name in namespaces:
        if name in existing:
            kill_pids(netns_pids(name))
    for resource in resources:
        if resource["type"] == "holder":
            kill_pids([resource["pid"]])
    for name in namespaces:
        if name in existing:
            result = run(["ip", "netns", "del", name], check=False)
            if result.returncode != 0:
                errors.append("ip netns del %s: %s" % (name, result.stderr.strip()))
    for resource in resources:
        if resource["type"] == "veth" and link_exists(resource["name"]):
            run(["ip", "link", "del", resource["name"]], check=False)
    for resource in resources:
        if resource["type"] == "bridge" and link_exists(resource["name"]):
            result = run(["ip", "link", "del", resource["name"]], check=False)
            if result.returncode != 0:
                errors.append("ip link del %s: %s" % (resource["name"], result.stderr.strip()))
    for resource in reversed(resources):
        if resource["type"] == "mountpoint" and os.path.isdir(resource["path"]):
            if os.path.ismount(resource["path"]):
                errors.append("%s is still a mount point; left in place" % resource["path"])
                continue
            try:
                os.rmdir(resource["path"])
            except OSError as error:
                errors.append("could not remove %s: %s" % (resource["path"], error))
