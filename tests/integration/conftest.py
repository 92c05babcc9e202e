"""Fixtures of the integration tests: labs of the JS7 lab (tests/lab/DESIGN.md "Fixtures").

    lab_mode     "local" / "netns"; netns is skipped (with the reason) when not root or sshd is
                 missing, but FAILS instead when CI=true (CI runs as root and must run it).
    lab_factory  lab_factory(state="healthy", version="2.7", clusters=1, tls=False,
                 controller_auth="public", mode=lab_mode, **up_options) -> Lab; up_options are
                 `up` options (client_cert_required=True, js7_user="name", joc_session_timeout=1, ...);
                 every lab is torn down at the end of the test, also when the test failed.
                 In local mode every lab gets a loopback range of its own (free_loopback_net), so
                 a lab left behind by a failed test, or a parallel session, cannot break the next.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python") if os.path.exists(os.path.join(VENV_BIN, "python")) else sys.executable
COLLECTIONS = os.path.join(REPO, "build", "collections")

sys.path.insert(0, REPO)
from tests.lab import netns as lab_netns  # noqa: E402  pylint: disable=wrong-import-position
from tests.lab.joc.client import Client  # noqa: E402  pylint: disable=wrong-import-position


def _ensure_collection_link():
    """What `make collection` does, so a bare pytest run finds jobscheduler.js7 too."""
    link = os.path.join(COLLECTIONS, "ansible_collections", "jobscheduler", "js7")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        try:
            os.symlink(REPO, link)
        except FileExistsError:
            pass


_NET_COUNTER = itertools.count(1)


def _ports_free(net, clusters=1, tls=False):
    """True when every address:port a local lab on ``net`` would listen on can be bound now."""
    from tests.lab import layout  # pylint: disable=import-outside-toplevel
    wanted = [(layout.local_address("joc", 0, net), layout.JOC_PORT)]
    for k in range(1, clusters + 1):
        wanted += [(layout.local_address("primary", k, net), layout.CONTROLLER_PORT),
                   (layout.local_address("secondary", k, net), layout.CONTROLLER_PORT),
                   (layout.local_address("agent", k, net), layout.AGENT_PORT)]
    if tls:
        wanted += [(address, layout.HTTPS_PORT) for address, _port in list(wanted)]
    for address, port in wanted:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT of an earlier lab is no conflict
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def free_loopback_net(clusters=1, tls=False):
    """A loopback /24 (``127.A.B``) no lab uses now, different for every lab of this test session.

    Derived from JS7_LAB_LOOPBACK_NET (default 127.0.0): the session walks 127.A.(B+1), 127.A.(B+2), ...
    and skips a range whose ports are taken (a leftover of a failed test or another session's lab).
    """
    base = os.environ.get("JS7_LAB_LOOPBACK_NET", "127.0.0").split(".")
    first, second = int(base[1]), int(base[2])
    for _attempt in range(254):
        step = next(_NET_COUNTER)
        net = "127.%d.%d" % ((first + (second + step) // 256) % 256, (second + step) % 256)
        if net.endswith(".0.0") or net == "127.0.0":
            continue
        if _ports_free(net, clusters, tls):
            return net
    raise RuntimeError("no free loopback range for a local lab after 254 tries (from %s)" % ".".join(base))


class Lab:
    """A running lab; see DESIGN.md for the contract of every attribute."""

    def __init__(self, lab_dir, mode):
        self.dir = lab_dir
        self.mode = mode
        self.inventory = os.path.join(lab_dir, "inventory.yml")
        self.up_result = None

    # -- CLI -------------------------------------------------------------------------------
    def cli(self, *args, check=False, timeout=600, env=None):
        argv = [PYTHON, "-m", "tests.lab", args[0], "--dir", self.dir] + list(args[1:])
        full_env = dict(os.environ)
        full_env.update(env or {})
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=full_env, check=False)
        if check and result.returncode != 0:
            raise AssertionError("lab %s failed rc=%d\nstdout:\n%s\nstderr:\n%s"
                                 % (" ".join(args), result.returncode, result.stdout, result.stderr))
        return result

    @property
    def record(self):
        with open(os.path.join(self.dir, "lab.json"), encoding="utf-8") as stream:
            return json.load(stream)

    @property
    def hosts(self):
        import yaml  # pylint: disable=import-outside-toplevel
        from tests.lab.inventory import flat_hosts  # pylint: disable=import-outside-toplevel
        with open(self.inventory, encoding="utf-8") as stream:
            return flat_hosts(yaml.safe_load(stream))

    def host_path(self, host, path):
        """A file of a lab host as the test process sees it (host root + path in netns mode)."""
        values = self.hosts[host]
        if self.mode == "local":
            return path
        return os.path.join(self.dir, "hosts", host, path.lstrip("/"))

    # -- ansible ---------------------------------------------------------------------------
    def playbook(self, path_or_yaml, extra_vars=None, check=False, diff=False, verbosity=0, limit=None,
                 timeout=900, env=None):
        _ensure_collection_link()
        path = path_or_yaml
        if "\n" in path_or_yaml or not os.path.exists(path_or_yaml):
            handle, path = tempfile.mkstemp(prefix="playbook-", suffix=".yml", dir=self.dir)
            with os.fdopen(handle, "w") as stream:
                stream.write(path_or_yaml)
        argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", self.inventory, path]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        if verbosity:
            argv.append("-" + "v" * verbosity)
        if limit:
            argv += ["--limit", limit]
        full_env = dict(os.environ)
        full_env.update({"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS, "ANSIBLE_FORCE_COLOR": "0",
                         "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
                         "PATH": VENV_BIN + os.pathsep + full_env.get("PATH", "")})
        full_env.update(env or {})
        return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=full_env,
                              check=False)

    # -- observation -----------------------------------------------------------------------
    def timeline(self):
        path = os.path.join(self.dir, "timeline.jsonl")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as stream:
            return [json.loads(line) for line in stream if line.strip()]

    def url(self, host):
        values = self.hosts[host]
        for key in ("js7_controller_url", "js7_agent_url"):
            if key in values:
                return values[key]
        return values["js7_joc_url"]

    def http(self, host, path, method="GET", body=None, headers=None, timeout=15, accept="application/json",
             user=None, password=None):
        values = self.hosts[host]
        client = Client(user=user if user is not None else values.get("js7_controller_user"),
                        password=password if password is not None else values.get("js7_controller_password"),
                        ca_file=values.get("js7_controller_ca_path"), timeout=timeout,
                        # the lab client certificate (TLS labs): demanded with --client-cert-required
                        client_cert=values.get("js7_controller_client_cert"),
                        client_key=values.get("js7_controller_client_key"))
        if host == "joc":
            client.user = user
            client.password = password
        response = client.call(method, self.url(host) + path, body=body, headers=headers, accept=accept)
        try:
            parsed = json.loads(response.body.decode("utf-8")) if response.body.strip() else None
        except ValueError:
            parsed = response.body.decode("utf-8", "replace")
        return response.status, response.headers, parsed

    def joc(self, path, body=None, token=None):
        """POST ./<path> to JOC with a session (logs in as the inventory's JOC user if no token)."""
        if token is None:
            token = self.joc_login()
        return self.http("joc", "/joc/api/" + path.lstrip("./"), method="POST", body=body or {},
                         headers={"X-Access-Token": token})

    def joc_login(self, user="root", password="root"):
        status, headers, body = self.http("joc", "/joc/api/authentication/login", method="POST",
                                          user=user, password=password)
        assert status == 200, (status, body)
        return headers["X-Access-Token"]

    def read(self, host, path):
        with open(self.host_path(host, path), encoding="utf-8", errors="replace") as stream:
            return stream.read()

    def down(self):
        if os.path.exists(os.path.join(self.dir, "lab.json")):
            return self.cli("down")
        return None


def _netns_unavailable():
    missing = lab_netns.missing_prerequisites()
    return "; ".join(missing) if missing else None


@pytest.fixture(params=["local", "netns"])
def lab_mode(request):
    if request.param == "netns":
        reason = _netns_unavailable()
        if reason:
            if os.environ.get("CI") == "true":
                pytest.fail("netns lab required in CI but this machine lacks: %s" % reason)
            pytest.skip("netns lab needs: %s" % reason)
    return request.param


@pytest.fixture
def lab_factory(request, tmp_path):
    labs = []
    default_mode = request.getfixturevalue("lab_mode") if "lab_mode" in request.fixturenames else "local"

    def factory(state="healthy", version="2.7", clusters=1, tls=False, controller_auth="public", mode=None,
                expect_failure=False, env=None, **options):
        lab_dir = str(tmp_path / ("lab%d" % len(labs)))
        lab = Lab(lab_dir, mode or default_mode)
        labs.append(lab)
        args = ["up", "--mode", lab.mode, "--state", state, "--version", version, "--clusters", str(clusters),
                "--controller-auth", controller_auth]
        if tls:
            args.append("--tls")
        if lab.mode == "local" and "loopback_net" not in options:
            options["loopback_net"] = free_loopback_net(clusters, tls)
        for key, value in options.items():
            if isinstance(value, bool):  # a switch such as client_cert_required=True -> --client-cert-required
                args += ["--" + key.replace("_", "-")] if value else []
                continue
            args += ["--" + key.replace("_", "-"), str(value)]
        lab.up_result = lab.cli(*args, env=env)
        if not expect_failure and lab.up_result.returncode != 0:
            raise AssertionError("lab up failed rc=%d\nstdout:\n%s\nstderr:\n%s"
                                 % (lab.up_result.returncode, lab.up_result.stdout, lab.up_result.stderr))
        return lab

    yield factory
    problems = []
    for lab in labs:
        result = lab.down()
        if result is not None and result.returncode != 0:
            problems.append("down of %s failed: %s" % (lab.dir, result.stderr))
    if problems:
        pytest.fail("\n".join(problems))


def _js7_user_unavailable():
    missing = [] if os.geteuid() == 0 else ["root (the lab creates the account and chowns the data directories)"]
    import shutil  # pylint: disable=import-outside-toplevel
    missing += [tool for tool in ("sudo", "runuser", "useradd", "userdel") if not shutil.which(tool)]
    return "; ".join(missing) if missing else None


@pytest.fixture
def js7_account():
    """A fresh, unused account name for ``lab_factory(js7_user=...)`` (``up --js7-user``): the lab creates it and
    removes it at ``down``. Skipped with the reason when not root or sudo/runuser/useradd are missing; FAILS
    instead when CI=true (CI runs as root and must run these tests)."""
    reason = _js7_user_unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail("--js7-user lab required in CI but this machine lacks: %s" % reason)
        pytest.skip("--js7-user lab needs: %s" % reason)
    import pwd  # pylint: disable=import-outside-toplevel
    import secrets  # pylint: disable=import-outside-toplevel
    while True:
        name = "js7t" + secrets.token_hex(3)
        try:
            pwd.getpwnam(name)
        except KeyError:
            return name
