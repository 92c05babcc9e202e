# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Parse JS7 configuration files with pyhocon on the control node.

What this adds to pyhocon (ansible-conventions.md §2.3):

- files come from the managed node, never from the control node's disk: ``include``
  targets are served from a dict of texts fetched beforehand, URL/package includes and
  globs are refused;
- substitutions are never resolved (``${js7.config-directory}`` is supplied by the JS7
  runtime, js7-engine.md §1.1) and the control node's environment is never read: they
  come back as their source text, e.g. ``"${js7.config-directory}/private/x"``;
- durations stay the strings HOCON wrote (``3s``, ``10 seconds``), as in Typesafe Config,
  which interprets them only when a duration is asked for; duration_seconds() does that;
- the result is plain JSON types (dict/list/str/int/float/bool/None), safe for Data
  Tagging in ansible-core 2.19;
- errors name the file, line and column where they happened (ConfigFileError).
"""

from __future__ import annotations

import contextlib
import posixpath
import re

try:
    import pyparsing
    from pyhocon import ConfigFactory
    from pyhocon import config_parser as _config_parser
    from pyhocon.config_tree import ConfigTree, ConfigValues, ConfigSubstitution, ConfigQuotedString, NoneValue
    from pyhocon.exceptions import ConfigException
    HAS_PYHOCON = True
    PYHOCON_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the action plugins
    HAS_PYHOCON = False
    PYHOCON_IMPORT_ERROR = exc

from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_syntax import (
    BOM, Document, HoconScanError, line_column,
)

PYHOCON_MISSING_MSG = ('The Python library pyhocon is required on the Ansible control node (not on the JS7 hosts): '
                       'pip install "pyhocon>=0.3.60,<0.4" in the Python that runs ansible-playbook')

MISSING = object()


class ConfigFileError(Exception):
    """A problem with one configuration file. str() names the file and, if known, the line and column."""

    def __init__(self, path, problem, line=None, column=None, hint=None):
        self.path = path
        self.problem = problem
        self.line = line
        self.column = column
        self.hint = hint
        where = path
        if line is not None:
            where = '%s: line %d, column %d' % (path, line, column or 1)
        message = '%s: %s' % (where, problem)
        if hint:
            message = '%s. %s' % (message.rstrip('.'), hint)
        super(ConfigFileError, self).__init__(message)


def decode_config(path, data):
    """UTF-8 bytes -> (text without BOM, had_bom). A file that is not UTF-8 is a ConfigFileError."""
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        head = data[:exc.start]
        line = head.count(b'\n') + 1
        column = exc.start - (head.rfind(b'\n') + 1) + 1
        raise ConfigFileError(path, 'the file is not UTF-8 (byte 0x%02x cannot be decoded)' % data[exc.start], line, column,
                              'JS7 reads its configuration files as UTF-8; convert the file, e.g. with iconv')
    if text.startswith(BOM):
        return text[1:], True
    return text, False


# Secret-looking text in a parse error message is cut off (the "found '...'" part).
_SECRETISH = re.compile(r'password|passphrase|secret|plain:|sha512:', re.IGNORECASE)


def _parse_error(path, text, exc):
    line = getattr(exc, 'lineno', None)
    column = getattr(exc, 'col', None)
    reason = getattr(exc, 'msg', None) or str(exc)
    if len(reason) > 80 or '\n' in reason:
        # pyparsing spells out the whole grammar it expected; that helps nobody.
        reason = 'unexpected input'
    found = ''
    try:
        bad_line = exc.line
    except Exception:  # pylint: disable=broad-except
        bad_line = ''
    if bad_line and not _SECRETISH.search(bad_line) and not _SECRETISH.search(reason):
        snippet = text[exc.loc:exc.loc + 20].split('\n', 1)[0].strip() if 0 <= exc.loc < len(text) else ''
        if snippet and 'found' not in reason:
            found = ", found '%s'" % snippet
    elif _SECRETISH.search(reason):
        reason = reason.split(', found', 1)[0]
    return ConfigFileError(path, 'malformed HOCON: %s%s' % (reason, found), line, column)


@contextlib.contextmanager
def _sandbox(files, missing_includes, includes_empty=False):
    """Make pyhocon read includes from ``files`` only and leave durations as text.

    ``files`` maps absolute remote paths to decoded text (None: the file does not exist).
    With ``includes_empty`` every include reads as an empty object (syntax check of one file).
    Patches are module attributes of pyhocon and are undone on exit; each Ansible task
    runs in its own worker process, so nothing else sees them.
    """
    factory = _config_parser.ConfigFactory
    original_parse_file = factory.__dict__['parse_file']
    original_parse_url = factory.__dict__['parse_URL']
    original_period = _config_parser.get_period_expr
    original_package = _config_parser.ConfigParser.__dict__['resolve_package_path']

    def parse_file(cls, filename, encoding='utf-8', required=True, resolve=True, unresolved_value=None):
        if includes_empty:
            return []
        name = resolve_include_name(filename, files)
        text = files.get(name)
        if text is None:
            if required:
                raise ConfigFileError(filename, 'the file named in include required(...) does not exist on the managed node',
                                      hint='Create it or remove the include')
            missing_includes.append(filename)
            return []
        if '*' in filename or '?' in filename:
            raise ConfigFileError(filename, 'wildcard includes are not supported')
        return factory.parse_string(text, posixpath.dirname(name), resolve=False,
                                    unresolved_value=_config_parser.NO_SUBSTITUTION)

    def parse_url(cls, url, timeout=None, resolve=True, required=False, unresolved_value=None):
        if includes_empty or not required:
            missing_includes.append(url)
            return []
        raise ConfigFileError(url, 'include url(...) is not read: the control node does not fetch URLs named in a JS7 '
                                   'configuration')

    def resolve_package_path(cls, package_path):
        if includes_empty:
            return package_path
        raise ConfigFileError(package_path, 'include package(...) is not supported in JS7 configuration files')

    def no_period():
        return pyparsing.NoMatch()

    factory.parse_file = classmethod(parse_file)
    factory.parse_URL = classmethod(parse_url)
    _config_parser.ConfigParser.resolve_package_path = classmethod(resolve_package_path)
    _config_parser.get_period_expr = no_period
    try:
        yield
    finally:
        factory.parse_file = original_parse_file
        factory.parse_URL = original_parse_url
        _config_parser.ConfigParser.resolve_package_path = original_package
        _config_parser.get_period_expr = original_period


def resolve_include_name(name, files):
    """Typesafe Config tries ``name.conf`` for an include without extension."""
    if files.get(name) is None and not posixpath.splitext(name)[1] and files.get(name + '.conf') is not None:
        return name + '.conf'
    return name


def include_paths(text, including_path):
    """Absolute paths of the file includes in ``text`` as [(path, required)], in text order.

    Relative names are relative to the including file's directory (like pyhocon and
    Typesafe Config for ``include "x.conf"``). Raises ConfigFileError on a scan error.
    """
    try:
        doc = Document(text)
    except HoconScanError as exc:
        raise ConfigFileError(including_path, 'malformed HOCON: %s' % exc.reason, exc.line, exc.column)
    found = []
    for inc in doc.includes:
        if inc.kind in ('url', 'classpath', 'package'):
            line, column = line_column(text, inc.start)
            if inc.required:
                raise ConfigFileError(including_path, 'include required(%s(...)) cannot be read from the managed node' % inc.kind,
                                      line, column)
            continue
        if '*' in inc.target or '?' in inc.target:
            line, column = line_column(text, inc.start)
            raise ConfigFileError(including_path, 'wildcard includes are not supported', line, column)
        found.append((posixpath.normpath(posixpath.join(posixpath.dirname(including_path), inc.target)), inc.required))
    return found


def check_syntax(path, text):
    """Parse one file on its own (includes empty) so an error is reported in the file that has it."""
    if not HAS_PYHOCON:
        raise ConfigFileError(path, PYHOCON_MISSING_MSG)
    with _sandbox({}, [], includes_empty=True):
        try:
            ConfigFactory.parse_string(text, None, resolve=False, unresolved_value=_config_parser.NO_SUBSTITUTION)
        except pyparsing.ParseBaseException as exc:
            raise _parse_error(path, text, exc)
        except (ConfigException, ValueError, TypeError, KeyError) as exc:
            raise ConfigFileError(path, 'malformed HOCON: %s' % exc)
    try:
        Document(text)
    except HoconScanError as exc:
        raise ConfigFileError(path, 'malformed HOCON: %s' % exc.reason, exc.line, exc.column)


def parse_config(path, text, files):
    """Parse ``text`` (the content of ``path``) with its includes from ``files``.

    Returns (plain dict, [missing optional include paths]).
    """
    if not HAS_PYHOCON:
        raise ConfigFileError(path, PYHOCON_MISSING_MSG)
    missing = []
    with _sandbox(files, missing):
        try:
            tree = ConfigFactory.parse_string(text, posixpath.dirname(path), resolve=False,
                                              unresolved_value=_config_parser.NO_SUBSTITUTION)
        except ConfigFileError:
            raise
        except pyparsing.ParseBaseException as exc:
            raise _parse_error(path, text, exc)
        except (ConfigException, ValueError, TypeError, KeyError) as exc:
            raise ConfigFileError(path, 'cannot be merged: %s' % exc)
    if isinstance(tree, list):
        raise ConfigFileError(path, 'the file is an array; a JS7 configuration file must be an object')
    return to_plain(tree), missing


def _unquote_key(key):
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        import json
        try:
            return json.loads(key)
        except ValueError:
            return key[1:-1]
    return key


def _render_token(token):
    if isinstance(token, ConfigSubstitution):
        return '${%s%s}%s' % ('?' if token.optional else '', token.variable, token.ws or '')
    if isinstance(token, ConfigQuotedString):
        return token.value + (token.ws or '')
    plain = to_plain(token)
    if isinstance(plain, (dict, list)):
        import json
        return json.dumps(plain, sort_keys=True)
    if plain is None:
        return 'null'
    if isinstance(plain, bool):
        return 'true' if plain else 'false'
    return str(plain)


def to_plain(value):
    """pyhocon values -> JSON types. Unresolved substitutions become their source text."""
    if HAS_PYHOCON:
        if isinstance(value, ConfigTree):
            return dict((_unquote_key(k), to_plain(v)) for k, v in value.items())
        if isinstance(value, ConfigValues):
            return ''.join(_render_token(t) for t in value.tokens).strip()
        if isinstance(value, ConfigSubstitution):
            return _render_token(value).strip()
        if isinstance(value, ConfigQuotedString):
            return value.value
        if isinstance(value, NoneValue) or value is NoneValue:
            return None
    if isinstance(value, dict):
        return dict((_unquote_key(k), to_plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def deep_merge(base, override):
    """HOCON/Typesafe merge: objects merge key by key, anything else replaces (js7-engine.md §1.1)."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def lookup(tree, path, default=None):
    node = tree
    for segment in path:
        if not isinstance(node, dict) or segment not in node:
            return default
        node = node[segment]
    return node


