"""The review loop with Label Studio: lines the model doubted pushed as tasks, corrections pulled back as data."""
