"""Xinlian (信链): a consortium blockchain platform. See ../shared/DESIGN.md for the layers."""

__version__ = "0.1.0"
