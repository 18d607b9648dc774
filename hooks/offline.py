"""Keep the offline bundle free of third-party requests.

Material's offline plugin (enabled by ``OFFLINE=true``, see ``make offline``)
adds the iframe-worker shim that lets search run from ``file://``, and takes
it from a CDN unless a copy is already listed. This lists the copy that the
site serves itself (``tools/vendor_assets.sh``) first.
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


@event_priority(-200)  # after mkdocs-static-i18n has written the index of both languages
def on_post_build(config: MkDocsConfig) -> None:
    """Rewrite the offline search index from the final, two-language one.

    Material's offline plugin inlines search_index.json into search_index.js
    at the end of each build, but mkdocs-static-i18n builds the languages one
    after the other and merges their indexes only at the very end, so the
    plugin's copy held the last language alone.
    """
    offline = config.plugins.get("material/offline") or config.plugins.get("offline")
    index = Path(config.site_dir) / "search" / "search_index.json"
    if offline is None or not offline.config.enabled or not index.exists():
        return
    script = index.with_name("search_index.js")
    script.write_text("var __index = " + index.read_text(encoding="utf-8"), encoding="utf-8")
