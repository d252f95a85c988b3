"""Prompt styles: how a Sample becomes the text the model reads (registry.py; data in styles/)."""
