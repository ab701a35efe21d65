"""infersim: what LLM inference really costs, and what it earns."""

__version__ = "0.1.0"
