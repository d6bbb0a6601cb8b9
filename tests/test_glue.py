"""recursive_lib.book.glue writes what myst_nb.glue writes, so the chapters run in a kernel
without Sphinx (Binder, Colab) and the book still reads every glued value."""

import json
import re
import textwrap

import pandas as pd
import pytest
import yaml
from conftest import MYST_HEADER
from IPython.display import Markdown

from recursive_lib.book import cli, glue

myst_nb_glue = pytest.importorskip("myst_nb.ext.glue")


def _outputs(glue_function, monkeypatch, target) -> list:
    shown = []
    monkeypatch.setattr(target[0], target[1], lambda data, **kwargs: shown.append((data, kwargs)))
    for name, value, display in [
        ("n", 42, False),
        ("x", 0.123456, True),
        ("word", "levels off", False),
        ("claim", Markdown("The slope is $-0.5$."), False),
        ("frame", pd.DataFrame({"a": [1, 2]}), True),
    ]:
        glue_function(name, value, display=display)
    return shown


def test_the_same_outputs_as_myst_nb(monkeypatch):
    import IPython.display

    ours = _outputs(glue, monkeypatch, (IPython.display, "display"))
    theirs = _outputs(myst_nb_glue.glue, monkeypatch, (myst_nb_glue, "ipy_display"))
    assert ours == theirs
    data, kwargs = ours[0]
    assert kwargs["metadata"]["scrapbook"] == {"name": "n", "mime_prefix": myst_nb_glue.GLUE_PREFIX}
    assert data == {myst_nb_glue.GLUE_PREFIX + "text/plain": "42"}


GLUED = MYST_HEADER + textwrap.dedent("""\
    # Glued values

    ```{code-cell} ipython3
    import altair as alt
    import pandas as pd
    from IPython.display import Markdown

    from recursive_lib.book import glue

    alt.renderers.enable("svg")
    glue("count", 17, display=False)
    glue("ratio", 0.123456, display=False)
    glue("claim", Markdown("the slope is $-0.5$"), display=False)
    glue("fig-line", alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x", y="y"),
         display=False)
    ```

    Seventeen is {glue:text}`count`, a ratio {glue:text}`ratio:.2f`; {glue:md}`claim:myst`.

    ```{glue:figure} fig-line
    :name: fig-line

    A glued figure.
    ```
    """)


def test_the_book_reads_every_kind_of_glued_value(tmp_path, monkeypatch, root):
    """The build runs with warnings as errors: a glued value it cannot find fails it."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "glued.md").write_text(GLUED)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: chapters/glued\n")
    config = yaml.safe_load((root / "_config.yml").read_text())
    config.pop("bibtex_bibfiles", None)
    config["sphinx"]["config"].pop("bibtex_reference_style", None)
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "references.bib").write_text("")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["build"]) == 0
    executed = json.loads((tmp_path / "_build" / "executed" / "glued.ipynb").read_text())
    names = {
        o["metadata"]["scrapbook"]["name"]
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if "scrapbook" in o.get("metadata", {})
    }
    assert names == {"count", "ratio", "claim", "fig-line"}
    page = (tmp_path / "_build" / "html" / "chapters" / "glued.html").read_text()
    text = re.sub(r"<[^>]+>", "", page)
    assert "Seventeen is 17, a ratio 0.12; the slope is" in text
    assert re.search(r'<span class="math[^"]*">\\\(-0\.5\\\)</span>', page)  # math, not "$-0.5$"
    assert re.search(r"<img [^>]*src=\"[^\"]+\.svg\"", page) and "A glued figure." in text
