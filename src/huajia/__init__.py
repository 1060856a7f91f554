"""Huajia (画架): self-hosted Z-Image generation for content teams."""

__version__ = "0.1.0"
