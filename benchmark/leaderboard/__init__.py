"""The leaderboard: its store (SQLite by default), ranking and the static site (see docs/leaderboard.md).

``init_leaderboard(dir, config_yaml)`` / ``Leaderboard.open(dir)``, ``add_submission(board, folder)``
(score files), ``add_model_submission(board, folder)`` (verify + the operator's run),
``leaderboard_rows(board)``, ``build_site(board, out_dir)``.
"""
from .board import Leaderboard, init_leaderboard
from .config import LeaderboardConfig
from .ingest import AddResult, add_submission
from .models import add_model_submission
from .ranking import leaderboard_rows, render_csv, render_markdown
from .site import build_site
from .store import Store

__all__ = ["AddResult", "Leaderboard", "LeaderboardConfig", "Store", "add_model_submission", "add_submission",
           "build_site", "init_leaderboard", "leaderboard_rows", "render_csv", "render_markdown"]
