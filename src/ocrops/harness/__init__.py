"""The measuring harness around the product (never imported by it): starting real servers, the plain FastAPI
peer, the load generator's HTTP calls, and the throughput / latency timers the benchmark and load-test
stages and the tests use."""
