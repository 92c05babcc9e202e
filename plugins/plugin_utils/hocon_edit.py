# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Minimal textual edits of a HOCON file, verified by re-parsing.

A setting is written by the first of these strategies whose result re-parses to
exactly the requested change (ansible-conventions.md §2.4: parse only to read and
verify, edit single lines):

1. ``replace``: the effective occurrence of the key -- the last ``key = value`` in the
   text at that exact path, flat (``a.b.c = v``), nested (``a { b { c = v } }``), or
   mixed (``a.b { c = v }``), with ``=`` or ``:`` -- gets the new value; the key, the
   separator, blanks and a trailing comment stay;
2. ``uncomment``: when the key is not set at all, the last comment line that is exactly
   ``# key = value`` or ``// key = value`` (inside the object the key belongs to) becomes
   ``key = <new value>``, as the JS7 installer does for ``is-backup`` (js7-engine.md §6.4);
3. ``append``: the flat line ``key = value`` at the end of the file (the installer's form).

Removing a key deletes every occurrence at the path or below it (whole lines when the
field has its own line(s), otherwise just the field), and an enclosing ``{ }`` block
that would be left empty (unless it holds comments).

Every byte outside the changed span(s) is kept: comments, blank lines, order,
indentation, CRLF line endings. (A UTF-8 BOM is handled by the caller.)
"""

from __future__ import annotations

import copy
import json
import re

from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_read import lookup, to_bool
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_syntax import (
    Document, HoconScanError, detect_newline, render_path,
)
from ansible_collections.jobscheduler.js7.plugins.plugin_utils.secrets import is_secret_path

ABSENT = object()

# A string that HOCON reads back unchanged when written without quotes ...
_UNQUOTED_SAFE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')
# ... unless it would read as a number, boolean or null instead.
_LOOKS_TYPED = re.compile(r'^(?:[+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?|true|false|null)$', re.IGNORECASE)
_MISSING = object()


class EditRefused(Exception):
    """The requested change cannot be made safely; the message says why."""


# -- values -----------------------------------------------------------------

def render_value(value, existing=None, quote_strings=False):
    """HOCON text for a requested value.

    Booleans are written ``yes``/``no`` as the JS7 installer does (js7-engine.md §6.4), or
    in the style of the value they replace (``true``/``false``, ``on``/``off``).
    Strings are written unquoted (unless ``quote_strings``: passwords are always quoted) when that reads back as the same string and the value
    they replace was unquoted (``3s``, ``Backup``); otherwise quoted (URLs, blanks,
    anything that looks like a number, boolean or null).
    """
    if isinstance(value, bool):
        style = (existing or '').strip().strip('"').lower()
        if style in ('true', 'false'):
            return 'true' if value else 'false'
        if style in ('on', 'off'):
            return 'on' if value else 'off'
        return 'yes' if value else 'no'
    if value is None:
        return 'null'
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        quoted_before = (existing or '').lstrip().startswith('"')
        if not quote_strings and not quoted_before and _UNQUOTED_SAFE.match(value) and not _LOOKS_TYPED.match(value):
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(render_value(v) for v in value) + ']'
    if isinstance(value, dict):
        if not value:
            return '{}'
        return '{ ' + ', '.join('%s = %s' % (render_path((str(k),)), render_value(v)) for k, v in value.items()) + ' }'
    raise EditRefused('cannot write a value of type %s' % type(value).__name__)


def values_equal(current, requested):
    """Does the configured ``current`` mean ``requested`` to JS7 (Typesafe Config conversions)?"""
    if current is _MISSING:
        return False
    if isinstance(requested, bool):
        return to_bool(current) is requested
    if requested is None:
        return current is None
    if isinstance(requested, dict):
        return (isinstance(current, dict) and set(current) == set(str(k) for k in requested)
                and all(values_equal(current[str(k)], v) for k, v in requested.items()))
    if isinstance(requested, (list, tuple)):
        return (isinstance(current, list) and len(current) == len(requested)
                and all(values_equal(c, r) for c, r in zip(current, requested)))
    if isinstance(current, (dict, list)) or current is None:
        return False
    if isinstance(requested, (int, float)):
        if isinstance(current, bool):
            return False
        try:
            return float(current) == float(requested)
        except (TypeError, ValueError):
            return False
    if isinstance(current, bool):
        return requested == ('true' if current else 'false')
    return str(current) == str(requested)


# -- trees ------------------------------------------------------------------

def set_path(tree, path, value):
    node = tree
    for segment in path[:-1]:
        if not isinstance(node.get(segment), dict):
            node[segment] = {}
        node = node[segment]
    node[path[-1]] = copy.deepcopy(value)


def delete_path(tree, path):
    """Remove ``path`` (or the first non-object prefix on the way) and prune emptied parents."""
    chain = []
    node = tree
    for index, segment in enumerate(path):
        if not isinstance(node, dict) or segment not in node:
            return  # nothing at the path
        chain.append((node, segment))
        if index < len(path) - 1 and not isinstance(node[segment], dict):
            break  # a non-object prefix stands where the path would be
        node = node[segment]
    if not chain:
        return
    parent, segment = chain.pop()
    del parent[segment]
    while chain:
        parent, segment = chain.pop()
        if parent[segment] == {}:
            del parent[segment]
        else:
            break


def _flatten(tree, prefix=()):
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            yield from _flatten(value, prefix + (key,))
    else:
        yield prefix, tree


def differing_paths(a, b):
    fa = dict(_flatten(a))
    fb = dict(_flatten(b))
    return sorted(render_path(p) for p in set(fa) | set(fb) if fa.get(p, _MISSING) != fb.get(p, _MISSING))


def verify_change(before, after, changes):
    """None when ``after`` is ``before`` with exactly ``changes`` applied, else the reason.

    ``changes`` maps path tuples to requested values (or ABSENT). Only key paths appear
    in reasons, never values (they may be secrets).
    """
    expected = copy.deepcopy(before)
    actual = copy.deepcopy(after)
    for path, value in changes.items():
        got = lookup(after, path, _MISSING)
        if value is ABSENT:
            if got is not _MISSING:
                return '%s is still set' % render_path(path)
        elif not values_equal(got, value):
            return '%s does not read back as the requested value' % render_path(path)
        delete_path(expected, path)
        delete_path(actual, path)
    if expected != actual:
        others = differing_paths(expected, actual)
        return 'other keys would change too: %s' % ', '.join(others[:10])
    return None


# -- text edits -------------------------------------------------------------

def _apply(text, edits):
    """Apply non-overlapping (start, end, replacement) edits."""
    out = []
    last = 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < last:
            continue
        out.append(text[last:start])
        out.append(replacement)
        last = end
    out.append(text[last:])
    return ''.join(out)


def _scan(text, name):
    try:
        return Document(text)
    except HoconScanError as exc:
        raise EditRefused('%s: line %d, column %d: cannot locate keys for editing: %s'
                          % (name, exc.line, exc.column, exc.reason))


def candidate_set_edits(text, path, value, name='the file'):
    """[(strategy, new_text)] in order of preference for setting ``path`` to ``value``."""
    doc = _scan(text, name)
    candidates = []
    quote = is_secret_path(path)
    occurrences = doc.occurrences(path)
    if occurrences:
        field = occurrences[-1]
        existing = text[field.value_start:field.value_end]
        rendered = render_value(value, existing, quote)
        if field.separator in ('=', ':'):
            new_text = _apply(text, [(field.value_start, field.value_end, rendered)])
        else:  # 'key { ... }' or 'key += v'
            new_text = _apply(text, [(field.key_end, field.value_end, ' = ' + rendered)])
        candidates.append(('replace', new_text))
    else:
        commented = _commented_line(doc, text, path)
        if commented is not None:
            start, end, body, field = commented
            rendered = render_value(value, body[field.value_start:field.value_end], quote)
            line = body[:field.value_start] + rendered + body[field.value_end:]
            candidates.append(('uncomment', _apply(text, [(start, end, line)])))
    candidates.append(('append', _append(doc, text, render_assignment(path, value))))
    return candidates


def render_assignment(path, value):
    """The installer's flat line ``a.b.c = value``.

    A segment that needs quotes gets its own nesting level (``a.b { "c.d" { e = v } }``):
    pyhocon, which verifies every edit, does not read keys that mix quoted and unquoted parts.
    """
    runs = []
    for segment in path:
        if render_path((segment,)) == segment and runs and not runs[-1][0]:
            runs[-1][1].append(segment)
        else:
            runs.append((render_path((segment,)) != segment, [segment]))
    keys = ['.'.join(run) if not quoted else render_path(tuple(run)) for quoted, run in runs]
    text = '%s = %s' % (keys[-1], render_value(value, quote_strings=is_secret_path(path)))
    for key in reversed(keys[:-1]):
        text = '%s { %s }' % (key, text)
    return text


def _commented_line(doc, text, path):
    """The last own-line comment that is exactly ``key = value`` for ``path``."""
    found = None
    for comment in doc.comments:
        if not comment.own_line:
            continue
        body = text[comment.start + len(comment.marker):comment.end].lstrip(' \t')
        if not body:
            continue
        try:
            sub = Document(body)
        except HoconScanError:
            continue
        if len(sub.fields) != 1 or sub.includes or sub.comments or sub.fields[0].separator not in ('=', ':'):
            continue
        field = sub.fields[0]
        if comment.scope + field.path == tuple(path):
            found = (comment.start, comment.end, body, field)
    return found


def _append(doc, text, line):
    newline = detect_newline(text)
    if doc.root_braces is not None:
        close = doc.root_braces[1]
        line_start = text.rfind('\n', 0, close) + 1
        if text[line_start:close].strip() == '':
            indent = ''
            if doc.top_fields:
                last = doc.top_fields[-1].start
                first = text.rfind('\n', 0, last) + 1
                indent = text[first:last] if text[first:last].strip() == '' else ''
            return text[:line_start] + indent + line + newline + text[line_start:]
        return text[:close] + newline + line + newline + text[close:]
    if text == '':
        return line + newline
    if text.endswith('\n'):
        return text + line + newline
    return text + newline + line + newline


def remove_edit(text, path, name='the file'):
    """The text with every occurrence of ``path`` (and below) removed; None when there is none."""
    doc = _scan(text, name)
    targets = list(doc.under(path))
    if not targets:
        return None
    chosen = set(id(f) for f in targets)
    # Outermost only: a field inside a removed object goes with it.
    removal = [f for f in targets if not _has_ancestor_in(f, chosen)]
    # An enclosing block left empty (and holding no comments) goes too.
    changed = True
    while changed:
        changed = False
        ids = set(id(f) for f in removal)
        for field in list(removal):
            parent = field.parent
            if parent is None or id(parent) in ids or not parent.is_object or parent.has_comments:
                continue
            if all(id(child) in ids for child in parent.children):
                removal = [f for f in removal if f.parent is not parent] + [parent]
                changed = True
                break
    return _apply(text, [_deletion_span(text, f) for f in removal])


def _has_ancestor_in(field, ids):
    parent = field.parent
    while parent is not None:
        if id(parent) in ids:
            return True
        parent = parent.parent
    return False


def _deletion_span(text, field):
    n = len(text)
    start, end = field.start, field.value_end
    left = start
    while left > 0 and text[left - 1] in ' \t':
        left -= 1
    left_clean = left == 0 or text[left - 1] == '\n'
    right = end
    while right < n and text[right] in ' \t':
        right += 1
    comma = right < n and text[right] == ','
    if comma:
        right += 1
        while right < n and text[right] in ' \t':
            right += 1
    before_comment = right
    if text.startswith('#', right) or text.startswith('//', right):
        while right < n and text[right] not in '\r\n':
            right += 1
    right_clean = right == n or text[right] in '\r\n'
    if left_clean and right_clean:
        if text.startswith('\r\n', right):
            right += 2
        elif right < n:
            right += 1
        return (left, right, '')
    if not comma and not left_clean:
        # "a = 1, b = 2": take the comma before the field instead.
        k = start
        while k > 0 and text[k - 1] in ' \t':
            k -= 1
        if k > 0 and text[k - 1] == ',':
            return (k - 1, end, '')
    return (start, before_comment if comma else end, '')


def edit_text(text, changes, parse, name='the file'):
    """Apply ``changes`` ({path: value or ABSENT}) to ``text``.

    ``parse(text)`` returns the plain tree of a text (includes resolved) or raises.
    Returns (new_text, {path: strategy}) -- strategy None when the key was already as
    requested. Raises EditRefused when no strategy gives exactly the requested change.
    """
    original_tree = parse(text)
    tree = original_tree
    strategies = {}
    for path, value in changes.items():
        current = lookup(tree, path, _MISSING)
        if value is ABSENT:
            if current is _MISSING:
                strategies[path] = None
                continue
            new_text = remove_edit(text, path, name)
            if new_text is None:
                raise EditRefused('%s: %s is set by an included file, not in this file; remove it there'
                                  % (name, render_path(path)))
            candidates = [('remove', new_text)]
        else:
            if values_equal(current, value):
                strategies[path] = None
                continue
            candidates = candidate_set_edits(text, path, value, name)
        reasons = []
        for strategy, new_text in candidates:
            try:
                new_tree = parse(new_text)
            except Exception as exc:  # pylint: disable=broad-except
                reasons.append('%s: the edited text does not parse (%s)' % (strategy, exc))
                continue
            problem = verify_change(tree, new_tree, {path: value})
            if problem is None:
                text, tree = new_text, new_tree
                strategies[path] = strategy
                break
            reasons.append('%s: %s' % (strategy, problem))
        else:
            raise EditRefused('%s: refusing to %s %s: no edit gives exactly that change (%s)'
                              % (name, 'remove' if value is ABSENT else 'set', render_path(path), '; '.join(reasons)))
    problem = verify_change(original_tree, tree, dict((p, v) for p, v in changes.items()))
    if problem is not None:
        raise EditRefused('%s: refusing to write: %s' % (name, problem))
    return text, strategies
