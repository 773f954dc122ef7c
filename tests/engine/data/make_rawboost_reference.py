"""Make ``rawboost_reference.npz``: the published RawBoost reference code's outputs for algorithms 1-8 on a fixed
input and fixed seeds, which ``tests/engine/test_rawboost.py`` compares :mod:`spoofbench.engine.rawboost` with.

Test preparation only: the tests never run this script and the package never imports the reference code.
The reference is TakHemlata/RawBoost-antispoofing (MIT; ``RawBoost.py``, ``data_utils_rawboost.py`` with the
``process_Rawboost_feature`` dispatch of algorithms 1-8, ``main.py`` with the parameter defaults). Export those
three files into a folder and point the script at it::

    git clone https://github.com/TakHemlata/RawBoost-antispoofing /tmp/rawboost_ref   # or, from a bare mirror:
    # git --git-dir=MIRROR archive HEAD RawBoost.py data_utils_rawboost.py main.py | tar -x -C /tmp/rawboost_ref
    .venv/bin/python tests/engine/data/make_rawboost_reference.py /tmp/rawboost_ref --commit $(git -C ... rev-parse HEAD)

The parameters are read from the reference's own ``main.py`` (its argparse defaults, parsed with ``ast``, not
typed in here), stored in the fixture, and the test checks that ``RawBoostConfig()``'s defaults equal them.
For each algorithm and seed the script calls ``np.random.seed(seed)`` and then the reference's
``process_Rawboost_feature(x, 16000, args, algo)`` exactly as its training dataset does (x: float32, as
``librosa.load`` returns it). ``data_utils_rawboost`` imports torch and librosa at the top; neither is used by
the dispatch, so a stand-in module is put in for either that is not installed.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import io
import sys
import types
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
SAMPLES = 2000                    # 0.125 s (the longest notch bank is ~500 taps); ~230 KiB of float64 outputs
SEEDS_PER_ALGO = 2
#: the reference's argparse names of the RawBoost parameters (all but ``algo``)
PARAMETERS = ("nBands", "minF", "maxF", "minBW", "maxBW", "minCoeff", "maxCoeff", "minG", "maxG",
              "minBiasLinNonLin", "maxBiasLinNonLin", "N_f", "P", "g_sd", "SNRmin", "SNRmax")
OUT = Path(__file__).with_name("rawboost_reference.npz")


def signal() -> np.ndarray:
    """A speech-like test input: a gliding harmonic tone with a syllable envelope, plus a little noise."""
    rng = np.random.default_rng(2022)
    t = np.arange(SAMPLES) / SAMPLE_RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * t)) ** 1.5
    wave = 0.3 * envelope * voiced + 0.01 * rng.standard_normal(SAMPLES)
    return (0.7 * wave / np.max(np.abs(wave))).astype(np.float32)


def reference_defaults(main_py: Path) -> dict[str, int | float]:
    """The ``default=`` of each RawBoost ``parser.add_argument('--NAME', ...)`` in the reference's main.py."""
    tree = ast.parse(main_py.read_text(encoding="utf-8"))
    found: dict[str, int | float] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument" and node.args):
            continue
        flag = node.args[0]
        if not (isinstance(flag, ast.Constant) and isinstance(flag.value, str)):
            continue
        name = flag.value.lstrip("-")
        for kw in node.keywords:
            if kw.arg == "default" and name in PARAMETERS:
                found[name] = ast.literal_eval(kw.value)
    missing = [p for p in PARAMETERS if p not in found]
    if missing:
        raise SystemExit(f"{main_py}: no default found for {', '.join(missing)}")
    return found


def import_reference(folder: Path):
    """The reference's ``data_utils_rawboost`` module (stand-ins for torch/librosa when not installed)."""
    for name in ("torch", "librosa"):
        try:
            importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.__getattr__ = lambda attr: type(attr, (), {})     # anything the module-level code names
            sys.modules[name] = stub
            if name == "librosa":
                sys.modules["librosa.effects"] = stub
            else:
                for sub in ("torch.nn", "torch.utils", "torch.utils.data"):
                    sys.modules[sub] = stub
    sys.path.insert(0, str(folder))
    module = importlib.import_module("data_utils_rawboost")
    # numpy 1.x converted a 1-element array with int() and float(); numpy 2.4 raises. The reference relies on it
    # (randRange's int(y), genNotchCoeffs's float(f1)), so in its module alone these two builtins get that old
    # behaviour back: the element itself, the values unchanged.
    try:
        int(np.ones(1)), float(np.ones(1))
    except TypeError:
        reference = importlib.import_module("RawBoost")
        reference.int, reference.float = _one_element(int), _one_element(float)
    return module


def _one_element(convert):
    """``convert`` (int or float) that, as with numpy 1.x, takes a 1-element array as its element."""
    def scalar(value):
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(()).item()
        return convert(value)
    return scalar


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="folder with RawBoost.py, data_utils_rawboost.py, main.py")
    parser.add_argument("--commit", default="", help="the reference's git commit (recorded in the fixture)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    defaults = reference_defaults(args.reference / "main.py")
    module = import_reference(args.reference)
    params = argparse.Namespace(**defaults)
    x = signal()
    arrays: dict[str, np.ndarray] = {"input": x, "sample_rate": np.array(SAMPLE_RATE)}
    arrays["parameter_names"] = np.array(PARAMETERS)
    arrays["parameter_values"] = np.array([float(defaults[p]) for p in PARAMETERS])
    arrays["commit"] = np.array(args.commit)
    arrays["versions"] = np.array([np.__version__, importlib.import_module("scipy").__version__])
    for algo in range(1, 9):
        for k in range(SEEDS_PER_ALGO):
            seed = 1000 * algo + k
            np.random.seed(seed)
            y = module.process_Rawboost_feature(x.copy(), SAMPLE_RATE, params, algo)
            arrays[f"algo{algo}_seed{seed}"] = np.asarray(y)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    try:
        from spoofbench.atomic import write_bytes_atomic
    except ImportError:   # run from a separate environment (e.g. an older numpy, to run the reference unpatched)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(args.out)
    else:
        write_bytes_atomic(args.out, buffer.getvalue())
    print(f"{args.out}: {len(arrays) - 6} reference outputs, {args.out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
