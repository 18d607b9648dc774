"""A search index per language (issue 11, section 4).

Material's search worker loads ``search/search_index.json`` (from ``file://``,
``search/search_index.js``) relative to ``base`` in the page's ``__config``.
mkdocs-static-i18n builds the languages one after the other into one site,
gives every page ``base`` = the site root, and merges all languages' entries
into the one index there, under one search configuration (Japanese, with
English added). A reader then got results in both languages.

This hook, once every language is built, writes each language's own index
into that language's folder: ``search/search_index.json`` for Japanese,
``en/search/search_index.json`` for English, with locations relative to the
folder. Each carries the search configuration Material gives that language on
its own (``lang``, ``separator``, ``pipeline``), so Japanese keeps its
segmenter and separators and English its stop-word filter. The pages of a
non-default language get their folder as ``base``, which is all the worker
reads it for (the index, and the links of the results); the theme's other
links use the template's ``base_url``, which is left alone.
``hooks/offline.py`` turns each index into the script the offline bundle reads.
"""

import copy
import html
import io
import json
import keyword
import posixpath
import re
import tokenize
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

SETTINGS = ("lang", "separator", "pipeline")
# English splits words at punctuation too, not only at white space and hyphens
# (Material's English separator): "print(softmax(x))" was one word, which a
# search for "softmax" could not find. (The separator is a JavaScript regular
# expression, used by lunr on the index and on the query alike.)
SEPARATORS = {"en": r'[\s\-,:;!?=\[\]{}()<>"/|]+|\.(?!\d)'}
CONFIG_BASE = re.compile(r'(<script id="__config" type="application/json">.*?"base":\s*)"[^"]*"', re.S)

# A code block as the search plugin indexes it: its text, HTML-escaped, in <pre><code>
# (pages) or <pre> (the notebook's cells).
CODE_BLOCK = re.compile(r"<pre>(<code>)?(.*?)(?:</code>)?</pre>", re.S)


def code_names(code: str) -> str | None:
    """The names a Python block uses, each once, in order: what a reader searches code for.

    ``from attention_notes.kv_cache import KVCache`` and ``cache = KVCache(window=4)``
    give ``attention_notes kv_cache KVCache cache window``: the parts of dotted
    names (``torch.manual_seed`` gives ``torch manual_seed``), no keywords,
    numbers, strings, comments or punctuation. The whole code made
    up close to half of the Japanese index, which every page loads (with the
    part on today's LLMs, a page over the 600 KB its weight may reach); a name
    still finds the page that uses it. None if ``code`` is not Python (a
    command line stays as it is).
    """
    names: dict[str, None] = {}  # ordered, each once
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                names.setdefault(token.string)
    except (tokenize.TokenError, SyntaxError):
        return None
    return " ".join(names)


def compact_code(text: str) -> str:
    """A search entry's ``text`` with each Python block's code replaced by :func:`code_names`."""

    def names(match: re.Match) -> str:
        found = code_names(html.unescape(match.group(2)))
        if found is None:
            return match.group(0)
        return f"<pre><code>{found}</code></pre>" if match.group(1) else f"<pre>{found}</pre>"

    return CODE_BLOCK.sub(names, text)


# What mkdocs.yml says of the search settings, before Material fills in the
# default language's values and mkdocs-static-i18n adds the other languages:
# a value set there applies to every language.
_configured: dict | None = None


def _plugins(config: MkDocsConfig):
    search = config.plugins.get("material/search") or config.plugins.get("search")
    i18n = config.plugins.get("i18n")
    return search, i18n


def _folder(i18n, locale: str) -> str:
    """Where ``locale``'s pages live, relative to the site root: "" or "en/"."""
    return "" if locale == i18n.default_language else f"{locale}/"


@event_priority(100)  # before Material's search plugin fills in the default language's values
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    global _configured
    search, _ = _plugins(config)
    if _configured is None and search is not None:
        # Copies: mkdocs-static-i18n appends its languages to the plugin's own list.
        _configured = {key: copy.deepcopy(search.config[key]) for key in SETTINGS}
    return config


def _material_defaults(config: MkDocsConfig, locale: str) -> dict:
    """The search settings Material derives from ``theme.language`` = ``locale``."""
    template = config.theme.get_env().get_template(
        "partials/language.html", None, {"config": {"theme": {"language": locale}}}
    )
    value = {key: str(template.module.t(f"search.config.{key}")) for key in SETTINGS}
    return {
        "lang": [value["lang"]],
        "separator": value["separator"],
        "pipeline": [p for p in re.split(r"\s*,\s*", value["pipeline"]) if p],
    }


def language_settings(config: MkDocsConfig, locale: str) -> dict:
    """``locale``'s search settings: mkdocs.yml's where it sets them, else Material's for the language."""
    own = _material_defaults(config, locale)
    configured = _configured or {}
    return {
        "lang": configured.get("lang") or own["lang"],
        "separator": configured.get("separator") or SEPARATORS.get(locale) or own["separator"],
        "pipeline": own["pipeline"] if configured.get("pipeline") is None else configured["pipeline"],
    }


@event_priority(-100)
def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    """Point the search of a non-default language's page at its language's folder."""
    _, i18n = _plugins(config)
    if i18n is None or i18n.current_language == i18n.default_language:
        return output
    folder = _folder(i18n, i18n.current_language).rstrip("/")
    base = posixpath.relpath(folder, posixpath.dirname(page.file.dest_uri) or ".")
    new, n = CONFIG_BASE.subn(lambda m: f'{m[1]}"{base}"', output, count=1)
    if n != 1:
        raise PluginError(f"search_i18n: no __config base in {page.file.dest_uri}")
    return new


# After mkdocs-static-i18n (-100) has built every language and written the
# merged index; before hooks/offline.py (-200) inlines the indexes into scripts.
@event_priority(-150)
def on_post_build(config: MkDocsConfig) -> None:
    search, i18n = _plugins(config)
    if search is None or i18n is None or i18n.building:
        return  # one language's build inside mkdocs-static-i18n's: the others are still to come
    site = Path(config.site_dir)
    # Every language's entries as its build produced them: mkdocs-static-i18n
    # collects them before it drops, from the merged index, the entries of a
    # translation that look the same as the default language's.
    entries = i18n.search_entries
    merged = search.search_index.entries
    folders = {locale: _folder(i18n, locale) for locale in i18n.build_languages}
    others = tuple(f for f in folders.values() if f)
    fields = search.config["fields"]
    written = 0
    for locale, folder in folders.items():
        if folder:
            docs = [
                {**e, "location": e["location"][len(folder) :]}
                for e in entries
                if e["location"].startswith(folder)
            ]
        else:
            docs = [e for e in entries if not e["location"].startswith(others)]
        docs = [{**e, "text": compact_code(e["text"])} for e in docs]
        written += len(docs)
        index = {"config": {**language_settings(config, locale), "fields": fields}, "docs": docs}
        path = site / folder / "search" / "search_index.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        # As written (UTF-8), not as \u escapes: the Japanese index is a third smaller.
        data = json.dumps(index, ensure_ascii=False, separators=(",", ":"), default=str)
        path.write_text(data, encoding="utf-8")
    missing = [e["location"] for e in merged if e not in entries]
    if written != len(entries) or missing:
        raise PluginError(
            f"search_i18n: {written} of {len(entries)} entries written; "
            f"not in any language's index: {missing[:5]}"
        )
