"""Helpers of scripts/download_models.py (standard library only): catalog, HTTP, install, manifest."""
