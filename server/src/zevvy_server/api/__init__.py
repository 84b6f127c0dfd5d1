"""Thin JSON routes: OAuth endpoints under /realms/{realm}, metering endpoints at /."""
