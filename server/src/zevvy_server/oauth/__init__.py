"""OAuth: API clients, grants (device code, authorization code + PKCE, refresh), tokens and
signing keys, grant sessions and revocation, discovery. The protocol core knows nothing of the
web framework: routes hand it an `OAuthRequest` and copy its `OAuthResponse` to the wire."""
