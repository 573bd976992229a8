"""The audit log: who did what, to which registration, session or export, and when."""
