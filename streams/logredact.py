"""No secrets and no personal data in logs: every log record of the process passes through
:func:`redact` when it is created (a log record factory: it holds whatever handlers, formatters
or libraries, Faust's included, do later).

* tokens: ``token=``, ``api_key=`` (Open311), ``secret=`` values, ``Authorization``/``Bearer``/``Basic`` credentials,
  passwords in URLs (``redis://:secret@host``) become ``***``;
* phone numbers and JSON ``"name"`` values are masked (:func:`routers.privacy.mask_personal_data`);
* aiohttp's report of a malformed or over-long request (``BadHttpMessage``, ``LineTooLong``: its
  message quotes the first 100 bytes of the line, a token included) loses the quote and its
  traceback: only the client, the error class and the HTTP status remain.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from routers.privacy import mask_personal_data

REDACTED = "***"
_SECRETS = re.compile(
    r"(?i)(\b(?:token|access_token|api_?key|secret)=|\bauthorization:\s*(?:bearer|basic)?\s*|\b(?:bearer|basic)\s+"
    r"|\bpassword[=:]\s*)"
    r"[^\s&\"',;]+"
    r"|(?<=://)[^\s/@:]*:[^\s/@]+(?=@)"  # user:password@ in a URL
)


def redact(text: str) -> str:
    return mask_personal_data(_SECRETS.sub(lambda m: (m.group(1) or "") + REDACTED, text))


def _bad_request(exc: BaseException | None) -> bool:
    try:
        from aiohttp.http_exceptions import HttpProcessingError
    except ImportError:  # pragma: no cover - aiohttp is a dependency
        return False
    return isinstance(exc, HttpProcessingError)


_installed: list[Any] = []


def redact_every_log_record() -> None:
    """Put :func:`redact` into every log record of this process (once; later calls do nothing)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            _clean(record)
        except Exception:  # a log call must never fail because of its redaction
            record.msg, record.args = "(log record withheld: it could not be redacted)", ()
            record.exc_info, record.exc_text = None, None
        return record

    logging.setLogRecordFactory(factory)
    _installed.append(factory)


def _clean(record: logging.LogRecord) -> None:
    exc = record.exc_info[1] if record.exc_info else None
    if _bad_request(exc):
        said = redact(record.getMessage())
        record.msg = "%s: refused a malformed or over-long HTTP request with %s (%s); its content is not logged"
        record.args = (said, getattr(exc, "code", 400), type(exc).__name__)
        record.exc_info = None
        return
    # () and not None: Faust's log formatter (mode's ExtensionFormatter) turns None into (None,) and
    # formats the finished message a second time, which fails or mangles any "%" left in it.
    record.msg, record.args = redact(record.getMessage()), ()
    if record.exc_info:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
