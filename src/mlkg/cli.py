"""The `mlkg` command line: thin wrappers that parse arguments, call the core and print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlkg.config import Settings
from mlkg.errors import MlkgError


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


class _Group(click.Group):
    """Turn MlkgError into a clean message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except MlkgError as exc:
            raise click.ClickException(exc.detail) from exc


@click.group(cls=_Group)
@click.option("--sources", type=click.Path(path_type=Path), envvar="MLKG_SOURCES",
              help="Folder of the source documents (default ../shared/seeds).")
@click.pass_context
def cli(ctx: click.Context, sources: Path | None) -> None:
    """mlkg: build, validate, query and serve the ML-engineer career knowledge graph."""
    settings = Settings()
    if sources is not None:
        settings = settings.with_overrides(sources_dir=sources.resolve())
    ctx.obj = settings


@cli.command()
@click.argument("file_name")
@click.argument("needle")
@click.option("--nth", default=1, show_default=True, help="Which occurrence.")
@click.option("--after", default=0, show_default=True, help="Search from this offset.")
@click.pass_context
def locate(ctx: click.Context, file_name: str, needle: str, nth: int, after: int) -> None:
    """Print the span IRI of NEEDLE in source document FILE_NAME (a curator's tool)."""
    from mlkg.namespaces import SOURCE
    from mlkg.provenance import locate as find, read_source

    text = read_source(_settings(ctx).sources_dir, file_name)
    try:
        start, end = find(text, needle, nth=nth, after=after)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    stem = Path(file_name).stem
    click.echo(f"{start} {end} <{SOURCE}{stem}/c{start}-{end}>")


@cli.command()
@click.option("--uncovered", is_flag=True, help="List the content lines no span touches.")
@click.pass_context
def spans(ctx: click.Context, uncovered: bool) -> None:
    """Check every evidence span against the source documents and report coverage."""
    from mlkg.provenance import check_spans, load_texts, measure_coverage
    from mlkg.store import load_dataset, union_graph

    settings = _settings(ctx)
    graph = union_graph(load_dataset(settings.ontology_dir, settings.data_dirs))
    texts = load_texts(graph, settings.sources_dir)
    problems = check_spans(graph, texts)
    for problem in problems:
        click.echo(f"{problem.node}  {problem.span}: {problem.message}")
    for cov in measure_coverage(graph, texts):
        click.echo(f"{cov.doc}: {cov.covered_lines}/{cov.lines} content lines covered ({cov.ratio:.0%})")
        if uncovered:
            for number, line in cov.uncovered:
                click.echo(f"  line {number}: {line[:100]}")
    if problems:
        raise click.ClickException(f"{len(problems)} span problem(s)")


@cli.command()
@click.option("--no-sources", is_flag=True, help="Skip the span check (when the source documents are absent).")
@click.pass_context
def validate(ctx: click.Context, no_sources: bool) -> None:
    """Run the SHACL shapes and the span check, and load the canned queries; exit 1 on any problem."""
    from mlkg.build import validate_dataset
    from mlkg.queries import load_catalogue
    from mlkg.store import load_dataset

    settings = _settings(ctx)
    catalogue = load_catalogue(settings.queries_dir)  # a broken query file fails here, with file and line
    click.echo(f"{len(catalogue)} canned queries load and parse ({settings.queries_dir})")
    dataset = load_dataset(settings.ontology_dir, settings.data_dirs)
    violations = validate_dataset(settings, dataset, check_sources=not no_sources)
    for violation in violations:
        click.echo(violation.render())
    if violations:
        raise click.ClickException(f"{len(violations)} violation(s)")
    click.echo(f"conforms: {sum(1 for _ in dataset.quads((None, None, None, None)))} quads checked"
               + ("" if no_sources else ", every span checked against the source documents"))


@cli.command()
@click.option("--no-sources", is_flag=True, help="Skip the span check (when the source documents are absent).")
@click.option("--store", "store_url", envvar="MLKG_STORE_URL", default=None,
              help="Also load a remote SPARQL 1.1 store: its query endpoint URL (env MLKG_STORE_URL).")
@click.option("--gsp", "gsp_url", default=None,
              help="Graph Store Protocol URL of that store (default: the URL with /query -> /store).")
