"""Entry file of the packaged MLflow model ("models from code"): the registry stores this file and the
ocrops sources, never a pickled object."""

import mlflow

from ocrops.registry.pyfunc import OcropsPyfunc

mlflow.models.set_model(OcropsPyfunc())
