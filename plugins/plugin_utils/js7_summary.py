# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a merged JS7 configuration says about the node: cluster role, auth, findings."""

from __future__ import annotations

from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_read import duration_seconds, lookup, to_bool
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.secrets import password_scheme

CLUSTER = ('js7', 'journal', 'cluster')
IS_BACKUP = CLUSTER + ('node', 'is-backup')
_MISSING = object()

# js7-engine.md §1.2: defaults of js7.conf (HEAD/2.9).
DEFAULT_HEARTBEAT = '3s'
DEFAULT_HEARTBEAT_TIMEOUT = '10s'

EXPECTED_ROLES = ('primary', 'secondary', 'standalone', 'agent')


def _finding(findings, code, severity, message):
    findings.append({'code': code, 'severity': severity, 'message': message})


def cluster_summary(merged, findings):
    cluster = lookup(merged, CLUSTER, _MISSING)
    if cluster is _MISSING or cluster is None:
        cluster = {}
    elif not isinstance(cluster, dict):
        _finding(findings, 'cluster-not-an-object', 'error',
                 'js7.journal.cluster is set to a value that is not an object; JS7 cannot read its cluster settings')
        cluster = {}

    raw = lookup(cluster, ('node', 'is-backup'), _MISSING)
    if raw is _MISSING or raw is None:
        is_backup = False  # js7-engine.md §1.2: default no
    else:
        is_backup = to_bool(raw)
        if is_backup is None:
            _finding(findings, 'is-backup-invalid', 'error',
                     'js7.journal.cluster.node.is-backup = %r is not a boolean JS7 accepts (yes/no, on/off, true/false): '
                     'the node does not start' % (raw,))
            is_backup = False

    node_id = lookup(cluster, ('node', 'id'), _MISSING)
    node_id_configured = node_id is not _MISSING and node_id is not None
    if not node_id_configured:
        node_id = 'Backup' if is_backup else 'Primary'  # js7-engine.md §1.2

    nodes = cluster.get('nodes')
    watches = cluster.get('watches')

    timings_text = {}
    timings = {}
    for key, name, default in (('heartbeat', 'heartbeat', DEFAULT_HEARTBEAT),
                               ('heartbeat-timeout', 'heartbeat_timeout', DEFAULT_HEARTBEAT_TIMEOUT),
                               ('consent-timeout', 'consent_timeout', None)):
        value = cluster.get(key, _MISSING)
        if value is _MISSING or value is None:
            timings[name] = duration_seconds(default) if default else None
            continue
        timings_text[name] = value if isinstance(value, str) else str(value)
        seconds = duration_seconds(value)
        if seconds is None:
            _finding(findings, 'duration-invalid', 'error',
                     'js7.journal.cluster.%s = %r is not a duration (e.g. 3s, 10 seconds)' % (key, value))
        timings[name] = seconds

    if nodes is not None:
        if not isinstance(nodes, dict) or len(nodes) != 2 or len(set(str(v) for v in nodes.values())) != 2:
            _finding(findings, 'nodes-invalid', 'error',
                     'js7.journal.cluster.nodes must be an object with exactly two different URIs, '
                     'e.g. { Primary: "http://primary:4444", Backup: "http://secondary:4444" }')
        if is_backup:
            _finding(findings, 'nodes-on-backup', 'error',
                     'js7.journal.cluster.nodes is set on a backup node; JS7 refuses to start a backup node that has it '
                     '("Backup cluster node must node have a \'js7.journal.cluster.nodes\' configuration"). Remove it here; '
                     'only the Primary may have it')
    if watches:
        _finding(findings, 'legacy-watches', 'info',
                 'js7.journal.cluster.watches names Agents as Cluster Watch; only JS7 2.5 and older read it '
                 '(from 2.6 on JOC Cockpit is the Cluster Watch)')
    if timings.get('consent_timeout') is not None and timings.get('heartbeat_timeout') is not None \
            and timings['consent_timeout'] >= timings['heartbeat_timeout']:
        _finding(findings, 'cluster-timing-invalid', 'error',
                 'js7.journal.cluster.consent-timeout must be shorter than heartbeat-timeout '
                 '(JS7 2.8+ reports "Invalid cluster timing values")')

    result = {
        'is_backup': bool(is_backup),
        'is_backup_configured': raw is not _MISSING and raw is not None,
        'node_id': str(node_id),
        'node_id_configured': node_id_configured,
        'nodes': nodes if isinstance(nodes, dict) else None,
        'watches': watches if isinstance(watches, list) else ([watches] if isinstance(watches, str) else None),
        'keep_truncated_rest': bool(to_bool(cluster.get('keep-truncated-rest', False))),
        'timings_text': timings_text,
    }
    result.update(timings)
    return result


def auth_summary(merged, findings):
    users = lookup(merged, ('js7', 'auth', 'users'), None)
    names = []
    if isinstance(users, dict):
        for name, entry in users.items():
            names.append(name)
            password = entry.get('password', _MISSING) if isinstance(entry, dict) else entry
            if password is _MISSING:
                continue  # a user without password (distinguished names only)
            scheme = password_scheme(password)
            if scheme is None:
                _finding(findings, 'password-scheme-missing', 'error',
                         "js7.auth.users.%s: the password has no encoding scheme; JS7 rejects it. Prefix it with "
                         "'plain:' or 'sha512:'" % name)
            elif scheme not in ('plain', 'sha512', 'empty'):
                _finding(findings, 'password-scheme-unknown', 'error',
                         "js7.auth.users.%s: unknown password encoding scheme '%s:'; JS7 supports only 'plain:' and "
                         "'sha512:' (not sha256)" % (name, scheme))
    cluster_password = lookup(merged, ('js7', 'auth', 'cluster', 'password'), None)
    agents = lookup(merged, ('js7', 'auth', 'agents'), None)
    public = to_bool(lookup(merged, ('js7', 'web', 'server', 'auth', 'public'), False))
    return {
        'users': names,
        'cluster_password_set': cluster_password not in (None, ''),
        'agents': list(agents.keys()) if isinstance(agents, dict) else [],
        # js7-engine.md §1.4: the engine default is off (the shipped controller.conf may set it on).
        'public': bool(public),
    }


def role_findings(findings, component, cluster, expected_role, main_path):
    if not expected_role:
        return
    if expected_role == 'secondary' and not cluster['is_backup']:
        _finding(findings, 'not-backup', 'error',
                 'expected a Secondary (backup) Controller, but js7.journal.cluster.node.is-backup is not yes in %s: '
                 'started like this the node runs as a standalone instance and the Primary\'s ClusterStartBackupNode '
                 'fails with ClusterNodeIsNotBackup. Set it with the config module of this collection and reset the node\'s journal '
                 'before its next start' % main_path)
    if expected_role in ('primary', 'standalone') and cluster['is_backup']:
        _finding(findings, 'unexpected-backup', 'error',
                 'expected a %s Controller, but js7.journal.cluster.node.is-backup is yes: the node waits to be '
                 'appointed as a backup and never becomes active' % expected_role.capitalize())
    if expected_role == 'standalone' and cluster['nodes']:
        _finding(findings, 'nodes-on-standalone', 'warning',
                 'js7.journal.cluster.nodes is set on a node expected to be standalone: it appoints a cluster at start')


def quoted_key_findings(findings, tree, path_of_file):
    for key in tree:
        if key.startswith('js7.'):
            _finding(findings, 'quoted-dotted-key', 'warning',
                     '%s: the quoted key "%s" is one key with dots in its name, not the path %s; JS7 ignores it. '
                     'Remove the quotes' % (path_of_file, key, key))
