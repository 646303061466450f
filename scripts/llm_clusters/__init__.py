"""The library behind the scripts in scripts/, in layers; each imports only the layers above it
and the shared modules:

    read/      a saved tool result (or PostHog's answer), whatever its shape, into runs or tables
    posthog/   the HogQL that does the heavy work inside PostHog, the API client, UI links
    analyse/   per-cluster measurements and statistics, what changed between runs
    views/     what the scripts print: text, Markdown or JSON (report/: the HTML page)
    commands/  one module per script: its flags, one call into the layers above, the output

Shared by all: `model` (runs, clusters, items), `run_ids`, `timestamps`, `display` (untrusted
text made safe to show, numbers made short), `errors` (exit statuses and the exceptions that
become messages), `environment` (the streams and variables a command is given) and `cli` (the
one wrapper that runs a command and turns its errors into messages).

Two imports go the other way, where the data ties layers together: the reader hands an
overview query's answer to `analyse.overview` (imported only then), and `posthog.compare_sql`
cuts titles and descriptions at the lengths `analyse.similarity` compares.
"""
