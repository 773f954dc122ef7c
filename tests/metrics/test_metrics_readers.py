"""Score and key readers: every format, and a clear error for every kind of bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spoofbench.errors import ScoreFileError
from spoofbench.metrics import KEY_FORMATS, KeyFormat, align, load_trials, read_keys, read_scores
from spoofbench.metrics.readers import KeyBuilder


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_scores_two_and_four_columns_and_header(tmp_path):
    assert read_scores(_write(tmp_path, "s.txt", "a 1.5\nb -2e-3\n\n")) == {"a": 1.5, "b": -0.002}
    assert read_scores(_write(tmp_path, "s4.txt", "LA_E_1 A07 spoof -3.5\n")) == {"LA_E_1": -3.5}
    tsv = _write(tmp_path, "s.tsv", "filename\tcm-score\nD_1\t0.25\n")
    assert read_scores(tsv) == {"D_1": 0.25}


@pytest.mark.parametrize("text, message", [
    ("a 1.0\nb high\n", r"s.txt:2: score: score 'high' of 'b' is not a number"),
    ("a 1.0\nb nan\n", r"s.txt:2: score: score 'nan' of 'b' is not finite \(NaN or inf\)"),
    ("a inf\n", r"s.txt:1: score: score 'inf' of 'a' is not finite"),
    ("a -Infinity\n", r"s.txt:1: score: .*not finite"),
    ("a 1.0\nb 2.0\na 3.0\n", r"s.txt:3: utt_id: duplicate utt_id 'a' \(first on line 1\)"),
    ("a 1.0 2.0\n", r"s.txt:1: expected 2 columns 'utt_id score'.*got 3"),
    ("", r"s.txt: score file is empty"),
    ("\n  \n", r"s.txt: score file is empty"),
    ("a score\n", None),  # header only
])
def test_read_scores_errors(tmp_path, text, message):
    path = _write(tmp_path, "s.txt", text)
    with pytest.raises(ScoreFileError, match=message or "header but no scores"):
        read_scores(path)


def test_missing_file_error_names_it(tmp_path):
    with pytest.raises(ScoreFileError, match="nope.txt: cannot read score file"):
        read_scores(tmp_path / "nope.txt")
    with pytest.raises(ScoreFileError, match="nope.txt: key file not found"):
        read_keys(tmp_path / "nope.txt")


def test_two_column_keys(tmp_path):
    keys = read_keys(_write(tmp_path, "k.txt", "a bonafide\nb spoof\nc bona-fide\n"))
    assert keys.format == "two_column"
    assert keys.ids.tolist() == ["a", "b", "c"] and keys.labels.tolist() == [1, 0, 1]


def test_asvspoof2019_protocol(tmp_path):
    keys = read_keys(_write(tmp_path, "p.txt", "LA_0039 LA_E_1 - A11 spoof\nLA_0040 LA_E_2 - - bonafide\n"))
    assert keys.format == "asvspoof2019"
    assert keys.column("attack").tolist() == ["A11", "bonafide"]
    assert keys.column("speaker").tolist() == ["LA_0039", "LA_0040"]
    assert keys.column("label").tolist() == ["spoof", "bonafide"]


def test_asvspoof2021_la_and_df_keys(tmp_path):
    la = read_keys(_write(tmp_path, "la.txt", "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n"
                                              "LA_0009 LA_E_1 none - bonafide bonafide notrim eval\n"))
    assert la.format == "asvspoof2021"
    assert la.column("codec").tolist() == ["alaw", "none"]
    assert la.column("transmission").tolist() == ["ita_tx", "-"]
    df = read_keys(_write(tmp_path, "df.txt",
                          "LA_0043 DF_E_2000026 mp3m4a asvspoof A09 spoof notrim eval traditional_vocoder - - - -\n"))
    assert df.column("source").tolist() == ["asvspoof"]
    assert df.column("vocoder").tolist() == ["traditional_vocoder"]


def test_asvspoof5_protocol_without_header(tmp_path):
    keys = read_keys(_write(tmp_path, "a5.txt", "T_4850 T_0000000000 F - - - AC3 A05 spoof -\n"
                                                "T_4851 T_0000000001 M - - - - bonafide bonafide -\n"))
    assert keys.format == "asvspoof5"
    assert keys.column("attack").tolist() == ["A05", "bonafide"]
    assert keys.labels.tolist() == [0, 1]


def test_tsv_and_csv_with_header(tmp_path, shared):
    keys = read_keys(shared / "scores/asvspoof5_fusion_demo/cm_key.tsv")
    assert keys.format == "table" and len(keys) == 7252 + 22296
    csv = read_keys(shared / "protocols/in_the_wild/meta_sample.csv")
    assert csv.ids.tolist()[:2] == ["10.wav", "12.wav"] and csv.labels.tolist()[:2] == [0, 1]
    assert csv.column("speaker")[0] == "Bernie Sanders"


@pytest.mark.parametrize("name, text, message", [
    ("k.txt", "a bonafide\nb fake\n", r"k.txt:2: label: unknown label 'fake' for 'b'; expected 'bonafide'"),
    ("k.txt", "a bonafide\nb spoof\na spoof\n", r"k.txt:3: utt_id: duplicate utt_id 'a' \(first on line 1\)"),
    ("k.txt", "a bonafide\nb spoof extra\n", r"k.txt:1: unknown key file format"),
    ("p.txt", "S1 u1 - A01 spoof\nS1 u2 - bonafide\n", r"p.txt:2: expected 5 columns of an ASVspoof 2019"),
    ("p.txt", "S1 u1 - A01 spoof\nS1 u2 - - real\n", r"p.txt:2: label: unknown label 'real'"),
    ("k.tsv", "filename\tcm-label\nx\tspoof\ny\n", r"k.tsv:3: expected 2 columns as the header"),
    ("k.txt", "", r"k.txt: key file is empty"),
])
def test_read_keys_errors(tmp_path, name, text, message):
    with pytest.raises(ScoreFileError, match=message):
        read_keys(_write(tmp_path, name, text))


def test_align_reports_missing_ids_on_either_side(tmp_path):
    keys = read_keys(_write(tmp_path, "k.txt", "".join(f"u{i} {'bonafide' if i % 2 else 'spoof'}\n"
                                                       for i in range(10))))
    scores = {f"u{i}": float(i) for i in range(3)}
    with pytest.raises(ScoreFileError, match=r"s.txt: utt_id: 7 of 10 id\(s\) of the keys .*k.txt have no "
                                             r"score: u3, u4, u5, u6, u7, \.\.\."):
        align(scores, keys, tmp_path / "s.txt")
    scores = {f"u{i}": float(i) for i in range(10)} | {"x1": 0.0, "x2": 1.0}
    with pytest.raises(ScoreFileError, match=r"2 of 12 scored id\(s\) are not in the keys .*: x1, x2"):
        align(scores, keys, tmp_path / "s.txt")


def test_single_class_is_an_error(tmp_path):
    scores = _write(tmp_path, "s.txt", "a 1\nb 2\n")
    keys = _write(tmp_path, "k.txt", "a spoof\nb spoof\n")
    with pytest.raises(ScoreFileError, match=r"k.txt: label: all 2 trials are spoof"):
        load_trials(scores, keys)


def test_alignment_follows_key_order(tmp_path):
    trials = load_trials(_write(tmp_path, "s.txt", "b 2\na 1\n"),
                         _write(tmp_path, "k.txt", "a bonafide\nb spoof\n"))
    assert trials.ids.tolist() == ["a", "b"] and trials.scores.tolist() == [1.0, 2.0]
    assert trials.bonafide.tolist() == [1.0] and trials.spoof.tolist() == [2.0]


def test_missing_key_column_lists_columns(tmp_path):
    keys = read_keys(_write(tmp_path, "p.txt", "S1 u1 - A01 spoof\n"))
    with pytest.raises(ScoreFileError, match=r"key column 'codec' not found .*speaker, environment, attack"):
        keys.column("codec")


def test_key_format_plugin(tmp_path):
    def read_semicolon(path: Path):
        builder = KeyBuilder(path, "semicolon", ["speaker"])
        for number, line in enumerate(path.read_text().splitlines(), 1):
            utt_id, label, speaker = line.split(";")
            builder.add(number, utt_id, label, [speaker])
        return builder.build()

    if "test_semicolon" not in KEY_FORMATS:
        KEY_FORMATS.register("test_semicolon", KeyFormat(
            "test_semicolon", lambda path, head: path.suffix == ".semi", read_semicolon))
    keys = read_keys(_write(tmp_path, "k.semi", "a;bonafide;s1\nb;spoof;s2\n"))
    assert keys.format == "semicolon" and keys.column("speaker").tolist() == ["s1", "s2"]
    named = read_keys(_write(tmp_path, "k.other", "a;spoof;s1\n"), format="test_semicolon")
    assert named.labels.tolist() == [0]


def test_manifest_keys(tmp_path):
    from spoofbench.corpora import manifest  # an import error here is a failure, not a skip
    trials = [manifest.Trial(id="u1", path="a.wav", label="bonafide", corpus="c", split="eval",
                             speaker="s1", attack="bonafide", custom={"codec": "mp3"}),
              manifest.Trial(id="u2", path="b.wav", label="spoof", corpus="c", split="eval",
                             speaker="s2", attack="A01", custom={"codec": "none"})]
    path = tmp_path / "m.jsonl.gz"
    manifest.write_manifest(path, trials)
    keys = read_keys(path)
    assert keys.format == "manifest"
    assert keys.labels.tolist() == [1, 0]
    assert keys.column("attack").tolist() == ["bonafide", "A01"]
    assert keys.column("codec").tolist() == ["mp3", "none"]
    assert np.array_equal(keys.column("speaker"), ["s1", "s2"])


# ------------------------------------------------------------------ vectorised reader, normalisation

from spoofbench.metrics.readers import ScoreNormalization, ScoreTable, _parse_python  # noqa: E402


def read_scores_python(path) -> dict[str, float]:
    """The line-by-line parser alone (read_scores' fallback, and its reference here)."""
    ids, values = _parse_python(Path(path), ScoreNormalization())
    return dict(zip(ids, values))


EQUIVALENT_FILES = [
    "a 1.5\nb -2e-3\n\n", "  a 1.0\n\n  \nb 2\n", "LA_E_1 A07 spoof -3.5\nLA_E_2 - bonafide 2\n",
    "filename\tcm-score\nD_1\t0.25\nD_2\t1e300\n", 'a" 1\nb\' 2\n', "a 0.1\r\nb 0.30000000000000004\r\n",
    "ü 1\n√ 2\n", "\ufeffa 1\nb 2\n", "a\u20031\nb 2\n", "a 1\u2028b 2\n", "a\x001 2\n",
]


@pytest.mark.parametrize("text", EQUIVALENT_FILES)
def test_vectorised_reader_equals_line_parser(tmp_path, text):
    path = _write(tmp_path, "s.txt", text)
    table = read_scores(path)
    assert isinstance(table, ScoreTable)
    assert table == read_scores_python(path)
    assert list(table) == list(read_scores_python(path))  # file order


@pytest.mark.parametrize("text", [
    "a 1.0\nb 2.0 3.0\n", "a 1.0\nb\n", "a 1 2 3.0\nb 1 2\n", "a 1\nb NA\n", "a 1\nb 1\nc x\n",
    "a 1\na 2\n", "a 1e400\n", "x score\n", "a\x0b1 2\n", "a\xa01 2\nb 3\n",
    "a 1_0\nb 2\n",  # Python's float() takes 1_0; no score format means ten by it
])
def test_vectorised_reader_raises_what_the_line_parser_raises(tmp_path, text):
    path = _write(tmp_path, "s.txt", text)
    with pytest.raises(ScoreFileError) as reference:
        read_scores_python(path)
    with pytest.raises(ScoreFileError) as vectorised:
        read_scores(path)
    assert str(vectorised.value) == str(reference.value)


def test_score_column_id_map_and_flip(tmp_path):
    path = _write(tmp_path, "s.txt", "wav/u1.wav 2.5 bonafide\nwav/u2.wav -1 spoof\n")
    norm = ScoreNormalization(score_col=2, id_map=r"([^/]+)\.\w+$", flip=True)
    assert read_scores(path, norm) == {"u1": -2.5, "u2": 1.0}
    with pytest.raises(ScoreFileError, match=r"s.txt:1: expected 2 columns"):
        read_scores(path)
    flac = _write(tmp_path, "f.txt", "LA_E_1000147.flac 1\nLA_E_2.flac 2\nbad 3\n")
    with pytest.raises(ScoreFileError, match=r"f.txt:3: utt_id: id 'bad' does not match --id-map"):
        read_scores(flac, ScoreNormalization(id_map=r"(.+)\.flac$"))
    same = _write(tmp_path, "d.txt", "a/u1.wav 1\nb/u1.wav 2\n")
    with pytest.raises(ScoreFileError, match=r"d.txt:2: utt_id: duplicate utt_id 'u1' \(first on line 1\)"):
        read_scores(same, ScoreNormalization(id_map=r"([^/]+)\.wav$"))
    short = _write(tmp_path, "c.txt", "a 1 x\nb\n")
    with pytest.raises(ScoreFileError, match=r"c.txt:2: expected at least 2 columns \(--score-col 2\)"):
        read_scores(short, ScoreNormalization(score_col=2))


@pytest.mark.parametrize("kwargs, message", [
    ({"score_col": 1}, "must be >= 2"), ({"id_map": "(unclosed"}, "not a valid regex"),
    ({"id_map": "no-group"}, "has no group"), ({"on_missing": "ignore"}, "is not one of"),
])
def test_bad_normalization_options(kwargs, message):
    with pytest.raises(ScoreFileError, match=message):
        ScoreNormalization(**kwargs)


def test_drop_policies_report_what_went(tmp_path):
    keys = read_keys(_write(tmp_path, "k.txt", "a bonafide\nb spoof\nc spoof\nd bonafide\n"))
    scores = {"a": 1.0, "b": 0.0, "d": 2.0, "x": 5.0}
    with pytest.raises(ScoreFileError, match="not in the keys"):
        align(scores, keys, on_missing="drop")
    with pytest.raises(ScoreFileError, match="have no score: c"):
        align(scores, keys, on_extra="drop")
    trials = align(scores, keys, on_missing="drop", on_extra="drop")
    assert trials.ids.tolist() == ["a", "b", "d"] and trials.scores.tolist() == [1.0, 0.0, 2.0]
    assert trials.dropped == {"extra": {"count": 1, "ids": ["x"]}, "missing": {"count": 1, "ids": ["c"]}}
    assert trials.keys.ids.tolist() == ["a", "b", "d"]


def test_score_table_behaves_as_the_dict_it_replaced(tmp_path):
    table = read_scores(_write(tmp_path, "s.txt", "b 2.5\na -1\n"))
    assert list(table.values()) == [2.5, -1.0] and list(table.keys()) == ["b", "a"]
    assert dict(table.items()) == {"b": 2.5, "a": -1.0} and table.get("zz", 0.0) == 0.0
    assert "a" in table and "zz" not in table and len(table) == 2 and table["a"] == -1.0
    assert table.scores.tolist() == [2.5, -1.0] and table.ids.tolist() == ["b", "a"]
