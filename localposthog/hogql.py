"""Turn the HogQL an agent writes into ClickHouse SQL that chdb runs, or say clearly why not.

PostHog compiles HogQL to ClickHouse; this module does the small part of that an agent relies
on: `properties.$ai_model` chains (read from the `properties` JSON string the way HogQL prints
them, or from the materialised column or property group where PostHog has one),
`toFloat`/`toInt`, and `$`-names as column references. It works on tokens, so text inside string
literals, quoted identifiers and comments is never touched. Given a `now`, it also stops the
clock there (`now()`, `now64()`, `today()`, `yesterday()`), so relative-time queries such as
`timestamp >= now() - INTERVAL 7 DAY` find a fixed dataset's traffic whatever today's date is.
Anything HogQL would accept but this stand-in cannot run (other tables, placeholders, person
properties) raises `QueryError` naming the construct instead of failing somewhere inside
ClickHouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

__all__ = ["QueryError", "Token", "tokenize", "rewrite", "PreparedQuery"]


class QueryError(Exception):
    """A query PostHog would refuse (or this stand-in cannot run); the message names why."""


@dataclass(frozen=True)
class Token:
    kind: str  # string | quoted | comment | space | number | ident | punct
    text: str


_TOKEN_RE = re.compile(
    r"""
    (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<quoted>"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<space>\s+)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(sql: str) -> list[Token]:
    """Split SQL into tokens; an unterminated string or comment is a QueryError."""
    tokens: list[Token] = []
    position = 0
    for match in _TOKEN_RE.finditer(sql):
        if match.start() != position:
            break
        kind = match.lastgroup or "punct"
        text = match.group()
        if kind == "punct" and text in "'\"`":
            opening = sql[position:position + 40]
            raise QueryError(f"unterminated quoted text starting at character {position}: {opening!r}")
        if kind == "punct" and sql.startswith("/*", position):
            raise QueryError(f"unterminated comment starting at character {position}")
        tokens.append(Token(kind, text))
        position = match.end()
    return tokens


# HogQL functions that PostHog prints as another ClickHouse call, as (ClickHouse function, text
# inserted after the first argument): `toFloat(x)` is `accurateCastOrNull(x, 'Float64')`, and
# `parseDateTimeBestEffort(x[, tz])` is `parseDateTime64BestEffortOrNull(x, 6[, tz])`.
_SUGAR_FUNCTIONS = {
    "tofloat": ("accurateCastOrNull", ", 'Float64'"),
    "toint": ("accurateCastOrNull", ", 'Int64'"),
    "parsedatetimebesteffort": ("parseDateTime64BestEffortOrNull", ", 6"),
}

# ClickHouse table functions and statements HogQL never lets through; chdb would happily read
# local files or the network with them.
_FORBIDDEN_FUNCTIONS = {
    "file", "url", "s3", "s3cluster", "hdfs", "remote", "remotesecure", "cluster", "mysql",
    "postgresql", "sqlite", "mongodb", "redis", "jdbc", "odbc", "executable", "input", "azureblobstorage",
    "gcs", "deltalake", "iceberg", "hudi", "dictionary", "generaterandom", "system",
}

# HogQL virtual tables/joins an agent may reach for; the local PostHog only has `events`.
_VIRTUAL_PREFIXES = {"person", "persons", "pdi", "session", "sessions", "group_0", "group_1", "group_2"}

_CLAUSE_ENDING_SELECT = {
    "from", "where", "prewhere", "group", "order", "limit", "having", "union", "except",
    "intersect", "settings", "format", "window", "qualify",
}

_STATEMENT_STARTS = {"select", "with"}


def _significant(tokens: list[Token]) -> list[int]:
    return [i for i, t in enumerate(tokens) if t.kind not in ("space", "comment")]


def _is_kw(token: Token, word: str) -> bool:
    return token.kind == "ident" and token.text.lower() == word


# Event properties PostHog keeps in their own column (`mat_…`); HogQL reads the column instead of
# parsing the properties JSON, and for these it skips the NULL wrapping so the index stays usable.
MATERIALIZED_PROPERTIES = {"$ai_trace_id": "mat_$ai_trace_id"}
# The other `$ai_` properties sit in a map column (PostHog's property group), all but the blobs
# (prompts, completions, states, tools), which stay in the properties JSON only.
AI_PROPERTY_GROUP = "properties_group_ai"
AI_BLOBS = ("$ai_input", "$ai_output_choices", "$ai_input_state", "$ai_output_state", "$ai_tools")


def _property_sql(table: str | None, keys: list[str]) -> str:
    """What HogQL prints for `properties.a.b`: the materialised column where there is one, else
    the JSON value as text, unquoted, NULL if absent."""
    prefix = f"{table}." if table else ""
    if len(keys) == 1 and keys[0] in MATERIALIZED_PROPERTIES:
        return prefix + _quoted_name(MATERIALIZED_PROPERTIES[keys[0]])
    if len(keys) == 1 and keys[0].startswith("$ai_") and keys[0] not in AI_BLOBS:
        value = f"{prefix}{AI_PROPERTY_GROUP}[{_sql_string(keys[0])}]"
        return f"replaceRegexpAll(nullIf(nullIf({value}, ''), 'null'), '^\"|\"$', '')"
    source = f"{prefix}properties"
    path = ", ".join(_sql_string(k) for k in keys)
    return (
        f"replaceRegexpAll(nullIf(nullIf(JSONExtractRaw({source}, {path}), ''), 'null'), "
        "'^\"|\"$', '')"
    )


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quoted_name(value: str) -> str:
    return "`" + value.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _unquote(token: Token) -> str:
    if token.kind == "quoted":
        body = token.text[1:-1]
        return re.sub(r"\\(.)", r"\1", body.replace(token.text[0] * 2, token.text[0]))
    return token.text


@dataclass(frozen=True)
class PreparedQuery:
    """A query ready for ClickHouse; how PostHog limits it depends on its outermost shape."""

    sql: str
    has_limit: bool  # the outermost SELECT has its own LIMIT n
    is_set_query: bool  # UNION / EXCEPT / INTERSECT at the top


def rewrite(hogql: str, now: datetime | None = None) -> PreparedQuery:
    """Rewrite HogQL sugar into ClickHouse SQL; raise QueryError for what cannot run here.

    `now` (UTC) replaces the clock functions, so the answer depends on the data alone."""
    tokens = tokenize(hogql.strip())
    while tokens and (tokens[-1].kind in ("space", "comment") or tokens[-1].text == ";"):
        tokens.pop()
    sig = _significant(tokens)
    if not sig:
        raise QueryError("the query is empty; expected a SELECT statement")
    first = tokens[sig[0]]
    if not (first.text == "(" or (first.kind == "ident" and first.text.lower() in _STATEMENT_STARTS)):
        raise QueryError(f"only SELECT queries are supported, got {first.text!r}")

    out = [t.text for t in tokens]
    depth_of = _depths(tokens)
    _check_unsupported(tokens, sig, depth_of)
    _rewrite_functions(tokens, sig, out)
    if now is not None:
        _freeze_clock(tokens, sig, out, now)
    chains = _rewrite_property_chains(tokens, sig, out)
    _quote_dollar_names(tokens, sig, out, chains)
    _alias_select_items(tokens, sig, out, depth_of, chains, hogql)
    is_set_query = any(depth_of[i] == 0 and tokens[i].kind == "ident"
                       and tokens[i].text.lower() in ("union", "except", "intersect") for i in sig)
    return PreparedQuery(sql="".join(out), has_limit=_has_outer_limit(tokens, sig, depth_of),
                         is_set_query=is_set_query)


def _depths(tokens: list[Token]) -> list[int]:
    """Parenthesis depth at each token (the depth of the token itself; `(` counts outside)."""
    depths, depth = [], 0
    for token in tokens:
        if token.text == ")":
            depth -= 1
            if depth < 0:
                raise QueryError("unbalanced parentheses: a ')' has no matching '('")
        depths.append(depth)
        if token.text == "(":
            depth += 1
    if depth != 0:
        raise QueryError("unbalanced parentheses: a '(' is never closed")
    return depths


def _check_unsupported(tokens: list[Token], sig: list[int], depth_of: list[int]) -> None:
    for n, i in enumerate(sig):
        token = tokens[i]
        nxt = tokens[sig[n + 1]] if n + 1 < len(sig) else None
        if token.text == ";":
            raise QueryError("multiple statements are not supported; send one SELECT")
        if token.text == "{":
            raise QueryError("HogQL placeholders ({...}) are not supported by the local PostHog; "
                             "inline the values")
        if token.kind != "ident":
            continue
        word = token.text.lower()
        if nxt is not None and nxt.text == "(" and word in _FORBIDDEN_FUNCTIONS:
            raise QueryError(f"function {token.text}() is not allowed in HogQL")
        if nxt is not None and nxt.text == "." and word in _VIRTUAL_PREFIXES:
            raise QueryError(
                f"HogQL field '{token.text}.…' is not supported by the local PostHog: "
                "it only has the events table (use properties.* or JSONExtract on properties)"
            )
        if depth_of[i] == 0 and word in ("settings", "format") and n > 0 and (nxt is None or nxt.text != "("):
            raise QueryError(f"{token.text.upper()} clauses are not allowed in HogQL queries")
        if word == "into" and nxt is not None and _is_kw(nxt, "outfile"):
            raise QueryError("INTO OUTFILE is not allowed in HogQL queries")


def _rewrite_functions(tokens: list[Token], sig: list[int], out: list[str]) -> None:
    for n, i in enumerate(sig[:-1]):
        token = tokens[i]
        sugar = _SUGAR_FUNCTIONS.get(token.text.lower()) if token.kind == "ident" else None
        prev = tokens[sig[n - 1]].text if n else ""
        if sugar and tokens[sig[n + 1]].text == "(" and prev != ".":
            name, extra = sugar
            out[i] = name
            end = _first_argument_end(tokens, sig[n + 1])
            out[end] = extra + out[end]


def _first_argument_end(tokens: list[Token], open_index: int) -> int:
    """The index of the `,` or `)` that ends the first argument of the call opened at `open_index`."""
    depth = 0
    for j in range(open_index, len(tokens)):
        if tokens[j].text in "([":
            depth += 1
        elif tokens[j].text in ")]":
            depth -= 1
            if depth == 0:
                return j
        elif tokens[j].text == "," and depth == 1:
            return j
    raise QueryError("unbalanced parentheses")  # _depths already guarantees balance


def _freeze_clock(tokens: list[Token], sig: list[int], out: list[str], now: datetime) -> None:
    stamp, day = now.strftime("%Y-%m-%d %H:%M:%S.%f"), now.strftime("%Y-%m-%d")
    fixed = {"now": f"toDateTime('{stamp[:19]}', 'UTC')", "now64": f"toDateTime64('{stamp}', 6, 'UTC')",
             "today": f"toDate('{day}')", "yesterday": f"(toDate('{day}') - 1)"}
    for n, i in enumerate(sig[:-2]):
        name = tokens[i].text.lower() if tokens[i].kind == "ident" else None
        prev = tokens[sig[n - 1]].text if n else ""
        called_empty = tokens[sig[n + 1]].text == "(" and tokens[sig[n + 2]].text == ")"
        if name in fixed and called_empty and prev != ".":
            out[i], out[sig[n + 1]], out[sig[n + 2]] = fixed[name], "", ""


def _rewrite_property_chains(tokens: list[Token], sig: list[int],
                             out: list[str]) -> dict[int, tuple[int, str]]:
    """Replace `[table.]properties.key[.key…]` and `properties['key']`.

    Returns {first token index: (last token index, last key)} for each chain, so callers can
    alias select items the way HogQL names them.
    """
    chains: dict[int, tuple[int, str]] = {}
    n = 0
    while n < len(sig):
        i = sig[n]
        if not _is_kw(tokens[i], "properties") or (n and tokens[sig[n - 1]].text == "."
                                                   and not _is_table_prefix(tokens, sig, n)):
            n += 1
            continue
        keys, end = _chain_keys(tokens, sig, n)
        if not keys:
            n += 1
            continue
        start_n = n - 2 if n >= 2 and tokens[sig[n - 1]].text == "." else n
        table = tokens[sig[start_n]].text if start_n != n else None
        start, last = sig[start_n], sig[end]
        out[start] = _property_sql(table, keys)
        for k in range(start + 1, last + 1):
            out[k] = ""
        chains[start] = (last, keys[-1])
        n = end + 1
    return chains


def _is_table_prefix(tokens: list[Token], sig: list[int], n: int) -> bool:
    """`e.properties.x`: the `properties` follows `<alias>.` where the alias starts the chain."""
    if n < 2 or tokens[sig[n - 2]].kind not in ("ident", "quoted"):
        return False
    return n < 3 or tokens[sig[n - 3]].text != "."


def _chain_keys(tokens: list[Token], sig: list[int], n: int) -> tuple[list[str], int]:
    """The keys after `properties` at sig[n] and the sig position of the chain's last token."""
    keys: list[str] = []
    end = n
    while end + 2 < len(sig):
        sep, key = tokens[sig[end + 1]], tokens[sig[end + 2]]
        if sep.text == "." and key.kind in ("ident", "quoted"):
            keys.append(_unquote(key))
            end += 2
        elif (sep.text == "[" and key.kind == "string" and end + 3 < len(sig)
              and tokens[sig[end + 3]].text == "]"):
            keys.append(_string_value(key.text))
            end += 3
        else:
            break
    return keys, end


def _string_value(literal: str) -> str:
    body = literal[1:-1].replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


def _quote_dollar_names(tokens: list[Token], sig: list[int], out: list[str], chains: dict) -> None:
    """`$ai_model` as a bare name (an alias HogQL made) is not a valid ClickHouse identifier."""
    for i in sig:
        if tokens[i].kind == "ident" and tokens[i].text.startswith("$") and out[i] == tokens[i].text:
            out[i] = _quoted_name(tokens[i].text)


def _alias_select_items(tokens: list[Token], sig: list[int], out: list[str], depth_of: list[int],
                        chains: dict[int, tuple[int, str]], original: str) -> None:
    """Name rewritten select items as HogQL does: a bare chain by its last key; another rewritten
    expression in the outermost SELECT by its HogQL text, so `columns` read like PostHog's."""
    for items, depth in _select_items(tokens, sig, depth_of):
        for item in items:
            if not item or _has_alias(tokens, item):
                continue
            first, last = item[0], item[-1]
            chain = chains.get(first)
            if chain and chain[0] == last:
                out[last] += " AS " + _quoted_name(chain[1])
            elif depth == 0 and len(item) > 1 and any(out[k] != tokens[k].text
                                                      for k in range(first, last + 1)):
                text = " ".join("".join(t.text for t in tokens[first:last + 1]).split())
                out[last] += " AS " + _quoted_name(text)


def _select_items(tokens: list[Token], sig: list[int], depth_of: list[int]):
    """Yield (items, depth) per SELECT list; each item is the list of its significant token indexes."""
    for n, i in enumerate(sig):
        if not _is_kw(tokens[i], "select"):
            continue
        depth = depth_of[i]
        items: list[list[int]] = [[]]
        m = n + 1
        if m < len(sig) and _is_kw(tokens[sig[m]], "distinct"):
            m += 1
        while m < len(sig):
            j = sig[m]
            if depth_of[j] < depth or (depth_of[j] == depth and tokens[j].kind == "ident"
                                       and tokens[j].text.lower() in _CLAUSE_ENDING_SELECT):
                break
            if depth_of[j] == depth and tokens[j].text == ",":
                items.append([])
            else:
                items[-1].append(j)
            m += 1
        yield items, depth


def _has_alias(tokens: list[Token], item: list[int]) -> bool:
    if len(item) < 2:
        return False
    last, before = tokens[item[-1]], tokens[item[-2]]
    if _is_kw(before, "as"):
        return True
    # `expr name`: an implicit alias follows a closing parenthesis or a literal (`… END` does not).
    return (last.kind in ("ident", "quoted") and not _is_kw(last, "end")
            and (before.text == ")" or before.kind in ("string", "number")))


def _has_outer_limit(tokens: list[Token], sig: list[int], depth_of: list[int]) -> bool:
    """True when the outermost query has LIMIT n (not LIMIT n BY …, which limits per group)."""
    for n, i in enumerate(sig):
        if depth_of[i] != 0 or not _is_kw(tokens[i], "limit"):
            continue
        m = n + 1
        while m < len(sig) and tokens[sig[m]].kind in ("number", "punct") and tokens[sig[m]].text != "(":
            m += 1
        if m < len(sig) and _is_kw(tokens[sig[m]], "by"):
            continue
        return True
    return False
