"""``run.py js7.lab.Control``: what the instance scripts use to talk to a running engine.

Reads ``work/http-uri`` and ``work/secret-http-headers`` (E§2.1: the engine's own files for local
tools, like the product's js7-curl / js7-shutdown helpers) and posts a command.
"""
from __future__ import annotations

import argparse
import os
import sys

from .httpclient import ConnectionFailure, HttpException, Js7Client


def _read(path):
    with open(path, encoding="utf-8") as file:
        return file.read().strip()


def main(argv):
    parser = argparse.ArgumentParser(prog="js7.lab.Control")
    parser.add_argument("--data-directory", required=True)
    parser.add_argument("--prefix", default="controller", choices=["controller", "agent"])
    parser.add_argument("command", choices=["shutdown", "switch-over", "uri"])
    parser.add_argument("--fail-over", action="store_true")
    parser.add_argument("--switch-over", action="store_true")
    parser.add_argument("--restart", action="store_true")
    args = parser.parse_args(argv)
    work = os.path.join(args.data_directory, "work")
    try:
        uri = _read(os.path.join(work, "http-uri"))
        header = _read(os.path.join(work, "secret-http-headers"))
    except OSError as exc:
        sys.stderr.write("Engine's work files are missing (%s)\n" % exc)
        return 2
    if args.command == "uri":
        print(uri)
        return 0
    base = uri[: -len("/" + args.prefix)] if uri.endswith("/" + args.prefix) else uri
    client = Js7Client(base, args.prefix, timeout=15)
    client.session = header.split(":", 1)[1].strip()
    if args.command == "switch-over":
        command = {"TYPE": "ClusterSwitchOver"}
    else:
        command = {"TYPE": "ShutDown"}
        if args.restart:
            command["restart"] = True
        if args.fail_over:
            command["clusterAction"] = {"TYPE": "Failover"}
        elif args.switch_over:
            command["clusterAction"] = {"TYPE": "Switchover"}
    try:
        client.command(command)
    except (HttpException, ConnectionFailure) as exc:
        sys.stderr.write("%s\n" % exc)
        return 1
    return 0
