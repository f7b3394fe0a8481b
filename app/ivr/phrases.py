"""Answers as a caller hears them, in Mandarin or English: numbers, times and dates spoken the
way people say them (八点十五分, 十二月五日), personal data never read out."""

from __future__ import annotations

from datetime import date

from app.services.lost_found import FoundItemView
from app.services.tickets import OrderView, TicketView
from app.services.trains import TrainStatusView

DIGITS = "零一二三四五六七八九"
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
MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def zh_number(n: int) -> str:
    """0..99999 in Mandarin: 101 -> 一百零一, 15 -> 十五, 2000 -> 两千."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return "十" + (DIGITS[n % 10] if n % 10 else "")
    units = [(10000, "万"), (1000, "千"), (100, "百"), (10, "十")]
    out, zero = "", False
    for value, name in units:
        d, n = divmod(n, value)
        if d:
            if zero:
                out += "零"
            out += ("两" if d == 2 and value >= 1000 else DIGITS[d]) + name
            zero = False
        elif out:
            zero = True
    if n:
        out += ("零" if zero or (out and not out.endswith("十")) else "") + DIGITS[n]
    return out


def zh_time(hhmm: str | None) -> str:
    if not hhmm:
        return ""
    h, m = (int(p) for p in hhmm.split(":"))
    hour = "两" if h == 2 else zh_number(h)
    if m == 0:
        return f"{hour}点整"
    return f"{hour}点{'零' if m < 10 else ''}{zh_number(m)}分"


def zh_date(day: date) -> str:
    return f"{zh_number(day.month)}月{zh_number(day.day)}日"


def zh_minutes(total: int) -> str:
    hours, minutes = divmod(total, 60)
    text = f"{'两' if hours == 2 else zh_number(hours)}小时" if hours else ""
    return text + (f"{zh_number(minutes)}分钟" if minutes or not hours else "")


def zh_seat(coach: str, seat: str) -> str:
    letters = "".join(c for c in seat if c.isalpha())
    number = int("".join(c for c in seat if c.isdigit()) or 0)
    return f"{zh_number(int(coach))}车{zh_number(number)}{letters}号"


def zh_train(number: str) -> str:
    # Digit by digit with 幺 for one, as train numbers are read on the phone.
    return number[0] + "".join("幺" if c == "1" else DIGITS[int(c)] for c in number[1:])


def en_time(hhmm: str | None) -> str:
    return hhmm or ""


def en_date(day: date) -> str:
    return f"{MONTHS_EN[day.month - 1]} {day.day}"


def _ticket_zh(t: TicketView) -> str:
    return (
        f"{zh_date(t.run_date)}，{zh_train(t.train_number)}次，{t.from_station}"
        f"{zh_time(t.departure)}开，到{t.to_station}，{zh_seat(t.coach, t.seat)}，"
        f"{t.seat_class}，{STATUS_ZH.get(t.status, t.status)}。"
    )


def _ticket_en(t: TicketView) -> str:
    return (
        f"{en_date(t.run_date)}, train {' '.join(t.train_number)}, from {t.from_station} "
        f"at {en_time(t.departure)} to {t.to_station}, coach {int(t.coach)} seat {t.seat}, "
        f"{STATUS_EN.get(t.status, t.status)}."
    )


def order_answer(view: OrderView, lang: str) -> str:
    if lang == "en":
        return f"Your order has {len(view.tickets)} ticket(s). " + " ".join(
            _ticket_en(t) for t in view.tickets
        )
    return f"您的订单共有{zh_number(len(view.tickets))}张车票。" + "".join(
        _ticket_zh(t) for t in view.tickets
    )


def refund_answer(t: TicketView, fee_percent: int, lang: str) -> str:
    if lang == "en":
        fee = "free of charge" if fee_percent == 0 else f"with a {fee_percent} percent fee"
        return f"Your ticket for train {' '.join(t.train_number)} can be refunded {fee} now."
    fee_zh = "免收退票费" if fee_percent == 0 else f"收取百分之{zh_number(fee_percent)}的退票费"
    return f"您的{zh_train(t.train_number)}次车票，现在办理退票{fee_zh}。"


def train_answer(v: TrainStatusView, lang: str) -> str:
    if lang == "en":
        head = f"Train {' '.join(v.train_number)} on {en_date(v.run_date)}"
        if v.status == "cancelled":
            return f"{head} is cancelled."
        if v.status == "delayed":
            return f"{head} is delayed by about {v.delay_minutes} minutes."
        return f"{head} is on time, departing {v.origin} at {en_time(v.departure)}."
    head = f"{zh_date(v.run_date)}{zh_train(v.train_number)}次列车"
    if v.status == "cancelled":
        return f"{head}已停运。"
    if v.status == "delayed":
        return f"{head}预计晚点{zh_minutes(v.delay_minutes)}。"
    return f"{head}正点运行，{v.origin}{zh_time(v.departure)}开。"


def found_items_answer(items: list[FoundItemView], lang: str) -> str:
    first = items[0]
    if lang == "en":
        return (
            f"We hold {len(items)} item(s) found on that train. The first: "
            f"{first.category}, kept at {first.kept_at} station."
        )
    return (
        f"该车次共拾到{zh_number(len(items))}件物品，其中一件{first.description}，"
        f"现保管在{first.kept_at}。"
    )
