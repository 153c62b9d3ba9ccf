"""The toy family's code: only what ocrops requires (a model, how to make and load it); no exporter, so the
export stage records a skip and the torch model serves."""

from ocrops.models.interface import ModelFamily


class ToyFamily(ModelFamily):
    def pretrained(self, base, settings=None):
        from toyfam.model import ToyModel

        return ToyModel([])

    def load(self, path):
        from toyfam.model import ToyModel

        return ToyModel.load(path)
