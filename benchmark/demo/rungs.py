"""The demo's test-set names and labels, shared by the runs (:mod:`.runs`), the tables (:mod:`.ladder`) and the
summary (:mod:`.summary`). It imports nothing of the demo, so those three depend on it and not on each other."""
from __future__ import annotations

#: Test set name → (demo set or la19 cut, what the rung adds).
RUNGS = {
    "r1_speakers": ("demo_a_eval", "unseen speakers, seen attacks"),
    "r2_voices": ("demo_a_voices", "+ unseen voices / settings of seen generators"),
    "r3_families": ("demo_a_families", "+ unseen generator families"),
    "r4_corpora": ("demo_b_eval", "+ unseen bona fide recording corpora"),
    "la19_dev": ("la19_dev", "real ASVspoof 2019 LA attacks (A01-A06)"),
    "la19_pretrained": ("la19_pretrained", "subset of la19_dev (in the official AASIST's training data)"),
}
#: Label suffix of the detectors trained on the 2019 LA mini train half, and the official AASIST row's label.
LA19_LABEL = "@la19"
PRETRAINED_LABEL = "aasist_official"
