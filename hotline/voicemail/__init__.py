"""Voicemail: intake of messages left out of hours, and the night-shift review."""
