"""``tradeoff http ...``: HTTP caching semantics from the command line.

``tradeoff http explain -H 'Cache-Control: max-age=60' -H 'ETag: "x"' --age 30`` prints,
for a browser and a shared cache, whether the response is stored, its freshness lifetime
and where it came from, whether it is fresh at that age, and what the cache does next
(serve, serve stale, or send which validation request)."""
from __future__ import annotations

import click

from ._app import cli, fail


@cli.group("http")
def http_group() -> None:
    """HTTP caching semantics (RFC 9111): what a browser and a shared cache do."""


@http_group.command("explain")
@click.option("-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'",
              help="A response header field (repeatable).")
@click.option("-R", "--request-header", "request_headers", multiple=True, metavar="'NAME: VALUE'",
              help="A header field of the request that reuses the response (repeatable).")
@click.option("--age", default=0.0, show_default=True, type=float,
              help="Seconds since the cache received the response.")
@click.option("--status", default=200, show_default=True, type=int, help="The response status code.")
@click.option("--method", default="GET", show_default=True, help="The request method.")
@click.option("--shared/--private", "shared", default=None,
              help="Only the shared cache, or only the browser (default: both).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def explain_cmd(headers, request_headers, age, status, method, shared, fmt) -> None:
    """For the response headers given with -H, what a browser (private cache) and a
    shared cache (proxy or CDN, honouring Surrogate-Control) do, and why.

    \b
    tradeoff http explain -H 'Cache-Control: max-age=60' -H 'ETag: "x"' --age 90
    tradeoff http explain -H 'Cache-Control: s-maxage=600, max-age=0' --shared
    tradeoff http explain -H 'Cache-Control: max-age=60' -R 'Cache-Control: no-cache'
    """
    from ..http._explain import explain, parse_header_lines, render

    if age < 0:
        fail(f"--age must be >= 0, got {age:g}")
    if not 100 <= status <= 999:
        fail(f"--status must be from 100 to 999, got {status}")
    try:
        resp = parse_header_lines(headers)
        req = parse_header_lines(request_headers)
    except ValueError as exc:
        fail(str(exc))
    caches = ("browser", "shared") if shared is None else (("shared",) if shared else ("browser",))
    click.echo(render(explain(resp, req, age=age, status=status, method=method, caches=caches), fmt))
