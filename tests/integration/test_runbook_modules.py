"""The seed's runbook, phase 1, performed with the collection's modules on the lab.

The standalone-secondary lab reproduces the fault the way it happens (the Secondary
started once without is-backup). One playbook gathers the evidence (log_scan,
config_info), resets the Secondary (instance, journal_reset, config), submits the
registration again (joc_controller) and waits for coupling (controller_info). This is
the proof that the modules compose into the recovery, in local mode and over SSH in
netns mode.
"""

from __future__ import annotations

import os

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks', 'runbook_phase1_modules.yml')


def test_phase1_with_the_modules_couples_the_cluster(lab_mode, lab_factory):
    lab = lab_factory(state='standalone-secondary')
    before = lab.http('c1-primary', '/controller/api/cluster')
    assert before[2]['TYPE'] == 'NodesAppointed'

    run = lab.playbook(PLAYBOOK)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]

    status, _headers, cluster = lab.http('c1-primary', '/controller/api/cluster')
    assert status == 200 and cluster['TYPE'] == 'Coupled'
    events = [entry.get('event') for entry in lab.timeline()]
    assert 'ClusterCoupled' in events

    secondary = lab.hosts['c1-secondary']
    conf = lab.read('c1-secondary', secondary['js7_controller_data'] + '/config/controller.conf')
    assert 'js7.journal.cluster.node.is-backup = yes' in conf
