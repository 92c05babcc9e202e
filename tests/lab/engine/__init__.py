"""The simulated JS7 programs of the lab (Controller, Agent; JOC lives beside them).

The package is importable as ``tests.lab.engine`` from the repository and is copied into every
installation as ``<home>/lib/js7-lab/`` where ``run.py`` loads it under the name ``js7lab``.
All modules therefore use relative imports only.  Facts: shared/reference/js7-engine.md (E§n).
"""
