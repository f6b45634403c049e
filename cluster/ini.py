"""Read StarCluster-style INI files, keeping where every section and key came from.

configparser loses line numbers and interpolates `%`; config errors must name file and line,
and a `%` in a value is just a character, so this small reader replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sclust.errors import ConfigError
from sclust.files import expand_path, read_small_text


@dataclass(frozen=True)
class Origin:
    """Where a section header or a key was written."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class RawKey:
    """One `KEY = value` line (continuation lines joined)."""

    name: str  # upper-cased: option names are case-insensitive
    value: str
    origin: Origin
    section_title: str = ""  # where it was written (EXTENDS merges keys across sections)


@dataclass
class RawSection:
    """One `[kind NAME]` section with its keys in file order."""

    kind: str  # "global", "aws info", "cluster", "key", ...
    name: str  # "" for sections without a name
    origin: Origin
    keys: dict[str, RawKey] = field(default_factory=dict)
    # Mistakes inside this section (FILE:LINE lines): errors for a command that uses the
    # section, warnings for one that does not (a typo in one template never blocks another).
    problems: list[str] = field(default_factory=list)
    # Things StarCluster accepted that sclust reads the same way but mentions (FILE:LINE lines).
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"[{self.kind} {self.name}]" if self.name else f"[{self.kind}]"


# Section kinds whose whole header is the kind (no NAME part).
UNNAMED_KINDS = ("global", "aws info")
# StarCluster's other spellings of a section kind.
# (`[keypair NAME]` is what StarCluster's own manual wrote for `[key NAME]`.)
KIND_ALIASES = {"vol": "volume", "keypair": "key"}


def split_header(header: str) -> tuple[str, str]:
    """`cluster  mycluster` -> ("cluster", "mycluster"); `aws info` -> ("aws info", "")."""
    words = header.split()
    if not words:
        raise ValueError("empty section header")
    lowered = " ".join(words).lower()
    if lowered in UNNAMED_KINDS:
        return lowered, ""
    kind = KIND_ALIASES.get(words[0].lower(), words[0].lower())
    if len(words) == 1:
        return kind, ""
    return kind, " ".join(words[1:])


def strip_inline_comment(value: str) -> str:
    """StarCluster (configparser) treats `#` or `;` after whitespace as a comment start; in
    `KEY = #comment` the `#` follows the blank after `=`, so the value is empty."""
    if value[:1] in ("#", ";"):
        return ""
    for index, char in enumerate(value):
        if char in "#;" and index > 0 and value[index - 1] in " \t":
            return value[:index].rstrip()
    return value.rstrip()


def parse_ini_text(text: str, path: str) -> list[RawSection]:
    """Parse one file's text into sections. A malformed header raises ConfigError (nothing
    after it can be placed); a malformed line inside a section becomes one of that section's
    problems. A key or section given twice: the last one wins, with a note naming both lines,
    as StarCluster (configparser) read it. Keys left empty (`KEY =`) count as not set."""
    sections: list[RawSection] = []
    current: RawSection | None = None
    last_key: RawKey | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        origin = Origin(path, number)
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if line[0] in " \t" and last_key is not None:
            # An indented line continues the previous value, as in configparser.
            last_key.value = f"{last_key.value}\n{strip_inline_comment(stripped)}".strip()
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]") or len(stripped) < 3:
                raise ConfigError(f"{origin}: malformed section header {stripped!r}")
            try:
                kind, name = split_header(stripped[1:-1])
            except ValueError as error:
                raise ConfigError(f"{origin}: {error} {stripped!r}") from None
            last_key = None
            current = RawSection(kind=kind, name=name, origin=origin)
            sections.append(current)
            continue
        separator = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if separator < 0 or current is None:
            if current is None:
                raise ConfigError(f"{origin}: key {stripped!r} appears before any [section]")
            current.problems.append(
                f"{origin} in {current.title}: expected 'KEY = value', got {stripped!r}")
            last_key = None
            continue
        name = line[:separator].strip().upper()
        value = strip_inline_comment(line[separator + 1 :].strip())
        if name in current.keys:
            first = current.keys[name].origin
            current.notes.append(f"{origin}: {current.title} {name} set twice (first at "
                                 f"{first}): {origin} wins")
            del current.keys[name]  # re-inserted below: file order follows the winning line
        last_key = RawKey(name=name, value=value, origin=origin, section_title=current.title)
        current.keys[name] = last_key
    return merge_repeated(sections)


def merge_repeated(sections: list[RawSection]) -> list[RawSection]:
    """A section given again (in one file or an INCLUDEd one) merges into the first, later keys
    winning, as configparser read StarCluster's files; each override is noted. Keys left
    empty are dropped afterwards."""
    merged: list[RawSection] = []
    first: dict[tuple[str, str], RawSection] = {}
    for section in sections:
        earlier = first.get((section.kind, section.name))
        if earlier is None:
            first[(section.kind, section.name)] = section
            merged.append(section)
            continue
        earlier.notes.append(f"{section.origin}: {section.title} given again (first at "
                             f"{earlier.origin}): its keys are merged, later ones win")
        earlier.notes.extend(section.notes)
        earlier.problems.extend(section.problems)
        for name, key in section.keys.items():
            if name in earlier.keys:
                earlier.notes.append(f"{key.origin}: {section.title} {name} set twice (first "
                                     f"at {earlier.keys[name].origin}): {key.origin} wins")
            earlier.keys[name] = key
    for section in merged:  # `KEY =` (or `KEY = #comment`) is not set, as in StarCluster
        section.keys = {k: key for k, key in section.keys.items() if key.value != ""}
    return merged


def read_config_files(path: Path) -> list[RawSection]:
    """Read PATH and every file named by `[global] INCLUDE`, depth first, each once."""
    seen: set[Path] = set()
    sections: list[RawSection] = []

    def visit(file: Path, included_from: Origin | None) -> None:
        where = f"{included_from}: [global] INCLUDE: " if included_from else ""
        try:
            resolved = file.expanduser().resolve()
        except (RuntimeError, OSError) as error:
            raise ConfigError(f"{where}cannot read config file {str(file)!r}: {error}") from None
        if resolved in seen:
            return
        seen.add(resolved)
        try:
            text = read_small_text(resolved, "config file")
        except FileNotFoundError:
            raise ConfigError(f"{where}config file {str(file)!r} not found") from None
        except ValueError as error:
            raise ConfigError(f"{where}{error}") from None
        parsed = parse_ini_text(text, str(file))
        sections.extend(parsed)
        for section in parsed:
            include = section.keys.get("INCLUDE") if section.kind == "global" else None
            if include is None:
                continue
            for item in split_list(include.value):
                if "://" in item:
                    raise ConfigError(f"{include.origin}: [global] INCLUDE: {item}: sclust reads "
                                      "local files only (StarCluster also fetched URLs): "
                                      "download it and INCLUDE its path")
                try:
                    child = expand_path(item)
                except ValueError as error:
                    raise ConfigError(f"{include.origin}: [global] INCLUDE: {error}") from None
                if not child.is_absolute():
                    child = resolved.parent / child
                visit(child, include.origin)

    visit(path, None)
    return merge_repeated(sections)


def split_list(value: str) -> list[str]:
    """A comma (or newline) separated list, blanks dropped."""
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]
