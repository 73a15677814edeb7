"""mlcycle: an end-to-end MLOps system for tabular classification."""

__version__ = "0.1.0"
