"""The Mandarin classifier on text: subjects, categories, emergencies, negation, configuration."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hotline.base.settings import Config, ConfigError, load_config
from hotline.speech.classifier import Classifier, classify, normalise


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.from_config(load_config(None, environ={}))


# (sentence, subject, category): realistic 12345 openings, no emergency in any of them.
ROUTINE = [
    ("我家停水了，请问什么时候恢复供水", "utilities", "consultation"),
    ("小区突然停电了，怎么办", "utilities", "help"),
    ("暖气一点都不热，供暖公司没人管", "utilities", "complaint"),
    ("请问电费怎么在网上缴纳", "utilities", "consultation"),
    ("我 家 的 自来水 水压 太 低", "utilities", "consultation"),
    ("物业费涨价了，我要投诉物业", "housing", "complaint"),
    ("房东不退押金，房租也乱涨", "housing", "complaint"),
    ("请问公租房怎么申请，需要什么材料", "housing", "consultation"),
    ("楼上漏水到我家，物业不管，我想求助", "housing", "help"),
    ("小区电梯坏了一个星期了", "housing", "consultation"),
    ("请问社保断缴了怎么补缴", "social", "consultation"),
    ("公司拖欠工资三个月，我要投诉", "social", "complaint"),
    ("想咨询一下养老金什么时候发", "social", "consultation"),
    ("失业金怎么办理", "social", "consultation"),
    ("医保报销的流程是什么", "social", "consultation"),
    ("在网购平台买到假货，商家不给退款", "market", "complaint"),
    ("超市卖过期食品，我要举报", "market", "report"),
    ("我要消费投诉，商家虚假宣传", "market", "complaint"),
    ("预付卡的店关门了，钱退不回来怎么办", "market", "help"),
    ("楼下饭店油烟太大，熏得没法开窗", "environment", "consultation"),
    ("工地晚上施工噪音扰民，太吵了", "environment", "complaint"),
    ("楼上装修噪音太大了", "environment", "complaint"),
    ("河里有工厂偷偷排污，我要举报", "environment", "report"),
    ("小区垃圾好几天没人清运，臭味很大", "environment", "consultation"),
    ("广场舞音响太吵，晚上十点还在跳", "environment", "complaint"),
    ("建议增加公交车的班次", "transport", "suggestion"),
    ("地铁站出口的路灯坏了", "transport", "consultation"),
    ("门口马路上有个井盖丢了，很危险", "transport", "consultation"),
    ("出租车司机拒载，我要投诉", "transport", "complaint"),
    ("请问这个路口能不能停车", "transport", "consultation"),
    ("我对你们的服务提个建议", "general", "suggestion"),
    ("我想反映一个问题", "general", "complaint"),
]


@pytest.mark.parametrize(("text", "subject", "category"), ROUTINE)
def test_routine_requests_go_to_their_subject(
    clf: Classifier, text: str, subject: str, category: str
) -> None:
    result = clf.classify(text)
    assert (result.subject, result.category, result.emergency) == (subject, category, None)
    if subject != "general":
        assert result.confidence >= 0.3 and result.matched


# (sentence, kind, number): every emergency phrase family, plainly and mixed into a request.
EMERGENCIES = [
    ("我家厨房着火了，快来人", "fire", "119"),
    ("对面楼起火了，好大的火", "fire", "119"),
    ("仓库发生火灾了", "fire", "119"),
    ("电动车充电的时候冒烟了", "fire", "119"),
    ("我不小心把锅烧着火了", "fire", "119"),
    ("是不是着火了，楼道全是烟", "fire", "119"),
    ("家里煤气泄漏了", "gas_leak", "119"),
    ("楼道里闻到煤气味，很浓", "gas_leak", "119"),
    ("燃气泄漏了怎么办", "gas_leak", "119"),
    ("有人在街上打人", "crime", "110"),
    ("有人持刀抢劫", "crime", "110"),
    ("小偷正在偷我邻居家的东西", "crime", "110"),
    ("楼下有人打架，打得很凶", "crime", "110"),
    ("路口发生车祸了", "traffic", "122"),
    ("两辆车撞车了，堵在桥上", "traffic", "122"),
    ("我被车撞了", "traffic", "122"),
    ("有个老人晕倒在路边", "medical", "120"),
    ("我爸心脏病犯了", "medical", "120"),
    ("孩子摔伤了，一直流血", "medical", "120"),
    ("有人受伤了，需要急救", "medical", "120"),
    # mixed: an emergency wins over the request around it
    ("我要投诉物业，现在楼道着火了", "fire", "119"),
    ("小区停电了，楼下变压器起火", "fire", "119"),
    ("噪音扰民的邻居正在打人", "crime", "110"),
    ("公交车出了交通事故，有人流血", "traffic", "122"),
    ("着火了，有人受伤晕倒了", "fire", "119"),
    ("车祸了，没有人受伤", "traffic", "122"),
    ("他没有流血，但是晕倒了", "medical", "120"),
    # documented limit, on the safe side: negation far from the phrase is not seen
    ("我不觉得现在着火了", "fire", "119"),
]


@pytest.mark.parametrize(("text", "kind", "number"), EMERGENCIES)
def test_emergencies_are_redirected(clf: Classifier, text: str, kind: str, number: str) -> None:
    result = clf.classify(text)
    assert result.emergency is not None, result
    assert (result.emergency.kind, result.emergency.number) == (kind, number)
    assert result.route_number == number
    assert result.emergency.dial == f"PJSIP/{number}@citizen-trunk"
    assert result.emergency.phrase in normalise(text)


NOT_EMERGENCIES = [
    "不是着火，是楼道里有很多灰",
    "没有着火，就是有点烟味",
    "没有人受伤，就是想问问怎么处理",
    "没看到冒烟，可能是别人家做饭",
    "小区有火灾隐患，消防通道被堵了",
    "我想打人工服务",
    "请问交通事故认定书去哪里领",
    "工厂的烟囱冒烟污染空气",
    "你好",
]


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_negated_or_harmless_mentions_are_not_redirected(clf: Classifier, text: str) -> None:
    assert clf.classify(text).emergency is None


def test_no_match_is_general_consultation_with_low_confidence(clf: Classifier) -> None:
    for text in ("", "喂喂", "嗯嗯啊啊", "hello", "我想说一件事情"):
        result = clf.classify(text)
        assert (result.subject, result.category, result.emergency) == (
            "general",
            "consultation",
            None,
        )
        assert result.confidence <= 0.1 and result.matched == ()


def test_confidence_grows_with_agreeing_phrases_and_drops_when_subjects_compete(
    clf: Classifier,
) -> None:
    one = clf.classify("停水了")
    two = clf.classify("停水停电了")
    mixed = clf.classify("停水了，还有公交车不来")
    assert one.subject == two.subject == "utilities"
    assert two.confidence > one.confidence > mixed.confidence > 0.1


def test_longer_phrase_wins_inside_a_table(clf: Classifier) -> None:
    # 怎么办理 (consultation) contains 怎么办 (help): the longer phrase claims the span.
    assert clf.classify("怎么办理居住证").category == "consultation"
    assert clf.classify("孩子上学的事怎么办").category == "help"


def test_vosk_spacing_and_full_width_forms_do_not_matter(clf: Classifier) -> None:
    spaced = clf.classify("我 家 停 水 了 请 问 怎 么 办")
    full = clf.classify("ＡＢＣ小区停水了，请问怎么办？")
    assert spaced.subject == full.subject == "utilities"
    assert normalise(" 停 水\t了 ") == "停水了"


def test_matched_phrases_in_text_order(clf: Classifier) -> None:
    result = clf.classify("我要举报小区里有人排污")
    assert result.matched == ("举报", "小区", "排污")


def test_tables_numbers_and_trunk_come_from_the_configuration() -> None:
    cfg = Config.model_validate(
        {
            "subjects": {"keywords": {"pets": ["狗", "猫"]}, "default": "other"},
            "emergency": {
                "dial": "PJSIP/{number}@emergency-trunk",
                "kinds": {"fire": {"number": "96119", "phrases": ["着火"]}},
            },
        }
    )
    result = classify("邻居的狗着火了", cfg)
    assert result.subject == "pets"
    assert result.emergency is not None
    assert result.emergency.dial == "PJSIP/96119@emergency-trunk"
    assert classify("停水了", cfg).subject == "other"
    off = Config.model_validate({"emergency": {"enabled": False}})
    assert classify("着火了", off).emergency is None


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[emergency]\ndial = 'PJSIP/119'\n", "emergency.dial"),
        ("[emergency.kinds.fire]\nnumber = 'abc'\nphrases = ['着火']\n", "emergency.kinds.fire"),
        ("[emergency.kinds.fire]\nnumber = '119'\nphrases = []\n", "emergency.kinds.fire"),
        ("[subjects.keywords]\nutilities = ['']\n", "subjects.keywords"),
        ("[subjects]\nlanguage = 'x'\n", "subjects.language"),
    ],
)
def test_bad_tables_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "h.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert key in str(err.value)


def test_classification_is_fast_and_deterministic(clf: Classifier) -> None:
    text = "您好，我家楼上装修噪音太大，物业也不管，另外小区门口的路灯坏了，请问怎么办"
    first = clf.classify(text)
    started = time.perf_counter()
    for _ in range(200):
        assert clf.classify(text) == first
    assert (time.perf_counter() - started) / 200 < 0.005
