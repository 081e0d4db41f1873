"""Credentials out of hrefs before they reach a log, an error, attrs or a file.

Signed-URL catalogs hand out asset hrefs that carry their secret: an Azure
SAS token (``?sv=…&se=…&sig=…``), an S3 presigned URL (``X-Amz-Credential``,
``X-Amz-Signature``, ``X-Amz-Security-Token``), a Google Cloud Storage signed
URL (``X-Goog-Signature`` or ``GoogleAccessId``/``Signature``), a CloudFront
signed URL (``Policy``/``Signature``/``Key-Pair-Id``), an API token
(``token=``, ``access_token=``, ``key=``…), or ``user:password@`` in the
authority. :func:`redact` keeps what identifies the asset (scheme, host,
path, harmless query parameters) and replaces each secret by ``REDACTED``;
:func:`redact_text` does it for every URL inside a message (GDAL and
rasterio quote the URL in their errors).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from .._checks import is_instance

__all__ = ["REDACTED", "redact", "redact_log_records", "redact_text"]

REDACTED = "REDACTED"

#: Query parameters that carry or sign a credential (compared case-insensitively).
_SECRET_PARAMS = frozenset(
    {
        # Azure SAS (signature, and the fields it signs: a token is usable only whole)
        "sig", "se", "st", "sv", "sp", "sr", "spr", "srt", "ss", "si", "skoid", "sktid", "skt",
        "ske", "sks", "skv", "sdd", "saoid", "suoid", "scid",
        # CloudFront and GCS V2 signed URLs
        "signature", "policy", "key-pair-id", "googleaccessid", "expires",
        # tokens and keys
        "token", "access_token", "id_token", "refresh_token", "auth", "authorization",
        "api_key", "apikey", "key", "code", "password", "pwd", "secret", "client_secret",
        "x-api-key",
    }
)  # fmt: skip
#: Prefixes of signature parameters (S3 presigned, GCS V4 signed URLs).
_SECRET_PREFIXES = ("x-amz-", "x-goog-")

# a URL inside free text: scheme://… up to whitespace, a quote or a closing bracket
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>\)\]\}]+")


def _secret(name: str) -> bool:
    low = name.lower()
    return low in _SECRET_PARAMS or low.startswith(_SECRET_PREFIXES)


def redact(href: str) -> str:
    """*href* without its credentials (``user:password@`` and secret query values).

    The GDAL forms (``/vsicurl/https://…``) and URLs whose query holds no
    secret pass unchanged; non-URL strings (local paths) too.

    Examples
    --------
    >>> redact("https://acct.blob.core.windows.net/c/vv.tif?sv=2022-11-02&se=2030-01-01&sig=abc%2Bdef")
    'https://acct.blob.core.windows.net/c/vv.tif?sv=REDACTED&se=REDACTED&sig=REDACTED'
    >>> redact("https://me:hunter2@example.com/vv.tif?version=2")
    'https://REDACTED@example.com/vv.tif?version=2'
    """
    if not is_instance(href, str) or "://" not in href:
        return href
    prefix, sep, rest = href.partition("://")
    gdal = ""
    if "/" in prefix:  # /vsicurl/https://… : redact the URL after the GDAL prefix
        gdal, _, scheme = prefix.rpartition("/")
        gdal += "/"
        url = f"{scheme}{sep}{rest}"
    else:
        url = href
    try:
        parts = urlsplit(url)
    except ValueError:  # not parseable as a URL: redact what looks like userinfo
        return re.sub(r"://[^/@\s]*@", f"://{REDACTED}@", href)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret(k) for k, _ in pairs):
            query = "&".join(
                f"{quote(k, safe='-_.~')}=" + (REDACTED if _secret(k) else quote(v, safe="-_.~:/"))
                for k, v in pairs
            )
    fragment = parts.fragment
    if fragment and any(_secret(k) for k, _ in parse_qsl(fragment)):
        fragment = REDACTED  # OAuth implicit flows put tokens in the fragment
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return href
    return gdal + urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str) -> str:
    """*text* with every URL in it :func:`redact`-ed (for exception and log messages)."""
    if not is_instance(text, str) or "://" not in text:
        return text
    return _URL.sub(lambda m: redact(m.group(0)), text)


class _Redacting(logging.Filter):
    """Rewrites a log record's message with its URLs redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact_text(message), None
        return True


#: Loggers of the libraries that read assets and quote their URLs (GDAL's
#: messages reach Python through rasterio's loggers); their child loggers too.
LIBRARY_LOGGERS = ("rasterio", "odc", "pystac_client", "pystac", "urllib3", "fsspec", "s3fs")

_FILTER = _Redacting()


def redact_log_records(prefixes: tuple[str, ...] = LIBRARY_LOGGERS) -> None:
    """Redact the URLs in what the loggers under *prefixes* emit (done when sarcube.io loads).

    GDAL reports a failed HTTP request with the full URL, signature included,
    as a warning of the ``rasterio._env`` logger, and odc-stac logs the URL of
    a failed read; with this filter on those loggers (the ones that exist:
    their modules are imported first) the message that reaches any handler
    carries ``REDACTED`` instead.
    """
    names = set(prefixes)
    for name in list(logging.root.manager.loggerDict):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            names.add(name)
    for name in sorted(names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
