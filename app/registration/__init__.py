"""Participants' registrations and their bookings of sessions and groups."""
