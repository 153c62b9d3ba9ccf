"""What BentoML itself logs about a failed request, cut to one line without request content: its validation
tracebacks quote the input (`input_value='Patient Li Wei 1101...'`, base64 of an image) and its
"Exception on PATH" lines carry the raw URL path (a crafted one writes a line of its own)."""

from __future__ import annotations

import json
import logging

# the logger of BentoML's `log_exception` (every failed request, with its traceback)
BENTOML_REQUEST_LOGGER = "bentoml._internal.server.http_app"


def _locations(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return ""
    try:
        found = errors(include_input=False, include_context=False, include_url=False)
    except TypeError:
        return ""
    return "; ".join(".".join(str(p) for p in e.get("loc", ())) + f": {e.get('type', '')}" for e in found)[:300]


class OneLineRequestErrors(logging.Filter):
    """A failed request's record becomes ``request failed: path="/x" method=POST error=ValidationError
    (image: missing)``: no traceback, no input values, the path quoted with control characters escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.args, tuple) and len(record.args) == 2:
            exc = record.exc_info[1]
            path, method = (str(a) for a in record.args)
            detail = _locations(exc) if exc is not None else ""
            record.msg = "request failed: path=%s method=%s error=%s%s"
            record.args = (json.dumps(path[:300]), json.dumps(method[:16]), type(exc).__name__,
                           f" ({detail})" if detail else "")
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def quiet_request_errors() -> None:
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    if not any(isinstance(f, OneLineRequestErrors) for f in logger.filters):
        logger.addFilter(OneLineRequestErrors())
