"""The service around the inference package: what each endpoint does (``api``), HTTP admission (``http``: request
ids, size limits, API keys, rate limits, queue), metrics, settings, the OpenAI and glmocr protocols, the web
page. bentos/service.py wires them into BentoML."""
