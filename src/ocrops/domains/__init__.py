"""Several domains in one project: ``pipelines/NAME/`` holds a domain's pipeline (its dvc.yaml, a params.yaml
that extends the project's, its data), made by :mod:`.scaffold`, listed by :mod:`.listing`."""

from __future__ import annotations

PIPELINES = "pipelines"  # the folder of the domains, beside the project's dvc.yaml
MODEL_PREFIX = "ocrops-"  # a domain NAME registers its models as ocrops-NAME
