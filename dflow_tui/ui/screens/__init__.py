"""Modal screens: confirmations and details."""
