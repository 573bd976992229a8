"""Ranked workshop allocation in the app: runs, publication, results and offers of freed places."""
