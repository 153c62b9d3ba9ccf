"""BentoML's failed-request records, as its `log_exception` writes them, become one line without the input."""

from __future__ import annotations

import logging

import pydantic

from ocrops.serving.logs import BENTOML_REQUEST_LOGGER, quiet_request_errors


class Body(pydantic.BaseModel):
    image: str
    mode: int


def test_a_validation_traceback_becomes_one_line_without_the_input(caplog):
    quiet_request_errors()
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    try:
        Body(image="Patient Li Wei 110101199003077777", mode="not a number")
    except pydantic.ValidationError:
        with caplog.at_level(logging.ERROR, logger=BENTOML_REQUEST_LOGGER):
            # what bentoml._internal.server.http_app.log_exception does
            logger.error("Exception on %s [%s]", "/ocr\r\nFORGED status=200", "POST", exc_info=True)
    (record,) = caplog.records
    line = caplog.text
    assert record.exc_info is None and "Traceback" not in line
    assert "Li Wei" not in line and "110101" not in line and "not a number" not in line
    assert line.count("\n") == 1 and "\\r\\nFORGED" in line
    assert 'path="/ocr\\r\\nFORGED status=200" method="POST" error=ValidationError (mode: int_parsing)' in line
