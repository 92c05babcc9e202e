# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A position-keeping HOCON scanner, for the control node only.

pyhocon parses values but forgets where they were written, and re-serialising a
pyhocon tree loses every comment (chimpler/pyhocon#223). To edit a controller.conf
in place we need the opposite: the exact character offsets of every key, separator,
value, comment and include directive. This module finds them. It does not compute
values (pyhocon does that); callers always re-parse an edited text with pyhocon and
compare trees, so a mis-scan can only ever lead to a refusal, never to a silent
wrong write.

Only what HOCON files written by people and by the JS7 installer contain is needed:
objects, arrays, quoted/unquoted/triple-quoted strings, substitutions, ``=``/``:``/
``+=`` separators, ``#`` and ``//`` comments, ``include`` directives and commas.
"""

from __future__ import annotations

import json
import re

BOM = '\ufeff'

# HOCON forbids these characters in unquoted strings and keys.
_FORBIDDEN = frozenset('$"{}[]:=,+#`^?!@*&\\')
_INLINE_WS = frozenset(' \t\f\v\u00a0' + BOM)
_NEWLINE = frozenset('\r\n')
_INCLUDE_RE = re.compile(r'include[ \t]+(?:(required)[ \t]*\([ \t]*)?(?:(file|url|classpath|package)[ \t]*\([ \t]*)?"((?:[^"\\\n]|\\.)*)"')
_SIMPLE_SEGMENT_RE = re.compile(r'^[A-Za-z0-9_-]+$')


class HoconScanError(Exception):
    """The text is not HOCON the scanner understands; offset is 0-based."""

    def __init__(self, message, text, offset):
        self.offset = offset
        self.line, self.column = line_column(text, offset)
        super(HoconScanError, self).__init__('line %d, column %d: %s' % (self.line, self.column, message))
        self.reason = message


def line_column(text, offset):
    """1-based line and column of a character offset."""
    line = text.count('\n', 0, offset) + 1
    column = offset - (text.rfind('\n', 0, offset) + 1) + 1
    return line, column


class Field(object):
    """One ``key <sep> value`` (or ``key { ... }``) occurrence in the text."""

    def __init__(self, path, start, key_end, separator, value_start, value_end, parent):
        self.path = path              # full path from the root, tuple of segments
        self.start = start            # offset of the key's first character
        self.key_end = key_end        # offset just after the key text
        self.separator = separator    # '=', ':', '+=' or '' (object without separator)
        self.value_start = value_start
        self.value_end = value_end    # just after the value, trailing blanks excluded
        self.parent = parent          # enclosing Field (its value is the object we are in) or None
        self.children = []            # fields of the object value (if is_object)
        self.is_object = False
        self.has_comments = False     # the object value holds comments

    def __repr__(self):
        return 'Field(%s, %d-%d)' % (render_path(self.path), self.start, self.value_end)


class Comment(object):
    def __init__(self, start, end, marker, scope, own_line):
        self.start = start      # offset of '#' or '//'
        self.end = end          # end of line, newline excluded
        self.marker = marker
        self.scope = scope      # path of the object the comment is in
        self.own_line = own_line  # nothing but blanks before it on its line


class Include(object):
    def __init__(self, start, end, target, kind, required, scope):
        self.start = start
        self.end = end
        self.target = target      # the quoted file name, unescaped
        self.kind = kind          # None (plain "file"), 'file', 'url', 'classpath', 'package'
        self.required = required
        self.scope = scope


class Document(object):
    """Scanned HOCON text (without a BOM)."""

    def __init__(self, text):
        self.text = text
        self.fields = []        # every field, in text order (nested ones included)
        self.top_fields = []
        self.comments = []
        self.includes = []
        self.root_braces = None  # (open, close) offsets when the file is wrapped in { }
        _Scanner(self).scan()

    def occurrences(self, path):
        """Fields whose path is exactly ``path``, in text order."""
        path = tuple(path)
        return [f for f in self.fields if f.path == path]

    def under(self, path):
        """Fields at ``path`` or below it, in text order."""
        path = tuple(path)
        size = len(path)
        return [f for f in self.fields if f.path[:size] == path]


def unescape_quoted(body):
    """Value of a JSON-style quoted string body (without the quotes)."""
    try:
        return json.loads('"' + body + '"')
    except ValueError:
        return body


def split_key(key_text):
    """Split a HOCON path expression into segments (quoted parts keep their dots).

    ``js7.auth.users."a.b".password`` -> ('js7', 'auth', 'users', 'a.b', 'password').
    Raises ValueError for an empty segment or an unterminated quote.
    """
    segments = []
    current = []
    seen_any = False
    i = 0
    n = len(key_text)
    while i < n:
        c = key_text[i]
        if c == '"':
            j = i + 1
            while j < n and key_text[j] != '"':
                j += 2 if key_text[j] == '\\' else 1
            if j >= n:
                raise ValueError('unterminated quoted key in %r' % key_text)
            current.append(unescape_quoted(key_text[i + 1:j]))
            seen_any = True
            i = j + 1
        elif c == '.':
            if not seen_any:
                raise ValueError('empty path segment in %r' % key_text)
            segments.append(''.join(current))
            current = []
            seen_any = False
            i += 1
        else:
            current.append(c)
            seen_any = True
            i += 1
    if not seen_any:
        raise ValueError('empty path segment in %r' % key_text)
    segments.append(''.join(current))
    # Blanks around unquoted segments are not part of the key.
    return tuple(s if s.strip() == s else s.strip() for s in segments)


def render_path(path):
    """A path expression that split_key() reads back as ``path``."""
    return '.'.join(s if _SIMPLE_SEGMENT_RE.match(s) else json.dumps(s, ensure_ascii=False) for s in path)


class _Scanner(object):
    def __init__(self, doc):
        self.doc = doc
        self.text = doc.text
        self.n = len(doc.text)

    def error(self, message, offset):
        raise HoconScanError(message, self.text, offset)

    # -- low level -------------------------------------------------------

    def at_comment(self, p):
        return self.text.startswith('#', p) or self.text.startswith('//', p)

    def own_line(self, p):
        q = p - 1
        while q >= 0 and self.text[q] in _INLINE_WS:
            q -= 1
        return q < 0 or self.text[q] == '\n'

    def skip_comment(self, p, scope):
        end = p
        while end < self.n and self.text[end] not in _NEWLINE:
            end += 1
        marker = '#' if self.text[p] == '#' else '//'
        self.doc.comments.append(Comment(p, end, marker, scope, self.own_line(p)))
        return end

    def skip_quoted(self, p):
        """p at '"'; returns offset after the closing quote."""
        if self.text.startswith('"""', p):
            end = self.text.find('"""', p + 3)
            if end < 0:
                self.error('unterminated triple-quoted string', p)
            end += 3
            while end < self.n and self.text[end] == '"':  # """a"""" ends at the last quote
                end += 1
            return end
        q = p + 1
        while q < self.n:
            c = self.text[q]
            if c == '\\':
                q += 2
                continue
            if c == '"':
                return q + 1
            if c in _NEWLINE:
                break
            q += 1
        self.error('unterminated quoted string', p)

    def skip_substitution(self, p):
        end = self.text.find('}', p)
        newline = self.text.find('\n', p)
        if end < 0 or (0 <= newline < end):
            self.error('unterminated substitution ${...}', p)
        return end + 1

    def skip_array(self, p):
        """p at '['; returns offset after the matching ']' (objects inside arrays are not paths)."""
        depth = 0
        q = p
        while q < self.n:
            c = self.text[q]
            if c in '[{':
                depth += 1
                q += 1
            elif c in ']}':
                depth -= 1
                q += 1
                if depth == 0:
                    return q
            elif c == '"':
                q = self.skip_quoted(q)
            elif c == '$' and self.text.startswith('${', q):
                q = self.skip_substitution(q)
            elif c == '#' or (self.text.startswith('//', q) and (q == 0 or self.text[q - 1] in _INLINE_WS or self.text[q - 1] in '\r\n[{,')):
                while q < self.n and self.text[q] not in _NEWLINE:
                    q += 1
            else:
                q += 1
        self.error('unterminated array [', p)

    def skip_blank(self, p, scope, newlines=True, commas=True):
        while p < self.n:
            c = self.text[p]
            if c in _INLINE_WS or (newlines and c in _NEWLINE) or (commas and c == ','):
                p += 1
            elif newlines and self.at_comment(p):
                p = self.skip_comment(p, scope)
            else:
                break
        return p

    # -- structure -------------------------------------------------------

    def scan(self):
        p = self.skip_blank(0, ())
        if p < self.n and self.text[p] == '{':
            close = self.parse_object(p + 1, (), None, closing=True)
            self.doc.root_braces = (p, close - 1)
            p = self.skip_blank(close, ())
            if p < self.n:
                self.error('unexpected text after the closing } of the root object', p)
        elif p < self.n and self.text[p] == '[':
            self.error('the file is an array; a JS7 configuration file must be an object', p)
        else:
            self.parse_object(p, (), None, closing=False)

    def parse_object(self, p, scope, owner, closing):
        """Parse fields until '}' (closing) or the end; returns offset after '}' or the end."""
        start = p
        comments_before = len(self.doc.comments)
        while True:
            p = self.skip_blank(p, scope)
            if p >= self.n:
                if closing:
                    self.error('unterminated object {', start - 1)
                break
            c = self.text[p]
            if c == '}':
                if not closing:
                    self.error("unexpected '}'", p)
                p += 1
                break
            match = _INCLUDE_RE.match(self.text, p)
            if match:
                self.doc.includes.append(Include(p, match.end(), unescape_quoted(match.group(3)), match.group(2),
                                                 bool(match.group(1)), scope))
                p = match.end()
                # the closing parentheses of required( file( ... ) )
                while True:
                    q = p
                    while q < self.n and self.text[q] in _INLINE_WS:
                        q += 1
                    if q < self.n and self.text[q] == ')':
                        p = q + 1
                    else:
                        break
                self.doc.includes[-1].end = p
                continue
            p = self.parse_field(p, scope, owner)
        if owner is not None and len(self.doc.comments) > comments_before:
            owner.has_comments = True
        return p

    def parse_key(self, p):
        """Returns (segments, key_end, next_offset)."""
        start = p
        last_nonblank = p
        while p < self.n:
            c = self.text[p]
            if c == '"':
                p = self.skip_quoted(p)
                last_nonblank = p
            elif c in _INLINE_WS:
                p += 1
            elif c in _NEWLINE or c in _FORBIDDEN or self.text.startswith('//', p):
                break
            else:
                p += 1
                last_nonblank = p
        if last_nonblank == start:
            self.error('expected a key, found %r' % self.text[start:start + 1], start)
        key_text = self.text[start:last_nonblank]
        try:
            segments = split_key(key_text)
        except ValueError as exc:
            self.error(str(exc), start)
        return segments, last_nonblank, p

    def parse_field(self, p, scope, owner):
        start = p
        segments, key_end, p = self.parse_key(p)
        path = scope + segments
        # pyhocon accepts newlines and comments between a key and '{' or its separator
        p = self.skip_blank(p, scope, commas=False)
        if p >= self.n:
            self.error("expected '=', ':' or '{' after the key", key_end)
        if self.text.startswith('+=', p):
            separator = '+='
            p += 2
        elif self.text[p] in '=:':
            separator = self.text[p]
            p += 1
        elif self.text[p] == '{':
            separator = ''
        else:
            self.error("expected '=', ':' or '{' after the key", p)
        field = Field(path, start, key_end, separator, p, p, owner)
        self.doc.fields.append(field)
        if owner is None:
            self.doc.top_fields.append(field)
        else:
            owner.children.append(field)
        if separator:
            p = self.skip_blank(p, scope, commas=False)
        field.value_start = p
        p = self.parse_value(p, field)
        return p

    def parse_value(self, p, field):
        pieces = 0
        objects = 0
        end = p
        while p < self.n:
            c = self.text[p]
            if c in _INLINE_WS:
                p += 1
                continue
            if c in _NEWLINE or c in ',}]' or self.at_comment(p):
                break
            if c == '{':
                p = self.parse_object(p + 1, field.path, field, closing=True)
                objects += 1
            elif c == '[':
                p = self.skip_array(p)
            elif c == '"':
                p = self.skip_quoted(p)
            elif self.text.startswith('${', p):
                p = self.skip_substitution(p)
            else:
                q = p
                while q < self.n:
                    d = self.text[q]
                    if d == '\\' and q + 1 < self.n:
                        q += 2
                        continue
                    if d in _INLINE_WS or d in _NEWLINE or d in '"{}[],#$=':
                        break
                    q += 1
                if q == p:
                    self.error('unexpected character %r in a value' % c, p)
                p = q
            pieces += 1
            end = p
        if pieces == 0:
            self.error('missing value for key %s' % render_path(field.path), p)
        field.value_end = end
        field.is_object = pieces == 1 and objects == 1
        return p


def detect_newline(text):
    """The line ending a file uses ('\\r\\n' when it has any CRLF, else '\\n')."""
    return '\r\n' if '\r\n' in text else '\n'
