"""sigma-cli's `convert --skip-unsupported`, done rule by rule.

sigma-cli 3.1.0 with pySigma-backend-kusto 1.0.1 aborts the whole run at the first rule the
backend cannot convert, even with --skip-unsupported: the backend raises an exception outside
pySigma's SigmaError family, which the base class re-raises instead of collecting. This driver
does the same work as sigma-cli in one process — the same plugin discovery, pipeline resolver,
rule loading (`sigma.cli.rules.load_rules`) and backend — but catches any exception per rule, so
the run completes and every convertible rule is converted.

usage: python pysigma_convert.py TARGET PIPELINE DIR... > queries
Prints the queries on stdout and "converted N failed M" on stderr.
"""
import pathlib
import sys

from sigma.cli.rules import load_rules
from sigma.plugins import InstalledSigmaPlugins


def main() -> int:
    target, pipeline, *dirs = sys.argv[1:]
    plugins = InstalledSigmaPlugins.autodiscover()
    backend_class = plugins.backends[target]
    processing_pipeline = plugins.get_pipeline_resolver().resolve([pipeline], None)
    backend = backend_class(processing_pipeline=processing_pipeline, collect_errors=True)
    rules = load_rules([pathlib.Path(d) for d in dirs], "*.yml")
    fmt = backend.default_format
    queries, failed = [], 0
    for rule in rules:
        try:
            queries.extend(backend.convert_rule(rule, fmt))
        except Exception:  # noqa: BLE001 — what --skip-unsupported should have done
            failed += 1
    failed += len(backend.errors)
    out = backend.finalize(queries, fmt)
    sys.stdout.write(out if isinstance(out, str) else "\n".join(map(str, out)))
    sys.stdout.write("\n")
    sys.stderr.write(f"converted {len(queries)} failed {failed}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
