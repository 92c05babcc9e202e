"""Prove that the sanity gate fails on the mistakes it exists to catch.

A gate that never fails proves nothing. This stages a scratch copy of the
collection (build/gate-proof, never committed) with three deliberately broken
modules and runs ansible-test's validate-modules on it. Each module must be
reported with the error code that names its mistake:

- a module without DOCUMENTATION                  -> missing-documentation
- an argument_spec that disagrees with its docs   -> doc-default-does-not-match-spec,
                                                     undocumented-parameter
- a secret option without no_log                  -> no-log-needed

Exit status 0 when every expected error was reported, 1 otherwise (including
when validate-modules passed the broken copy).

Usage: python tests/sanity/prove_gates.py   (run by `make sanity`)
"""
from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRATCH = os.path.join(ROOT, 'build', 'gate-proof')
COLLECTION = os.path.join(SCRATCH, 'ansible_collections', 'jobscheduler', 'js7')

HEADER = '''#!/usr/bin/python
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations
'''

BROKEN = {
    'broken_no_docs': HEADER + '''
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(name=dict(type='str')), supports_check_mode=True)
    module.exit_json(changed=False)


if __name__ == '__main__':
    main()
''',
    'broken_spec_mismatch': HEADER + '''
DOCUMENTATION = r"""
module: broken_spec_mismatch
short_description: Scratch module whose docs disagree with its argument_spec
description: Scratch module whose docs disagree with its argument_spec.
author: jobscheduler.js7 developers
options:
  timeout:
    description: Seconds.
    type: int
    default: 30
"""
EXAMPLES = r"""
- name: Run it
  jobscheduler.js7.broken_spec_mismatch:
"""
RETURN = r"""
"""
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(timeout=dict(type='int', default=60), undocumented=dict(type='str')),
        supports_check_mode=True,
    )
    module.exit_json(changed=False)


if __name__ == '__main__':
    main()
''',
    'broken_secret': HEADER + '''
DOCUMENTATION = r"""
module: broken_secret
short_description: Scratch module with a secret option that lacks no_log
description: Scratch module with a secret option that lacks no_log.
author: jobscheduler.js7 developers
options:
  joc_password:
    description: Password.
    type: str
"""
EXAMPLES = r"""
- name: Run it
  jobscheduler.js7.broken_secret:
"""
RETURN = r"""
"""
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(joc_password=dict(type='str')), supports_check_mode=True)
    module.exit_json(changed=False)


if __name__ == '__main__':
    main()
''',
}

EXPECTED = {
    'broken_no_docs': {'missing-documentation'},
    'broken_spec_mismatch': {'doc-default-does-not-match-spec', 'undocumented-parameter'},
    'broken_secret': {'no-log-needed'},
}


def main():
    subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'utils', 'stage_collection.py'), SCRATCH],
                   check=True, stdout=subprocess.DEVNULL)
    modules_dir = os.path.join(COLLECTION, 'plugins', 'modules')
    os.makedirs(modules_dir, exist_ok=True)
    for name, text in BROKEN.items():
        with open(os.path.join(modules_dir, name + '.py'), 'w', encoding='utf-8') as handle:
            handle.write(text)
    subprocess.run(['git', 'add', '-A', '.'], cwd=COLLECTION, check=True)
    targets = ['plugins/modules/%s.py' % name for name in BROKEN]
    run = subprocess.run(
        ['ansible-test', 'sanity', '--venv', '--python', '3.11', '--color', 'no', '--test', 'validate-modules'] + targets,
        cwd=COLLECTION, capture_output=True, text=True, check=False,
    )
    output = run.stdout + run.stderr
    missing = []
    for name, codes in EXPECTED.items():
        for code in codes:
            if not any(name in line and code in line for line in output.splitlines()):
                missing.append('%s: %s' % (name, code))
    if run.returncode == 0 or missing:
        print(output)
        print('GATE PROOF FAILED: validate-modules did not report: %s (exit %d)'
              % (', '.join(missing) or 'a failure', run.returncode))
        return 1
    print('gate proof: validate-modules rejected all %d broken modules with the expected codes (%s)'
          % (len(BROKEN), ', '.join(sorted(set().union(*EXPECTED.values())))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
