"""The agents' knowledge base: import checks (all or nothing), search by words, stale flags, and
``hotline kb import`` on the shipped example file."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hotline.app.migrate import upgrade
from hotline.kb.service import Article, KbError, KbStore, articles_from, search, terms

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "kb-example.json"


def _article(**changes: Any) -> dict[str, Any]:
    base = {"id": "water", "title": "停水报修", "body": "突发停水转供水公司处置",
            "owner_unit": "water-co", "review_date": "2027-01-01"}  # fmt: skip
    return {**base, **changes}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_article(id="a b"), r"articles\[0\]\.id"),
        (_article(title=""), r"articles\[0\]\.title: missing"),
        (_article(body="x" * 20001), r"articles\[0\]\.body: 20001 characters"),
        (_article(review_date="2027-02-30"), r"articles\[0\]\.review_date"),
        (_article(review_date=20270101), r"articles\[0\]\.review_date"),
        (_article(author="me"), r"articles\[0\]\.author: unknown field"),
        ("just text", r"articles\[0\]: must be an object"),
    ],
)
def test_a_bad_article_is_refused_naming_it_and_the_field(bad: Any, message: str) -> None:
    with pytest.raises(KbError, match=message):
        articles_from([bad])


def test_a_file_is_a_list_or_an_articles_object_without_duplicates() -> None:
    assert len(articles_from({"articles": [_article()]})) == 1
    with pytest.raises(KbError, match="file: a JSON list"):
        articles_from({"title": "x"})
    with pytest.raises(KbError, match=r"articles\[1\]\.id: 'water' twice"):
        articles_from([_article(), _article()])


def test_search_ranks_title_words_first_and_splits_chinese_words() -> None:
    arts = [
        Article("a", "社保卡补办", "丢失先挂失", "hrss", date(2027, 1, 1)),
        Article("b", "停水报修", "突发停水转供水公司", "water-co", date(2027, 1, 1)),
        Article("c", "停电报修", "小区停水也可能是水泵停电", "power-co", date(2025, 1, 1)),
    ]
    assert terms("小区停水") == ["小区停水", "小区", "区停", "停水"]
    assert [a.id for a in search(arts, "停水")] == ["b", "c"]  # in the title beats the body
    assert [a.id for a in search(arts, "我家停水了")] == ["b", "c"]  # no exact phrase needed
    assert [a.id for a in search(arts, "补办 社保卡")] == ["a"]
    assert search(arts, "   ") == [] and search(arts, "燃气") == []
    stale = arts[2].to_json(date(2026, 11, 23))
    assert stale["stale"] is True and arts[1].to_json(date(2026, 11, 23))["stale"] is False


def test_hotline_kb_import_loads_the_example_and_refuses_a_bad_file_whole(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db}"\n[paths]\nstate_dir = "{tmp_path}"\n')

    def kb_import(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hotline", "-c", str(cfg), "kb", "import", str(path)],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip

    done = kb_import(EXAMPLE)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 knowledge-base articles imported" in done.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([_article(id="new-one"), _article(id="broken", owner_unit="")]))
    done = kb_import(bad)
    assert done.returncode == 2 and "articles[1].owner_unit" in done.stderr
    assert "nothing imported" in done.stderr
    store = KbStore(f"sqlite:///{db}")
    ids = [a.id for a in store.all()]
    assert "new-one" not in ids and len(ids) == 4
    assert store.search("停水")[0].id == "water-outage"
    store.dispose()


def test_importing_again_replaces_an_article(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    upgrade(url)
    store = KbStore(url)
    store.put(articles_from([_article()]))
    store.put(articles_from([_article(title="停水报修（新版）")]))
    assert [a.title for a in store.all()] == ["停水报修（新版）"]
    store.dispose()
