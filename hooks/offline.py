"""Keep the offline bundle free of third-party requests.

Material's offline plugin (enabled by ``OFFLINE=true``, see ``make offline``)
adds the iframe-worker shim that lets search run from ``file://``, and takes
it from a CDN unless a copy is already listed. This lists the copy that the
site serves itself (``tools/vendor_assets.sh``) first. It also writes the
script that search reads from ``file://`` for each language's index
(``search/search_index.js``, ``en/search/search_index.js``).
"""

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority

SHIM = "assets/vendor/iframe-worker/shim.js"


@event_priority(100)  # before the offline plugin's own on_config
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    offline = config.plugins.get("material/offline") or config.plugins.get("offline")
    if offline is not None and offline.config.enabled:
        config.extra["polyfills"] = [SHIM]
    return config


# After mkdocs-static-i18n has built every language and hooks/search_i18n.py (-150)
# has written each language's index.
@event_priority(-200)
def on_post_build(config: MkDocsConfig) -> None:
    """Write each language's offline search index from its final index.

    From ``file://`` the search worker cannot fetch ``search/search_index.json``;
    it loads ``search/search_index.js`` (relative to the page's ``base``, its
    language's folder) instead. Material's offline plugin writes that script
    at the end of each build, but mkdocs-static-i18n builds the languages one
    after the other into one site, so the plugin's copy held whichever index
    was at the root at that moment. Every language's index is final only now.
    """
    offline = config.plugins.get("material/offline") or config.plugins.get("offline")
    if offline is None or not offline.config.enabled:
        return
    site = Path(config.site_dir)
    for index in [*site.glob("search/search_index.json"), *site.glob("*/search/search_index.json")]:
        script = index.with_name("search_index.js")
        script.write_text("var __index = " + index.read_text(encoding="utf-8"), encoding="utf-8")
