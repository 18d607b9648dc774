"""Make the language switcher's links on the home pages relative.

mkdocs-static-i18n (1.3.1) leaves the switcher on each language's home page
pointing at root-absolute paths ("/" and "/en/"). Those break as soon as the
site is not served from the root of a host: a GitHub Pages project site, a
sub-folder, or the offline bundle opened from file:// (where a link must
also name ``index.html``). Every other page already
gets relative links from the plugin; this gives the home pages the same.
"""

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
