"""The report: one self-contained HTML page (or its Markdown twin) about a run, its metrics
and how its clusters moved between runs. `inputs` reads the saved results, `content` turns them
into format-neutral findings, `html` writes the page with `svg` (the map, bars and flow),
`changes` (the section on how clusters moved) and `markup` (untrusted text made safe for
HTML); `markdown` writes the twin."""
