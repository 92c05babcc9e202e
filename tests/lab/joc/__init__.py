"""Simulated JOC Cockpit of the JS7 lab (see tests/lab/DESIGN.md and README.md).

Self-contained (standard library only, relative imports only) because the
installation copies this package into ``<joc home>/lib/js7-lab/joc/``, like the
product's ``lib/``; the process is started by the ``joc.sh`` instance script.
"""


def main(argv=None):
    """``run.py com.sos.joc.lab.JocMain ...`` imports this package and calls main(argv)."""
    from .server import main as server_main  # pylint: disable=import-outside-toplevel
    return server_main(argv)
