"""The link flags and environment variables every script that prints links shares, kept apart
from `links.py` so that a script run without --links never imports the link builder.

    add_link_options(parser, links_flag=True)  # --links, --host, --project-id, --route
    links = builder_from_args(args, environment.variables) if args.links else None
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import Mapping

from ..environment import HOST_ENV, PROJECT_ENV, ROUTE_ENV

if TYPE_CHECKING:
    from .links import LinkBuilder

ROUTES = ("llm-analytics", "ai-observability")
DEFAULT_ROUTE = "llm-analytics"


def add_link_options(parser: argparse.ArgumentParser, links_flag: bool = False) -> None:
    """The flags every script that prints links takes, with the same names and help; with
    `links_flag`, also `--links` (print them at all). `--host` and `--project-id` mean the same
    in live mode, so they are added only when the parser does not have them yet."""
    if links_flag:
        parser.add_argument("--links", action="store_true",
                            help="add PostHog UI links to what the output names (run, clusters, items)")
    present = set(getattr(parser, "_option_string_actions", {}))
    if "--host" not in present:
        parser.add_argument("--host", metavar="HOST",
                            help=f"your PostHog: us, eu, or a URL such as https://posthog.example.com "
                            f"(default: env {HOST_ENV}, else us)")
    if "--project-id" not in present:
        parser.add_argument("--project-id", metavar="ID",
                            help=f"write project-scoped links (/project/ID/…): the digits after "
                            f"/project/ in your PostHog URLs (default: env {PROJECT_ENV}, if set)")
    parser.add_argument("--route", choices=ROUTES,
                        help=f"route family of your PostHog's UI (default: env {ROUTE_ENV}, else "
                        f"{DEFAULT_ROUTE}; newer PostHog also serves ai-observability)")


def builder_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> "LinkBuilder":
    from .links import LinkBuilder

    return LinkBuilder.create(args.host, args.route, args.project_id, env)
