"""Zip a built site: `python tools/zip_site.py site-offline dist/attention-notes-offline.zip`."""

import sys
import zipfile
from pathlib import Path


def zip_site(site: Path, archive: Path) -> Path:
    """Write every file under ``site`` into ``archive`` (paths relative to ``site``), sorted."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in sorted(site.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(site).as_posix())
    return archive


if __name__ == "__main__":
    print(zip_site(Path(sys.argv[1]), Path(sys.argv[2])))
