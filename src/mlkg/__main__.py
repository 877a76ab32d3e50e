from mlkg.cli import cli

cli()
