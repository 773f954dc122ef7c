"""Corpora: manifests, corpus recipes, header probing, validation and OOD protocols.

``RECIPES`` maps a corpus name to its :class:`~spoofbench.corpora.recipe.CorpusRecipe`
(lazy entries; third parties add recipes through the ``spoofbench.corpora`` entry-point group).
"""
from __future__ import annotations

from ..registry import Registry

RECIPES: Registry = Registry("corpus recipe", "spoofbench.corpora")

for _name, _target in {
    "asvspoof2019_la": "spoofbench.corpora.asvspoof:ASVSPOOF2019_LA",
    "asvspoof2021_la": "spoofbench.corpora.asvspoof:ASVSPOOF2021_LA",
    "asvspoof2021_df": "spoofbench.corpora.asvspoof:ASVSPOOF2021_DF",
    "asvspoof5": "spoofbench.corpora.asvspoof:ASVSPOOF5",
    "in_the_wild": "spoofbench.corpora.in_the_wild:IN_THE_WILD",
    "wavefake": "spoofbench.corpora.wavefake:WAVEFAKE",
    "fakeorreal_original": "spoofbench.corpora.fakeorreal:FAKEORREAL_ORIGINAL",
    "fakeorreal_norm": "spoofbench.corpora.fakeorreal:FAKEORREAL_NORM",
    "fakeorreal_2sec": "spoofbench.corpora.fakeorreal:FAKEORREAL_2SEC",
    "fakeorreal_rerec": "spoofbench.corpora.fakeorreal:FAKEORREAL_REREC",
    "mlaad": "spoofbench.corpora.mlaad:MLAAD",
    "csv": "spoofbench.corpora.generic:CSV",
    "folder": "spoofbench.corpora.generic:FOLDER",
}.items():
    RECIPES.register(_name, _target)

__all__ = ["RECIPES"]
