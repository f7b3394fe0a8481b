"""Deterministic, realistic demo data: stations, trains and timetables, runs, orders, items.

The same seed and the same `today` always give the same rows. Bulk orders go in with Core
inserts in batches so a million orders take tens of seconds, not hours.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import CST, at_minutes
from app.core.trains import TrainType
from app.db.models import (
    FoundItem,
    ItemStatus,
    Order,
    RunStatus,
    Station,
    Ticket,
    TicketStatus,
    Train,
    TrainRun,
    TrainStop,
    WorkOrderType,
)

Progress = Callable[[str], None]

# name, telegraph code, city
STATIONS = [
    ("北京南", "VNP", "北京"),
    ("北京西", "BXP", "北京"),
    ("天津南", "TIP", "天津"),
    ("济南西", "JGK", "济南"),
    ("徐州东", "UUH", "徐州"),
    ("南京南", "NKH", "南京"),
    ("上海虹桥", "AOH", "上海"),
    ("杭州东", "HGH", "杭州"),
    ("石家庄", "SJP", "石家庄"),
    ("郑州东", "ZAF", "郑州"),
    ("武汉", "WHN", "武汉"),
    ("长沙南", "CWQ", "长沙"),
    ("广州南", "IZQ", "广州"),
    ("深圳北", "IOQ", "深圳"),
    ("南昌西", "NXG", "南昌"),
    ("贵阳北", "KQW", "贵阳"),
    ("昆明南", "KOM", "昆明"),
    ("西安北", "EAY", "西安"),
    ("兰州西", "LAJ", "兰州"),
    ("成都东", "ICW", "成都"),
    ("重庆北", "CUW", "重庆"),
    ("沈阳北", "SBT", "沈阳"),
    ("长春西", "CRT", "长春"),
    ("哈尔滨西", "VAB", "哈尔滨"),
    ("福州南", "FXS", "福州"),
    ("厦门北", "XKS", "厦门"),
    ("合肥南", "ENH", "合肥"),
    ("太原南", "TNV", "太原"),
    ("青岛北", "QHK", "青岛"),
    ("南宁东", "NFZ", "南宁"),
]


@dataclass(frozen=True)
class Line:
    name: str
    stations: list[str]
    minutes: list[int]  # high-speed running minutes between consecutive stations
    prefix: str  # train number prefix for its high-speed trains
    conventional: str | None  # prefix of its conventional trains (K/Z/T), if any


LINES = [
    Line(
        "京沪",
        ["北京南", "天津南", "济南西", "徐州东", "南京南", "上海虹桥"],
        [33, 75, 70, 75, 65],
        "G",
        "T",
    ),
    Line(
        "京广",
        ["北京西", "石家庄", "郑州东", "武汉", "长沙南", "广州南", "深圳北"],
        [70, 80, 130, 80, 140, 35],
        "G",
        "Z",
    ),
    Line(
        "沪昆",
        ["上海虹桥", "杭州东", "南昌西", "长沙南", "贵阳北", "昆明南"],
        [45, 140, 85, 140, 130],
        "G",
        "K",
    ),
    Line("徐兰", ["郑州东", "西安北", "兰州西"], [120, 170], "D", "K"),
    Line("成渝", ["成都东", "重庆北"], [65], "C", None),
    Line("哈大", ["沈阳北", "长春西", "哈尔滨西"], [90, 60], "G", "K"),
    Line("东南沿海", ["杭州东", "福州南", "厦门北"], [230, 85], "D", None),
    Line("胶济", ["济南西", "青岛北"], [110], "G", None),
    Line("合福", ["合肥南", "南昌西", "福州南"], [150, 130], "G", None),
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志强海燕晓东文博宇浩子涵欣怡思雨"
)
REGIONS = ["110101", "310104", "440106", "420102", "510107", "330106", "320102", "610113"]
HSR_CLASSES = [("二等座", 0.46, 70), ("一等座", 0.74, 20), ("商务座", 1.46, 10)]
CONVENTIONAL_CLASSES = [("硬座", 0.10, 45), ("硬卧", 0.19, 40), ("软卧", 0.29, 15)]
TICKET_STATUS = [
    (TicketStatus.PAID, 70),
    (TicketStatus.USED, 12),
    (TicketStatus.CHANGED, 7),
    (TicketStatus.REFUNDED, 7),
    (TicketStatus.WAITLISTED, 4),
]
FOUND_ITEMS = [
    ("黑色双肩包，内有笔记本电脑和充电器", "箱包"),
    ("蓝色行李箱，贴有托运标签", "箱包"),
    ("白色华为手机，屏幕有裂痕", "电子产品"),
    ("银色苹果笔记本电脑", "电子产品"),
    ("黑色钱包，内有身份证和银行卡", "证件"),
    ("红色儿童书包，有卡通图案", "箱包"),
    ("灰色羽绒服外套", "衣物"),
    ("无线蓝牙耳机，白色充电盒", "电子产品"),
    ("棕色皮质手提包", "箱包"),
    ("护照一本，深红色封面", "证件"),
    ("黑色保温杯", "其他"),
    ("老花眼镜，金属框", "其他"),
    ("米色围巾", "衣物"),
    ("平板电脑，蓝色保护套", "电子产品"),
    ("玩具熊，棕色", "其他"),
]


def weighted(rng: random.Random, options: list[tuple[Any, int]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def id_number(rng: random.Random) -> str:
    """An 18-character resident ID with a valid ISO 7064 check character."""
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    body = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"


def name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def order_no(i: int) -> str:
    """Distinct, spread-out order numbers: E + 9 digits, a bijection of the index."""
    return f"E{(i * 7_919_993 + 104_729) % 10**9:09d}"


@dataclass
class TrainPlan:
    number: str
    type: TrainType
    stops: list[tuple[str, int | None, int | None]]  # station, arrive, depart


def plan_trains(rng: random.Random) -> list[TrainPlan]:
    plans: list[TrainPlan] = []
    used: set[str] = set()
    for line_no, line in enumerate(LINES):
        for direction in (0, 1):
            names = line.stations if direction == 0 else line.stations[::-1]
            minutes = line.minutes if direction == 0 else line.minutes[::-1]
            kinds = [(line.prefix, 1.0, 6)]
            if line.conventional:
                kinds.append((line.conventional, 2.1, 2))
            for prefix, slowness, count in kinds:
                for k in range(count):
                    base = 100 * (line_no + 1) + 2 * k + direction + (500 if slowness > 1 else 0)
                    number = f"{prefix}{base}"
                    if number in used:
                        continue
                    used.add(number)
                    start = 6 * 60 + k * 95 + rng.randrange(0, 30) + (180 if slowness > 1 else 0)
                    stops: list[tuple[str, int | None, int | None]] = []
                    clock = start
                    for idx, station in enumerate(names):
                        if idx == 0:
                            stops.append((station, None, clock))
                            continue
                        clock += int(minutes[idx - 1] * slowness)
                        if idx == len(names) - 1:
                            stops.append((station, clock, None))
                        else:
                            dwell = rng.choice((2, 3, 4, 5)) * (2 if slowness > 1 else 1)
                            stops.append((station, clock, clock + dwell))
                            clock += dwell
                    plans.append(TrainPlan(number, TrainType(prefix), stops))
    return plans


async def seed_network(session: AsyncSession, today: date, days: int, rng: random.Random) -> None:
    session.add_all(Station(name=n, code=c, city=city) for n, c, city in STATIONS)
    await session.flush()
    station_ids = {s.name: s.id for s in await session.scalars(select(Station))}
    for plan in plan_trains(rng):
        train = Train(number=plan.number, type=plan.type)
        train.stops = [
            TrainStop(seq=i, station_id=station_ids[st], arrive_min=arr, depart_min=dep)
            for i, (st, arr, dep) in enumerate(plan.stops)
        ]
        session.add(train)
        await session.flush()
        for offset in range(-1, days):
            run_date = today + timedelta(days=offset)
            status = weighted(
                rng, [(RunStatus.ON_TIME, 80), (RunStatus.DELAYED, 15), (RunStatus.CANCELLED, 5)]
            )
            delay = rng.choice((5, 8, 12, 15, 23, 35, 50, 75)) if status == RunStatus.DELAYED else 0
            last = None
            if offset < 0 or (offset == 0 and status != RunStatus.CANCELLED):
                # Yesterday's runs have arrived; today's have passed part of their route.
                reached = len(plan.stops) if offset < 0 else rng.randrange(0, len(plan.stops) + 1)
                last = station_ids[plan.stops[reached - 1][0]] if reached else None
            session.add(
                TrainRun(
                    train_id=train.id,
                    run_date=run_date,
                    status=status,
                    delay_minutes=delay,
                    last_station_id=last,
                    updated_at=at_minutes(run_date, plan.stops[0][2] or 0) - timedelta(hours=2),
                )
            )
    await session.flush()


async def _runs(session: AsyncSession) -> list[tuple[int, TrainType, list[tuple[int, int]]]]:
    """(run id, train type, [(station id, minute)]) for every run, for ticket generation."""
    stops: dict[int, list[tuple[int, int]]] = {}
    for st in await session.scalars(select(TrainStop).order_by(TrainStop.train_id, TrainStop.seq)):
        minute = st.depart_min if st.depart_min is not None else st.arrive_min or 0
        stops.setdefault(st.train_id, []).append((st.station_id, minute))
    rows = await session.execute(
        select(TrainRun.id, Train.type, Train.id)
        .join(Train, Train.id == TrainRun.train_id)
        .order_by(TrainRun.id)
    )
    return [(run_id, ttype, stops[train_id]) for run_id, ttype, train_id in rows]


def order_rows(
    start: int,
    count: int,
    runs: list[tuple[int, TrainType, list[tuple[int, int]]]],
    created: datetime,
    seed: int,
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for i in range(start, start + count):
        rng = random.Random(seed * 1_000_003 + i)  # each order on its own: batches don't matter
        run_id, ttype, stops = runs[rng.randrange(len(runs))]
        a = rng.randrange(0, len(stops) - 1)
        b = rng.randrange(a + 1, len(stops))
        hsr = ttype in (TrainType.G, TrainType.D, TrainType.C)
        seat_class, rate, _ = weighted(
            rng, [(c, c[2]) for c in (HSR_CLASSES if hsr else CONVENTIONAL_CLASSES)]
        )
        ride_minutes = max(20, stops[b][1] - stops[a][1])
        km = ride_minutes * (4.2 if hsr else 1.6)
        seat = (
            f"{rng.randrange(1, 18):02d}{rng.choice('ABCDF')}"
            if hsr
            else f"{rng.randrange(1, 120):03d}"
        )
        order = {
            "id": i + 1,
            "order_no": order_no(i),
            "passenger_name": name(rng),
            "id_number": id_number(rng),
            "phone": phone(rng),
            "created_at": created - timedelta(minutes=rng.randrange(0, 60 * 24 * 20)),
        }
        ticket = {
            "id": i + 1,
            "order_id": i + 1,
            "run_id": run_id,
            "from_station_id": stops[a][0],
            "to_station_id": stops[b][0],
            "coach": f"{rng.randrange(1, 17):02d}",
            "seat": seat,
            "seat_class": seat_class,
            "price_cents": int(km * rate * 100) // 50 * 50,
            "status": weighted(rng, TICKET_STATUS).value,
        }
        yield order, ticket


async def seed_orders(
    session: AsyncSession,
    count: int,
    seed: int,
    today: date,
    progress: Progress,
    batch: int = 20_000,
) -> None:
    runs = await _runs(session)
    start = await session.scalar(select(func.count()).select_from(Order)) or 0
    created = datetime(today.year, today.month, today.day, 9, tzinfo=CST)
    done = 0
    while done < count:
        n = min(batch, count - done)
        pairs = list(order_rows(start + done, n, runs, created, seed))
        await session.execute(insert(Order), [o for o, _ in pairs])
        await session.execute(insert(Ticket), [t for _, t in pairs])
        done += n
        if count >= 5 * batch or done == count:
            progress(f"  orders: {done:,}/{count:,}")


async def seed_found_items(session: AsyncSession, rng: random.Random, today: date) -> None:
    runs = list(
        await session.scalars(
            select(TrainRun)
            .where(TrainRun.run_date < today + timedelta(days=1))
            .order_by(TrainRun.id)
        )
    )
    stations = list(await session.scalars(select(Station.id).order_by(Station.id)))
    for i, (description, category) in enumerate(FOUND_ITEMS * 2):
        run = runs[rng.randrange(len(runs))]
        session.add(
            FoundItem(
                run_id=run.id,
                coach=f"{rng.randrange(1, 17):02d}",
                description=description,
                category=category,
                kept_at_station_id=rng.choice(stations),
                status=ItemStatus.HELD if i < len(FOUND_ITEMS) + 10 else ItemStatus.CLAIMED,
                found_at=at_minutes(run.run_date, 20 * 60),
            )
        )
    await session.flush()


async def seed_demo(
    session: AsyncSession,
    *,
    orders: int = 200,
    seed: int = 12306,
    today: date | None = None,
    days: int = 7,
    progress: Progress = print,
) -> None:
    """Fill an empty database with the demo data set. Refuses a database that has stations."""
    if await session.scalar(select(func.count()).select_from(Station)):
        raise SeedError("the database already has data; seed only an empty database")
    day = today or datetime.now(CST).date()
    rng = random.Random(seed)
    progress(f"Seeding demo data for {day} (seed {seed}): {len(STATIONS)} stations")
    await seed_network(session, day, days, rng)
    trains = await session.scalar(select(func.count()).select_from(Train))
    runs = await session.scalar(select(func.count()).select_from(TrainRun))
    progress(
        f"  trains: {trains}, runs: {runs} ({day - timedelta(days=1)} .. "
        f"{day + timedelta(days=days - 1)})"
    )
    await seed_found_items(session, rng, day)
    progress(f"  found items: {len(FOUND_ITEMS) * 2}")
    await seed_orders(session, orders, seed, day, progress)
    await seed_work_orders(session, rng)
    await seed_centers(session)
    progress(f"  contact centers: {', '.join(name for name, _ in CENTERS)}")


# The regional contact centers; agents are created per center with `hotline agents create`.
CENTERS = (("北京", "bj"), ("上海", "sh"), ("太原", "ty"))


async def seed_centers(session: AsyncSession) -> None:
    """The demo centers, added once (a database that has them keeps its own)."""
    from app.db.models import Center

    existing = set(await session.scalars(select(Center.code)))
    for name, code in CENTERS:
        if code not in existing:
            session.add(Center(name=name, code=code, enabled=True))
    await session.flush()


async def seed_work_orders(session: AsyncSession, rng: random.Random) -> None:
    from app.db.models import Channel
    from app.services.work_orders import create_work_order

    samples = [
        (WorkOrderType.COMPLAINT, "列车空调温度过低，乘务员未及时处理"),
        (WorkOrderType.CONSULTATION, "咨询儿童票购买规定"),
        (WorkOrderType.HELP, "老人需要轮椅协助上车"),
        (WorkOrderType.PRAISE, "表扬乘务员热情服务"),
        (WorkOrderType.SUGGESTION, "建议增加夜间车次"),
    ]
    for wtype, content in samples:
        await create_work_order(
            session,
            type=wtype,
            channel=rng.choice(list(Channel)),
            content=content,
            actor="seed",
            caller_number=phone(rng),
        )


class SeedError(RuntimeError):
    pass
