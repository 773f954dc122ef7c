"""The leaderboard: its store (SQLite by default), ranking and the static site."""
