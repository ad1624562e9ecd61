"""``hipmon report``: the HTML report rendered by headless Chromium and the PDF by pdftoppm, both to
PNG, with every expected section and figure present; errors as one line.

Needs ``chromium`` and ``poppler-utils`` (``.ci/run`` installs them). On CI (``CI=true``) a
missing tool fails the test; locally it is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hipmon.cli import main
from hipmon.simulate import simulate

SECTIONS = ["session", "in-plain-words", "metrics-stance", "alerts", "baseline", "methods"]
HEADINGS = ["1. The session", "2. In plain words", "3. Per side: every stance", "4. Alerts",
            "5. Change since the baseline", "6. How to read this report"]
FIGURES = ["fig-events-stance", "fig-curves-stance", "fig-alerts", "fig-change"]


def _need(tool: str) -> str:
    from hipmon.report.render import find_chromium

    path = find_chromium() if tool == "chromium" else shutil.which(tool)
    if path:
        return path
    why = f"{tool} is not installed (apt-get install {'chromium' if tool == 'chromium' else 'poppler-utils'})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must render the report: {why}; .ci/run installs it")
    pytest.skip(why)


def _import(tmp: Path, name: str, seed: int, **opts) -> Path:
    sim = simulate("run", 30, seed=seed, **opts)
    d = sim.write_dir(tmp / name)
    out = tmp / f"{name}.hipmon"
    assert main(["import", "--pelvis", str(d / "pelvis.csv"), "--left-thigh", str(d / "left_thigh.csv"),
                 "--right-thigh", str(d / "right_thigh.csv"), "--athlete", "Sim Runner", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    chromium = _need("chromium")
    _need("pdftoppm")
    tmp = tmp_path_factory.mktemp("report")
    base = _import(tmp, "baseline", 4, right_drop_deg=8.0)
    follow = _import(tmp, "followup", 104, right_drop_deg=5.0)
    html, pdf = tmp / "report.html", tmp / "report.pdf"
    assert main(["report", str(follow), "--baseline", str(base), "-o", str(html)]) == 0
    assert main(["report", str(follow), "--baseline", str(base), "-o", str(pdf)]) == 0
    return chromium, tmp, html, pdf


def _nonblank_fraction(png: Path) -> float:
    import matplotlib.image as mpimg

    im = mpimg.imread(str(png))[..., :3]
    return float(np.mean(im.min(axis=2) < 0.9))


def test_html_is_self_contained_and_renders_every_section_and_figure(reports):
    from hipmon.report.render import chromium_command

    chromium, tmp, html, _ = reports
    text = html.read_text(encoding="utf-8")
    # self-contained: no external resource of any kind
    assert not re.search(r'(src|href)="(?!data:|#)', text)
    assert "http://" not in text and "https://" not in text
    assert "built-in method" not in text and "object at 0x" not in text  # no Python repr leaks into a cell
    dom = subprocess.run(chromium_command(chromium, f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=5000",
                                          "--dump-dom", html.resolve().as_uri()),
                         capture_output=True, text=True, timeout=120).stdout
    for sid in SECTIONS:
        assert f'<section id="{sid}"' in dom, sid
    for fid in FIGURES:
        assert f'<figure id="{fid}"' in dom, fid
    expected = re.search(r'data-expected-figures="(\d+)"', dom)
    rendered = re.search(r'data-figures-rendered="(\d+)"', dom)
    assert expected and rendered and int(expected.group(1)) == len(FIGURES)
    assert rendered.group(1) == expected.group(1), "a figure did not decode in Chromium"
    png = tmp / "report-html.png"
    subprocess.run(chromium_command(chromium, f"--user-data-dir={tmp / 'profile'}", "--window-size=1100,4000",
                                    f"--screenshot={png}", html.resolve().as_uri()),
                   capture_output=True, timeout=120, check=True)
    assert png.exists() and _nonblank_fraction(png) > 0.03


def test_pdf_has_every_section_and_figure_and_renders_to_png(reports):
    _, tmp, _, pdf = reports
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    for h in HEADINGS:
        assert h in flat, h
    assert "Sim Runner" in flat and "better" in flat
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    n_images = len([ln for ln in images.splitlines()[2:] if ln.strip() and " smask " not in ln])
    assert n_images >= len(FIGURES), images
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp / "page")], check=True)
    pages = sorted(tmp.glob("page-*.png"))
    assert len(pages) >= 3
    assert all(_nonblank_fraction(p) > 0.01 for p in pages[:-1])


def test_report_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none.hipmon"), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no such session" in err and "\n" not in err
    assert main(["report", str(tmp_path / "none.hipmon"), "-o", str(tmp_path / "r.docx")]) == 2
    assert ".html or .pdf" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "none.hipmon"), "-o", str(tmp_path / "no" / "r.html")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_progress_only_when_asked(tmp_path, capsys):
    from hipmon.report.progress import Progress

    import io

    buf = io.StringIO()
    p = Progress("report", total=2, enabled=None, stream=buf)  # not a terminal: silent
    p.step("a")
    assert buf.getvalue() == ""
    p = Progress("report", total=2, enabled=True, stream=buf)
    p.step("analysing x")
    p.step("writing y")
    lines = buf.getvalue().splitlines()
    assert lines[0] == "hipmon report: [1/2] analysing x" and lines[1].startswith("hipmon report: [2/2] writing y")
