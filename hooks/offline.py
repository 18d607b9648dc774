"""Keep the offline bundle free of third-party requests.

Material's offline plugin (enabled by ``OFFLINE=true``, see ``make offline``)
adds the iframe-worker shim that lets search run from ``file://``, and takes
it from a CDN unless a copy is already listed. This lists the copy that the
site serves itself (``tools/vendor_assets.sh``) first.
"""

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority

SHIM = "assets/vendor/iframe-worker/shim.js"


@event_priority(100)  # before the offline plugin's own on_config
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    offline = config.plugins.get("material/offline") or config.plugins.get("offline")
    if offline is not None and offline.config.enabled:
        config.extra["polyfills"] = [SHIM]
    return config
