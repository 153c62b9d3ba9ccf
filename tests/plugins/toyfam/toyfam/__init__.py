"""The toy family's record: what ocrops reads before importing its code."""

from ocrops.families import Family

family = Family(
    name="toy",
    implementation="toyfam.plugin:ToyFamily",
    presets=("toy-v0",),
    description="reads every line as one learnt text (ignores the pixels): a plug-in example, not a recognizer",
)
