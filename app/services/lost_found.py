"""Lost-and-found: search found items, file a passenger's report, match reports to items."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.clock import now
from app.db.models import (
    Channel,
    FoundItem,
    ItemStatus,
    LostReport,
    Train,
    TrainRun,
    WorkOrder,
    WorkOrderType,
)
from app.services.trains import normalise_train_number
from app.services.work_orders import create_work_order

CATEGORY_WORDS = {
    "箱包": ("包", "箱", "袋"),
    "电子产品": ("手机", "电脑", "平板", "耳机", "充电", "相机", "手表"),
    "证件": ("身份证", "证件", "护照", "驾照", "卡", "钱包"),
    "衣物": ("衣", "外套", "帽", "围巾", "鞋", "手套"),
}


@dataclass(frozen=True)
class FoundItemView:
    id: int
    train_number: str | None
    run_date: date | None
    coach: str | None
    description: str
    category: str
    kept_at: str
    status: str
    found_at: datetime


@dataclass(frozen=True)
class Candidate:
    item: FoundItemView
    score: float


def _bigrams(text: str) -> set[str]:
    """Character bigrams: Chinese has no spaces, and bigrams catch 黑色/双肩/肩包 overlaps."""
    chars = re.sub(r"[\s，。、,.;；:：!！?？]", "", text.lower())
    return {chars[i : i + 2] for i in range(len(chars) - 1)} | set(chars)


def category_of(text: str) -> str | None:
    for category, words in CATEGORY_WORDS.items():
        if any(w in text for w in words):
            return category
    return None


def match_score(report: str, item_description: str, item_category: str) -> float:
    """0..1: how well a passenger's description fits a found item."""
    want, have = _bigrams(report), _bigrams(item_description)
    if not want or not have:
        return 0.0
    overlap = len(want & have) / len(want)
    bonus = 0.2 if category_of(report) == item_category else 0.0
    return round(min(1.0, overlap + bonus), 3)


def _view(item: FoundItem) -> FoundItemView:
    return FoundItemView(
        id=item.id,
        train_number=item.run.train.number if item.run else None,
        run_date=item.run.run_date if item.run else None,
        coach=item.coach,
        description=item.description,
        category=item.category,
        kept_at=item.kept_at.name,
        status=item.status.value,
        found_at=item.found_at,
    )


async def search_found_items(
    session: AsyncSession,
    train_number: str | None = None,
    run_date: date | None = None,
    keywords: list[str] | None = None,
    include_closed: bool = False,
    limit: int = 50,
) -> list[FoundItemView]:
    query = select(FoundItem).options(
        selectinload(FoundItem.run).selectinload(TrainRun.train), selectinload(FoundItem.kept_at)
    )
    if train_number or run_date:
        query = query.join(TrainRun, FoundItem.run_id == TrainRun.id)
    if train_number:
        query = query.join(Train, Train.id == TrainRun.train_id).where(
            Train.number == (normalise_train_number(train_number) or train_number.upper())
        )
    if run_date:
        query = query.where(TrainRun.run_date == run_date)
    for word in keywords or []:
        like = f"%{word}%"
        query = query.where(or_(FoundItem.description.like(like), FoundItem.category.like(like)))
    if not include_closed:
        query = query.where(FoundItem.status == ItemStatus.HELD)
    rows = await session.scalars(query.order_by(FoundItem.found_at.desc()).limit(limit))
    return [_view(item) for item in rows]


async def file_lost_report(
    session: AsyncSession,
    *,
    description: str,
    contact_phone: str,
    actor: str,
    train_number: str | None = None,
    travel_date: date | None = None,
    channel: Channel = Channel.VOICE,
    call_id: str | None = None,
    recording: str | None = None,
) -> tuple[LostReport, WorkOrder, list[Candidate]]:
    """Store the report, open a lost-item work order, and return the best matching items."""
    where = " ".join(
        p for p in (train_number, travel_date.isoformat() if travel_date else None) if p
    )
    wo = await create_work_order(
        session,
        type=WorkOrderType.LOST_ITEM,
        channel=channel,
        actor=actor,
        content=f"失物登记{f'（{where}）' if where else ''}：{description}",
        caller_number=contact_phone,
        call_id=call_id,
        recording=recording,
    )
    report = LostReport(
        description=description,
        contact_phone=contact_phone,
        train_number=train_number,
        travel_date=travel_date,
        created_at=now(),
        work_order_id=wo.id,
    )
    session.add(report)
    await session.flush()
    items = await search_found_items(session, train_number, travel_date)
    candidates = sorted(
        (
            Candidate(item, match_score(description, item.description, item.category))
            for item in items
        ),
        key=lambda c: c.score,
        reverse=True,
    )
    return report, wo, [c for c in candidates if c.score >= 0.3][:5]
