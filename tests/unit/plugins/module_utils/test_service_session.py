"""Instance scripts run detached from the caller's process group.

ansible-playbook's worker is a process group leader and signals its whole group when
the strategy cleans up; an engine that the instance script starts in the background
must not be in that group (seen in the lab: a Secondary shut down 0.2 s after it was
started by jobscheduler.js7.instance, on SIGTERM from the finished worker).
"""

from __future__ import annotations

import os

from ansible_collections.jobscheduler.js7.plugins.module_utils._service import run_script


def test_the_script_gets_a_session_and_process_group_of_its_own():
    rc, out, _err = run_script(['sh', '-c', 'echo "$(ps -o sid= -p $$) $(ps -o pgid= -p $$) $$"'], timeout=10)
    assert rc == 0
    sid, pgid, pid = (int(value) for value in out.split())
    assert sid == pid and pgid == pid
    assert sid != os.getsid(0) and pgid != os.getpgid(0)


def test_a_background_child_of_the_script_survives_a_signal_to_the_callers_group(tmp_path):
    marker = tmp_path / 'child.pid'
    script = 'sleep 30 >/dev/null 2>&1 </dev/null & echo $! > %s' % marker
    rc, _out, _err = run_script(['sh', '-c', script], timeout=10)
    assert rc == 0
    child = int(marker.read_text())
    try:
        assert os.getpgid(child) != os.getpgid(0)
    finally:
        os.kill(child, 9)
