"""Authlib grant classes adapted to Keycloak's answers: device code, authorization code, refresh."""
