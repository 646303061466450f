"""The report: one self-contained HTML page (or its Markdown twin) about a run, its metrics
and how its clusters moved between runs. `inputs` reads the saved results, `content` turns them
into format-neutral findings, `html`/`svg` and `markdown` write them."""
