"""Studio: an offline AI creative studio."""

__version__ = "0.1.0"