@click.pass_context
def build(ctx: click.Context, no_sources: bool, store_url: str | None, gsp_url: str | None) -> None:
    """Validate, then write the store the server reads (the previous one stays if anything fails)."""
    from mlkg.build import build as run_build

    settings = _settings(ctx)
    meta = run_build(settings, check_sources=not no_sources)
    click.echo(f"built store {meta.id}: {meta.triples} triples, {meta.graphs} named graphs -> {settings.store_link}")
    if store_url:
        from mlkg.backends import load_remote

        loaded = load_remote(settings.store_link.resolve(), store_url, gsp_url)
        click.echo(f"loaded {loaded} graphs into the remote store {store_url}")


@cli.command("check-store")
@click.pass_context
def check_store(ctx: click.Context) -> None:
    """Read every block of the store in service; exit 1 if one is corrupt (servers then see it),
    2 if it could not be checked (no store, or one that will not open)."""
    from mlkg.build import current_store
    from mlkg.errors import StoreCorruptError
    from mlkg.integrity import check

    settings = _settings(ctx)
    try:
        store_dir = current_store(settings)
        finding = check(store_dir, settings.var_dir)
    except StoreCorruptError:
        raise
    except MlkgError as exc:  # nothing was read: not a finding about the data
        click.echo(f"Error: cannot check the store: {exc.detail}", err=True)
        ctx.exit(2)
    if finding.problem is not None:
        raise StoreCorruptError(finding.problem)
    click.echo(f"the store at {store_dir} reads back whole: every block of its indexes "
               f"({finding.quads} quads) read in {finding.seconds:.1f} s")


@cli.command()
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Print the number of entities per class in the data."""
    from mlkg.stats import class_counts

    settings = _settings(ctx)
    for label, iri, count in class_counts(settings):
        click.echo(f"{count:6d}  {label} ({iri})")


@cli.command()
@click.option("--format", "format_name", default=None,
              help="ttl, jsonld, nt, rdf, trig or nq (default: from the -o suffix, else ttl).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default: standard output).")
@click.option("--no-description", is_flag=True, help="Leave the VoID/DCAT description out of the dump.")
@click.pass_context
def export(ctx: click.Context, format_name: str | None, output: Path | None, no_description: bool) -> None:
    """Dump the built graph, streamed (TriG and N-Quads keep one named graph per file)."""
    from mlkg.exports import description, export_for, open_store, write_export

    if output is not None and str(output) == "-":
        output = None  # '-' is standard output, as for other tools
    elif output is not None and not output.name:
        raise click.BadParameter(f"{str(output)!r} names no file", param_hint="'-o' / '--output'")
    settings = _settings(ctx)
    if format_name is None:
        format_name = output.suffix.lstrip(".") if output is not None and output.suffix else "ttl"
    fmt = export_for(format_name)
    store, meta = open_store(settings)
    about = () if no_description else description(settings, store, meta)
    if output is None:
        write_export(store, fmt, click.get_binary_stream("stdout"), description=about)
        return
    # a file goes in whole or not at all; a pipe or device (/dev/stdout, >(gzip >f)) is written
    # into, never replaced by a file renamed over it
    direct = output.exists() and not output.is_file()
    tmp = output if direct else output.with_name(f".{output.name}.part")
    try:
        with tmp.open("wb") as out:
            write_export(store, fmt, out, description=about)
        if not direct:
            tmp.replace(output)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    finally:
        if not direct:
            tmp.unlink(missing_ok=True)
    click.echo(f"wrote {output} ({fmt.media_type}) from store {meta.id}", err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="MLKG_HOST", help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, envvar="MLKG_PORT",
              help="Port (0: the OS picks one).")
@click.option("--processes", type=click.IntRange(min=1), default=2, show_default=True, envvar="MLKG_PROCESSES",
              help="Server processes sharing the port.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Threads per server process [env MLKG_THREADS; 8].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Query worker processes per server process [env MLKG_WORKERS; 2].")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Query time limit in s [env MLKG_QUERY_TIMEOUT; 10].")
@click.option("--result-limit", type=click.IntRange(min=1), default=None,
              help="Most rows or triples in one answer [env MLKG_RESULT_LIMIT; 10000].")
@click.option("--max-body", type=click.IntRange(min=1), default=None, help="Largest request body in bytes [env MLKG_MAX_BODY; 1000000].")
@click.option("--store", "store_url", default=None,
              help="Answer from a remote SPARQL 1.1 endpoint instead of the built store [env MLKG_STORE_URL].")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, processes: int, threads: int | None, workers: int | None,
          timeout: float | None, result_limit: int | None, max_body: int | None, store_url: str | None) -> None:
    """Run the production server (granian processes; prints the URL it listens on)."""
    from mlkg.serve import ServeOptions, serve as run_server

    settings = _settings(ctx)
    overrides = {"threads": threads, "workers": workers, "query_timeout": timeout, "result_limit": result_limit,
                 "max_body": max_body, "store_url": store_url}
    settings = settings.with_overrides(**{k: v for k, v in overrides.items() if v is not None})
    options = ServeOptions(host=host, port=port, processes=processes, threads=settings.threads)
    run_server(settings, options, echo=lambda line: click.echo(line))


@cli.command()
@click.pass_context
def reload(ctx: click.Context) -> None:
    """Tell running `mlkg serve` processes to swap in the store `var/current` now points at (SIGHUP)."""
    from mlkg.serve import reload_servers

    settings = _settings(ctx)
    pids = reload_servers(settings)
    if not pids:
        raise click.ClickException(f"no running `mlkg serve` found for {settings.var_dir}")
    click.echo(f"asked {len(pids)} server(s) to reload: {', '.join(map(str, pids))}")


@cli.command()
@click.option("--triples", default=10_000, show_default=True, help="About how many triples to write.")
@click.option("--seed", default=1, show_default=True, help="Random seed (same seed, same graph).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="N-Triples file to write (a .ttl name writes Turtle).")
def synth(triples: int, seed: int, output: Path) -> None:
    """Write a synthetic graph in mlkg's schema (for benchmarks and load tests)."""
    from mlkg.synth import write_synthetic

    written = write_synthetic(output, triples=triples, seed=seed)
    click.echo(f"wrote {written} triples to {output}")


