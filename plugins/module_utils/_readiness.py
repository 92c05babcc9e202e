# -*- coding: utf-8 -*-
# Copyright: contributors to the jobscheduler.js7 collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Does a JS7 instance answer HTTP? A liveness probe for ``instance`` and ``journal_reset``.

Private to the collection (leading underscore): no compatibility promise.

Any HTTP answer counts as "up": an unappointed backup answers 503 BackupClusterNodeNotAppointed
(js7-engine.md §1.3), an instance with authentication answers 401 to an anonymous GET
(js7-engine.md §3.2). The probe sends no credentials, ignores proxies (the instance is local)
and does not verify certificates: it learns nothing but whether a web server answers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.urls import open_url

from ansible_collections.jobscheduler.js7.plugins.module_utils._js7_paths import format_host
from ansible_collections.jobscheduler.js7.plugins.module_utils._process import http_ports_of


def _split_iface_port(value):
    if value.startswith('['):
        end = value.find(']')
        return value[1:end], value[end + 2:]
    if ':' in value:
        return value.rsplit(':', 1)
    return None, value


def probe_urls(location, argv=None, http_url=None):
    """API URLs to probe, best first.

    An explicit ``http_url`` wins. Otherwise the running process's own ``--http-port`` /
    ``--https-port`` (js7-engine.md §1.5: ports come only from the command line), then the
    ``http_port`` option (default 4444 / 4445 on 127.0.0.1).
    """
    if http_url:
        base = http_url.rstrip('/')
        if base.endswith(location.api_path):
            return [base]
        return [base + location.api_path]
    urls = []
    if argv:
        http, https = http_ports_of(argv)
        for scheme, values in (('http', http), ('https', https)):
            for value in values:
                iface, port = _split_iface_port(value)
                if str(port).isdigit():
                    urls.append('%s://%s:%s%s' % (scheme, format_host(location.probe_host(iface)), port, location.api_path))
    if not urls or location.http_port_given:
        own = 'http://%s:%d%s' % (format_host(location.probe_host()), location.port, location.api_path)
        if own not in urls:
            urls.append(own)
    return urls


def probe(url, timeout=2.0):
    """GET ``url``. Returns ``(answered, http_status, detail)``; never raises."""
    try:
        response = open_url(url, method='GET', timeout=timeout, validate_certs=False, use_proxy=False,
                            follow_redirects='none', headers={'Accept': 'application/json'})
        status = response.getcode()
        response.close()
        return True, status, 'HTTP %s' % status
    except HTTPError as exc:
        # 401, 403, 503 ... : the web server is up and answered.
        return True, exc.code, 'HTTP %s' % exc.code
    except URLError as exc:
        return False, None, str(getattr(exc, 'reason', exc))
    except (socket.timeout, socket.error, ValueError) as exc:
        return False, None, str(exc)
    except Exception as exc:  # pylint: disable=broad-except  # e.g. http.client.BadStatusLine: not a JS7 answer
        return False, None, '%s: %s' % (type(exc).__name__, exc)


def first_answer(urls, timeout=2.0):
    """Probe each URL; returns ``(url, status)`` of the first that answers, or ``(None, last_detail)``."""
    detail = None
    for url in urls:
        answered, status, detail = probe(url, timeout)
        if answered:
            return url, status
    return None, detail


def port_open(url, timeout=1.0):
    """True when something accepts TCP connections at the host and port of ``url``."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == 'https' else 80)
    try:
        conn = socket.create_connection((parts.hostname, port), timeout=timeout)
    except (socket.timeout, socket.error, OSError):
        return False
    conn.close()
    return True
