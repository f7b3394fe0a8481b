"""Answers as a caller hears them, in Mandarin or English: numbers, times and dates spoken the
way people say them (八点十五分, 十二月五日), personal data never read out."""

from __future__ import annotations

from app.services.lost_found import FoundItemView
from app.services.tickets import OrderView, TicketView
from app.services.trains import TrainStatusView
from app.tts.say import (
    en_date,
    en_time,
    en_train,
    zh_count,
    zh_date,
    zh_duration,
    zh_number,
    zh_seat,
    zh_time,
    zh_train,
)

STATUS_ZH = {
    "paid": "已支付",
    "changed": "已改签",
    "refunded": "已退票",
    "used": "已使用",
    "waitlisted": "候补中",
}
STATUS_EN = {
    "paid": "paid",
    "changed": "changed",
    "refunded": "refunded",
    "used": "used",
    "waitlisted": "waitlisted",
}


def _zh_at(hhmm: str | None) -> str:
    return zh_time(hhmm) if hhmm else ""


def _en_at(hhmm: str | None) -> str:
    return en_time(hhmm) if hhmm else ""


def _ticket_zh(t: TicketView) -> str:
    return (
        f"{zh_date(t.run_date)}，{zh_train(t.train_number)}次，{t.from_station}"
        f"{_zh_at(t.departure)}开，到{t.to_station}，{zh_seat(t.coach, t.seat)}，"
        f"{t.seat_class}，{STATUS_ZH.get(t.status, t.status)}。"
    )


def _ticket_en(t: TicketView) -> str:
    return (
        f"{en_date(t.run_date)}, train {en_train(t.train_number)}, from {t.from_station} "
        f"at {_en_at(t.departure)} to {t.to_station}, coach {int(t.coach)} seat {t.seat}, "
        f"{STATUS_EN.get(t.status, t.status)}."
    )


def order_answer(view: OrderView, lang: str) -> str:
    if lang == "en":
        return f"Your order has {len(view.tickets)} ticket(s). " + " ".join(
            _ticket_en(t) for t in view.tickets
        )
    return f"您的订单共有{zh_count(len(view.tickets), '张')}车票。" + "".join(
        _ticket_zh(t) for t in view.tickets
    )


def refund_answer(t: TicketView, fee_percent: int, lang: str) -> str:
    if lang == "en":
        fee = "free of charge" if fee_percent == 0 else f"with a {fee_percent} percent fee"
        return f"Your ticket for train {en_train(t.train_number)} can be refunded {fee} now."
    fee_zh = "免收退票费" if fee_percent == 0 else f"收取百分之{zh_number(fee_percent)}的退票费"
    return f"您的{zh_train(t.train_number)}次车票，现在办理退票{fee_zh}。"


def train_answer(v: TrainStatusView, lang: str) -> str:
    if lang == "en":
        head = f"Train {en_train(v.train_number)} on {en_date(v.run_date)}"
        if v.status == "cancelled":
            return f"{head} is cancelled."
        if v.status == "delayed":
            return f"{head} is delayed by about {v.delay_minutes} minutes."
        return f"{head} is on time, departing {v.origin} at {_en_at(v.departure)}."
    # The date is a phrase of its own: a short first phrase starts playing soonest.
    head = f"{zh_date(v.run_date)}，{zh_train(v.train_number)}次列车"
    if v.status == "cancelled":
        return f"{head}已停运。"
    if v.status == "delayed":
        return f"{head}预计晚点{zh_duration(v.delay_minutes)}。"
    return f"{head}正点运行，{v.origin}{_zh_at(v.departure)}开。"


def found_items_answer(items: list[FoundItemView], lang: str) -> str:
    first = items[0]
    if lang == "en":
        return (
            f"We hold {len(items)} item(s) found on that train. The first: "
            f"{first.category}, kept at {first.kept_at} station."
        )
    return (
        f"该车次共拾到{zh_count(len(items), '件')}物品，其中一件{first.description}，"
        f"现保管在{first.kept_at}。"
    )