@cli.command()
@click.argument("name_or_file")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter value (repeat for several).")
@click.option("-f", "--format", "format_name", default="table", show_default=True,
              type=click.Choice(["table", "json", "csv", "tsv", "srj", "srx"]), help="Output format.")
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1), help="Page of a paged answer.")
@click.pass_context
def query(ctx: click.Context, name_or_file: str, params: tuple[str, ...], format_name: str, page: int) -> None:
    """Run a canned query by NAME (see `mlkg queries`) or a FILE.rq, on the built store."""
    from mlkg.backends import EmbeddedBackend
    from mlkg.build import current_store
    from mlkg.catalogue_run import MAX_PAGE, answer_formats, run_canned
    from mlkg.queries import RESERVED, load_catalogue, load_query

    if page > MAX_PAGE:  # the engine would refuse its OFFSET as a "Malformed query"
        raise click.BadParameter(f"{page} is past the last page there can be, {MAX_PAGE}",
                                 param_hint="'--page'")
    settings = _settings(ctx)
    if name_or_file.endswith(".rq"):
        path = Path(name_or_file)
        if not path.is_file():
            raise click.ClickException(f"no such query file: {name_or_file}")
        canned = load_query(path, require_summary=False)
    else:
        canned = load_catalogue(settings.queries_dir).get(name_or_file)
        if canned is None:
            raise click.ClickException(f"no canned query called {name_or_file!r}; `mlkg queries` lists them")
    args: dict[str, list[str]] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.ClickException(f"--param takes NAME=VALUE, got {item!r}")
        if key in RESERVED:  # page and format: bindings() would pass over them
            raise click.ClickException(f"{key!r} is not a query parameter: use --{key}")
        args.setdefault(key, []).append(value)
    offered = ["table", *(f.name for f in answer_formats(canned.form) if f.name != "html")]
    if format_name not in offered:  # csv or tsv for an ASK (the answer's own message offers html)
        raise click.BadParameter(
            f"an ASK query's answer (true or false) has no {format_name} form (CSV and TSV carry "
            f"SELECT tables); use {', '.join(offered[:-1])} or {offered[-1]}",
            param_hint="'-f' / '--format'")
    answer = run_canned(EmbeddedBackend(current_store(settings)), canned, args, page=page)
    text = answer.serialize(format_name).decode()
    click.echo(text, nl=not text.endswith("\n"))  # JSON ends without one: the shell's prompt


@cli.command()
@click.pass_context
def queries(ctx: click.Context) -> None:
    """List the canned queries: name, parameters and summary."""
    from mlkg.queries import load_catalogue

    for canned in load_catalogue(_settings(ctx).queries_dir):
        params = ", ".join(f"{p.name}:{p.type_name}{'' if p.needed else '?'}" for p in canned.parameters)
        click.echo(f"{canned.name:<38} {canned.summary}" + (f"  [{params}]" if params else ""))


def main() -> None:  # pragma: no cover
    cli(prog_name="mlkg")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
