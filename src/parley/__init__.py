"""Parley: a self-hosted business messaging hub."""

__version__ = "0.1.0"
