"""Probabilistic models built from data; nothing here samples."""
