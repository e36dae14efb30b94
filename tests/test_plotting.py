"""Tests of linear_lens.book.plotting: the shared figure parts and the HTML tables of the chapters."""

import base64

import matplotlib.pyplot as plt
import numpy as np
import pytest

from linear_lens.book import plotting


def test_html_table_escapes_and_rounds():
    rows = [{"activation": "relu", "rho > 1": 1, "rho": 0.123456789},
            {"activation": "<tanh>", "rho > 1": 0, "rho": 2.0}]
    html = plotting.html_table(rows, digits=3)
    assert html.count("<tr>") == 3 and "rho &gt; 1" in html and "&lt;tanh&gt;" in html
    assert "<td>0.123</td>" in html
    assert plotting.html_table(rows, ["rho"]).count("<th>") == 1
    with pytest.raises(ValueError, match="^rows"):
        plotting.html_table([])


def test_csv_download_round_trips():
    text = "a,b\n1,2\n"
    link = plotting.csv_download(text, "t.csv", "download")
    assert link.startswith("<a download='t.csv' href='data:text/csv;base64,") and "download</a>" in link
    data = link.split("base64,")[1].split("'")[0]
    assert base64.b64decode(data).decode("utf-8") == text


def test_draw_annulus_draws_its_circles():
    fig, ax = plt.subplots()
    lines = plotting.draw_annulus(ax, 2.0, r_in=1.0, centre=0.5)
    x, y = lines[0].get_data()
    assert np.allclose(np.hypot(np.asarray(x) - 0.5, np.asarray(y)), 2.0)
    plt.close(fig)
