"""One 404 page per language: ``404.html`` in Japanese, ``en/404.html`` in English.

MkDocs renders the theme's ``404.html`` once per build, into the site's root;
mkdocs-static-i18n builds the languages one after the other into one site, so
the English build's page overwrote the Japanese one, and it kept the root's
search (the Japanese index) and the language links of whichever page was built
last. Here each language's build renders its own: the default language's at
the root, every other language's in its folder (``en/404.html``), with

- the page in its language (``overrides/404.html`` says where to go next),
- ``base`` in the page's ``__config`` at its language's folder, so search
  loads that language's index (hooks/search_i18n.py),
- language links to the other languages' 404 pages.

A 404 page is served at any missing address, so its links are from the site's
root (MkDocs' rule for error pages); a host that serves one 404 page for the
whole site (GitHub Pages) serves the root's, the default language's.
"""

import copy
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

NAME = "404.html"
CONFIG_BASE = re.compile(r'(<script id="__config" type="application/json">.*?"base":\s*)"([^"]*)"', re.S)


def _i18n(config: MkDocsConfig):
    return config.plugins.get("i18n")


def _folder(i18n, locale: str) -> str:
    return "" if locale == i18n.default_language else f"{locale}/"


def on_template_context(context: dict, template_name: str, config: MkDocsConfig) -> dict:
    """The 404 page's language links: each language's own 404 page."""
    i18n = _i18n(config)
    # What the theme reads: the attribute mkdocs-static-i18n sets on every page, else
    # (the first build's 404 page, built before any page) the item it configured.
    alternates = getattr(config.extra, "alternate", None) or config.extra.get("alternate")
    if template_name != NAME or i18n is None or not alternates:
        return context
    links = []
    for alternate in alternates:
        alternate = copy.copy(alternate)
        # mkdocs-static-i18n's entries carry the locale as "lang".
        alternate["link"] = _folder(i18n, alternate["lang"]) + NAME  # the `url` filter adds the root
        links.append(alternate)
    # The next page's context sets the attribute again (mkdocs-static-i18n, every page).
    config.extra.alternate = links
    return context


@event_priority(-50)  # after hooks/language_switcher.py has dropped the <head>'s alternates
def on_post_template(output: str, template_name: str, config: MkDocsConfig) -> str:
    """Another language's 404 page goes into its folder, its search pointed at that folder's index."""
    if template_name != NAME:
        return output
    # The home page's URL is "" ("." from a page): from the root, MkDocs makes it "/.".
    output = output.replace('href="/."', 'href="/"')
    i18n = _i18n(config)
    if i18n is None or i18n.current_language == i18n.default_language:
        return output
    folder = _folder(i18n, i18n.current_language)
    page, n = CONFIG_BASE.subn(lambda m: f'{m[1]}"{m[2]}{folder}"', output, count=1)
    if n != 1:
        raise PluginError(f"not_found: no __config base in the {folder} 404 page")
    out = Path(config.site_dir) / folder / NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return ""  # nothing for MkDocs to write at the root, where the default language's page is
