# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The catalogue of known JS7 cluster problems that jobscheduler.js7.log_scan finds in logs.

DATA ONLY. This file ships to the managed node with the log_scan module, so it holds plain
Python literals and no logic; _log_reader.py compiles it. To teach log_scan a new problem,
add an entry here and a positive and a look-alike case to tests/unit/data/logs/signatures.txt
(a unit test fails for any signature without a positive case).

Entry fields
  code       the JS7 problem code (js7-engine.md §3.3), or a name for an uncoded message
  severity   error | warning | info   (how bad a finding of it is for a cluster)
  versions   the JS7 versions in which the problem exists
  meaning    one line: what it means for the cluster
  remedy     what fixes it, naming the role/playbook/module of this collection
  reference  where the facts come from (shared/reference: E = js7-engine.md, J = joc-api.md)
  message    regex of the problem's message text (messages-en.conf), or None when the text is
             unknown. When set (and `derive` is not False), _log_reader adds two generic
             signatures: `problem` (controller/agent logs: the problem rendered
             "<Code>: <message>", as PekkoHttpClient.HttpException and the text/plain body
             render it, E§3.3) and `joc` (joc.log: "[<ExceptionSimpleName>: ]<Code>: <message>",
             J§6). When None, they match "<Code>: " followed by any text.
  derive     False: only the explicit signatures count (e.g. InvalidLogin, whose generic
             rendering also means other things than a cluster password mismatch)
  signatures explicit wordings, most specific first. Each has
               wording     short id reported in the finding's `wordings` (often a version range)
               versions    the JS7 versions that write this wording
               components  the logs it appears in: controller, agent, joc (a file's component
                           comes from its name, else from the module's `component` option)
               levels      the log levels that count (None = any); a continuation line of a
                           multi-line entry is judged by its entry's level
               keyword     a literal that every matching line contains (the fast pre-filter)
               pattern     regex searched in the line (the whole line, timestamp included)

Levels are upper case here; the log writes INFO/DEBUG/TRACE in lower case (E§4.2) and the
reader normalises them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# All levels an escalating JS7 2.7 retry message can be written at (E§4.3: none, debug, info, warn).
_ESCALATING = ('TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR')
# A problem reported as such: not the debug echo of a request or a configuration.
_REPORTED = ('INFO', 'WARN', 'ERROR', 'FATAL')
_FAILURES = ('WARN', 'ERROR', 'FATAL')

_RECOVER = ("Run role jobscheduler.js7.recover_standalone_secondary (playbook "
            "playbooks/recover_standalone_secondary.yml): it stops the Secondary, archives and empties its "
            "state/, sets js7.journal.cluster.node.is-backup = yes, starts it and re-submits the JOC Cockpit "
            "registration (runbook phase 1; phase 2 when coupling does not follow).")

# Pre-filter: each distinct signature keyword is searched with bytes.find per block, and only the
# lines containing one are decoded and matched. Extra needles listed here replace the keywords that
# contain them. A broad needle such as "Cluster" was measured slower (bench/log_scan): it makes every
# js7.cluster.* line a candidate. Keep it empty unless a measurement says otherwise.
PREFILTER_NEEDLES = ()

CATALOGUE = (
    {
        'code': 'ClusterNodeIsNotBackup',
        'severity': 'error',
        'versions': '2.0+',
        'meaning': ("The Secondary Controller runs as a standalone (active) node because it was first started "
                    "without js7.journal.cluster.node.is-backup = yes; it refuses the Primary's "
                    "ClusterStartBackupNode and the cluster stays NodesAppointed."),
        'remedy': _RECOVER,
        'reference': 'E§1.3, E§3.3, E§4.3; runbook (seed)',
        'message': r'The cluster node to be appointed is not configured as a backup node',
        'signatures': (
            {
                # E§4.3: ≤ 2.5 logs at WARN on every retry; the KB quote omits the URI (E§4.2).
                'wording': '2.0-2.5',
                'versions': '2.0-2.5',
                'components': ('controller',),
                'levels': ('WARN',),
                'keyword': 'ClusterNodeIsNotBackup',
                'pattern': (r"'ClusterStartBackupNode' command failed with HTTP 400 Bad Request: "
                            r"POST (?:\S+ )?=> ClusterNodeIsNotBackup\b"),
            },
            {
                # E§4.3: 2.6 prefixes the red circle; success is "🟢 ... succeeded after <d>" (info).
                'wording': '2.6',
                'versions': '2.6',
                'components': ('controller',),
                'levels': ('WARN',),
                'keyword': 'ClusterNodeIsNotBackup',
                'pattern': (r"\U0001F534 ClusterStartBackupNode command failed with HTTP 400 Bad Request: "
                            r"POST \S+ => ClusterNodeIsNotBackup\b"),
            },
            {
                # E§4.3: 2.7.0-2.7.3 escalate ⚪ 🟡 🟠 🔴 with the level; the name is the command's
                # class tag (ClusterStartBackupNode, possibly ClusterCommand).
                'wording': '2.7.0-2.7.3',
                'versions': '2.7.0-2.7.3',
                'components': ('controller',),
                'levels': _ESCALATING,
                'keyword': 'ClusterNodeIsNotBackup',
                'pattern': (u"[\u26AA\U0001F7E1\U0001F7E0\U0001F534] (?:ClusterStartBackupNode|ClusterCommand) "
                            r"command failed with HTTP 400 Bad Request: POST \S+ => ClusterNodeIsNotBackup\b"),
            },
            {
                # E§4.3: 2.7.4+ print the command's full toString.
                'wording': '2.7.4+',
                'versions': '2.7.4+',
                'components': ('controller',),
                'levels': _ESCALATING,
                'keyword': 'ClusterNodeIsNotBackup',
                'pattern': (u"[\u26AA\U0001F7E1\U0001F7E0\U0001F534] ClusterStartBackupNode\\(.*\\) "
                            r"command failed with HTTP 400 Bad Request: POST \S+ => ClusterNodeIsNotBackup\b"),
            },
            {
                # Seed runbook: JOC Cockpit's joc.log notes the same failure (the proxy's view).
                'wording': 'joc',
                'versions': '2.0+',
                'components': ('joc',),
                'levels': _REPORTED,
                'keyword': 'ClusterNodeIsNotBackup',
                'pattern': (r"ClusterStartBackupNode\S*'? command failed with .*=> ClusterNodeIsNotBackup\b"),
            },
        ),
    },
    {
        'code': 'PrimaryClusterNodeMayNotBecomeBackup',
        'severity': 'error',
        'versions': '2.0+',
        'meaning': ("The Secondary was reconfigured with is-backup = yes but still holds the journal it wrote as a "
                    "standalone node, so it refuses to start."),
        'remedy': ("Empty the Secondary's state/ (archived first): role jobscheduler.js7.recover_standalone_secondary "
                   "(playbook playbooks/recover_standalone_secondary.yml), or module jobscheduler.js7.journal_reset "
                   "on the stopped Secondary."),
        'reference': 'E§1.3, E§3.3',
        'message': (r'The cluster node has already been started as a primary node and may not be configured as a '
                    r'backup node afterwards'),
        'signatures': (
            {
                # The start-up failure may be logged as the bare message (exception text, stack trace).
                'wording': 'startup-failure',
                'versions': '2.0+',
                'components': ('controller',),
                'levels': None,
                'keyword': 'may not be configured as a backup node afterwards',
                'pattern': (r'has already been started as a primary node and may not be configured as a backup node '
                            r'afterwards'),
            },
        ),
    },
    {
        'code': 'BackupClusterNodeNotAppointed',
        'severity': 'warning',
        'versions': '2.0+',
        'meaning': ("A correctly configured backup node has not been appointed yet (HTTP 503); normal for a moment "
                    "after start, a problem when it lasts: the cluster registration was not (re-)submitted."),
        'remedy': ("Re-submit the cluster registration: module jobscheduler.js7.joc_controller with resubmit: true "
                   "(step of role jobscheduler.js7.recover_standalone_secondary)."),
        'reference': 'E§1.3, E§3.3, J§6',
        'message': r'This backup cluster node has not yet been appointed',
        'signatures': (),
    },
    {
        'code': 'NoClusterWatch',
        'severity': 'warning',
        'versions': '2.5.2+',
        'meaning': ("The active node refuses ClusterCouple because no Cluster Watch has registered itself; the "
                    "cluster stays PreparedToBeCoupled while it lasts (normal for seconds during coupling)."),
        'remedy': ("Make the Cluster Watch available: from 2.6 an active JOC Cockpit with the cluster registered "
                   "(module jobscheduler.js7.joc_controller_info shows it); run playbooks/diagnose.yml "
                   "(role jobscheduler.js7.diagnose) to see which watch applies."),
        'reference': 'E§3.3, E§3.7, E§5.1',
        'message': r'No ClusterWatch has registered itself',
        'signatures': (),
    },
    {
        'code': 'UntaughtClusterWatch',
        'severity': 'error',
        'versions': '2.5.2+',
        'meaning': ("The Cluster Watch restarted and has not yet been taught the cluster state, so it rejects a "
                    "fail-over; the cluster cannot fail over until the active node has taught it."),
        'remedy': ("Keep the active node running until the watch is taught; if the active node is lost, confirm "
                   "the node loss in JOC Cockpit. Run playbooks/diagnose.yml (role jobscheduler.js7.diagnose)."),
        'reference': 'E§3.3, E§5.1',
        'message': (r'ClusterWatch has not yet been taught by the active cluster, so it has to reject the '
                    r'ClusterFailedOver event'),
        'signatures': (),
    },
    {
        'code': 'ClusterWatchIdDoesNotMatch',
        'severity': 'error',
        'versions': '2.6+',
        'meaning': ("A Cluster Watch other than the registered one (another JOC Cockpit instance or a standalone "
                    "cluster watch) tried to confirm a request; two watches compete for one cluster."),
        'remedy': ("Run only one Cluster Watch per Controller cluster (one active JOC Cockpit); check with "
                   "playbooks/diagnose.yml (role jobscheduler.js7.diagnose)."),
        'reference': 'E§3.3, E§5.1',
        'message': r'\S+ tried to confirm a request directed to \S+',
        'signatures': (),
    },
    {
        'code': 'OtherClusterWatchStillAlive',
        'severity': 'error',
        'versions': '2.6+',
        'meaning': "Another Cluster Watch is still registered and alive for this cluster; the new one is refused.",
        'remedy': ("Stop the other Cluster Watch (the second JOC Cockpit or standalone watch) or wait for it to "
                   "expire; check with playbooks/diagnose.yml (role jobscheduler.js7.diagnose)."),
        'reference': 'E§3.3, E§5.1',
        'message': None,
        'signatures': (),
    },
    {
        'code': 'ClusterWatchIdNotUnique',
        'severity': 'error',
        'versions': '2.6+',
        'meaning': "Two Cluster Watch instances use the same ClusterWatchId (two JOC Cockpits with the same id).",
        'remedy': ("Give each JOC Cockpit / cluster watch its own id and run one active watch per cluster; check "
                   "with playbooks/diagnose.yml (role jobscheduler.js7.diagnose)."),
        'reference': 'E§3.3, E§5.1',
        'message': r'\S+ is not unique \(.* is already is use\)',
        'signatures': (),
    },
    {
        'code': 'ClusterNodeLossNotConfirmed',
        'severity': 'error',
        'versions': '2.6+',
        'meaning': ("A node-loss event (fail-over or passive lost) waits for a user's confirmation because the "
                    "Cluster Watch restarted; the cluster is stuck until someone confirms."),
        'remedy': ("Confirm the node loss in JOC Cockpit (Dashboard, confirm_node_loss) after making sure the lost "
                   "node is really down; check with playbooks/diagnose.yml (role jobscheduler.js7.diagnose)."),
        'reference': 'E§3.3, E§5.1',
        'message': r'.* event from \S+ requires user confirmation \(due to ClusterWatch restart\)',
        'signatures': (),
    },
    {
        'code': 'ClusterWatchInactiveNode',
        'severity': 'error',
        'versions': '2.0-2.5',
        'meaning': ("The (2.5 Agent) Cluster Watch rejected a report from a node it considers inactive: it "
                    "remembers another incarnation of the cluster (a stale watch)."),
        'remedy': ("Restart the Cluster Watch Agent (module jobscheduler.js7.instance, state: restarted) - runbook "
                   "phase 2 of role jobscheduler.js7.recover_standalone_secondary "
                   "(playbooks/recover_standalone_secondary.yml)."),
        'reference': 'E§5.2',
        'message': r"ClusterWatch rejected '.*' from inactive cluster node '.*', because clusterState=",
        'signatures': (),
    },
    {
        'code': 'ClusterWatchHeartbeatMismatch',
        'severity': 'error',
        'versions': '2.0-2.5',
        'meaning': ("The 2.5 Agent Cluster Watch holds a cluster state that does not fit the heartbeat of the "
                    "active node: the watch remembers another incarnation of the cluster (stale watch)."),
        'remedy': ("Restart the Cluster Watch Agent, which holds this state only in memory (module "
                   "jobscheduler.js7.instance, state: restarted) - runbook phase 2 of role "
                   "jobscheduler.js7.recover_standalone_secondary (playbooks/recover_standalone_secondary.yml)."),
        'reference': 'E§5.1, E§5.2; tests/lab/DESIGN.md (stale-watch)',
        'message': None,
        'signatures': (),
    },
    {
        'code': 'ClusterWatchEventMismatch',
        'severity': 'error',
        'versions': '2.0-2.5',
        'meaning': ("The 2.5 Agent Cluster Watch rejected a cluster event that does not fit the state it holds "
                    "(stale watch); coupling cannot complete."),
        'remedy': ("Restart the Cluster Watch Agent, which holds this state only in memory (module "
                   "jobscheduler.js7.instance, state: restarted) - runbook phase 2 of role "
                   "jobscheduler.js7.recover_standalone_secondary (playbooks/recover_standalone_secondary.yml)."),
        'reference': 'E§3.3, E§5.2; tests/lab/DESIGN.md (stale-watch)',
        'message': None,
        'signatures': (),
    },
    {
        'code': 'InvalidLogin',
        'severity': 'error',
        'versions': '2.0+',
        'meaning': ("A cluster node could not log in to its peer: js7.auth.cluster.password of one node does not "
                    "match js7.auth.users.<ControllerId> in the other node's private.conf."),
        'remedy': ("Compare the cluster passwords with module jobscheduler.js7.config_info on both nodes, set them "
                   "with module jobscheduler.js7.config (private.conf) and restart with jobscheduler.js7.instance."),
        'reference': 'E§1.4, E§3.3',
        'message': r'Login: unknown user or invalid password',
        # The generic rendering also covers a wrong JOC or Agent password: only the peer login counts.
        'derive': False,
        'signatures': (
            {
                # The node logs in to the peer's /controller/api/session (E§1.4); the failure is rendered
                # like every HttpException (E§3.3), with or without the 2.6+ symbols.
                'wording': 'peer-session',
                'versions': '2.0+',
                'components': ('controller',),
                'levels': _REPORTED,
                'keyword': 'InvalidLogin',
                'pattern': r'HTTP 401 Unauthorized: POST \S+/controller/api/session => InvalidLogin\b',
            },
            {
                'wording': 'cluster-logger',
                'versions': '2.0+',
                'components': ('controller',),
                'levels': _FAILURES,
                'keyword': 'InvalidLogin',
                'pattern': r' js7\.cluster\.\S+ - .*\bInvalidLogin: Login: unknown user or invalid password',
            },
        ),
    },
    {
        'code': 'DuplicateStart',
        'severity': 'error',
        'versions': '2.0+',
        'meaning': ("A second instance was started on the same data directory while the first holds state/lock; "
                    "the second one exits (the first keeps running)."),
        'remedy': ("Use module jobscheduler.js7.instance (it knows the running PID from state/lock) instead of "
                   "starting the instance script twice; stop or restart the running instance with it."),
        'reference': 'E§2.1',
        'message': None,
        'derive': False,
        'signatures': (
            {
                # StartUp.printlnWithClock to stderr: "<timestamp> Duplicate start of JS7" (E§2.1),
                # which the scripts keep in watchdog.log (output before logging starts, E§4.1).
                'wording': 'lockfile',
                'versions': '2.0+',
                'components': ('controller', 'agent'),
                'levels': None,
                'keyword': 'Duplicate start',
                'pattern': r'\bDuplicate start of JS7\b',
            },
        ),
    },
)
