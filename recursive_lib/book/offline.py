"""Find everything a built HTML book would fetch from the network.

The book must read offline: no script, style sheet, font, image or frame from another host. We
look at what a browser loads, not at every link a reader may click:

* HTML: ``src`` of script/img/iframe/embed/source/audio/video/track, ``data`` of object,
  ``href`` of ``<link>`` with a loading ``rel`` (stylesheet, preload, icon, ...);
* CSS (files, ``<style>`` blocks, ``style=`` attributes): ``url(...)`` and ``@import``;
* JavaScript (files and inline ``<script>`` blocks): quoted URL strings that end in a loadable
  asset (.js, .css, fonts, images) or name a content-delivery host.

``<a href>`` links and licence comments are not loads and are ignored. The browser test
(tests/test_book_browser.py) checks the same thing from the other side: it records every request.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_LOCAL_SCHEMES = re.compile(r"^\s*(?:data|blob|about|javascript|file):", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""", re.IGNORECASE)
_JS_ASSET = re.compile(
    r"""(['"`])((?:https?:)?//[^'"`\s]+?\.(?:m?js|css|woff2?|ttf|otf|eot|svg|png|jpe?g|gif|json)"""
    r"""(?:\?[^'"`\s]*)?)\1""",
    re.IGNORECASE,
)
_CDN_HOSTS = re.compile(
    r"""(['"`])((?:https?:)?//(?:cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|"""
    r"""fonts\.googleapis\.com|fonts\.gstatic\.com|polyfill\.io|cdn\.plot\.ly|code\.jquery\.com|"""
    r"""ajax\.googleapis\.com|stackpath\.bootstrapcdn\.com|use\.fontawesome\.com)[^'"`\s]*)\1""",
    re.IGNORECASE,
)
_LOADING_REL = {
    "stylesheet",
    "preload",
    "modulepreload",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "prefetch",
    "manifest",
    "mask-icon",
}
_SRC_TAGS = {"script", "img", "iframe", "embed", "source", "audio", "video", "track", "input"}


def is_remote(url: str) -> bool:
    """True for a URL a browser would fetch from another host (``https://``, ``//host``)."""
    return bool(_REMOTE.match(url)) and not _LOCAL_SCHEMES.match(url)


def css_remote_urls(css: str) -> list[str]:
    urls = [m.group(2) or m.group(4) for m in _CSS_URL.finditer(css)]
    return [u for u in urls if u and is_remote(u)]


def js_remote_urls(js: str) -> list[str]:
    found = [m.group(2) for m in _JS_ASSET.finditer(js)] + [m.group(2) for m in _CDN_HOSTS.finditer(js)]
    return sorted(set(found))


class _PageScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.remote: list[str] = []
        self._in: str | None = None
        self._script_type = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag in _SRC_TAGS and is_remote(a.get("src", "")):
            self.remote.append(f"<{tag} src={a['src']}>")
        if tag in {"img", "source"}:
            for candidate in a.get("srcset", "").split(","):
                if candidate.strip() and is_remote(candidate.split()[0]):
                    self.remote.append(f"<{tag} srcset={candidate.strip()}>")
        if tag == "object" and is_remote(a.get("data", "")):
            self.remote.append(f"<object data={a['data']}>")
        if tag == "link" and set(a.get("rel", "").lower().split()) & _LOADING_REL:
            if is_remote(a.get("href", "")):
                self.remote.append(f"<link rel={a['rel']} href={a['href']}>")
        if "style" in a:
            self.remote += [f"style attribute url {u}" for u in css_remote_urls(a["style"])]
        if tag in {"script", "style"}:
            self._in = tag
            self._script_type = a.get("type", "").lower()

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.remote += [f"<style> url {u}" for u in css_remote_urls(data)]
        elif self._in == "script" and "json" not in self._script_type:
            self.remote += [f"inline <script> string {u}" for u in js_remote_urls(data)]


def scan(html_dir: Path | str) -> list[str]:
    """Every network load found under a built book, as ``"file: what"`` strings (empty = offline)."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise FileNotFoundError(f"{html_dir} has no index.html: build the book first")
    problems: list[str] = []
    for path in sorted(html_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(html_dir)
        suffix = path.suffix.lower()
        if suffix not in {".html", ".css", ".js", ".mjs"}:
            continue
        text = path.read_text(errors="replace")
        if suffix == ".html":
            scanner = _PageScanner()
            scanner.feed(text)
            found = scanner.remote
        elif suffix == ".css":
            found = css_remote_urls(text)
        else:
            found = js_remote_urls(text)
        problems += [f"{rel}: {item}" for item in found]
    return problems
