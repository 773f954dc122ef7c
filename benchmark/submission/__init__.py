"""Submissions: score-file folders and model wheels, checked before they reach a leaderboard.

``load_spec(folder)`` (submission.yaml), ``read_trial_lists(folder)`` / ``write_trial_lists(...)``,
``check_submission(folder, trials, normalization)``, ``declare_files(folder)``; model submissions:
``verify_submission(wheel_or_detector, ...)`` (:mod:`.verify`), which runs submitted code only inside the
bubblewrap sandbox of :mod:`.isolation` (the worker is :mod:`.sandbox`).
"""
from .check import CheckedSubmission, check_submission, declare_files
from .spec import ModelRef, SubmissionSpec, load_spec
from .trials import TrialLists, read_trial_lists, score_file_name, write_trial_lists

__all__ = ["CheckedSubmission", "ModelRef", "SubmissionSpec", "TrialLists", "check_submission", "declare_files",
           "load_spec", "read_trial_lists", "score_file_name", "write_trial_lists"]
