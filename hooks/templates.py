"""Keep the theme's compiled templates on disk (``.cache/jinja``).

MkDocs makes a new Jinja environment for every build, and mkdocs-static-i18n
runs a build per language, so every ``mkdocs build`` (and every rebuild of
``mkdocs serve``) compiled Material's templates twice: close to a second of a
warm build. Jinja's own bytecode cache keeps them: it writes each template's
code atomically (a temporary file, then renamed), and loads it only while the
template's source is unchanged (it checks a checksum of the source) and for
the same Jinja and Python (its magic header). What else decides the compiled
code, the environment's syntax settings and extensions (mkdocs-static-i18n
adds ``loopcontrols``), and the packages that set them, names the cache's
folder (:func:`environment_key`).
"""

import importlib.metadata

import jinja2
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority

try:  # MkDocs loads a hook from its file, with hooks/ on sys.path while it does
    import build_cache
except ModuleNotFoundError:  # imported as hooks.templates (the tests)
    from hooks import build_cache

PACKAGES = ("Jinja2", "mkdocs", "mkdocs-material", "mkdocs-static-i18n")


def environment_key(env: jinja2.Environment) -> str:
    """What, besides a template's source, decides its compiled code."""
    settings = [
        sorted(env.extensions),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        env.is_async,
        env.finalize is not None,
        env.autoescape if isinstance(env.autoescape, bool) else getattr(env.autoescape, "__qualname__", "?"),
    ]
    return build_cache.key("jinja", *map(repr, settings), *(importlib.metadata.version(p) for p in PACKAGES))


# Last, once every plugin has set the environment up.
@event_priority(-200)
def on_env(env: jinja2.Environment, config: MkDocsConfig, files) -> jinja2.Environment:
    folder = build_cache.Cache.for_site(config, "jinja").folder / environment_key(env)[:32]
    folder.mkdir(parents=True, exist_ok=True)
    env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))
    return env
