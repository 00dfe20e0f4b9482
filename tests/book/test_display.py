"""The one table path and the figure helper (qmribook.display)."""
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from qmribook import display  # noqa: E402
from qmribook.display import ColumnSpec  # noqa: E402


@pytest.mark.parametrize("p, text", [
    (0.0433, "0.043"), (0.92, "0.92"), (0.5, "0.50"), (0.001, "0.0010"),
    (0.0995, "0.10"), (1.0, "1.0"), (0.0123, "0.012"),
])
def test_format_p_plain(p, text):
    assert display.format_p(p) == text


def test_format_p_scientific_below_0001():
    html = display.format_p(1.234e-5)
    assert html == '<span class="qmri-nowrap">1.2\u00d710<sup>\u22125</sup></span>'
    assert display.format_p(1.234e-5, digits=3, markup="text") == "1.23\u00d710\u207b\u2075"
    assert display.format_p(float("nan")) == display.MISSING
    with pytest.raises(ValueError):
        display.format_p(1.5)


def test_counts_and_values():
    assert display.format_count(17000.0) == "17,000"
    assert display.format_count(np.int64(3)) == "3"
    with pytest.raises(ValueError):
        display.format_count(2.5)
    assert display.format_value(-20.0, decimals=2) == "\u221220.00"
    assert display.format_value(-0.0001, decimals=2) == "0.00"
    assert display.format_value(None) == display.MISSING
    assert display.format_value(15167.14, decimals=1) == "15,167.1"


def test_table_html_rules(tmp_path):
    frame = pd.DataFrame({
        "b0": [0.23961, -0.5, np.nan],
        "p_bh": [0.0433, 2.2e-7, 0.5],
        "n": [17000, 3, 12],
        "published": ["0.2396", "", "1.20"],
        "name": ["a<b", "x", "y"],
    })
    out = display.table(frame, columns={
        "b0": ColumnSpec("β₀", kind="value", decimals=3),
        "p_bh": ColumnSpec("p (FDR)", kind="p"),
        "n": "vertices",
        "published": ColumnSpec("β₀, poster", kind="published"),
        "name": "region",
    }, caption="Betas", csv_name="betas", csv_dir=tmp_path)
    html = out._repr_html_()
    assert out._repr_markdown_() is None
    assert html.startswith('<div class="qmri-scroll"><table class="qmri-table">')
    headers = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html)
    assert headers == ["β₀", "p (FDR)", "vertices", "β₀, poster", "region"]
    assert "0.240" in html and "\u22120.500" in html
    assert "17,000" in html                      # inferred count
    assert "0.2396" in html and "1.20" in html   # published precision kept verbatim
    assert "2.2\u00d710<sup>\u22127</sup>" in html
    assert "NaN" not in html and "nan" not in html
    assert html.count(display.MISSING) == 2
    assert "a&lt;b" in html
    assert html.count("<tr>") == 4              # header + every row
    assert 'href="_tables/betas.csv"' in html
    written = pd.read_csv(tmp_path / "betas.csv", dtype=str, keep_default_na=False)
    assert list(written.columns) == headers
    assert written["β₀"].iloc[0] == "0.23961"   # CSV keeps full precision


def test_table_is_never_truncated():
    frame = pd.DataFrame({"x": np.arange(500, dtype=float), "t": ["w" * 300] * 500})
    with pd.option_context("display.max_rows", 10, "display.max_colwidth", 20):
        html = display.table(frame)._repr_html_()
    assert html.count("<tr>") == 501
    assert "w" * 300 in html and "\u2026" not in html and "rows \u00d7" not in html


def test_table_hash_is_folded_in_full():
    digest = "ab" * 32
    html = display.table(pd.DataFrame({"sha": [digest]}),
                         columns={"sha": ColumnSpec("sha256", kind="hash")})._repr_html_()
    assert f"<summary><code>{digest[:12]}</code></summary><code>{digest}</code>" in html


def test_table_myst_refs_and_cites():
    frame = pd.DataFrame({"where": ["see fig-ch1-betas", "private data"], "key": ["a2020,b2021", ""],
                          "p": [1e-6, 0.2]})
    out = display.table(frame, markup="myst", columns={
        "where": ColumnSpec("where", kind="ref"), "key": ColumnSpec("source", kind="cite"),
        "p": ColumnSpec("p", kind="p")})
    text = out._repr_markdown_()
    assert out._repr_html_() is None
    assert "see {numref}`fig-ch1-betas`" in text
    assert "{cite:p}`a2020,b2021`" in text
    assert "1.0\u00d710\u207b\u2076" in text
    assert text.splitlines()[1] == "|---|---|--:|"
    assert display.MISSING in text


