"""What each dvc stage does, as library code; pipelines/*.py only call these."""
