"""The MLflow model registry: the packaged model (``pyfunc``), registered versions with lineage and figures
(``versions``), and the promotion gate (``promotion``)."""
