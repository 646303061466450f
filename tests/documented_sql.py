"""The documents an agent reads (SKILL.md and references/) and the SQL blocks they show."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "SKILL.md", *sorted((ROOT / "references").glob("*.md"))]


def sql_blocks() -> list[tuple[str, str]]:
    """(document name, block) for every ```sql block, in document order."""
    return [(doc.name, block) for doc in DOCS
            for block in re.findall(r"```sql\n(.*?)```", doc.read_text(encoding="utf-8"), re.DOTALL)]
