# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Controller registration in JOC Cockpit: read, compare, build the ./controller/register body.

Pure functions (no HTTP), so the rules are tested on their own (joc-api.md §2.2-§2.4, §3).
"""

from __future__ import annotations

import re


class RegistrationError(Exception):
    """The options cannot produce a valid registration; the message says why."""


def parse_version(text):
    """'2.7.1' -> (2, 7, 1); '2.5.9-SNAPSHOT' -> (2, 5, 9); None when there is no version."""
    if not text:
        return None
    match = re.match(r'\s*(\d+)\.(\d+)(?:\.(\d+))?', str(text))
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def describe_registration(registration, controller_id):
    """``./controllers/p`` (joc-api.md §2.1) as {controller_id, primary, secondary, force_failover_confirmation, cluster_watcher}.

    A standalone Controller is ``primary`` with ``secondary: null``. A null ``clusterUrl`` means
    the ``url`` (joc-api.md §2.3 step 8), so it is shown as such.
    """
    if not registration:
        return None
    by_role = {}
    ffc = False
    for ctl in registration.get('controllers') or []:
        role = (ctl.get('role') or '').upper()
        by_role[role] = ctl
        ffc = ffc or bool(ctl.get('forceFailoverConfirmation'))
    primary = by_role.get('PRIMARY') or by_role.get('STANDALONE')
    secondary = by_role.get('BACKUP')
    clustered = secondary is not None

    def node(ctl):
        if ctl is None:
            return None
        entry = dict(url=ctl.get('url'), title=ctl.get('title'))
        if clustered:
            entry['cluster_url'] = ctl.get('clusterUrl') or ctl.get('url')
        return entry

    watcher = None
    for agent in registration.get('agents') or []:
        if isinstance(agent, dict) and agent.get('isClusterWatcher'):
            # JS7 <= 2.5 only (joc-api.md §3.3): the Agent designated as Cluster Watch.
            watcher = dict(agent_id=agent.get('agentId'), agent_name=agent.get('agentName'), url=agent.get('url'))
            break
    return dict(controller_id=controller_id, primary=node(primary), secondary=node(secondary),
                force_failover_confirmation=ffc if clustered else False, cluster_watcher=watcher)


def _pick(given, current):
    return given if given is not None else current


def desired_registration(params, before):
    """The registration the options ask for. Options left unset keep the current value."""
    cur_primary = (before or {}).get('primary') or {}
    cur_secondary = (before or {}).get('secondary') or {}
    primary_url = _pick(params.get('primary_url'), cur_primary.get('url'))
    if not primary_url:
        raise RegistrationError('Controller ID %s is not registered in JOC Cockpit yet: primary_url is required for a new '
                                'registration.' % params['controller_id'])
    secondary_url = _pick(params.get('secondary_url'), cur_secondary.get('url'))
    clustered = bool(secondary_url)
    if not clustered and any(params.get(k) for k in ('secondary_cluster_url', 'secondary_title')):
        raise RegistrationError('secondary_cluster_url and secondary_title need secondary_url (a cluster).')
    if clustered and primary_url.rstrip('/') == secondary_url.rstrip('/'):
        raise RegistrationError('primary_url and secondary_url must differ (JOC Cockpit refuses a cluster with one URL).')

    def cluster_url(given, new_url, current):
        if given:
            return given
        # Keep an explicitly set cluster URL; one that merely followed the URL follows it again.
        if current and current.get('cluster_url') and current.get('cluster_url') != current.get('url'):
            return current['cluster_url']
        return new_url

    primary = dict(url=primary_url, title=_pick(params.get('primary_title'), cur_primary.get('title')))
    secondary = None
    if clustered:
        primary['cluster_url'] = cluster_url(params.get('primary_cluster_url'), primary_url, cur_primary if before and before.get('secondary') else None)
        secondary = dict(url=secondary_url, title=_pick(params.get('secondary_title'), cur_secondary.get('title')),
                         cluster_url=cluster_url(params.get('secondary_cluster_url'), secondary_url, cur_secondary or None))
    ffc = _pick(params.get('force_failover_confirmation'), (before or {}).get('force_failover_confirmation', False))
    if not clustered:
        ffc = False
    watcher = params.get('cluster_watcher')
    if watcher:
        watcher = dict(agent_id=watcher['agent_id'], agent_name=watcher.get('agent_name') or watcher['agent_id'],
                       url=watcher['url'])
    else:
        watcher = (before or {}).get('cluster_watcher') if clustered else None
    return dict(controller_id=params['controller_id'], primary=primary, secondary=secondary,
                force_failover_confirmation=bool(ffc), cluster_watcher=watcher)


def register_body(desired, is_update, params):
    """The ./controller/register request (joc-api.md §2.2, the GUI's submit of §2.4 step 3)."""
    def entry(node, role):
        item = dict(role=role, url=node['url'])
        if node.get('title'):
            item['title'] = node['title']
        if role != 'STANDALONE':
            item['clusterUrl'] = node.get('cluster_url') or node['url']
        return item

    if desired['secondary']:
        controllers = [entry(desired['primary'], 'PRIMARY'), entry(desired['secondary'], 'BACKUP')]
    else:
        controllers = [entry(desired['primary'], 'STANDALONE')]
    # controllerId set = update of the existing registration; empty = new (joc-api.md §2.2).
    body = dict(controllerId=desired['controller_id'] if is_update else '', controllers=controllers)
    if desired['force_failover_confirmation']:
        body['forceFailoverConfirmation'] = True  # sent only when true, like the GUI (JS7 2.8.4+)
    watcher = desired.get('cluster_watcher')
    if watcher and desired['secondary']:
        cw = dict(agentId=watcher['agent_id'], agentName=watcher.get('agent_name') or watcher['agent_id'], url=watcher['url'])
        given = params.get('cluster_watcher') or {}
        if given.get('as_standalone_agent') is not None:
            cw['asStandaloneAgent'] = given['as_standalone_agent']
        if given.get('primary_director_id'):
            cw['primaryDirectorId'] = given['primary_director_id']
        body['clusterWatcher'] = cw
    audit = {}
    if params.get('audit_comment'):
        audit['comment'] = params['audit_comment']
    if params.get('audit_time_spent') is not None:
        audit['timeSpent'] = params['audit_time_spent']
    if params.get('audit_ticket_link'):
        audit['ticketLink'] = params['audit_ticket_link']
    if audit:
        body['auditLog'] = audit
    return body


def nodes_to_test(desired):
    """(role, url) pairs JOC Cockpit must reach: the URLs JOC uses, not the cluster URLs."""
    nodes = [('primary' if desired['secondary'] else 'standalone', desired['primary']['url'])]
    if desired['secondary']:
        nodes.append(('secondary', desired['secondary']['url']))
    return nodes
