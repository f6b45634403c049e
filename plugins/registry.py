"""Find a plugin's class from SETUP_CLASS and turn its INI settings into typed arguments.

SETUP_CLASS may name one of our built-ins (`pkginstaller.PackageInstaller`), StarCluster's name
for it (`starcluster.plugins.pkginstaller.PackageInstaller`), or `module.Class` of a user plugin
in ~/.sclust/plugins or ~/.starcluster/plugins (searched first, in that order: a user module is
never shadowed by a built-in or any other module of the same name). While user plugins load,
`import starcluster.clustersetup` & co. find sclust's compatibility layer
(sclust.plugins.starcluster_compat), so plugins written for StarCluster load unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sclust.paths import user_plugin_dirs
from sclust.plugins import starcluster_compat
from sclust.plugins.base import ClusterSetup

# StarCluster's built-in plugins that have an equivalent here.
STARCLUSTER_EQUIVALENTS = {
    "starcluster.plugins.pkginstaller.PackageInstaller":
        "sclust.plugins.pkginstaller.PackageInstaller",
    "starcluster.plugins.users.CreateUsers": "sclust.plugins.users.CreateUsers",
    "starcluster.plugins.pypkginstaller.PyPkgInstaller":
        "sclust.plugins.pypkginstaller.PyPkgInstaller",
    "starcluster.plugins.tmux.TmuxControlCenter": "sclust.plugins.tmux.TmuxControlCenter",
    "starcluster.plugins.xvfb.XvfbSetup": "sclust.plugins.xvfb.XvfbSetup",
    "starcluster.plugins.mpich2.MPICH2Setup": "sclust.plugins.mpi.MPICH2Setup",
}
# StarCluster plugins whose work sclust does itself: listed in an old config, they do nothing.
BUILT_INTO_SCLUST = {
    "starcluster.plugins.sge.SGEPlugin": "Grid Engine is set up by sclust itself",
}
# StarCluster's built-ins sclust does not carry, and why (SETUP_CLASS module -> reason).
NO_EQUIVALENT = {
    "hadoop": "Hadoop 1.x on the cluster's nodes (CDH3 packages gone since 2014); run Spark or "
              "Hadoop on EMR, or install it with your own plugin",
    "condor": "HTCondor as a second batch system beside SGE; sclust sets up one scheduler "
              "(SCHEDULER = sge)",
    "mysql": "MySQL Cluster (NDB) on the nodes, packages of Ubuntu 11.10; use RDS or a plugin of "
             "your own",
    "ipcluster": "IPython.parallel of IPython 0.13–2.x (now ipyparallel): not carried yet",
    "ipcluster.IPClusterStop": "IPython.parallel of IPython 0.13–2.x: not carried yet",
    "ipcluster.IPClusterRestartEngines": "IPython.parallel of IPython 0.13–2.x: not carried yet",
    "boto": "boto 2 (Python 2) on the nodes; install boto3 with pypkginstaller",
    "s3fs": "s3fs-fuse from source on the nodes, with keys: use s3mount.S3Mount (the "
            "instances' role, IAM_PROFILE)",
    "sge": "",
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
    """The class SETUP_CLASS names: a user plugin (~/.sclust/plugins, ~/.starcluster/plugins)
    first, then a built-in."""
    if setup_class in BUILT_INTO_SCLUST:
        return NothingToDo
    target = STARCLUSTER_EQUIVALENTS.get(setup_class, setup_class)
    if target.startswith("starcluster."):
        why = NO_EQUIVALENT.get(setup_class.rsplit(".", 1)[0].removeprefix("starcluster.plugins."))
        reason = f": {why}" if why else ""
        raise PluginNotFound(f"{setup_class} is a StarCluster plugin with no sclust equivalent"
                             f"{reason} (equivalents exist for: "
                             f"{', '.join(sorted(STARCLUSTER_EQUIVALENTS))})")
    module_name, _, class_name = target.rpartition(".")
    if not module_name:
        raise PluginNotFound(f"{setup_class!r}: expected module.ClassName")
    with starcluster_compat.active():
        alias_old_plugin_package()
        module, where = import_plugin_module(setup_class, module_name)
    found = getattr(module, class_name, None)
    if found is None:
        raise PluginNotFound(f"{setup_class}: module {where} has no {class_name}")
    if not (inspect.isclass(found) and any(hasattr(found, hook) for hook in HOOKS)):
        raise PluginNotFound(f"{setup_class}: {class_name} is not a plugin class "
                             f"(it needs one of the hooks {', '.join(HOOKS)})")
    return found


def user_module_path(directory: Path, top: str) -> Path | None:
    """DIRECTORY/TOP.py or DIRECTORY/TOP/__init__.py, if the user wrote one."""
    for candidate in (directory / f"{top}.py", directory / top / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def import_plugin_module(setup_class: str, module_name: str) -> tuple[ModuleType, str]:
    """MODULE_NAME from the user plugin directories, else as a built-in; and where it was."""
    top = module_name.split(".")[0]
    for directory in user_plugin_dirs():
        path = user_module_path(directory, top)
        if path is not None:
            return load_user_module(setup_class, directory, path, module_name), str(path)
    tried = []
    for candidate in (module_name, f"sclust.plugins.{module_name}"):
        tried.append(candidate)
        try:
            return importlib.import_module(candidate), candidate
        except ModuleNotFoundError as error:
            if error.name and candidate.startswith(error.name):
                continue  # the module itself is missing: try the next place
            raise PluginNotFound(f"{setup_class}: importing {candidate} failed: {error}") from None
        except Exception as error:  # noqa: BLE001 (reported as the plugin's problem)
            raise PluginNotFound(f"{setup_class}: importing {candidate} failed: "
                                 f"{type(error).__name__}: {error}") from None
    places = " or ".join(str(d) for d in user_plugin_dirs())
    raise PluginNotFound(f"{setup_class}: no module {' or '.join(tried)} (user plugins go in "
                         f"{places})")


def load_user_module(setup_class: str, directory: Path, path: Path,
                     module_name: str) -> ModuleType:
    """The user's module, loaded from PATH under a name of its own
    (`sclust_user_plugins.<dir>.<name>`), so that a built-in, the standard library or an
    installed package of the same name never stands in for it. DIRECTORY goes on sys.path
    for the helpers the plugin imports, as StarCluster put ~/.starcluster/plugins there."""
    top, _, rest = module_name.partition(".")
    import hashlib

    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    private = f"sclust_user_plugins.d{digest}.{top}"
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    try:
        module = sys.modules.get(private)
        if module is None:
            package_dir = [str(path.parent)] if path.name == "__init__.py" else None
            spec = importlib.util.spec_from_file_location(
                private, path, submodule_search_locations=package_dir)
            if spec is None or spec.loader is None:
                raise PluginNotFound(f"{setup_class}: cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[private] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[private]
                raise
        if rest:
            module = importlib.import_module(f"{private}.{rest}")
        return module
    except PluginNotFound:
        raise
    except Exception as error:  # noqa: BLE001 (a user plugin's own bug: say where)
        raise PluginNotFound(f"{setup_class}: importing {path} failed: "
                             f"{type(error).__name__}: {error}") from None


BUILTIN_CLASSES = {"pkginstaller.PackageInstaller", "users.CreateUsers", "novnc.NoVNC",
                   "pypkginstaller.PyPkgInstaller", "tmux.TmuxControlCenter", "xvfb.XvfbSetup",
                   "mpi.MPICH2Setup", "mpi.OpenMPISetup"}


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
