"""Entry point of every lab engine process, like ``java ... <MainClass> <options>`` (E§6.3).

    run.py js7.controller.ControllerMain --id=<id> --http-port=<ip>:4444 --data-directory=<data> ...
    run.py js7.agent.main.AgentMain --http-port=<ip>:4445 --data-directory=<data> ...
    run.py com.sos.joc.lab.JocMain --http-port=<ip>:4446 --jetty-base=<data>
    run.py js7.lab.Control --data-directory=<data> --prefix=controller shutdown [--fail-over|--switch-over]

The directory of this file is loaded as the package ``js7lab`` (it is a copy of tests/lab/engine).
"""
import importlib
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Pure-Python dependencies copied in by install.vendor_packages (an interpreter without pyhocon, e.g. the
# system Python for a JS7 user who cannot reach the lab's own interpreter); last, so an installed copy wins.
if os.path.isdir(os.path.join(HERE, "site-packages")):
    sys.path.append(os.path.join(HERE, "site-packages"))
MAIN_CLASSES = {
    "js7.controller.ControllerMain": "controller",
    "js7.agent.main.AgentMain": "agent",
    "com.sos.joc.lab.JocMain": "joc",
    "js7.lab.Control": "control",
}


def load_package():
    if "js7lab" in sys.modules:
        return sys.modules["js7lab"]
    spec = importlib.util.spec_from_file_location("js7lab", os.path.join(HERE, "__init__.py"), submodule_search_locations=[HERE])
    package = importlib.util.module_from_spec(spec)
    sys.modules["js7lab"] = package
    spec.loader.exec_module(package)
    return package


def main(argv):
    if not argv or argv[0] not in MAIN_CLASSES:
        sys.stderr.write("Usage: run.py <%s> [options]\n" % "|".join(MAIN_CLASSES))
        return 1
    load_package()
    module = importlib.import_module("js7lab." + MAIN_CLASSES[argv[0]])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
