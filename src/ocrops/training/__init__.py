"""Training: the base model resolved once (``base``), the fine-tuner (``trainer``), what keeps general reading
(``forgetting``), several processes (``distributed``), the MLflow run (``run``) and bit-reproducible numerics
(``reproducibility``). Importing this package imports no torch: the train stage pins CPU kernels first."""
