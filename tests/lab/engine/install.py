"""Lays out lab installations like the JS7 installer does (E§1.6, E§6.1-6.4, DESIGN.md).

    from tests.lab.engine.install import install_controller, install_agent
    primary = install_controller(root, "controller1", "127.0.0.11:4444", is_backup=False, timeline=tl)
    primary.start(); primary.stop(); primary.status(); primary.cancel()

Host root layout (local mode; in netns mode ``visible_root="/"`` because the tree is bind-mounted):
    <root>/opt/sos-berlin.com/js7/controller/{bin,lib/js7-lab}
    <root>/var/sos-berlin.com/js7/controller/var/{config,config/private,state,logs,work}
    <root>/opt/sos-berlin.com/js7/agent/{bin/agent_<port>.sh,lib/js7-lab}
    <root>/var/sos-berlin.com/js7/agent/var_<port>/{config,state,logs,work}
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

from .common import version_tuple

ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))
SCRIPTS_DIR = os.path.join(os.path.dirname(ENGINE_DIR), "scripts")
VERSIONS = {"2.5": "2.5.9", "2.6": "2.6.7", "2.7": "2.7.1"}


def full_version(version):
    """``2.5`` -> ``2.5.9``, ``2.7`` -> ``2.7.1``; full versions pass."""
    return VERSIONS.get(str(version), str(version))


def sha512(password):
    return "sha512:" + hashlib.sha512(password.encode("utf-8")).hexdigest()


def hocon_string(text):
    return json.dumps(str(text))


def _write(path, content, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    with open(path, "wb") as file:
        file.write(data)
    os.chmod(path, mode)


def copy_engine_package(lib_dir):
    """``<home>/lib/js7-lab/`` = a copy of tests/lab/engine (the installation is self-contained)."""
    if os.path.isdir(lib_dir):
        shutil.rmtree(lib_dir)
    os.makedirs(lib_dir)
    for name in sorted(os.listdir(ENGINE_DIR)):
        if name.endswith(".py"):
            shutil.copy2(os.path.join(ENGINE_DIR, name), os.path.join(lib_dir, name))


def write_lab_json(lib_dir, version="2.7.1", time_scale=0.2, timeline=None, python=None, host=None, **extra):
    settings = {"version": full_version(version), "time_scale": time_scale,
                "timeline": os.path.abspath(timeline) if timeline else None,
                "python": python or sys.executable, "host": host}
    settings.update(extra)
    _write(os.path.join(lib_dir, "lab.json"), json.dumps(settings, indent=2) + "\n")
    return settings


def render_template(template_path, values, python):
    with open(template_path, encoding="utf-8") as file:
        text = file.read()
    for key, value in values.items():
        text = text.replace("@%s@" % key, value if value is not None else "")
    return text.replace("@LAB_PYTHON@", python)


class Installation:
    """One installed component: paths, URIs and its instance script."""

    def __init__(self, kind, host_root, visible_root, home, data, script, http_address, https_address, **info):
        self.kind = kind
        self.host_root = host_root
        self.visible_root = visible_root
        self.home = home                     # paths as written on this machine (under host_root)
        self.data = data
        self.config_dir = os.path.join(data, "config")
        self.private_dir = os.path.join(self.config_dir, "private")
        self.state_dir = os.path.join(data, "state")
        self.logs_dir = os.path.join(data, "logs")
        self.work_dir = os.path.join(data, "work")
        self.script = script
        self.http_address = http_address
        self.https_address = https_address
        prefix = "controller" if kind == "controller" else "agent"
        self.http_uri = "http://%s" % http_address
        self.https_uri = "https://%s" % https_address if https_address else None
        self.api = "%s/%s/api" % (self.http_uri, prefix)
        self.log_file = os.path.join(self.logs_dir, prefix + ".log")
        self.pid_file = os.path.join(self.logs_dir, prefix + ".pid")
        self.conf_file = os.path.join(self.config_dir, prefix + ".conf")
        self.private_conf_file = os.path.join(self.private_dir, "private.conf")
        self.__dict__.update(info)

    def run(self, *args, timeout=120, env=None):
        """Run the instance script (``start``, ``stop --timeout=5``, ...) -> CompletedProcess."""
        environment = dict(os.environ)
        environment.update(env or {})
        return subprocess.run([self.script] + list(args), capture_output=True, text=True, timeout=timeout,
                              env=environment, check=False)

    def start(self, **kw):
        return self.run("start", **kw)

    def stop(self, *options, **kw):
        return self.run("stop", *options, **kw)

    def status(self, **kw):
        return self.run("status", **kw)

    def cancel(self, **kw):
        return self.run("cancel", **kw)

    def log_text(self):
        try:
            with open(self.log_file, encoding="utf-8") as file:
                return file.read()
        except FileNotFoundError:
            return ""

    def __repr__(self):
        return "Installation(%s %s)" % (self.kind, self.http_address)


def _visible(path, host_root, visible_root):
    """A path under host_root as the running process sees it (netns: bind-mounted at /)."""
    relative = os.path.relpath(path, host_root)
    return os.path.join(visible_root, relative)


CONTROLLER_CONF = """\
# ----------------------------------------------------------------------------
# JS7 Controller configuration (controller.conf)
# ----------------------------------------------------------------------------
# Written by the JS7 lab installer after the product's controller.conf-example.
# Settings in this file override the built-in defaults. Secrets belong into
# private/private.conf, which overrides this file.

