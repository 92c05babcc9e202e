"""Helpers shared by the tests of plugin_utils and of the config action plugins."""

from __future__ import annotations

import os


CORPUS = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'hocon'))
BOM_BYTES = b'\xef\xbb\xbf'


def transform(data, how):
    """The corpus is stored with LF and without BOM (sanity's line-endings test); variants are made here."""
    if how == 'crlf':
        return data.replace(b'\n', b'\r\n')
    if how == 'bom':
        return BOM_BYTES + data
    return data


def local_fetch(files=None):
    """A ConfigSet fetch() over the local disk (or a dict of path -> bytes), recording what was read."""
    read = []

    def fetch(path):
        read.append(path)
        if files is not None:
            return files.get(path)
        try:
            with open(path, 'rb') as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    fetch.read = read
    return fetch
