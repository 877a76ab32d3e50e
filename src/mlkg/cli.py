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
    """Run the SHACL shapes and the span check; exit 1 on any violation."""
    from mlkg.build import validate_dataset
    from mlkg.store import load_dataset

    settings = _settings(ctx)
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
@click.pass_context
def build(ctx: click.Context, no_sources: bool) -> None:
    """Validate, then write the store the server reads (the previous one stays if anything fails)."""
    from mlkg.build import build as run_build

    settings = _settings(ctx)
    meta = run_build(settings, check_sources=not no_sources)
    click.echo(f"built store {meta.id}: {meta.triples} triples, {meta.graphs} named graphs -> {settings.store_link}")


@cli.command()
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Print the number of entities per class in the data."""
    from mlkg.stats import class_counts

    settings = _settings(ctx)
    for label, iri, count in class_counts(settings):
        click.echo(f"{count:6d}  {label} ({iri})")


def main() -> None:  # pragma: no cover
    cli(prog_name="mlkg")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
