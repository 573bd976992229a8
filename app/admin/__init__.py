"""The organisers' back office under /admin: every route needs a login."""
