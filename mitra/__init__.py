"""Mitra: a WhatsApp governance platform."""

__version__ = "0.1.0"
