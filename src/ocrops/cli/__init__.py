"""The ``ocrops`` command, one module per concern (kedro's and transformers' CLIs are the model): ``data`` and
``synth`` (datasets), ``pipeline`` (stages, ablation, GPU check), ``registry`` (MLflow), ``serving`` (the Bento,
its client, its container), ``batch`` (Spark), ``review`` (Label Studio), ``monitor`` (drift) and ``domain``
(several domains in one project)."""

from __future__ import annotations

import typer

from ocrops.cli import batch, data, domain, monitor, pipeline, registry, review, serving, synth

app = typer.Typer(no_args_is_help=True, help="ocrops: an MLOps workflow for GLM-OCR.", pretty_exceptions_enable=False)
app.add_typer(data.app, name="data")
app.add_typer(synth.app, name="synth")
app.add_typer(pipeline.app)
app.add_typer(registry.app)
app.add_typer(serving.app)
app.add_typer(serving.container_app, name="container")
app.add_typer(batch.app)
app.add_typer(review.app, name="review")
app.add_typer(monitor.app)
app.add_typer(domain.app, name="domain")

__all__ = ["app"]
