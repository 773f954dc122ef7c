"""Submissions: score-file folders and model wheels, checked before they reach a leaderboard."""
