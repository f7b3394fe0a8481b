"""Spoken answers: numbers, times and dates as callers say them; no personal data read out."""

from __future__ import annotations

from datetime import date

from app.ivr.phrases import order_answer, refund_answer, train_answer
from app.services.tickets import OrderView, TicketView
from app.services.trains import TrainStatusView

TICKET = TicketView(train_number="G101", run_date=date(2026, 12, 5), from_station="北京南",
                    to_station="上海虹桥", departure="08:15", arrival="13:40", coach="05",
                    seat="12F", seat_class="二等座", price_yuan=553.0, status="paid")
ORDER = OrderView(order_no="E123456789", passenger_name="张*", id_number="1101**********1234",
                  phone="138****8000", tickets=[TICKET, TICKET])


def test_order_answer_in_mandarin() -> None:
    text = order_answer(ORDER, "zh")
    assert text.startswith("您的订单共有两张车票。")
    assert ("十二月五日，G幺零幺次，北京南八点十五分开，到上海虹桥，五车十二F号，二等座，已支付。"
            in text)
    assert "1234" not in text and "8000" not in text and "E123456789" not in text


def test_order_answer_in_english() -> None:
    text = order_answer(ORDER, "en")
    assert "train G one zero one" in text and "eight fifteen" in text
    assert "December fifth" in text


def test_train_delay_and_refund_fee() -> None:
    late = TrainStatusView(train_number="D301", run_date=date(2026, 12, 5), status="delayed",
                           delay_minutes=75, origin="南京南", destination="杭州东",
                           departure="20:30", arrival=None, last_station=None)
    assert train_answer(late, "zh") == "十二月五日，D三零幺次列车预计晚点一小时十五分钟。"
    on_time = TrainStatusView(**{**late.__dict__, "status": "on_time", "delay_minutes": 0})
    assert train_answer(on_time, "zh").endswith("南京南二十点三十分开。")
    assert refund_answer(TICKET, 5, "zh") == "您的G幺零幺次车票，现在办理退票收取百分之五的退票费。"
