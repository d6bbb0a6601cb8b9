"""``recursive-book``: rerun chapters, build the book, check that it works offline.

Every chapter is a jupytext MyST notebook ``chapters/<name>.md`` with a cell tagged ``parameters``.
The commands below convert it to ``.ipynb`` (papermill cannot read ``.md``), execute it with
papermill, and keep the executed notebook and its figures::

    recursive-book run setting --preset smoke -p alphas "[0.2, 0.9]" --out results/my-run
    recursive-book execute --preset smoke --out _build/executed   # every chapter in _toc.yml
    recursive-book build --executed _build/executed                # HTML from those outputs
    recursive-book build --preset book                             # execute, then build
    recursive-book build --preset book --cache-dir .cache/book     # chapters keep finished runs there
    recursive-book build --executed _build/executed --online       # with launch buttons (published book)
    recursive-book check-offline _build/html
    recursive-book linkcheck                                       # outbound links, execution off
    recursive-book params setting                                  # a chapter's knobs and presets

A chapter that fails makes the command exit with status 1 and print the failing cell's error; an
unknown knob or a bad value stops ``run`` before it starts, with status 2.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from recursive_lib.book import params
from recursive_lib.book.params import PRESET_NAMES

FINDINGS = "findings"  # the page generated from the executed chapters' claims
#: merged over ``_config.yml`` by ``build --online``: repository and launch buttons (Binder, Colab)
ONLINE_CONFIG = "_config.online.yml"
#: the knob a chapter caches its finished runs in; ``--cache-dir`` sets it for every chapter having it
CACHE_KNOB = "cache_dir"
#: knobs that say where results are kept, not what they are: left out of a chapter's fingerprint
LOCATION_KNOBS = (CACHE_KNOB,)
#: the kernel chapters run in (see its docstring)
KERNEL_MODULE = "recursive_lib.book._kernel"
#: the list of files ``run`` wrote into an output folder, kept in that folder: the only files a
#: later ``run --overwrite`` may replace or delete there
MANIFEST = ".recursive-book-files.json"
#: folders of the book's sources that no output goes into
SOURCE_FOLDERS = ("chapters", "recursive_lib", "tests", "scripts", "benchmarks", "tools", ".git")


class UsageError(ValueError):
    """A bad command line, found before anything runs: exit status 2."""


class ChapterFailed(RuntimeError):
    """A chapter raised while papermill executed it."""


def find_root(start: Path | None = None) -> Path:
    """The book's root: the nearest folder at or above ``start`` holding ``_toc.yml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no _toc.yml at or above {here}; run from inside the book's folder")


def toc_chapters(root: Path) -> list[str]:
    """Chapter names (``chapters/<name>``) in the order of ``_toc.yml``."""
    import yaml

    def files(entry: dict) -> list[str]:
        found = [entry["file"]] if "file" in entry else []
        for key in ("parts", "chapters", "sections"):
            for child in entry.get(key, []):
                found += files(child)
        return found

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [Path(f).name for f in [toc["root"], *files(toc)]]


def is_notebook(path: Path) -> bool:
    """A chapter is executable when its front matter names a kernel (jupytext MyST notebook)."""
    text = path.read_text()
    return text.startswith("---") and "kernelspec:" in text.split("\n---", 1)[0]


def executable_chapters(root: Path) -> list[str]:
    """The chapters of ``_toc.yml`` that are notebooks (plain Markdown pages are not executed)."""
    return [name for name in toc_chapters(root) if is_notebook(chapter_source(root, name))]


def chapter_source(root: Path, name: str) -> Path:
    path = root / "chapters" / f"{Path(name).stem}.md"
    if not path.is_file():
        known = ", ".join(toc_chapters(root))
        raise UsageError(f"chapter {name!r} not found: {path} (chapters in _toc.yml: {known})")
    return path


def parse_parameters(pairs: list[list[str]]) -> dict:
    """``-p name value`` pairs; values are parsed as YAML (``0.5``, ``[0.1, 0.5]``, ``true``), bounded
    in size and without aliases (:func:`recursive_lib.book.params.load_yaml`)."""
    out = {}
    for name, value in pairs:
        try:
            out[name] = params.load_yaml(value, f"-p {name}")
        except ValueError as error:
            raise UsageError(str(error)) from None
    return out


def memory_needed(knobs: dict) -> float | None:
    """Bytes one configuration of a chapter takes at its peak, times its workers, estimated from
    the knobs it has (``T``, ``reps``, ``grid_size``, ``m1``, ``alphas``, ``metric_samples``,
    ``n_jobs``; :func:`recursive_lib.simulation.memory_estimate`); ``None`` without a ``T`` knob."""
    from recursive_lib.simulation import memory_estimate

    if not isinstance(knobs.get("T"), int):
        return None
    alphas = [a for a in knobs.get("alphas", knobs.get("fresh_alphas", (0.5,))) if a > 0] or [1.0]
    sizes = {k: knobs[k] for k in ("grid_size", "m1", "metric_samples") if isinstance(knobs.get(k), int)}
    one = memory_estimate(knobs["T"], knobs.get("reps", 1), alpha=min(alphas), **sizes)
    return one * knobs.get("n_jobs", 1)


