"""zevvy: push meter readings to a zevvy server (self-hosted or hosted) from Python or a shell."""

__version__ = "0.1.0"
__all__ = ["__version__"]
