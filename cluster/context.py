"""What every command shares, for the main CLI and the sub-CLIs alike (they import this,
never the main CLI): the context object, its decorator, confirmation and the error exit."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

from sclust.errors import SclustError

if TYPE_CHECKING:
    from sclust.cluster import ClusterManager
    from sclust.config import Config

log = logging.getLogger("sclust")


@dataclass
class AppContext:
    """What every command shares: the config file, --debug, --region, and what they open."""

    config_path: str | None = None
    debug: bool = False
    region: str | None = None
    # Mistakes in sections a command may not use are warnings; `validate` turns this off and
    # reports them as errors.
    warn_config_problems: bool = True
    _config: Config | None = field(default=None, repr=False)
    _manager: ClusterManager | None = field(default=None, repr=False)
    # Objects with a `plugin_outcomes` list (the manager, desktops): reported after a command.
    plugin_sources: list[Any] = field(default_factory=list, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from sclust.config import find_config, load_config

            self._config = load_config(find_config(self.config_path))
            for line in self._config.notes:
                click.echo(f"sclust: warning: {line}", err=True)
                log.warning("%s", line, extra={"file_only": True})
        return self._config

    @property
    def opened_manager(self) -> ClusterManager | None:
        """The command's cluster manager if it opened one (nothing is opened to ask)."""
        return self._manager

    def warn_unused_config_problems(self) -> None:
        """After a command went through: the config's mistakes it did not stop on (they were
        in sections it did not use), as warnings, once."""
        if self._config is None or not self.warn_config_problems:
            return
        left = [line for line in self._config.problems if line not in self._config.reported]
        for line in left:
            click.echo(f"sclust: warning: {line}", err=True)
        if left:
            click.echo("sclust: warning: (in sections this command did not use; `sclust "
                       "validate` reports them as errors)", err=True)
        self._config.reported.update(left)

    def manager(self) -> ClusterManager:
        """The command's cluster manager (one per command: plugin outcomes collect in it)."""
        if self._manager is None:
            from sclust.cluster import ClusterManager
            from sclust.connect import open_cloud
            from sclust.progress import Progress

            config = self.config
            self._manager = ClusterManager(open_cloud(config, self.region), Progress(),
                                           key_file=lambda name: config.key_pair(name).location,
                                           plugin_config=self.plugin_spec,
                                           refresh_interval=config.refresh_interval)
            self.plugin_sources.append(self._manager)
        return self._manager


    def plugin_spec(self, name: str, strict: bool = False) -> dict[str, Any] | None:
        """The config's [plugin NAME] as a spec; None when absent, or when not valid unless
        STRICT (then its FILE:LINE errors end the command)."""
        from dataclasses import asdict

        from sclust.config import plugin_from

        section = self.config.named("plugin").get(name)
        if section is None:
            return None
        errors: list[str] = list(section.problems)  # a mistake in the section itself
        spec = plugin_from(section, errors)
        if errors and strict:
            fail("\n".join(errors))
        return None if errors else asdict(spec)


pass_app = click.make_pass_decorator(AppContext)


def debug_requested(ctx: click.Context) -> bool:
    app = ctx.find_object(AppContext)
    return bool(app and app.debug)


def fail(message: str) -> NoReturn:
    for line in message.splitlines() or ["failed"]:
        click.echo(f"sclust: error: {line}", err=True)
    log.error(message, extra={"file_only": True})
    sys.exit(1)


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise SclustError(f"{question} — not confirmed: no terminal to ask on; pass --yes")
    if not click.confirm(question, default=False):
        raise SclustError("cancelled")


class NameParam(click.ParamType):
    """A cluster tag, course or alias on the command line: refused before anything runs if
    it breaks the naming rule (an empty `$TAG` must never match every cluster)."""

    name = "name"

    def __init__(self, what: str, template: bool = False) -> None:
        self.what = what
        self.template = template

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from sclust.names import name_problem

        problem = name_problem(str(value), self.template)
        if problem:
            self.fail(f"{self.what} {problem}", param, ctx)
        return str(value)

    def shell_complete(self, ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[Any]:
        """Templates from the config; cluster tags from EC2 (nothing when either fails)."""
        from click.shell_completion import CompletionItem

        names = completion_names(ctx, self.what)
        return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


def completion_names(ctx: click.Context, what: str) -> list[str]:
    """What a shell may offer for a NameParam: never an error, never a prompt."""
    root = ctx.find_root()
    app = AppContext(config_path=root.params.get("config_path"),
                     region=root.params.get("region"), warn_config_problems=False)
    try:
        if what == "template name":
            return app.config.template_names
        if what == "cluster tag":
            return [info.tag for info in app.manager().list_clusters()]
    except Exception:  # noqa: BLE001 (completion offers nothing rather than failing)
        log.debug("no completion for %s", what, exc_info=True)
    return []


CLUSTER_TAG = NameParam("cluster tag")
COURSE_NAME = NameParam("course name")
NODE_ALIAS = NameParam("node alias")
TEMPLATE_NAME = NameParam("template name", template=True)


class FiniteFloat(click.FloatRange):
    """click's FloatRange without `nan` and `inf` (both slip through its comparisons)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number