def check_run(root: Path, name: str, preset: str | None, overrides: dict) -> tuple[str | None, dict]:
    """What ``run`` checks before a kernel starts: the chapter exists and is a notebook, the
    preset, every override against the chapter's table, the memory the run needs; relative
    paths given to ``path`` knobs are made absolute against the current folder (the chapter runs
    in its own folder). Returns (preset, overrides to pass). Raises :class:`UsageError`."""
    from recursive_lib._validation import check_memory

    source = chapter_source(root, name)
    if not is_notebook(source):
        raise UsageError(f"chapter {name!r} is a plain Markdown page, not a notebook: nothing to run")
    overrides = dict(overrides)
    if "preset" in overrides:  # -p preset smoke: papermill's spelling of --preset
        given = overrides.pop("preset")
        if given not in PRESET_NAMES:
            raise UsageError(f"preset must be one of {', '.join(map(repr, PRESET_NAMES))}, got {given!r}")
        if preset is not None and given != preset:
            raise UsageError(f"-p preset {given!r} contradicts --preset {preset}")
        preset = given
    try:
        cfg = params.for_chapter(source, preset or "book", **overrides)
        knobs = params.chapter_table(source)
        for knob, value in list(overrides.items()):
            if isinstance(value, str) and any(a.kind == "path" for a in knobs[knob].accepts.alternatives):
                overrides[knob] = str(Path(value).expanduser().resolve())
        needed = memory_needed(cfg.as_dict())
        if needed is not None:
            sizes = ", ".join(
                f"{k} = {v}" for k, v in cfg.as_dict().items() if k in ("T", "reps", "grid_size", "n_jobs")
            )
            check_memory(f"chapter {name!r} (one configuration per worker)", needed, sizes)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return preset, overrides


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out(root: Path, out: Path, stem: str, overwrite: bool) -> Path:
    """The output folder of ``run``, checked before anything runs: not the book's sources, empty
    (or, with ``overwrite``, holding none of the files the run writes unless an earlier run wrote
    them, per :data:`MANIFEST`), and writable. Returns it resolved. Raises :class:`UsageError`."""
    out = out.expanduser().resolve()
    root = root.resolve()
    if _inside(root, out) or any(_inside(out, root / folder) for folder in SOURCE_FOLDERS):
        raise UsageError(
            f"--out {out} is the book's source tree; choose a folder of results, e.g. results/{stem}"
        )
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(
                f"--out {out} is not empty; choose an empty or new folder, or pass --overwrite to "
                "replace the files an earlier run wrote there (and only those)"
            )
        ours = written_files(out)
        targets = [out / f"{stem}.ipynb", out / f"{stem}-findings.md", out / f"{stem}_files"]
        foreign = [t for t in targets if t.is_file() and t.name not in ours]
        folder = out / f"{stem}_files"
        if folder.is_dir():
            foreign += [
                f
                for f in folder.iterdir()
                if f"{folder.name}/{f.name}" not in ours and f.suffix in (".svg", ".png", ".csv")
            ]
        if foreign:
            raise UsageError(
                f"--out {out}: {foreign[0]} was not written by recursive-book; it is left alone, "
                "so the run is not started (move it, or choose another folder)"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise UsageError(f"--out {out} cannot be written: {error.strerror or error}") from None
    return out


def written_files(out: Path) -> set[str]:
    """The files (relative to ``out``) that ``run`` wrote there, from its :data:`MANIFEST`."""
    try:
        return set(json.loads((out / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError):
        return set()


def _record_written(out: Path, paths: list[Path]) -> None:
    names = written_files(out) | {str(p.relative_to(out)) for p in paths}
    (out / MANIFEST).write_text(json.dumps(sorted(names), indent=1) + "\n")


def knob_table(source: Path) -> str:
    """A chapter's knobs as aligned text: name, smoke / book / paper values, what each accepts
    (the table's ``accepts`` column), meaning."""
    rows = [["knob", *params.PRESET_NAMES, "accepts", "meaning"]]
    for knob in params.chapter_table(source).values():
        values = (json.dumps(knob.values[p]) for p in params.PRESET_NAMES)
        rows.append([knob.name, *values, knob.accepts.text, knob.meaning])
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5] for r in rows
    )


def chapter_fingerprint(source: Path, preset: str | None, parameters: dict | None) -> str:
    """What an executed chapter depends on: its source, its preset and parameters, the library's
    code (:func:`recursive_lib._io.code_version`). An executed notebook that carries the same
    fingerprint is up to date. Where a chapter keeps its finished runs (:data:`LOCATION_KNOBS`)
    does not change its results and is left out."""
    import hashlib

    from recursive_lib._io import code_version

    kept = {k: v for k, v in (parameters or {}).items() if k not in LOCATION_KNOBS}
    text = json.dumps(
        {"source": source.read_text(), "preset": preset, "parameters": kept, "code": code_version()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def is_current(output: Path, fingerprint: str) -> bool:
    """``output`` exists, executed without error, and carries ``fingerprint``."""
    if not output.is_file():
        return False
    try:
        metadata = json.loads(output.read_text()).get("metadata", {})
    except (json.JSONDecodeError, OSError):
        return False
    return metadata.get("recursive_book", {}).get("fingerprint") == fingerprint and not metadata.get(
        "papermill", {}
    ).get("exception")


def _kernel_manager(session: Path | None = None):
    """The kernel manager class; ``session``: the chapter file the kernel runs, given to it as
    ``JPY_SESSION_NAME`` (as Jupyter does), where the chapter's claims find their wordings
    (:func:`recursive_lib.book.findings.chapter_source`)."""
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        """Kernels talk over abstract local sockets (``ipc://@...``: no TCP port, no transport
        warning, no socket file left on disk whatever ends the run) and run in
        :mod:`recursive_lib.book._kernel`, which removes its connection file when its parent dies."""

        def __init__(self, **kwargs):
            import uuid

            super().__init__(**kwargs)
            self.transport = "ipc"
            # A name of its own: kernels started at once by parallel chapters must not collide.
            self.ip = f"@recursive-book-{uuid.uuid4().hex}"

        async def start_kernel(self, **kw):
            env = dict(kw.pop("env", None) or os.environ)
            if session is not None:
                env["JPY_SESSION_NAME"] = str(session)
            return await super().start_kernel(env=env, **kw)

        def format_kernel_cmd(self, extra_arguments=None):
            command = super().format_kernel_cmd(extra_arguments)
            return [KERNEL_MODULE if part == "ipykernel_launcher" else part for part in command]

    return IpcKernelManager


def _interactive() -> bool:
    from recursive_lib._progress import in_ci

    return sys.stderr.isatty() and not in_ci()


def run_chapter(
    root: Path,
    name: str,
    out_dir: Path,
    preset: str | None = None,
    parameters: dict | None = None,
    quiet: bool = False,
) -> Path:
    """Execute one chapter with papermill; return the executed notebook's path.

    The executed notebook goes to ``out_dir/<name>.ipynb`` (written even when a cell fails, so
    the error can be read in place) and every figure it displays to ``out_dir/<name>_files/``.
    Raises ``ChapterFailed`` with the failing cell's error and the notebook's path.
    """
    import jupytext

    source = chapter_source(root, name)
    if not is_notebook(source):
        raise ValueError(f"chapter {name!r} is a plain Markdown page, not a notebook: nothing to run")
    injected = dict(parameters or {})
    if preset is not None:
        if preset not in PRESET_NAMES:
            raise ValueError(f"preset must be one of {PRESET_NAMES}, got {preset!r}")
        injected["preset"] = preset
    out_dir = out_dir.resolve()  # papermill executes inside the chapter folder
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{source.stem}.ipynb"
    fingerprint = chapter_fingerprint(source, preset, parameters)
    notebook = jupytext.read(source)
    notebook.metadata.setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    notebook.metadata["recursive_book"] = {
        "fingerprint": fingerprint,
        "preset": preset,
        "parameters": parameters or {},
    }
    started = time.perf_counter()
    if not quiet:
        print(
            f"{source.stem}: executing with preset {preset or 'book'}"
            + "".join(f", {k} = {v!r}" for k, v in (parameters or {}).items()),
            flush=True,
        )
    _papermill(notebook, source, output, out_dir, injected, quiet)
    figures = export_figures(output, out_dir / f"{source.stem}_files")
    _record_written(out_dir, figures)
    if not quiet:
        print(f"{source.stem}: executed in {time.perf_counter() - started:.1f} s -> {output}")
        report_findings(root, source.stem, output, out_dir)
    return output


def _papermill(notebook, source: Path, output: Path, out_dir: Path, injected: dict, quiet: bool) -> None:
    """Execute ``notebook`` (the chapter ``source``, converted) into ``output`` with papermill, in
    the chapter's folder, through :func:`_kernel_manager`; a failing cell raises
    ``ChapterFailed``. The notebook is listed in ``out_dir``'s manifest even when a cell fails."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with _quiet_papermill():
        try:
            papermill.execute_notebook(
                notebook,  # papermill reads a NotebookNode: no converted file to leave behind
                str(output),
                parameters=injected,
                cwd=str(source.parent),
                kernel_name="python3",
                progress_bar=not quiet and _interactive(),
                log_output=False,
                request_save_on_cell_execute=False,
                kernel_manager_class=_kernel_manager(source.resolve()),
            )
        except PapermillExecutionError as err:
            raise ChapterFailed(
                f"chapter {source.stem!r} failed in cell {err.exec_count}: {err.ename}: {err.evalue}"
                f"\n  the executed notebook, with the error in place: {output}"
            ) from None
        finally:
            if output.is_file():
                _record_written(out_dir, [output])


@contextmanager
def _quiet_papermill():
    """Papermill warns "Passed unknown parameter" for every knob (they live in the PRESETS table,
    not as variables it can see); the chapter's own table checked them before the run started.
    Its client logs "Kernel died ..." when Ctrl-C reaches the kernel too: the interrupted run says
    so in one line of its own, and a kernel that dies otherwise raises, which the run reports."""
    import logging

    class DropNoise(logging.Filter):
        def filter(self, record):
            message = record.getMessage()
            return not (message.startswith("Passed unknown parameter") or "Kernel died" in message)

    loggers = [logging.getLogger(name) for name in ("papermill", "traitlets", "NotebookClient")]
    drop = DropNoise()
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)


def report_findings(root: Path, name: str, output: Path, out_dir: Path) -> None:
    """Print the verdicts of a chapter's claims, the ones that changed against the last book
    build (``_build/executed``), and write them as ``<out_dir>/<name>-findings.md``."""
    from recursive_lib.book import findings
    from recursive_lib.book.findings import read_findings

    new = read_findings(output)
    if not new:
        return
    counts = {v: sum(c["verdict"] == v for c in new["claims"]) for v in ("holds", "fails", "inconclusive")}
    print(f"{name}: {len(new['claims'])} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    built = root / "_build" / "executed" / f"{name}.ipynb"
    old = read_findings(built) if built.is_file() and built.resolve() != output.resolve() else None
    for line in findings.compare(new, old):
        print(f"  changed since the last build: {line}")
    (out_dir / f"{name}-findings.md").write_text(findings.page({name: new}, {name: old}))
    _record_written(out_dir, [out_dir / f"{name}-findings.md"])


def export_figures(notebook_path: Path, folder: Path) -> list[Path]:
    """Write every SVG/PNG output of an executed notebook to ``folder``, and beside each chart of
    :func:`recursive_lib.book.charts.book_renderer` the CSV of the data it was drawn from.

    Glued outputs keep their glue name (``fig-rates.svg``, ``fig-rates.csv``; ``fig-rates-1.csv``,
    ``fig-rates-2.csv`` for a chart drawn from several tables); others are named by cell and order.
    """
    nb = json.loads(notebook_path.read_text())
    ours = written_files(folder.parent)
    if folder.is_dir():  # the figures an earlier run wrote go; anything else in the folder stays
        for old in folder.iterdir():
            if f"{folder.name}/{old.name}" in ours and old.is_file():
                old.unlink()
    written = []
    for c, cell in enumerate(nb.get("cells", [])):
        for o, output in enumerate(cell.get("outputs", [])):
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            glue_name, prefix = scrapbook.get("name"), scrapbook.get("mime_prefix", "")
            # glue stores its payload under prefixed mime types
            data = {k.removeprefix(prefix): v for k, v in output.get("data", {}).items()}
            stem = glue_name or f"cell{c:03d}-{o}"
            written += _export_chart_data(data.get("text/html"), folder, stem)
            for mime, ext in (("image/svg+xml", "svg"), ("image/png", "png")):
                if mime not in data:
                    continue
                folder.mkdir(parents=True, exist_ok=True)
                payload = data[mime]
                payload = "".join(payload) if isinstance(payload, list) else payload
                path = folder / f"{stem}.{ext}"
                if ext == "png":
                    path.write_bytes(base64.b64decode(payload))
                else:
                    path.write_text(payload)
                written.append(path)
                break
    return written


def _export_chart_data(html, folder: Path, stem: str) -> list[Path]:
    """The CSV file(s) of a chart output's data (none for any other output)."""
    html = "".join(html) if isinstance(html, list) else html
    if not html or 'class="book-chart"' not in html:
        return []
    from recursive_lib.book import charts

    chart = charts.parse_chart_html(html)
    if chart is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, frame in charts.figure_files(chart[0], stem).items():
        frame.to_csv(folder / filename, index=False)
        paths.append(folder / filename)
    return paths


def _run_quietly(args: tuple) -> tuple[Path | None, str | None, float, bool]:
    """Worker of :func:`execute_all`: (executed notebook or None, error or None, seconds, skipped)."""
    root, name, out_dir, preset, parameters, force = args
    source = chapter_source(root, name)
    if not force and is_current(out_dir / f"{name}.ipynb", chapter_fingerprint(source, preset, parameters)):
        return out_dir / f"{name}.ipynb", None, 0.0, True
    print(f"  start {name}", flush=True)
    started = time.perf_counter()
    try:
        out = run_chapter(root, name, out_dir, preset, parameters, quiet=True)
        return out, None, time.perf_counter() - started, False
    except ChapterFailed as err:
        return None, str(err), time.perf_counter() - started, False


def chapter_parameters(
    root: Path, name: str, parameters: dict | None = None, cache_dir: Path | None = None
) -> dict:
    """``parameters`` for chapter ``name``, plus ``cache_dir = <cache_dir>/<name>`` (an absolute
    path: papermill runs the chapter in its own folder) if ``cache_dir`` is given and the chapter
    has that knob. Chapters without it are left as they are."""
    out = dict(parameters or {})
    if cache_dir is not None and CACHE_KNOB in params.chapter_table(chapter_source(root, name)):
        out[CACHE_KNOB] = str(Path(cache_dir).resolve() / Path(name).stem)
    return out


def execute_all(
    root: Path,
    out_dir: Path,
    preset: str | None,
    jobs: int = 1,
    parameters: dict | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
) -> list[Path]:
    """Run every notebook chapter of ``_toc.yml``; report all failures, not only the first.

    A chapter whose executed notebook in ``out_dir`` carries the fingerprint of its source,
    preset, parameters and the library's code is up to date and is not executed again (unless
    ``force``). Chapters run in separate processes: papermill changes the working directory of
    the whole process while a chapter runs, so threads would step on each other. Each chapter is
    printed as it starts and as it finishes, with its time. With ``cache_dir``, every chapter
    that has a ``cache_dir`` knob keeps its finished runs in ``cache_dir/<chapter>`` (see
    :func:`chapter_parameters`), so a later build reuses them.
    """
    from concurrent.futures import as_completed

    names = executable_chapters(root)
    tasks = {
        name: (
            root,
            name,
            out_dir.resolve(),
            preset,
            chapter_parameters(root, name, parameters, cache_dir),
            force,
        )
        for name in names
    }
    started = time.perf_counter()
    results = {}

    def report(name, result):
        out, _, seconds, skipped = result
        state = "unchanged" if skipped else ("ok" if out else "FAIL")
        print(f"  {state:<9} {name}" + ("" if skipped else f" ({seconds:.1f} s)"), flush=True)
        results[name] = result

    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_run_quietly, task): name for name, task in tasks.items()}
            for future in as_completed(futures):
                report(futures[future], future.result())
    else:
        for name, task in tasks.items():
            report(name, _run_quietly(task))
    skipped = sum(results[n][3] for n in names)
    print(
        f"executed {len(names) - skipped} chapters ({skipped} unchanged) with preset "
        f"{preset or 'default'} in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    failures = [results[n][1] for n in names if results[n][1]]
    if failures:
        raise ChapterFailed("\n".join(failures))
    return [results[n][0] for n in names if results[n][0]]


#: cells the page leaves out: papermill's record of the injected values (the chapter's knob
#: table, printed by the cell after it, already shows the values of the run)
REMOVED_ON_PAGE = ("injected-parameters",)


def copy_for_reading(notebook: Path, target: Path, install: str | None = None) -> Path:
    """Copy an executed notebook, tagging the cells in :data:`REMOVED_ON_PAGE` ``remove-cell``
    so that myst-nb leaves them off the page (the executed notebook itself is not changed),
    keeping only the last value glued under each name (:func:`drop_superseded_glue`) and opening
    the page with a notice of its preset unless it is ``book`` (:func:`with_preset_notice`).
    ``install``, a pip requirement, puts the published notebooks' install cell first
    (:func:`recursive_lib.book.publish.with_install_cell`)."""
    from recursive_lib.book import publish

    nb = json.loads(notebook.read_text())
    for cell in nb.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if any(t in tags for t in REMOVED_ON_PAGE) and "remove-cell" not in tags:
            tags.append("remove-cell")
    drop_superseded_glue(nb)
    with_preset_notice(nb, notebook)
    if install is not None:
        nb = publish.with_install_cell(nb, install)
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return target


def drop_superseded_glue(nb: dict) -> dict:
    """Remove, in place, every glued output that a later output of the same name replaces (a
    chapter, or a fork of one, that glues a name twice, say a value it revises further down): the
    book shows the last value, as a rerun in Jupyter would."""
    last: dict[str, tuple[int, int]] = {}
    for i, cell in enumerate(nb.get("cells", [])):
        for j, output in enumerate(cell.get("outputs", [])):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                last[name] = (i, j)
    for i, cell in enumerate(nb.get("cells", [])):
        if "outputs" in cell:
            cell["outputs"] = [
                output
                for j, output in enumerate(cell["outputs"])
                if last.get(output.get("metadata", {}).get("scrapbook", {}).get("name"), (i, j)) == (i, j)
            ]
    return nb


def notebook_preset(nb: dict, notebook: Path | None = None) -> tuple[str | None, dict]:
    """The preset an executed notebook ran with and the knobs overridden on top of it: from its
    recorded claims when there are any, else from papermill's parameters."""
    from recursive_lib.book.findings import read_findings

    record = read_findings(notebook) if notebook is not None else None
    if record:
        knobs = record.get("knobs") or {}
        return record.get("preset"), {k: knobs.get(k) for k in record.get("overridden") or []}
    parameters = dict(nb.get("metadata", {}).get("papermill", {}).get("parameters") or {})
    return parameters.pop("preset", None), parameters


def with_preset_notice(nb: dict, notebook: Path | None = None) -> dict:
    """Put, in place, the notice of :func:`recursive_lib.book.findings.preset_notice` under the
    title of a notebook built with a preset other than ``book`` (or with overridden knobs)."""
    from recursive_lib.book import findings

    notice = findings.preset_notice(*notebook_preset(nb, notebook), what="page")
    if not notice:
        return nb
    cells = nb.get("cells", [])
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        head, _, rest = source.partition("\n") if source.startswith("# ") else ("", "", source)
        # a cell of its own between the title and the text (inside the text's cell, the notice's
        # fence kept Sphinx from finding the equations labelled further down the cell)
        pieces = [head] if head else []
        pieces += [notice] + ([rest.lstrip("\n")] if rest.strip() else [])
        cells[i : i + 1] = [
            dict(cell, source=piece, metadata=dict(cell.get("metadata", {}))) for piece in pieces
        ]
        for k, extra in enumerate(cells[i + 1 : i + len(pieces)], start=1):
            if "id" in extra:
                extra["id"] = f"{extra['id']}-{k}"  # cell ids stay unique
        break
    return nb


def merge_config(base: dict, overlay: dict) -> dict:
    """``base`` with ``overlay`` merged in: nested mappings key by key, anything else replaced."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def staged_config(root: Path, online: bool = False, repository: str | None = None) -> dict:
    """The configuration a staged book is built with: ``_config.yml`` with execution off (the
    chapters are executed notebooks already), the MyST sources offered for download
    (:mod:`recursive_lib.book.sphinx_downloads`) and, if ``online``, ``_config.online.yml``
    merged over it (repository and launch buttons); ``repository`` replaces its URL."""
    import yaml

    from recursive_lib.book.sphinx_downloads import MYST_FOLDER

    config = yaml.safe_load((root / "_config.yml").read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    config["exclude_patterns"] = [*config.get("exclude_patterns", []), f"{MYST_FOLDER}/**"]
    sphinx = config.setdefault("sphinx", {})
    sphinx["extra_extensions"] = [*sphinx.get("extra_extensions", []), "recursive_lib.book.sphinx_downloads"]
    if repository is not None and not online:
        raise ValueError("repository applies to the online build only: pass online=True (--online)")
    if online:
        overlay_path = root / ONLINE_CONFIG
        if not overlay_path.is_file():
            raise FileNotFoundError(f"--online needs {overlay_path} (repository and launch buttons)")
        config = merge_config(config, yaml.safe_load(overlay_path.read_text()) or {})
        if repository is not None:
            config.setdefault("repository", {})["url"] = repository
        url = config.get("repository", {}).get("url", "")
        if not str(url).startswith("https://"):
            raise ValueError(
                f"repository url must be an https:// address for the online build, "
                f"got {url!r} (set it in {ONLINE_CONFIG} or pass --repository)"
            )
    return config


def stage(
    root: Path,
    executed: Path,
    staged: Path,
    online: bool = False,
    repository: str | None = None,
    commit: str | None = None,
) -> Path:
    """A copy of the book whose chapters are the executed notebooks, with execution off, and
    the chapters' MyST sources under ``_myst/`` for download (see :func:`staged_config`).

    ``online`` stages it for publication too (:mod:`recursive_lib.book.publish`): every notebook
    starts with a cell that installs the library at ``commit`` (default: ``git rev-parse HEAD``)
    from the repository where it is missing (Colab), and ``binder/`` says how Binder builds its
    kernel. The default (offline) staging adds neither."""
    import yaml

    from recursive_lib.book import publish
    from recursive_lib.book.sphinx_downloads import MYST_FOLDER

    config = staged_config(root, online, repository)
    install = None
    if online:
        install = publish.requirement(config["repository"]["url"], commit or publish.published_commit(root))
    elif commit is not None:
        raise ValueError("commit applies to the online build only: pass online=True (--online)")
    if staged.exists():
        shutil.rmtree(staged)
    (staged / "chapters").mkdir(parents=True)
    (staged / MYST_FOLDER / "chapters").mkdir(parents=True)
    (staged / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    for extra in ("_toc.yml", "references.bib"):
        shutil.copy2(root / extra, staged / extra)
    for name in toc_chapters(root):
        source = chapter_source(root, name)
        if not is_notebook(source):
            shutil.copy2(source, staged / "chapters" / source.name)
            continue
        notebook = executed / f"{name}.ipynb"
        if not notebook.is_file():
            raise FileNotFoundError(f"{notebook} missing: execute the chapters first")
        copy_for_reading(notebook, staged / "chapters" / notebook.name, install)
        shutil.copy2(source, staged / MYST_FOLDER / "chapters" / source.name)
    for asset in (root / "chapters").iterdir():
        if asset.suffix not in {".md", ".ipynb"} and asset.is_file():
            shutil.copy2(asset, staged / "chapters" / asset.name)
    if FINDINGS in toc_chapters(root):
        from recursive_lib.book import findings

        found = findings.collect(executed, executable_chapters(root))
        (staged / "chapters" / f"{FINDINGS}.md").write_text(findings.page(found))
    if install is not None:
        publish.write_binder_files(root, staged, install)
    return staged


def build(
    root: Path, executed: Path, build_dir: Path, online: bool = False, repository: str | None = None
) -> Path:
    """Build HTML from executed notebooks with warnings as errors; return the html folder.

    ``online`` adds the launch buttons of ``_config.online.yml`` (the published book); the
    default build loads nothing from outside."""
    if build_dir.name != "_build":
        raise ValueError(f"build_dir must be a folder named _build (jupyter-book's layout), got {build_dir}")
    staged = stage(root, executed, build_dir / "staged", online, repository)
    html = build_dir / "html"
    if html.exists():
        shutil.rmtree(html)
    jb = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(staged),
        "--path-output",
        str(build_dir.parent),
        "-W",
        "-n",
        "--keep-going",
    ]
    result = subprocess.run(jb, cwd=root)
    if result.returncode != 0:
        raise ChapterFailed(f"jupyter-book build failed with status {result.returncode}")
    return html


def linkcheck(root: Path, out: Path) -> tuple[int, Path]:
    """Check the book's outbound links with Sphinx linkcheck, reading the MyST sources with
    execution off (no chapter runs; glued values are missing, which linkcheck does not mind).
    Everything goes under ``out`` (away from the HTML book). Returns jupyter-book's exit status
    (non-zero when a link is broken) and the report's path."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    # hidden folders (.pytest_cache holds a README.md) and tool folders are not the book
    config["exclude_patterns"] = [*config.get("exclude_patterns", []), ".*/**", "tools/**"]
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "_config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    jb = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(root),
        "--builder",
        "linkcheck",
        "--config",
        str(config_path),
        "--path-output",
        str(out),
    ]
    status = subprocess.run(jb, cwd=root).returncode
    return status, out / "_build" / "html" / "output.txt"  # jupyter-book's folder name


def _parser() -> argparse.ArgumentParser:
    """The command line: one sub-parser per subcommand (each handled by one entry of :data:`HANDLERS`)."""
    parser = argparse.ArgumentParser(prog="recursive-book", description=__doc__.split("\n")[0])
    from recursive_lib import __version__

    parser.add_argument("--version", action="version", version=f"recursive-book {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    _add_run(sub)
    knobs = sub.add_parser("params", help="list a chapter's knobs and their smoke / book / paper values")
    knobs.add_argument("chapter", help="chapter name, e.g. setting (see _toc.yml)")

    execute = sub.add_parser("execute", help="execute every chapter in _toc.yml")
    execute.add_argument("--preset", choices=PRESET_NAMES)
    execute.add_argument("--out", type=Path, default=Path("_build/executed"))
    execute.add_argument("--jobs", type=int, default=1, help="chapters executed at once")
    execute.add_argument(
        "--force",
        action="store_true",
        help="execute every chapter, even those whose executed notebook is up to date",
    )
    cache_help = (
        "folder where every chapter with a cache_dir knob keeps its finished runs "
        "(in <folder>/<chapter>); a later build reuses them"
    )
    execute.add_argument("--cache-dir", type=Path, help=cache_help)
    _add_build(sub, cache_help)

    sub.add_parser("linkcheck", help="check the outbound links of the book's sources (execution off)")

    check = sub.add_parser("check-offline", help="fail if built pages load anything from the network")
    check.add_argument("html", type=Path, nargs="?", default=Path("_build/html"))

    return parser


def _add_run(sub) -> None:
    run = sub.add_parser("run", help="execute one chapter with parameters")
    run.add_argument("chapter", help="chapter name, e.g. setting (see _toc.yml)")
    run.add_argument("--preset", choices=PRESET_NAMES, help="smoke | book | paper (default: the chapter's)")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a knob of the parameters cell (YAML value)",
    )
    run.add_argument(
        "--out", type=Path, default=Path("results"), help="output folder (new or empty; see --overwrite)"
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a non-empty --out, replacing only the files an earlier run wrote there",
    )


def _add_build(sub, cache_help: str) -> None:
    bld = sub.add_parser("build", help="build the HTML book (executing first unless --executed)")
    bld.add_argument("--executed", type=Path, help="folder of executed notebooks to build from")
    bld.add_argument("--preset", choices=PRESET_NAMES, help="preset used when executing")
    bld.add_argument("--jobs", type=int, default=1)
    bld.add_argument("--force", action="store_true", help="execute every chapter again")
    bld.add_argument("--cache-dir", type=Path, help=cache_help)
    bld.add_argument(
        "--online",
        action="store_true",
        help=f"merge {ONLINE_CONFIG} (launch buttons: Binder, Colab) over _config.yml",
    )
    bld.add_argument(
        "--repository",
        metavar="URL",
        help=f"with --online: the repository URL (default: the one in {ONLINE_CONFIG})",
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        root = find_root()
    except FileNotFoundError as err:
        print(f"recursive-book: {err}", file=sys.stderr)
        return 2
    # SIGTERM ends a run the way Ctrl-C does: the kernel is shut down, nothing is left behind
    previous = signal.signal(signal.SIGTERM, _terminate)
    kept: list[str] = []
    try:
        return _command(args, root, kept)
    except UsageError as err:
        print(f"recursive-book: {err}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, _Terminated) as stop:
        status = 143 if isinstance(stop, _Terminated) else 130
        what = "; ".join(kept) if kept else "nothing of this run"
        print(f"recursive-book: interrupted; kept {what}", file=sys.stderr)
        # the notebook client's cell task ended with the kernel; asyncio would log it at exit
        import logging

        logging.getLogger("asyncio").disabled = True
        return status
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Terminated(Exception):
    """SIGTERM, raised in the main thread so that the run unwinds and cleans up."""


def _terminate(signum, frame):
    raise _Terminated


def _kept_by(out: Path, cache: object) -> list[str]:
    """What an interrupted run leaves for the reader: files of earlier runs in ``out`` (this run
    writes its notebook only at the end) and the configurations finished in the cache."""
    kept = []
    if cache:
        kept.append(f"the configurations finished so far in the cache {cache}")
    ours = written_files(out) if out.is_dir() else set()
    if ours:
        kept.append(f"the {len(ours)} files of earlier runs in {out}")
    return kept


def _run(args: argparse.Namespace, root: Path, kept: list[str]) -> int:
    overrides = parse_parameters(args.parameter)
    preset, overrides = check_run(root, args.chapter, args.preset, overrides)
    stem = chapter_source(root, args.chapter).stem
    out = check_out(root, args.out, stem, args.overwrite)
    kept[:] = _kept_by(out, overrides.get(CACHE_KNOB))
    run_chapter(root, args.chapter, out, preset, overrides)
    return 0


def _params(args: argparse.Namespace, root: Path, kept: list[str]) -> int:
    try:
        print(knob_table(chapter_source(root, args.chapter)))
    except ValueError as err:
        raise UsageError(str(err)) from None
    return 0


def _execute(args: argparse.Namespace, root: Path, kept: list[str]) -> int:
    execute_all(root, args.out, args.preset, args.jobs, force=args.force, cache_dir=args.cache_dir)
    return 0


def _build(args: argparse.Namespace, root: Path, kept: list[str]) -> int:
    executed = args.executed
    if executed is not None and not executed.is_dir():
        raise UsageError(f"--executed {executed}: no such folder of executed notebooks")
    if executed is None:
        executed = root / "_build" / "executed"
        execute_all(root, executed, args.preset, args.jobs, force=args.force, cache_dir=args.cache_dir)
    elif args.cache_dir is not None:
        raise ValueError(
            "--cache-dir applies when chapters are executed; with --executed nothing is executed"
        )
    html = build(root, executed.resolve(), root / "_build", args.online, args.repository)
    print(f"book built: {html / 'index.html'}")
    return 0


def _linkcheck(args: argparse.Namespace, root: Path, kept: list[str]) -> int:
    status, report = linkcheck(root, root / "_build" / "linkcheck")
    print(f"link check: {'every link answered' if status == 0 else 'broken links'} (details in {report})")
    return status


def _check_offline(args: argparse.Namespace, root: Path, kept: list[str]) -> int:
    from recursive_lib.book.offline import scan

    problems = scan(args.html)
    for problem in problems:
        print(problem)
    print(f"offline check: {len(problems)} network reference(s) in {args.html}")
    return 1 if problems else 0


#: subcommand -> handler(args, root, kept) -> exit status; ``kept`` collects what an interrupted
#: run leaves behind (for the message on Ctrl-C)
HANDLERS = {
    "run": _run,
    "params": _params,
    "execute": _execute,
    "build": _build,
    "linkcheck": _linkcheck,
    "check-offline": _check_offline,
}


def _command(args: argparse.Namespace, root: Path, kept: list[str]) -> int:
    try:
        return HANDLERS[args.command](args, root, kept)
    except UsageError:
        raise
    except (ChapterFailed, FileNotFoundError, ValueError) as err:
        print(f"recursive-book: {err}", file=sys.stderr)
        return 1
    except ImportError as err:
        print(
            f"recursive-book: {err.name or err} is not installed: the book's commands need "
            f'the book extra, pip install -e ".[book]" ({err})',
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
