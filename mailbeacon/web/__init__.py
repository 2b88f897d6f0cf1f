"""The HTTP side: the tracking hot path, health, metrics and the JSON API."""
