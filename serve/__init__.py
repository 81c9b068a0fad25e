"""Serving an exported model: face cropping, `python -m serve.predict`, the web service."""
