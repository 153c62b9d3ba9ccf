"""Datasets: the contract, importers and exporters, synthesis and validation."""