# Cluster: the Secondary Controller instance of a cluster is the backup node.
# The setting has to be present before the first start of the instance.
{is_backup_line}

# JS7 <= 2.5: Agents acting as Cluster Watch
{watches_line}

# Journal: keep the truncated rest of the journal after a fail-over
# js7.journal.cluster.keep-truncated-rest = no
{extra}"""


def _distinguished_names_line(names):
    """``distinguished-names = [ "CN=...,O=..." ]`` of a user entry (E§1.4: client certificate DN -> user)."""
    return "                distinguished-names = [ %s ]" % ", ".join(hocon_string(name) for name in names)


def _private_conf(controller_id, public, cluster_password, peer_password, users, agent_passwords, tls_block, hash_scheme,
                  peer_distinguished_names=None):
    lines = ["# JS7 Controller private configuration (private.conf): secrets, overrides controller.conf", "",
             "js7 {", "    auth {", "        users {"]
    if peer_password is not None or peer_distinguished_names:
        lines += ["            # Controller ID for connections by primary/secondary Controller instance",
                  "            %s {" % controller_id]
        if peer_password is not None:
            lines.append("                password = %s" % hocon_string("plain:" + peer_password))
        if peer_distinguished_names:
            lines.append(_distinguished_names_line(peer_distinguished_names))
        lines.append("            }")
    for user, spec in (users or {}).items():
        password = spec["password"] if isinstance(spec, dict) else spec
        encoded = sha512(password) if hash_scheme == "sha512" else "plain:" + password
        lines += ["            %s {" % user, "                password = %s" % hocon_string(encoded)]
        permissions = spec.get("permissions") if isinstance(spec, dict) else None
        if permissions:
            lines.append("                permissions = [ %s ]" % ", ".join(permissions))
        names = spec.get("distinguished_names") if isinstance(spec, dict) else None
        if names:
            lines.append(_distinguished_names_line(names))
        lines.append("            }")
    lines.append("        }")
    if cluster_password is not None:
        lines += ["        cluster {", "            password = %s" % hocon_string(cluster_password), "        }"]
    if agent_passwords:
        lines.append("        agents {")
        for uri, password in agent_passwords.items():
            lines.append("            %s = %s" % (hocon_string(uri), hocon_string(password)))
        lines.append("        }")
    lines += ["    }", "    web {", "        server {", "            auth {",
              "                public = %s" % ("true" if public else "false"), "            }", "        }"]
    lines += tls_block
    lines += ["    }", "    journal {", "        users-allowed-to-release-events = [ History ]", "    }", "}", ""]
    return "\n".join(lines)


def _copy_store(source, key_file, target):
    """Copy a keystore; a PEM certificate with a separate key file becomes one PEM (key + chain)."""
    if key_file:
        with open(key_file, "rb") as key, open(source, "rb") as cert:
            _write(target, key.read() + b"\n" + cert.read(), 0o600)
    else:
        shutil.copy2(source, target)
        os.chmod(target, 0o600)


def _tls_block(tls, private_dir, visible):
    """Copy keystore/truststore into config/private and name them (E§1.5).

    ``tls`` = {"keystore": path, "keystore_password", "key_password", "truststore": path,
    "truststore_password", "client_keystore": path, "client_auth": bool}. PKCS12 is the product's
    format; PEM files work too (lab convenience).
    """
    if not tls:
        return []
    block = ["        https {"]
    keystore = tls.get("keystore")
    if keystore:
        name = "https-keystore" + (".p12" if not keystore.endswith(".pem") else ".pem")
        _copy_store(keystore, tls.get("keystore_key"), os.path.join(private_dir, name))
        block += ["            keystore {", "                file = %s" % hocon_string(visible(os.path.join(private_dir, name)))]
        if tls.get("keystore_password") is not None:
            block.append("                store-password = %s" % hocon_string(tls["keystore_password"]))
        if tls.get("key_password") is not None:
            block.append("                key-password = %s" % hocon_string(tls["key_password"]))
        block.append("            }")
    client = tls.get("client_keystore")
    if client:
        name = "https-client-keystore" + (".p12" if not client.endswith(".pem") else ".pem")
        _copy_store(client, tls.get("client_keystore_key"), os.path.join(private_dir, name))
        block += ["            client-keystore {", "                file = %s" % hocon_string(visible(os.path.join(private_dir, name)))]
        if tls.get("keystore_password") is not None:
            block.append("                store-password = %s" % hocon_string(tls["keystore_password"]))
        block.append("            }")
    truststore = tls.get("truststore")
    if truststore:
        name = "https-truststore" + (".p12" if not truststore.endswith(".pem") else ".pem")
        shutil.copy2(truststore, os.path.join(private_dir, name))
        entry = "file = %s" % hocon_string(visible(os.path.join(private_dir, name)))
        if tls.get("truststore_password") is not None:
            entry += ", store-password = %s" % hocon_string(tls["truststore_password"])
        block.append("            truststores = [ { %s } ]" % entry)
    block.append("        }")
    return block


def install_controller(host_root, controller_id, http_address, https_address=None, is_backup=None, version="2.7.1",
                       time_scale=0.2, timeline=None, python=None, auth=None, tls=None, host=None, visible_root=None,
                       nodes=None, watches=None, controller_conf=None, private_conf=None, extra_conf="",
                       user=None, debug_log=True, home=None, data=None):
    """Install one Controller instance; returns an :class:`Installation`.

    home / data: explicit directories (default: the installer's defaults under ``host_root``).

    is_backup: ``True`` writes the installer's flat ``js7.journal.cluster.node.is-backup = yes`` (``--standby``),
      ``False`` writes ``= no`` (``--active``), ``'commented'`` keeps the example's commented line, ``None`` omits it.
    auth: {"public": True, "cluster_password": str|None, "peer_password": str|None (default: cluster_password),
      "users": {"JOC": {"password": "...", "permissions": ["UpdateItem"], "distinguished_names": ["CN=..."]},
      "History": "..."}, "hash": "sha512", "agent_passwords": {"<agent uri>": "<password>"}, "client_auth": bool,
      "peer_distinguished_names": [DN of the peer node's client certificate]}.
    tls: see ``_tls_block``. controller_conf / private_conf: exact file contents (str or bytes) instead.
    nodes: {"Primary": uri, "Backup": uri} -> js7.journal.cluster.nodes (auto-appointment, E§1.2).
    watches: [agent uri] -> js7.journal.cluster.watches (≤ 2.5, E§1.2).
    """
    host_root = os.path.abspath(host_root)
    visible_root = host_root if visible_root is None else visible_root
    python = python or sys.executable
    given = dict(auth or {})
    users = {"History": "history", "JOC": {"password": "joc", "permissions": ["UpdateItem"]}}
    users.update(given.pop("users", None) or {})  # the installer's users plus the caller's
    auth = dict({"public": True, "cluster_password": "js7-lab-cluster-password", "hash": "sha512", "users": users}, **given)
    home = home or os.path.join(host_root, "opt/sos-berlin.com/js7/controller")
    data = data or os.path.join(host_root, "var/sos-berlin.com/js7/controller/var")

    def visible(path):
        return _visible(path, host_root, visible_root)

    for sub in ("bin", "lib/user_lib"):
        os.makedirs(os.path.join(home, sub), exist_ok=True)
    for sub in ("config/private", "config/license", "state", "logs", "work"):
        os.makedirs(os.path.join(data, sub), exist_ok=True)
    lib = os.path.join(home, "lib/js7-lab")
    copy_engine_package(lib)
    write_lab_json(lib, version, time_scale, timeline, python, host or os.path.basename(host_root), debug_log=debug_log)

    # controller.conf
    if controller_conf is None:
        if is_backup is True:
            backup_line = "js7.journal.cluster.node.is-backup = yes"
        elif is_backup is False:
            backup_line = "js7.journal.cluster.node.is-backup = no"
        elif is_backup == "commented":
            backup_line = "# js7.journal.cluster.node.is-backup = yes"
        else:
            backup_line = ""
        watches_line = "# js7.journal.cluster.watches = [ \"http://localhost:4445\" ]"
        if watches:
            watches_line = "js7.journal.cluster.watches = [ %s ]" % ", ".join(hocon_string(w) for w in watches)
        extra = extra_conf or ""
        if nodes:
            extra += "\njs7.journal.cluster.nodes {\n%s}\n" % "".join(
                "    %s = %s\n" % (k, hocon_string(v)) for k, v in nodes.items())
        if auth.get("client_auth") is not None:
            extra += "\njs7.web.server.auth.https-client-authentication = %s\n" % ("on" if auth["client_auth"] else "off")
        controller_conf = CONTROLLER_CONF.format(is_backup_line=backup_line, watches_line=watches_line, extra=extra)
    _write(os.path.join(data, "config/controller.conf"), controller_conf)
    if private_conf is None:
        peer = auth.get("peer_password", auth.get("cluster_password"))
        private_conf = _private_conf(controller_id, auth.get("public", True), auth.get("cluster_password"), peer,
                                     auth.get("users"), auth.get("agent_passwords"),
                                     _tls_block(tls, os.path.join(data, "config/private"), visible), auth.get("hash", "sha512"),
                                     peer_distinguished_names=auth.get("peer_distinguished_names"))
    elif tls:
        _tls_block(tls, os.path.join(data, "config/private"), visible)
    _write(os.path.join(data, "config/private/private.conf"), private_conf, 0o600)

    # bin/controller.sh (generic) and bin/controller_instance.sh (installer-edited variables, E§6.3)
    python_visible = python
    _write(os.path.join(home, "bin/controller.sh"),
           render_template(os.path.join(SCRIPTS_DIR, "controller.sh"), {}, python_visible), 0o755)
    values = {
        "JS7_CONTROLLER_HOME": visible(home), "JS7_CONTROLLER_USER": user or _current_user(),
        "JS7_CONTROLLER_ID": controller_id, "JS7_CONTROLLER_HTTP_PORT": http_address,
        "JS7_CONTROLLER_HTTPS_PORT": https_address or "", "JS7_CONTROLLER_DATA": visible(data),
        "JS7_CONTROLLER_CONFIG_DIR": visible(os.path.join(data, "config")),
        "JS7_CONTROLLER_LOGS": visible(os.path.join(data, "logs")),
        "JS7_CONTROLLER_PID_FILE_DIR": visible(os.path.join(data, "logs")), "JS7_CONTROLLER_PID_FILE_NAME": "controller.pid",
    }
    script = os.path.join(home, "bin/controller_instance.sh")
    _write(script, render_template(os.path.join(SCRIPTS_DIR, "controller_instance.sh"), values, python_visible), 0o755)
    return Installation("controller", host_root, visible_root, home, data, script, http_address, https_address,
                        controller_id=controller_id, version=full_version(version), lib_dir=lib)


AGENT_CONF = """\
# ----------------------------------------------------------------------------
# JS7 Agent configuration (agent.conf)
# ----------------------------------------------------------------------------
# Written by the JS7 lab installer after the product's agent.conf-example.

# js7.job.execution.signed-script-injection-allowed = no
{extra}"""


def install_agent(host_root, http_address, https_address=None, version="2.7.1", time_scale=0.2, timeline=None,
                  python=None, auth=None, tls=None, host=None, visible_root=None, agent_conf=None, private_conf=None,
                  extra_conf="", user=None, debug_log=True, home=None, data=None):
    """Install one Agent (data dir ``var_<port>``, script ``bin/agent_<port>.sh``, E§6.1).

    auth: {"public": True, "controllers": {"<ControllerId>": "<password>"}, "client_auth": bool}
    """
    host_root = os.path.abspath(host_root)
    visible_root = host_root if visible_root is None else visible_root
    python = python or sys.executable
    auth = dict({"public": True}, **(auth or {}))
    port = http_address.rsplit(":", 1)[-1]
    home = home or os.path.join(host_root, "opt/sos-berlin.com/js7/agent")
    data = data or os.path.join(host_root, "var/sos-berlin.com/js7/agent/var_%s" % port)

    def visible(path):
        return _visible(path, host_root, visible_root)

    for sub in ("bin", "lib/user_lib"):
        os.makedirs(os.path.join(home, sub), exist_ok=True)
    for sub in ("config/private", "config/executables", "state", "logs", "work"):
        os.makedirs(os.path.join(data, sub), exist_ok=True)
    lib = os.path.join(home, "lib/js7-lab")
    copy_engine_package(lib)
    write_lab_json(lib, version, time_scale, timeline, python, host or os.path.basename(host_root), debug_log=debug_log)
    if agent_conf is None:
        extra = extra_conf or ""
        if auth.get("client_auth") is not None:
            extra += "\njs7.web.server.auth.https-client-authentication = %s\n" % ("on" if auth["client_auth"] else "off")
        agent_conf = AGENT_CONF.format(extra=extra)
    _write(os.path.join(data, "config/agent.conf"), agent_conf)
    if private_conf is None:
        lines = ["# JS7 Agent private configuration (private.conf)", "", "js7 {", "    auth {", "        users {"]
        for controller_id, password in (auth.get("controllers") or {}).items():
            lines += ["            # Controller ID: the Controller logs in to its Agents as user <ControllerId>",
                      "            %s {" % controller_id, "                password = %s" % hocon_string("plain:" + password),
                      "            }"]
        lines += ["        }", "    }", "    web {", "        server {", "            auth {",
                  "                public = %s" % ("true" if auth.get("public", True) else "false"),
                  "            }", "        }"]
        lines += _tls_block(tls, os.path.join(data, "config/private"), visible)
        lines += ["    }", "}", ""]
        private_conf = "\n".join(lines)
    elif tls:
        _tls_block(tls, os.path.join(data, "config/private"), visible)
    _write(os.path.join(data, "config/private/private.conf"), private_conf, 0o600)
    _write(os.path.join(home, "bin/agent.sh"), render_template(os.path.join(SCRIPTS_DIR, "agent.sh"), {}, python), 0o755)
    values = {
        "JS7_AGENT_HOME": visible(home), "JS7_AGENT_USER": user or _current_user(),
        "JS7_AGENT_WORK_DIR": visible(data), "JS7_AGENT_HTTP_PORT": http_address,
        "JS7_AGENT_HTTPS_PORT": https_address or "", "JS7_AGENT_DATA": visible(data),
        "JS7_AGENT_CONFIG_DIR": visible(os.path.join(data, "config")), "JS7_AGENT_LOGS": visible(os.path.join(data, "logs")),
        "JS7_AGENT_PID_FILE_DIR": visible(os.path.join(data, "logs")), "JS7_AGENT_PID_FILE_NAME": "agent.pid",
    }
    script = os.path.join(home, "bin/agent_%s.sh" % port)
    _write(script, render_template(os.path.join(SCRIPTS_DIR, "agent_instance.sh"), values, python), 0o755)
    return Installation("agent", host_root, visible_root, home, data, script, http_address, https_address,
                        version=full_version(version), lib_dir=lib, port=port)


def _current_user():
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER", "")


def install_from_lab_spec(spec):
    """The orchestration's entry point (tests/lab/states.py ``install_local``).

    ``spec``: kind (primary|secondary|agent), name, home, data, address, version, time_scale, timeline,
    python, tls, controller_auth ("public" or an authenticated mode), is_backup, pki, ca, controller_id,
    controller_user, controller_password, peer_url, agent_url. Paths are the ones the host sees.
    """
    kind = spec["kind"]
    https = "%s:4443" % spec["address"] if spec.get("tls") else None
    tls = None
    if spec.get("tls"):
        pki = spec["pki"]
        tls = {"keystore": os.path.join(pki, "server.pem"), "keystore_key": os.path.join(pki, "server.key"),
               "client_keystore": os.path.join(pki, "client.pem"), "client_keystore_key": os.path.join(pki, "client.key"),
               "truststore": spec["ca"]}
    common = dict(version=spec["version"], time_scale=spec["time_scale"], timeline=spec["timeline"],
                  python=spec["python"], tls=tls, host=spec["name"], home=spec["home"], data=spec["data"],
                  user=spec.get("js7_user"))  # JS7_CONTROLLER_USER / JS7_AGENT_USER of the instance script (E§6.3)
    public = spec.get("controller_auth", "public") == "public"
    # Client certificates are required only when the spec asks (spec["client_auth"]); the lab's own
    # probes then have to present <pki>/client.pem. E§1.5 default would be on.
    client_auth = bool(spec.get("client_auth")) if spec.get("tls") else None
    if kind == "agent":
        controllers = {}
        if spec.get("controller_id"):
            controllers[spec["controller_id"]] = "js7-lab-agent-password"
        installation = install_agent("/", "%s:4445" % spec["address"], https, visible_root="/",
                                     auth={"public": public, "controllers": controllers, "client_auth": client_auth},
                                     **common)
        vendor_packages(installation.lib_dir, spec.get("vendor_packages"))
        return installation
    users = {"History": "history", "JOC": {"password": "joc", "permissions": ["UpdateItem"]}}
    if spec.get("controller_user"):
        users[spec["controller_user"]] = {"password": spec.get("controller_password") or "",
                                          "permissions": ["UpdateItem"]}
    if spec.get("user_distinguished_names"):
        # E§1.4: a user entry may list the DNs of client certificates that log in as that user
        # (JOC's and the lab's own client certificate -> the user JOC and the inventory use).
        users[spec.get("controller_user") or "JOC"]["distinguished_names"] = list(spec["user_distinguished_names"])
    legacy = version_tuple(full_version(spec["version"])) < (2, 6, 0)
    agent_url = spec.get("agent_url")
    auth = {"public": public, "users": users, "client_auth": client_auth}
    if spec.get("peer_distinguished_names"):
        # E§1.4: the docker example maps the peer node's certificate DN to the user <ControllerId>.
        auth["peer_distinguished_names"] = list(spec["peer_distinguished_names"])
    if legacy and agent_url:
        auth["agent_passwords"] = {agent_url: "js7-lab-agent-password"}
    is_backup = spec.get("is_backup")
    if kind == "primary":
        is_backup = False if is_backup is None else is_backup
    elif is_backup is None or is_backup is False:
        is_backup = "commented"  # a secondary installed without --standby keeps the example's line
    installation = install_controller("/", spec["controller_id"], "%s:4444" % spec["address"], https, is_backup=is_backup,
                                      visible_root="/", auth=auth,
                                      watches=[agent_url] if legacy and agent_url else None, **common)
    vendor_packages(installation.lib_dir, spec.get("vendor_packages"))
    return installation


def vendor_packages(lib_dir, names):
    """Copy pure-Python packages (pyhocon, pyparsing) into ``<lib>/site-packages``, which run.py adds to
    sys.path: the installation then runs on a Python the JS7 user can execute (``--js7-user``: the lab's
    own interpreter may live where that user cannot go, e.g. under /root), like the product's self-contained lib/."""
    if not names:
        return
    import importlib  # pylint: disable=import-outside-toplevel
    target = os.path.join(lib_dir, "site-packages")
    os.makedirs(target, exist_ok=True)
    for name in names:
        module = importlib.import_module(name)
        source = os.path.dirname(os.path.abspath(module.__file__))
        shutil.copytree(source, os.path.join(target, name), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
