"""Find a plugin's class from SETUP_CLASS and turn its INI settings into typed arguments.

SETUP_CLASS may name one of our built-ins (`pkginstaller.PackageInstaller`), StarCluster's name
for it (`starcluster.plugins.pkginstaller.PackageInstaller`), or `module.Class` of a user plugin
in ~/.sclust/plugins (searched first, like StarCluster's ~/.starcluster/plugins).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import typing
from dataclasses import dataclass
from typing import Any

from sclust.paths import user_plugin_dir
from sclust.plugins.base import ClusterSetup

# StarCluster's built-in plugins that have an equivalent here.
STARCLUSTER_EQUIVALENTS = {
    "starcluster.plugins.pkginstaller.PackageInstaller":
        "sclust.plugins.pkginstaller.PackageInstaller",
    "starcluster.plugins.users.CreateUsers": "sclust.plugins.users.CreateUsers",
}
# StarCluster plugins whose work sclust does itself: listed in an old config, they do nothing.
BUILT_INTO_SCLUST = {
    "starcluster.plugins.sge.SGEPlugin": "Grid Engine is set up by sclust itself",
}
HOOKS = ("run", "on_add_node", "on_remove_node", "on_restart", "on_shutdown")


class PluginNotFound(ValueError):
    """SETUP_CLASS names nothing importable (the message says what was tried)."""


class NothingToDo(ClusterSetup):
    """Stands in for a StarCluster plugin whose work sclust already does."""

    def __init__(self, **settings: Any) -> None:
        super().__init__()


@dataclass(frozen=True)
class SettingProblem:
    key: str | None  # lower-case setting name, or None for the SETUP_CLASS itself
    message: str


def resolve(setup_class: str) -> type:
    """The class SETUP_CLASS names, importing user plugins from ~/.sclust/plugins first."""
    if setup_class in BUILT_INTO_SCLUST:
        return NothingToDo
    target = STARCLUSTER_EQUIVALENTS.get(setup_class, setup_class)
    if target.startswith("starcluster."):
        raise PluginNotFound(f"{setup_class} is a StarCluster plugin with no sclust equivalent"
                             f" (equivalents exist for: {', '.join(STARCLUSTER_EQUIVALENTS)})")
    module_name, _, class_name = target.rpartition(".")
    if not module_name:
        raise PluginNotFound(f"{setup_class!r}: expected module.ClassName")
    user_dir = str(user_plugin_dir())
    if user_dir not in sys.path:
        sys.path.insert(0, user_dir)
    alias_old_plugin_package()
    tried = []
    for candidate in (module_name, f"sclust.plugins.{module_name}"):
        tried.append(candidate)
        try:
            module = importlib.import_module(candidate)
        except ModuleNotFoundError as error:
            if error.name and candidate.startswith(error.name):
                continue  # the module itself is missing: try the next place
            raise PluginNotFound(f"{setup_class}: importing {candidate} failed: {error}") from None
        except Exception as error:  # a user plugin's own bug: say where
            raise PluginNotFound(f"{setup_class}: importing {candidate} failed: "
                                 f"{type(error).__name__}: {error}") from None
        found = getattr(module, class_name, None)
        if found is None:
            raise PluginNotFound(f"{setup_class}: module {candidate} has no {class_name}")
        if not (inspect.isclass(found) and any(hasattr(found, hook) for hook in HOOKS)):
            raise PluginNotFound(f"{setup_class}: {class_name} is not a plugin class "
                                 f"(it needs one of the hooks {', '.join(HOOKS)})")
        return found
    raise PluginNotFound(f"{setup_class}: no module {' or '.join(tried)} (user plugins go in "
                         f"{user_dir})")


BUILTIN_CLASSES = {"pkginstaller.PackageInstaller", "users.CreateUsers", "novnc.NoVNC"}


def is_builtin(setup_class: str) -> bool:
    """Whether SETUP_CLASS names one of sclust's own plugins (or a StarCluster name for one)."""
    return (setup_class in BUILTIN_CLASSES or setup_class in STARCLUSTER_EQUIVALENTS
            or setup_class in BUILT_INTO_SCLUST
            or setup_class.removeprefix("sclust.plugins.") in BUILTIN_CLASSES)


def alias_old_plugin_package() -> None:
    """Let user plugins written for sclust 0.1 (`from plugins.base import ClusterSetup`) load:
    `plugins` and `plugins.base` name our package while user plugins load, unless a real
    top-level `plugins` is already imported."""
    import sclust.plugins
    import sclust.plugins.base

    sys.modules.setdefault("plugins", sclust.plugins)
    sys.modules.setdefault("plugins.base", sclust.plugins.base)


def check(setup_class: str, settings: dict[str, str]) -> list[SettingProblem]:
    """What is wrong with a [plugin] section, without running anything."""
    try:
        cls = resolve(setup_class)
    except PluginNotFound as error:
        return [SettingProblem(None, str(error))]
    arguments, problems = convert(cls, settings)
    if not problems:
        try:
            cls(**arguments)  # the plugin's own checks of its values
        except (ValueError, TypeError) as error:
            problems.append(SettingProblem(None, f"{cls.__name__}: {error}"))
    return problems


def instantiate(name: str, setup_class: str, settings: dict[str, str]) -> ClusterSetup:
    """The configured plugin object (raises ValueError with every problem)."""
    cls = resolve(setup_class)
    arguments, problems = convert(cls, settings)
    if problems:
        raise ValueError("; ".join(f"{p.key}: {p.message}" if p.key else p.message
                                   for p in problems))
    plugin = cls(**arguments)
    plugin.name = name  # the [plugin NAME] the user knows it by
    if not hasattr(plugin, "reports"):
        plugin.reports = []  # a plugin that does not call ClusterSetup.__init__
    return plugin


def convert(cls: type, settings: dict[str, str]) -> tuple[dict[str, Any], list[SettingProblem]]:
    """SETTINGS (INI strings) as the keyword arguments of CLS.__init__, typed by annotation."""
    init = getattr(cls, "__init__")  # noqa: B009 (mypy: __init__ on a class object)
    signature = inspect.signature(init)
    parameters = {n: p for n, p in signature.parameters.items() if n != "self"}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # unresolvable annotations: treat values as strings
        hints = {}
    arguments: dict[str, Any] = {}
    problems = []
    named = {n for n, p in parameters.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    for key, text in settings.items():
        if key not in named and not takes_any:
            from sclust.suggest import did_you_mean

            problems.append(SettingProblem(key, f"{cls.__name__} takes no setting {key!r}"
                                                f"{did_you_mean(key, named)}"))
            continue
        try:
            arguments[key] = parse_value(text, hints.get(key, str))
        except ValueError as error:
            problems.append(SettingProblem(key, str(error)))
    for parameter_name, parameter in parameters.items():
        if (parameter.default is parameter.empty and parameter_name not in settings
                and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)):
            problems.append(SettingProblem(parameter_name, "required setting missing"))
    return arguments, problems


def parse_value(text: str, kind: Any) -> Any:
    """TEXT converted to KIND: str, int, float, bool, list[str] (or an Optional of those)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        kind = options[0] if options else str
        origin = typing.get_origin(kind)
    if origin in (list, tuple) or kind in (list, tuple):
        return [item for item in text.replace(",", " ").split() if item]
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ValueError(f"expected true or false, not {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, not {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, not {text!r}") from None
    return text
