"""Stage the collection where ansible-test wants it.

ansible-test only runs inside ``.../ansible_collections/<namespace>/<name>``. A
symlink is not enough (it resolves the working directory), so the files are copied
into ``build/sanity/ansible_collections/jobscheduler/js7``: the files git tracks
plus untracked files git does not ignore, as they are in the working tree, so a
sanity run checks exactly what would be committed. Outside a git checkout every
file is copied except the generated folders.

The copy lives below build/, which the repository ignores; ansible-test asks git
which files exist, so the copy gets a git repository of its own (all files added)
or ansible-test would see every file as ignored and skip all targets.

Usage: python tests/utils/stage_collection.py DEST_ROOT
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

GENERATED = ('.venv', '.lab', 'build', 'collections', '.git', '.pytest_cache', '.cache')


def repo_files(root):
    try:
        out = subprocess.run(
            ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
            cwd=root, check=True, capture_output=True,
        ).stdout
        names = [name for name in out.decode('utf-8').split('\0') if name]
        return [name for name in names if os.path.lexists(os.path.join(root, name))]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in GENERATED and d != '__pycache__']
            for filename in filenames:
                found.append(os.path.relpath(os.path.join(dirpath, filename), root))
        return found


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: stage_collection.py DEST_ROOT\n')
        return 2
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    dest = os.path.join(os.path.abspath(argv[1]), 'ansible_collections', 'jobscheduler', 'js7')
    if os.path.isdir(dest):
        # keep tests/output (ansible-test's venv cache lives elsewhere, results here)
        for entry in os.listdir(dest):
            if entry == '.git':
                continue
            if entry == 'tests':
                for sub in os.listdir(os.path.join(dest, entry)):
                    if sub != 'output':
                        path = os.path.join(dest, entry, sub)
                        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
                continue
            path = os.path.join(dest, entry)
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
    os.makedirs(dest, exist_ok=True)
    for name in repo_files(root):
        src = os.path.join(root, name)
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)
    if not os.path.isdir(os.path.join(dest, '.git')):
        subprocess.run(['git', 'init', '-q', dest], check=True)
    subprocess.run(['git', 'add', '-A', '.'], cwd=dest, check=True)
    print(dest)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
