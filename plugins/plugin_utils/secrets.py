# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which JS7 configuration values are secrets, and how to hide them.

Secrets (js7-engine.md §1.4, §1.5):

- ``js7.auth.users.<UserId>`` when it is a string (``"plain:..."``/``"sha512:..."``) and
  ``js7.auth.users.<UserId>.password`` in the object form;
- ``js7.auth.cluster.password`` (the password this node uses towards its peer);
- everything under ``js7.auth.agents`` (legacy Agent Cluster Watch passwords, ≤ 2.5);
- any key whose name contains ``password`` or ``passphrase`` (keystore/truststore
  ``store-password``/``key-password``, ``watch.cluster-nodes[].password``, ...);
- any string value starting with ``plain:`` or ``sha512:``, wherever it is.

The empty string is not masked: it is JS7's "empty password" and hides nothing.
"""

from __future__ import annotations

import re

from ansible_collections.jobscheduler.js7.plugins.plugin_utils.hocon_syntax import Document, HoconScanError

MASK = '********'

_SECRET_KEY_RE = re.compile(r'password|passphrase', re.IGNORECASE)
_SECRET_VALUE_RE = re.compile(r'^(plain|sha512):', re.IGNORECASE)
# In free text (comments, diff lines): "plain:xyz" / sha512:abc..., quoted or not.
_SECRET_TEXT_RE = re.compile(r'((?:plain|sha512):)((?:[^"\s\\]|\\.)+)', re.IGNORECASE)


def is_secret_path(path):
    """True when the value at ``path`` (tuple of keys; list items are ints) is a secret."""
    keys = [p for p in path if not isinstance(p, int)]
    if len(keys) >= 4 and tuple(keys[:3]) == ('js7', 'auth', 'users'):
        if len(keys) == 4 or (len(keys) == 5 and keys[4] == 'password'):
            return True
    if tuple(keys[:4]) == ('js7', 'auth', 'cluster', 'password'):
        return True
    if len(keys) >= 4 and tuple(keys[:3]) == ('js7', 'auth', 'agents'):
        return True
    return any(_SECRET_KEY_RE.search(str(k)) for k in keys)


def is_secret_value(value):
    return isinstance(value, str) and bool(_SECRET_VALUE_RE.match(value))


def mask_tree(value, path=(), secrets=None):
    """Copy of a plain tree with secrets replaced by MASK. Returns (masked, set of secret strings)."""
    if secrets is None:
        secrets = set()
    if isinstance(value, dict):
        return dict((k, mask_tree(v, path + (k,), secrets)[0]) for k, v in value.items()), secrets
    if isinstance(value, list):
        return [mask_tree(v, path + (i,), secrets)[0] for i, v in enumerate(value)], secrets
    if (is_secret_path(path) and not isinstance(value, (dict, list))) or is_secret_value(value):
        if value is None or value == '':
            return value, secrets
        secrets.add(str(value))
        return MASK, secrets
    return value, secrets


def secret_values(value):
    return mask_tree(value)[1]


def mask_text(text, extra_secrets=()):
    """Mask secrets in the text of a HOCON file (for diffs): values of secret keys,
    ``plain:``/``sha512:`` values anywhere (comments too) and every known secret string."""
    spans = []
    try:
        doc = Document(text)
    except HoconScanError:
        doc = None
    if doc is not None:
        for field in doc.fields:
            if field.is_object:
                continue
            if is_secret_path(field.path):
                spans.append((field.value_start, field.value_end))
    out = []
    last = 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start])
        out.append('"%s"' % MASK)
        last = end
    out.append(text[last:])
    masked = ''.join(out)
    masked = _SECRET_TEXT_RE.sub(lambda m: m.group(1) + MASK, masked)
    for secret in sorted((s for s in extra_secrets if s), key=len, reverse=True):
        if len(secret) >= 3:
            masked = masked.replace(secret, MASK)
    return masked


def password_scheme(value):
    """The scheme of a JS7 user password: 'plain', 'sha512', 'empty', or the unknown
    prefix / None (no scheme). Never returns the password itself."""
    if value == '':
        return 'empty'
    if not isinstance(value, str) or ':' not in value:
        return None
    prefix = value.split(':', 1)[0]
    if re.match(r'^[A-Za-z0-9_-]{1,16}$', prefix):
        return prefix.lower() if prefix.lower() in ('plain', 'sha512') else prefix
    return None
