"""Series, events, sessions and groups: the programme participants book."""