def test_table_rejects_unknown_column_and_kind():
    with pytest.raises(KeyError):
        display.table(pd.DataFrame({"a": [1]}), columns={"b": "B"})
    with pytest.raises(ValueError):
        ColumnSpec("x", kind="fancy")
    with pytest.raises(ValueError):
        display.table(pd.DataFrame({"a": ["x"]}), columns={"a": ColumnSpec("A", kind="ref")})


def test_figure_png_records_font_and_display_size():
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x", fontsize=12)
    ax.tick_params(labelsize=8)
    out = display.figure(fig, dpi=200)
    data, meta = out._repr_png_()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"qmri:min_font_pt\x008" in data
    width = int.from_bytes(data[16:20], "big")
    assert meta["width"] == round(width / 2)
    fig, ax = plt.subplots()
    ax.set_title("tiny", fontsize=5)
    with pytest.raises(ValueError, match="below"):
        display.figure(fig)


def test_long_tokens_get_break_opportunities_but_csv_keeps_them(tmp_path):
    frame = pd.DataFrame({"t": ["see qmrigenes.ahba.MYELIN_GENES; ok"]})
    html = display.table(frame, csv_name="t", csv_dir=tmp_path)._repr_html_()
    assert "qmrigenes.\u200bahba.\u200bMYELIN_\u200bGENES;\u200b" in html
    assert "see " in html and " ok" in html
    assert "\u200b" not in (tmp_path / "t.csv").read_text(encoding="utf-8")


def test_show_glues_figures_as_high_dpi_png(monkeypatch):
    from qmribook import report as report_module
    from qmribook.report import MIN_FONT_PT, Report, show

    glued, shown = {}, []
    monkeypatch.setattr(report_module, "glue",
                        lambda name, value, display=True: glued.setdefault(name, (value, display)))
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [1, 0])
    frame = display.table(pd.DataFrame({"a": [1]}))
    out = show(Report(numbers={"n": 3, "r": -0.123456}, tables={"tab": frame}, figures={"fig-a": fig}),
               chapter="chx")
    assert glued["chx-n"] == (3, False)                       # numbers: hidden records for {glue:text}
    assert glued["chx-tab"] == (frame, True)                  # tables and figures: shown in a notebook run
    png_figure, display_flag = glued["chx-fig-a"]
    assert display_flag is True
    png, meta = png_figure._repr_png_()
    assert b"qmri:dpi\x00200" in png and meta["width"] == round(int.from_bytes(png[16:20], "big") / 2)
    assert not plt.fignum_exists(fig.number)                  # closed: no second copy from the inline backend
    (summary,) = shown                                        # one table of the numbers under the cell
    assert isinstance(summary, report_module.NumberSummary)
    assert "chx-n" in summary._repr_html_() and "\u22120.1235" in summary._repr_html_()
    assert "Report(" not in repr(out) and "chx" not in repr(out) and "1 figures (fig-a)" in repr(out)
    small, ax = plt.subplots()
    ax.set_title("tiny", fontsize=MIN_FONT_PT - 2)
    with pytest.raises(ValueError, match="below"):
        show(Report(figures={"fig-b": small}), chapter="chx")


def test_two_level_header_never_a_tuple(tmp_path):
    """A MultiIndex column becomes a two-level header (group spanning its columns), never a
    printed tuple; CSV and pipe tables get "group: header"."""
    cols = pd.MultiIndex.from_tuples([("", "cell type"), ("poster MTsat", "r"), ("poster MTsat", "p FDR"),
                                      ("NSPN MT", "r"), ("NSPN MT", "p FDR, spins")])
    frame = pd.DataFrame([["Astro", "−0.41", "0.012", "−0.30", "4.0×10⁻⁴"]], columns=cols)
    out = display.table(frame, csv_name="two", csv_dir=tmp_path)
    html = out._repr_html_()
    headers = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", html)
    assert headers == ["cell type", "poster MTsat", "NSPN MT", "r", "p FDR", "r", "p FDR, spins"]
    assert not any(h.startswith("(") for h in headers) and "&#x27;" not in html
    assert '<th colspan="2" scope="colgroup" class="qmri-group">NSPN MT</th>' in html
    assert '<th rowspan="2">cell type</th>' in html
    # numbers given as formatted text are right-aligned like number columns
    assert html.count('<td class="qmri-num">') == 4
    assert (tmp_path / "two.csv").read_text().splitlines()[0] == \
        "cell type,poster MTsat: r,poster MTsat: p FDR,NSPN MT: r,\"NSPN MT: p FDR, spins\""
    md = display.table(frame, markup="myst")._repr_markdown_()
    assert md.splitlines()[0].startswith("| cell type | poster MTsat: r |")
    for spec in (display.header_spec(c) for c in cols):
        assert isinstance(spec.label, str) and not spec.label.startswith("(")
    with pytest.raises(ValueError, match="tuple"):
        ColumnSpec("('poster MTsat', 'r')")


