"""Evaluation: how well a model reads and how fast. Text metrics (``metrics``), lines and pages measured
(``measure``, ``pages``), latency summaries (``latency``), exported-engine parity (``parity``), the error and page
galleries, and the figures a registered version records per test set (``records``)."""
