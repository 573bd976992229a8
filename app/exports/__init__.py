"""Attendee lists out: CSV and Excel exports, sign-in sheets and badges."""
