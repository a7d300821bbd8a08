"""The ``flowai-nb`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``flowai-nb``.

    ``demo [--yes]`` runs the offline demo, ``studio APP`` serves Studio for an
    app, ``mcp APP`` serves an app's runtime over MCP (stdio, or ``--http``),
    ``version`` prints the version.
    """
    parser = argparse.ArgumentParser(prog="flowai-nb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from .demo import add_arguments

    add_arguments(sub.add_parser(
        "demo", help="run an agent with an approval, offline, on embedded DuckDB"))
    from .studio.server import add_arguments as studio_arguments

    studio_arguments(sub.add_parser(
        "studio", help="serve the Studio web UI and API for an app (module:attribute)"))
    sub.add_parser("version", help="print the flowai_nb version")
    from .mcp.cli import add_arguments as add_mcp_arguments

    add_mcp_arguments(sub.add_parser(
        "mcp", help="serve an app's runtime to MCP clients (stdio, or --http)"))
    args = parser.parse_args(argv)
    if args.command == "studio":
        from .studio.server import main as studio

        return studio(args)
    if args.command == "version":
        from . import __version__

        print(__version__)
        return 0
    if args.command == "mcp":
        from .mcp.cli import main as mcp

        return mcp(args)
    from .demo import main as demo

    return asyncio.run(demo(yes=args.yes))


if __name__ == "__main__":
    sys.exit(main())
