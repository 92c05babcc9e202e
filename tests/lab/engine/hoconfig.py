"""Configuration assembly like ControllerConfiguration.resolvedConfig (E§1.1).

Order (earlier wins): injected directories, private/private.conf, <name>.conf, built-in defaults.
Files are parsed with pyhocon without resolving, then resolved once at the end.
"""
from __future__ import annotations

import os

from pyhocon import ConfigFactory, ConfigTree
from pyhocon.exceptions import ConfigException

from .common import parse_bool, parse_duration


class ConfigError(Exception):
    pass


def _parse_file(path):
    try:
        with open(path, encoding="utf-8") as file:
            return ConfigFactory.parse_string(file.read(), resolve=False)
    except ConfigException as exc:
        raise ConfigError("%s: %s" % (path, exc)) from exc
    except Exception as exc:  # pyparsing errors
        raise ConfigError("%s: %s" % (path, exc)) from exc


def load(config_dir, data_dir, main_name, defaults_text):
    injected = ConfigFactory.parse_string(
        'js7.config-directory = "%s"\njs7.data-directory = "%s"\n' % (config_dir, data_dir), resolve=False)
    layers = [injected]
    private = os.path.join(config_dir, "private", "private.conf")
    main = os.path.join(config_dir, main_name)
    for path in (private, main):
        if os.path.exists(path):
            layers.append(_parse_file(path))
    layers.append(ConfigFactory.parse_string(defaults_text, resolve=False))
    merged = layers[0]
    for layer in layers[1:]:
        merged = merged.with_fallback(layer, resolve=False)
    try:
        from pyhocon.config_parser import ConfigParser  # pylint: disable=import-outside-toplevel
        ConfigParser.resolve_substitutions(merged)
    except ConfigException as exc:
        raise ConfigError(str(exc)) from exc
    return Config(merged)


class Config:
    """Typed accessors over the merged ConfigTree."""

    def __init__(self, tree: ConfigTree):
        self.tree = tree

    def get(self, key, default=None):
        try:
            return self.tree.get(key, default)
        except (ConfigException, KeyError, AttributeError, TypeError):
            return default

    def get_bool(self, key, default=False):
        try:
            return parse_bool(self.get(key), default)
        except ValueError as exc:
            raise ConfigError("%s: %s" % (key, exc)) from exc

    def get_duration(self, key, default=None):
        try:
            return parse_duration(self.get(key), default)
        except ValueError as exc:
            raise ConfigError("%s: %s" % (key, exc)) from exc

    def get_durations(self, key, default):
        value = self.get(key)
        if value is None:
            return list(default)
        return [parse_duration(v) for v in value]

    def get_str(self, key, default=None):
        value = self.get(key)
        return default if value is None else str(value)
