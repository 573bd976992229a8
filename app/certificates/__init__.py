"""Certificates of attendance: a PDF per checked-in participant after the event, and the email offering it."""
