"""The web base: passwords, tokens and roles; server-side sessions (pure)."""
