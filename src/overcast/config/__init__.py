"""Configuration: CLI > environment > local.settings.json Values > host.json > defaults."""
