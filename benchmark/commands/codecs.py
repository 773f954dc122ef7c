"""``spoofbench codecs``: list, check and apply codec conditions (thin layer over spoofbench.codecs)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from spoofbench.atomic import atomic_path
from spoofbench.cli import command_parser
from spoofbench.errors import InputFileError
from spoofbench.logs import context_logger


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "codecs", help="codec conditions: list, check, apply",
                            example="spoofbench codecs list --matrix telephony\n"
                                    "spoofbench codecs check\n"
                                    "spoofbench codecs apply amr_nb_12k2 data_manifests/demo/audio/librispeech/librispeech-103-1240-0000-c0.flac out.wav")
    sub = parser.add_subparsers(dest="codecs_command", metavar="ACTION")

    p = command_parser(sub, "list", help="list conditions (id, codec, bitrate, rate, engine, available)",
                       example="spoofbench codecs list --matrix default --json")
    p.add_argument("--matrix", default=None, help="a named matrix (default: all registered conditions)")
    p.add_argument("--conditions", type=Path, default=None, help="a YAML of extra conditions to load first")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_list)

    p = command_parser(sub, "check", help="which conditions run on this machine, and why not "
                                          "(exit 0; unavailable ones are listed; --strict exits 1)",
                       example="spoofbench codecs check --matrix default")
    p.add_argument("--matrix", default="default", help="matrix to check (default: default)")
    p.add_argument("--conditions", type=Path, default=None, help="a YAML of extra conditions to load first")
    p.add_argument("--strict", action="store_true", help="exit 1 when any condition cannot run")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_check)

    p = command_parser(sub, "apply", help="code one audio file through a condition",
                       example="spoofbench codecs apply gsm_fr data_manifests/demo/audio/librispeech/librispeech-103-1240-0000-c0.flac speech_gsm.wav")
    p.add_argument("condition", help="condition id (see `spoofbench codecs list`)")
    p.add_argument("input", type=Path, help="input audio file (WAV, FLAC, MP3, ...: libsndfile, else FFmpeg)")
    p.add_argument("output", type=Path, help="output WAV (same rate as the input; same length unless the "
                                             "condition trims or pads silence)")
    p.add_argument("--key", default="", help="trial key seeding packet loss, noise, babble and replay "
                                             "(default: the file name)")
    p.add_argument("--conditions", type=Path, default=None, help="a YAML of extra conditions to load first")
    p.set_defaults(func=_apply)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _selected(args):
    from spoofbench.codecs import CONDITIONS, get_condition, get_matrix, load_conditions

    if args.conditions is not None:
        load_conditions(args.conditions)
    if args.matrix:
        return get_matrix(args.matrix)
    return [cond for _, cond in CONDITIONS.loadable(get_condition)]  # a broken plugin: one warning, skipped


def _rows(conditions, statuses=None):
    from spoofbench.codecs import condition_provenance

    rows = []
    for i, cond in enumerate(conditions):
        prov = condition_provenance(cond)
        row = {"id": cond.id, "codec": cond.codec, "encoder": cond.encoder, "bitrate": cond.bitrate,
               "quality": cond.quality, "sample_rate": cond.sample_rate,
               "channel": cond.channel.to_dict() if cond.channel else None,
               "engine": prov["engine"], "library": prov["library"], "available": prov["available"],
               "reason": prov["reason"]}
        if hasattr(cond, "steps"):  # a channel condition: its steps and parameters
            row.update(kind="channel", steps=[s for s in cond.to_dict()["steps"]], summary=cond.summary(),
                       simulation=cond.is_simulation, keeps_length=cond.keeps_length, sources=list(cond.sources))
        row["description"] = cond.description
        if statuses is not None:
            row["works"] = statuses[i].works
            row["reason"] = statuses[i].reason
        rows.append(row)
    return rows


def _print_table(rows, extra: bool = False, params: bool = False) -> None:
    """One line per condition; ``params``: a channel condition's steps with their parameters (and
    its description) on the lines below it."""
    header = f"{'id':16} {'codec':10} {'bitrate':>8} {'rate':>6} {'engine':7} available"
    print(header)
    for r in rows:
        bitrate = f"{r['bitrate'] / 1000:g}k" if r["bitrate"] else (f"q{r['quality']:g}" if r["quality"] is not None else "-")
        rate = str(r["sample_rate"] or "input")
        ok = "yes" if r["available"] and r.get("works", True) is not False else "NO"
        line = f"{r['id']:16} {r['codec']:10} {bitrate:>8} {rate:>6} {str(r['engine'] or '-'):7} {ok}"
        if ok == "NO" or (extra and r["reason"]):
            line += f"  ({r['reason']})"
        print(line)
        if params and r.get("summary"):
            print(f"    {r['summary']}")
            if r.get("description"):
                print(f"    {r['description']}")


def _list(args) -> int:
    rows = _rows(_selected(args))
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        _print_table(rows, params=True)
    return 0


def _check(args) -> int:
    from spoofbench.codecs import check_conditions

    conditions = _selected(args)
    statuses = check_conditions(conditions, smoke=True)
    rows = _rows(conditions, statuses)
    for row, status in zip(rows, statuses):
        row["tried"] = [{"engine": name, "reason": why} for name, why in status.tried]
        row["install"] = list(status.install)
    bad = [r for r in rows if not r["available"] or r["works"] is False]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 1 if (bad and args.strict) else 0
    # The table names the engine that runs each condition; the ones that cannot run follow, engine by engine.
    _print_table([{**r, "reason": "see below"} if r in bad else r for r in rows], extra=True)
    for r in bad:
        if not r["tried"]:  # a channel condition runs in-process: no engine choice, only its own reason
            print(f"\n{r['id']} cannot run here: {r['reason']}")
            continue
        print(f"\n{r['id']} cannot run here" + (f": {r['reason']}" if r["available"] else "") + ". Engines tried:")
        for attempt in r["tried"]:
            print(f"  {attempt['engine']:12} {attempt['reason'] or 'available, but coding a test tone failed'}")
        if r["install"]:
            print(f"  to install: {'; '.join(r['install'])}")
    print(f"\n{len(rows) - len(bad)}/{len(rows)} conditions run here"
          + (f"; cannot run: {', '.join(r['id'] for r in bad)}" if bad else ""))
    all_install = dict.fromkeys(command for r in bad for command in r["install"])
    if all_install:
        packages = " ".join(c.removeprefix("apt-get install ") for c in all_install)
        print(f"install what is missing with: apt-get install {packages} (setup.sh installs them)")
    return 1 if (bad and args.strict) else 0


def _check_output(source: Path, output: Path) -> None:
    """Refuse an output that is a folder or the input itself (also through links or ``..``)."""
    if output.is_dir():
        raise InputFileError("output is a directory; give a file name such as out.wav", output)
    same = output.exists() and source.exists() and os.path.samefile(source, output)
    if same or output.resolve() == source.resolve():
        raise InputFileError(f"output is the input file {source}; refusing to overwrite the source "
                             "audio (choose another output path)", output)


def _apply(args) -> int:
    import soundfile as sf

    from spoofbench.audio_io import read_audio
    from spoofbench.codecs import apply_condition_report, condition_provenance, get_condition

    if args.conditions is not None:
        from spoofbench.codecs import load_conditions
        load_conditions(args.conditions)
    condition = get_condition(args.condition)
    _check_output(args.input, args.output)
    mono, info = read_audio(args.input)  # libsndfile, else PyAV; channels averaged
    rate = info.sample_rate
    if info.channels > 1:
        context_logger(__name__, codec=condition.id).info(f"{args.input} has {info.channels} channels; coding their mean")
    report = apply_condition_report(mono, int(rate), condition, key=args.key or args.input.name)
    try:
        with atomic_path(args.output, suffix=".wav") as tmp:
            sf.write(tmp, report.wave, int(rate), subtype="FLOAT", format="WAV")
    except OSError as err:
        raise InputFileError(f"cannot write the output: {err.strerror or err}", args.output) from err
    prov = condition_provenance(condition)
    if hasattr(condition, "steps"):
        note = " (a SIMULATION)" if condition.is_simulation else ""
        print(f"{args.output}: {condition.id}{note}: {condition.summary()}; {prov['library']}; "
              f"{len(report.wave)} samples at {rate} Hz (input {len(mono)})")
        return 0
    seconds = len(mono) / rate
    kbps = f", {report.encoded_bytes * 8 / seconds / 1000:.2f} kbit/s measured" if report.encoded_bytes else ""
    print(f"{args.output}: {condition.id} via {prov['engine']} ({prov['library']}), "
          f"{len(report.wave)} samples at {rate} Hz{kbps}")
    return 0
