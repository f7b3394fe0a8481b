"""Intent classification on transcripts (no audio): paraphrases, sound-alike errors, none."""

from __future__ import annotations

import pytest

from app.asr.intents import classify, classify_text
from app.asr.phonetic import similarity, split, syllables

# Phrasings written for these tests, none of them from the recorded development set.
PARAPHRASES = {
    "ticket_query": [
        "我上周买的票出票了没有", "帮我看一下订单状态", "我想确认一下我的购票信息",
        "我订的高铁票是几号车厢", "请问我的座位号是多少", "我候补的票成功了吗", "查查我的车票",
        "我想查一下有没有明天去北京的票", "麻烦帮我查下我订的票", "我的车票订成功了没有",
        "我买的那张票现在是什么状态", "查询一下我的购票订单", "你帮我看看我那张票买上没有",
    ],
    "refund": [
        "这张票我不要了能退吗", "我不想去了票怎么办理退款", "退票的钱什么时候到账",
        "帮我取消这个订单", "行程取消了我想退钱", "临时有事去不了了要退票", "我想退订明天的高铁",
        "退票要扣多少钱", "我要办理退票", "能不能帮我退一下票", "这趟我不坐了怎么退",
    ],
    "change": [
        "我想换成明天的车", "能不能把时间改一下", "我要改成晚一点的车次", "改签需要去车站吗",
        "我想换一趟早一点的车", "票的日期能改吗", "我想变更一下乘车日期", "帮我改到下午那趟",
        "能帮我改签到下午吗", "可以改乘其他车次吗", "我想把出发日期往后推一天",
    ],
    "train_status": [
        "高铁现在晚点多久了", "这趟车几点发车", "列车什么时候到北京", "火车停运了吗",
        "这趟车在哪个站台检票", "动车准点吗", "请问列车运行正常吗", "车到哪里了",
        "今天的车会不会延误", "几点能到上海", "列车现在到哪个站了",
    ],
    "lost_item": [
        "我把包落在高铁上了", "钱包不见了", "我的电脑忘记拿下车了", "我的身份证丢在车上了",
        "有没有人捡到一个黑色的箱子", "下车的时候手机掉了", "我想找一下遗失的物品",
        "孩子的书包丢在座位上了", "我的手机落在车厢里了", "请问有没有捡到一部手机",
        "我落了一件衣服在座位上",
    ],
    "complaint": [
        "列车员态度太差了", "我对这个处理结果不满意", "车上有人抽烟没人管", "你们乱收费",
        "厕所太脏了", "乘务员骂人", "你们这服务太过分了", "我要讨个说法",
        "列车员对我态度很不好", "我要投诉你们的工作人员", "你们的工作人员太不负责任了",
        "空调坏了也没人修",
    ],
    "assistance": [
        "我母亲腿脚不便需要人接", "孕妇上车能帮忙吗", "我是盲人需要有人陪同",
        "老年人可以申请爱心服务吗", "车上有人晕倒了", "我需要担架", "小孩走失了",
        "能帮我搬一下行李吗", "我要预约轮椅", "我行动不方便需要协助",
    ],
    "agent": [
        "给我转人工", "我要找工作人员", "我不想和机器说话", "人工台", "有没有真人",
        "请帮我接通客服", "我要跟人工说", "让你们客服人员接电话", "叫个人来跟我说",
        "我需要和人工客服通话", "我要和你们的工作人员通话",
    ],
    "none": [
        "喂", "好的谢谢", "你是谁", "我想听个笑话", "明天会下雨吗", "帮我叫个出租车",
        "晚饭吃什么好", "给我讲个故事", "啊", "没事了", "北京有什么好玩的", "今天星期几",
        "你吃饭了吗", "帮我定个闹钟",
    ],
}
CASES = [(text, intent) for intent, texts in PARAPHRASES.items() for text in texts]


@pytest.mark.parametrize(("text", "intent"), CASES)
def test_paraphrases(text: str, intent: str) -> None:
    assert classify_text(text).intent == intent


@pytest.mark.parametrize(("heard", "intent"), [
    ("我要转员工", "agent"),  # 人工 heard as 员工
    ("帮我转员工服务", "agent"),
    ("列车挣点吗", "train_status"),  # 正点 heard as 挣点
    ("这趟车准典吗", "train_status"),  # 准点: dian with another character
    ("事务招领", "lost_item"),  # 失物招领
    ("我想推掉这张票", "refund"),  # 退掉 written as 推掉: same pinyin
    ("我要该签", "change"),  # 改签
    ("我要头诉", "complaint"),  # 投诉
    ("我需要论椅", "assistance"),  # 轮椅
    ("我要申请重点立刻服务", "assistance"),  # 重点旅客, 旅客 heard as 立刻
])
def test_sound_alike_errors_still_match(heard: str, intent: str) -> None:
    result = classify_text(heard)
    assert result.intent == intent, result


def test_exact_cue_is_confident_and_a_fuzzy_one_less_so() -> None:
    exact = classify_text("我要转人工")
    fuzzy = classify_text("我要转员工")
    assert exact.intent == fuzzy.intent == "agent"
    assert exact.confidence >= 0.8
    assert fuzzy.confidence < exact.confidence


def test_two_competing_intents_give_low_confidence() -> None:
    result = classify_text("我不知道是要退票还是改签")
    assert result.intent in ("refund", "change")
    assert result.confidence < 0.5


def test_off_topic_is_none_with_confidence_and_no_evidence() -> None:
    result = classify_text("股票涨了吗")  # 股票 must not pass for 购票
    assert result.intent == "none"
    assert result.confidence > 0.8
    assert classify_text("").intent == "none"


def test_overlapping_cues_are_read_once() -> None:
    # 改签到 contains 签到 ~ 捡到 (lost_item) by sound; the exact 改签 reading wins.
    result = classify_text("我想改签到后天")
    assert result.intent == "change"
    assert result.scores["lost_item"] == 0.0


def test_hypotheses_are_weighted() -> None:
    # A cue found only in a weak alternative is not enough on its own.
    weak = classify([([("今天天气怎么样", 0.9), ("今天退票怎么样", 0.1)], 1.0)])
    assert weak.intent == "none"
    strong = classify([([("我要退票", 0.6), ("我要推票", 0.4)], 1.0)])
    assert strong.intent == "refund" and strong.confidence > 0.8


def test_pinyin_similarity() -> None:
    assert split("yuan") == ("", "üan") and split("zhong") == ("zh", "ong")
    assert similarity("zheng", "zhong") > 0.8  # eng/ong
    assert similarity("shi", "si") > 0.8  # retroflex/flat
    assert similarity("lan", "nan") > 0.8  # n/l
    assert similarity("ma", "tui") == 0.0
    assert syllables("G101次退票") == ["ci", "tui", "piao"]
