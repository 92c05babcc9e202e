"""Offline stand-in for ansible-test's get-pip bootstrap script.

ansible-test sanity --venv bootstraps pip in every fresh venv by downloading
get-pip-<version>.py, which is not reachable from the project's machines. When
~/.ansible/test/cache/get_pip_<version>.py exists, ansible-test runs it instead
(shared/notes/ansible-test-offline.md). This file is that stand-in: ensurepip in a
subprocess (in-process it sets PIP_CONFIG_FILE=/dev/null and the install that
follows would ignore the machine's index settings), then pip install of the
requested packages.
"""
import os
import subprocess
import sys


def main():
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    os.execv(sys.executable, [sys.executable, '-m', 'pip', 'install'] + args)


if __name__ == '__main__':
    main()
