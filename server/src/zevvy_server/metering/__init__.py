"""Metering core: exact values and instants, import decoding, periods and consumption maths."""
