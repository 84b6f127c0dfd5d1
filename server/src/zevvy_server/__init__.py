"""zevvy-server: the identity server, metering API and web console of a self-hosted zevvy."""

__version__ = "0.1.0"
