"""Make the language switcher's links on the home pages relative.

mkdocs-static-i18n (1.3.1) leaves the switcher on each language's home page
pointing at root-absolute paths ("/" and "/en/"). Those break as soon as the
site is not served from the root of a host: a GitHub Pages project site, a
sub-folder, or the offline bundle opened from file:// (where a link must
also name ``index.html``). Every other page already
gets relative links from the plugin; this gives the home pages the same.

It also drops the ``<link rel="alternate" hreflang>`` elements from the
``<head>`` (:func:`without_alternates`).
"""

import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page


# After mkdocs-static-i18n, which resets the switcher on every page.
@event_priority(-100)
def on_page_context(context: dict, page: Page, config: MkDocsConfig, nav: Navigation) -> dict:
    # The plugin sets `config.extra.alternate` as an attribute, which is what
    # the theme's template reads; the item `config.extra["alternate"]` is a
    # different object.
    for alternate in getattr(config.extra, "alternate", None) or []:
        if alternate["link"].startswith("/"):
            # Like the plugin's links on other pages: a path from the site root,
            # which the theme's `url` filter turns into one relative to the page.
            link = alternate["link"].lstrip("/")
            if config.use_directory_urls:
                alternate["link"] = link or "./"
            else:  # the offline bundle, read from file://, where folders do not open index.html
                alternate["link"] = link + "index.html"
    return context


# Material's script takes every <link rel="alternate" hreflang> in the <head> for
# the root of a language's site and fetches sitemap.xml under it, to keep the
# reader on the same page when switching. mkdocs-static-i18n points those links
# at the page's translation instead, so both fetches asked for a sitemap that
# is not there (<page>/sitemap.xml): two console errors on every page, and from
# file:// two blocked requests. The switcher in the header (its links are
# already the page's translation) is what a reader uses; without site_url the
# links are relative, which search engines ignore for hreflang anyway.
ALTERNATE = re.compile(r'[ \t]*<link rel="alternate" href="[^"]*" hreflang="[^"]*">\n?')


def without_alternates(output: str) -> str:
    head, sep, body = output.partition("</head>")
    return ALTERNATE.sub("", head) + sep + body


@event_priority(-100)
def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return without_alternates(output)


def on_post_template(output: str, template_name: str, config: MkDocsConfig) -> str:
    return without_alternates(output) if template_name.endswith(".html") else output
