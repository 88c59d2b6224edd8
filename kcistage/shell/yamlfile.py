"""Reading a YAML file strictly: duplicate keys refused, errors one line naming file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kcistage.core.messages import one_line
from kcistage.errors import ConfigError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)):
            continue  # unhashable keys: construct_mapping reports them
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# The same with libyaml's parser when PyYAML was built with it: 6x faster on the shipped config
# (every tick reads it). A bad file is read again by the pure-Python loader, whose error words
# and marks the messages below are written for.
_FastLoader: type | None = None
if getattr(yaml, "__with_libyaml__", False):
    class _FastStrictLoader(yaml.CSafeLoader):
        """CSafeLoader that refuses duplicate mapping keys."""

    _FastStrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                      _construct_mapping)
    _FastLoader = _FastStrictLoader


def read_yaml(path: Path) -> Any:
    """The parsed YAML document of a config file (ConfigError naming file and line if bad)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path.absolute()}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(one_line(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}")
                          ) from None
    if _FastLoader is not None:
        try:
            return yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a CSafeLoader subclass
        except yaml.YAMLError:
            pass  # said below in the pure-Python loader's words
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        raise ConfigError(one_line(f"{path}: {where}{plain_words(problem, context)}")) from None


# PyYAML's wording of common mistakes, and what it means for someone editing the file.
_PLAIN = (
    ("duplicate key", "{problem}: each key may appear once in a mapping"),
    ("mapping values are not allowed", "a ':' where no key can start; quote a value that "
                                       "contains ': ' (or fix the indentation above)"),
    ("could not find expected ':'", "a line that is not `key: value` (a missing ':' or a "
                                    "line indented wrongly)"),
    ("found character '\\t'", "a tab character: indent with spaces"),
    ("did not find expected key", "the indentation does not line up with the keys above"),
    ("expected <block end>", "the indentation does not line up with the lines above"),
    ("did not find expected '-'", "a list item that does not line up with the items above"),
    ("found undefined alias", "an alias (*name) with no anchor (&name) before it"),
    ("found unexpected end of stream", "the file ends inside an unclosed quote or bracket"),
    ("expected ',' or ']'", "a [list] not closed with ']' or items not separated by ','"),
    ("expected ',' or '}'", "a {mapping} not closed with '}' or entries not separated by ','"),
    ("found unknown escape character", "an unknown backslash escape in a double-quoted text "
                                       "(use single quotes)"),
)


def plain_words(problem: str, context: str | None = None) -> str:
    """A YAML syntax problem said plainly (PyYAML's own words when it is not a common one)."""
    for needle, words in _PLAIN:
        if needle in problem or (context and needle in context):
            return "YAML: " + words.replace("{problem}", problem)
    detail = f"{context}; {problem}" if context else problem
    return f"YAML: {detail}"
