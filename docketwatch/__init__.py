"""docketwatch: a self-hosted monitor for public court dockets."""

__version__ = "0.1.0"
