"""The knowledge base the agent searches during a call: articles with an owner unit and a review
date (table ``kb_articles``), loaded with ``hotline kb import FILE.json``.

Rules:
* An article: ``id`` (1-64 letters, digits or ``._-``), ``title`` (1-200 characters), ``body``
  (1-20000), ``owner_unit`` (the unit that answers for it), ``review_date`` (YYYY-MM-DD).
* An import is all or nothing: one bad article refuses the file, naming the article and the
  field; an article with an id already there is replaced (the owner unit's new version).
* Search: the words of the query (split on spaces; a Chinese word without spaces is also taken
  in two-character pieces, as callers and articles rarely word it the same) found in the title
  count three times, in the body once; best first, at most ``LIMIT``.
* An article whose review date has passed is shown, flagged stale: the agent checks it with the
  owner unit before reading it out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.base.db import lease_engine
from hotline.desk.models import KbArticleRow

LIMIT = 10
MAX_ARTICLES = 5000
_ID = re.compile(r"^[\w.\-]{1,64}$")
_CJK = re.compile(r"[\u3400-\u9fff]")
LIMITS = {"title": 200, "body": 20000, "owner_unit": 64}


class KbError(ValueError):
    """A bad article or file; the message names the article and the field."""


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    owner_unit: str
    review_date: date

    def stale(self, today: date) -> bool:
        return self.review_date < today

    def to_json(self, today: date) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "owner_unit": self.owner_unit,
            "review_date": self.review_date.isoformat(),
            "stale": self.stale(today),
        }


def article_from(data: Any, where: str) -> Article:
    if not isinstance(data, dict):
        raise KbError(f"{where}: must be an object")
    unknown = sorted(set(data) - {"id", "title", "body", "owner_unit", "review_date"})
    if unknown:
        raise KbError(f"{where}.{unknown[0]}: unknown field")
    ident = data.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise KbError(f"{where}.id: 1-64 letters, digits or ._-")
    texts = {}
    for name, limit in LIMITS.items():
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise KbError(f"{where}.{name}: missing or empty")
        if len(value) > limit:
            raise KbError(f"{where}.{name}: {len(value)} characters, at most {limit}")
        texts[name] = value.strip()
    raw = data.get("review_date")
    try:
        review = date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        review = None
    if review is None:
        raise KbError(f"{where}.review_date: a date like 2026-12-31")
    return Article(ident, texts["title"], texts["body"], texts["owner_unit"], review)


def articles_from(data: Any) -> list[Article]:
    """The articles of an import file (a JSON list, or an object with ``articles``)."""
    if isinstance(data, dict) and set(data) == {"articles"}:
        data = data["articles"]
    if not isinstance(data, list):
        raise KbError('file: a JSON list of articles (or {"articles": [...]})')
    if len(data) > MAX_ARTICLES:
        raise KbError(f"file: {len(data)} articles, at most {MAX_ARTICLES} at once")
    out = [article_from(item, f"articles[{i}]") for i, item in enumerate(data)]
    seen: set[str] = set()
    for i, article in enumerate(out):
        if article.id in seen:
            raise KbError(f"articles[{i}].id: {article.id!r} twice in the file")
        seen.add(article.id)
    return out


def terms(query: str) -> list[str]:
    words = [w.lower() for w in query.split() if w.strip()]
    out: list[str] = []
    for word in words[:20]:
        out.append(word)
        if len(word) > 2 and _CJK.search(word):
            out.extend(word[i : i + 2] for i in range(len(word) - 1))
    return list(dict.fromkeys(out))


def search(articles: Iterable[Article], query: str, limit: int = LIMIT) -> list[Article]:
    wanted = terms(query)
    if not wanted:
        return []
    scored = []
    for article in articles:
        title, body = article.title.lower(), article.body.lower()
        score = sum(3 * title.count(t) + body.count(t) for t in wanted)
        if score:
            scored.append((-score, article.id, article))
    return [a for _s, _id, a in sorted(scored, key=lambda x: (x[0], x[1]))[:limit]]


class KbStore:
    """Synchronous (SQLAlchemy); the desktop calls it from a worker thread."""

    def __init__(self, url: str) -> None:
        self._lease = lease_engine(url)  # the process's one engine (one pool) for the URL
        self.engine = self._lease.engine

    def dispose(self) -> None:
        self._lease.release()

    def put(self, articles: Sequence[Article]) -> int:
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            for a in articles:
                session.merge(
                    KbArticleRow(id=a.id, title=a.title, body=a.body, owner_unit=a.owner_unit,
                                 review_date=a.review_date, updated_at=now)
                )  # fmt: skip
        return len(articles)

    def all(self) -> list[Article]:
        with Session(self.engine) as session:
            return [
                Article(r.id, r.title, r.body, r.owner_unit, r.review_date)
                for r in session.scalars(select(KbArticleRow).order_by(KbArticleRow.id))
            ]

    def search(self, query: str) -> list[Article]:
        # A centre's knowledge base is a few hundred to a few thousand articles: read and rank
        # them here, the same on SQLite and PostgreSQL (Chinese text has no word boundaries
        # for the databases' own full-text search).
        return search(self.all(), query)
