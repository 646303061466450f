"""Reading: a saved tool result (or PostHog's answer), whatever its shape, into runs or tables.

Bytes become text piece by piece (`textsource`), JSON is parsed by ijson as it streams
(`jsonparse`), execute-sql's pipe table is split into cells (`pipetable`), cut results are
recognised (`truncation`); `interpret` names what each column or key holds and builds the
`model` runs; `reader` ties them together for runs, `table_reader` for any other result
(`tables`: the table and its cells).
"""
