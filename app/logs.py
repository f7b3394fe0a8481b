"""Logging with the call id on every line (a context variable set by each call's task), and
no phone or ID number in clear: callers are followed by their call id, not their number."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

from app.services.masking import mask_text

call_id_var: ContextVar[str] = ContextVar("call_id", default="-")
# A WebSocket's `?token=` (browsers cannot send the header) appears in the server's
# "WebSocket /path?token=... [accepted]" lines: an API token is never logged.
_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"']+")


class CallIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = call_id_var.get()
        return True


class MaskingFormatter(logging.Formatter):
    """Masks phone and ID numbers anywhere in the line, tracebacks and error texts included,
    and API tokens in URLs."""

    def format(self, record: logging.LogRecord) -> str:
        return _TOKEN_IN_URL.sub(r"\1***", mask_text(super().format(record)))


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(CallIdFilter())
    handler.setFormatter(
        MaskingFormatter("%(asctime)s %(levelname)s [call %(call_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # One line per ARI request would drown the call log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