# Typesafe Config booleans (ConfigImpl): true/yes/on and false/no/off, as written.
_TRUE = ('true', 'yes', 'on')
_FALSE = ('false', 'no', 'off')


def to_bool(value):
    """HOCON boolean -> True/False, None when the value is not a boolean JS7 accepts."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    return None


_DURATION_UNITS = {
    'ns': 1e-9, 'nano': 1e-9, 'nanos': 1e-9, 'nanosecond': 1e-9, 'nanoseconds': 1e-9,
    'us': 1e-6, 'micro': 1e-6, 'micros': 1e-6, 'microsecond': 1e-6, 'microseconds': 1e-6,
    'ms': 1e-3, 'milli': 1e-3, 'millis': 1e-3, 'millisecond': 1e-3, 'milliseconds': 1e-3,
    's': 1, 'second': 1, 'seconds': 1,
    'm': 60, 'minute': 60, 'minutes': 60,
    'h': 3600, 'hour': 3600, 'hours': 3600,
    'd': 86400, 'day': 86400, 'days': 86400,
}
_DURATION_RE = re.compile(r'^\s*([+-]?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$')


def duration_seconds(value):
    """A Typesafe duration (``3s``, ``10 seconds``, ``500ms``; a bare number is milliseconds) in seconds.

    Returns None when the value is not a duration.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000.0
    else:
        match = _DURATION_RE.match(str(value))
        if not match:
            return None
        unit = match.group(2) or 'ms'
        if unit not in _DURATION_UNITS:
            return None
        seconds = float(match.group(1)) * _DURATION_UNITS[unit]
    return int(seconds) if float(seconds).is_integer() else round(seconds, 9)
