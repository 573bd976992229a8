"""Check-in at the venue: scanning badges, marking people present, attendance counts."""