def test_no_test_writes_into_the_book(tmp_path):
    """Tables written by tests go to a temporary folder (tests/book/conftest.py), never into the
    book's _extra folder, which every edition publishes."""
    display.table(pd.DataFrame({"x": [1]}), csv_name="t-probe")
    assert not (display.Path(display.__file__).resolve().parents[2] / "_extra" / "chapters" / "_tables"
                / "t-probe.csv").exists()


def test_published_values_keep_digits_with_a_true_minus():
    html = display.table(pd.DataFrame({"v": ["-0.53", "1.32×10⁻⁹", "0.50"]}),
                         columns={"v": ColumnSpec("ours", kind="published")})._repr_html_()
    assert "\u22120.53" in html and "-0.53" not in html and "0.50" in html and "1.32×10⁻⁹" in html


def test_figure_is_drawn_once_and_fonts_read_from_the_drawn_artists(monkeypatch):
    from matplotlib.figure import Figure as MplFigure

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [1, 0])
    ax.tick_params(labelsize=9)
    draws = []
    original = MplFigure.draw
    monkeypatch.setattr(MplFigure, "draw", lambda self, renderer: (draws.append(renderer), original(self, renderer))[1])
    out = display.figure(fig)
    # one render, cut to its tight box (savefig's tight box took a second pass that paints
    # nothing, and the font audit used to add two full draws before it: 4 in all)
    assert len(draws) == 1
    assert out.min_font_pt == 9          # tick labels, which get their text only when drawn
    assert b"qmri:min_font_pt\x009" in out.png


def test_table_is_the_one_path_for_index_kinds_and_text():
    """The options that replaced the chapters' own wrappers (ch1.display_table, ch2._table, ch3._display)."""
    import numpy as np
    import pandas as pd
    import pytest
    from qmribook.display import format_published, table

    frame = pd.DataFrame({"n": [17.0, np.nan], "p": [1e-5, 0.5], "flag": [True, False], "x": [0.123, -1.0],
                          "pub": ["3.40e-6", "15627"]}, index=pd.Index([0, 10], name="loss (%)"))
    tab = table(frame, index=True, counts=["n"], p=["p"], published=["pub"], decimals={"x": 1},
                headers={"x": "χ (ppb)"})
    text = tab.text
    assert list(text.columns) == ["loss (%)", "n", "p", "flag", "χ (ppb)", "pub"]
    assert list(text["loss (%)"]) == ["0", "10"]                       # an integer level stays an integer
    assert list(text["n"]) == ["17", "—"] and text["p"][0] == "1.0×10⁻⁵" and list(text["flag"]) == ["yes", "no"]
    assert list(text["χ (ppb)"]) == ["0.1", "−1.0"] and list(text["pub"]) == ["3.40×10⁻⁶", "15,627"]
    assert tab.frame is frame                                          # the table as the caller passed it
    assert table(frame, index="named").text.columns[0] == "loss (%)"
    assert "loss (%)" not in table(frame.reset_index(drop=True), index="named").text.columns
    shown = table(frame, index=True, as_text=True).text
    assert list(shown["n"]) == ["17.0", "—"] and list(shown["loss (%)"]) == ["0", "10"]
    assert format_published("") == "—" and format_published("0.46") == "0.46"
    with pytest.raises(ValueError, match="p: columns not in the table"):
        table(frame, p=["nope"])
    with pytest.raises(ValueError, match="cannot be combined"):
        table(frame, columns={"n": "n"}, index=True)
    with pytest.raises(ValueError, match="index must be True, False or 'named'"):
        table(frame, index="yes")
