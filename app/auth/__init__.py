"""Organiser accounts, login and access control."""
