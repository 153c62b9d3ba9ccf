"""Serving: inference engines, request validation, error codes, rate limiting."""
