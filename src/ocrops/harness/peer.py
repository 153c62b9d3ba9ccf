"""The load test's reference peer: a plain FastAPI server, one request = one model call (no batching,
no queue), around the same packaged model and engine as the Bento. Not for production."""

from __future__ import annotations

import argparse
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ocrops.errors import HTTP_STATUS, OcropsError
from ocrops.inference.inputs import PayloadLimits, image_from_base64
from ocrops.inference.runtime import PackagedModel


class OcrRequest(BaseModel):
    image: str


def create_app(model_root: Path, engine: str = "auto") -> FastAPI:
    model = PackagedModel(model_root, engine=engine)
    limits = PayloadLimits()
    app = FastAPI(title="ocrops plain peer")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    @app.post("/ocr")
    def ocr(request: OcrRequest):  # sync: FastAPI runs it in its thread pool, one model call per request
        try:
            prediction = model.read([image_from_base64(request.image, limits)], batch_size=1)[0]
        except OcropsError as exc:
            return JSONResponse(exc.to_dict(), status_code=HTTP_STATUS[exc.code])
        return {"text": model.postprocessor(prediction.text, prediction.confidence),
                "confidence": prediction.confidence, "engine": model.engine_name}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_root", type=Path)
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--engine", default="auto")
    args = parser.parse_args()
    uvicorn.run(create_app(args.model_root, args.engine), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
