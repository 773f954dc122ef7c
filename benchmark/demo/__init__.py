"""The embedded demo corpus: vendored bona fide speech and spoofs made offline by real generators.

``build_demo_corpus(out_dir, quick=..., seed=...)`` is the entry point; see :mod:`.build`.
"""
from .build import DemoCorpus, DemoWarning, build_demo_corpus
from .generators import ATTACKS, Attack
from .index import VendoredClip, demo_data_dir, load_index
from .plan import FULL_SIZES, QUICK_SIZES, SETS, DemoSizes

__all__ = ["ATTACKS", "Attack", "DemoCorpus", "DemoSizes", "DemoWarning", "FULL_SIZES",
           "QUICK_SIZES", "SETS", "VendoredClip", "build_demo_corpus", "demo_data_dir",
           "load_index"]
