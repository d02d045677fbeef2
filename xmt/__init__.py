"""xmt: source-free cross-modal knowledge transfer with task-irrelevant paired data."""

__version__ = "0.1.0"
