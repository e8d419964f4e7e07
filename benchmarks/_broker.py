"""Shared benchmark helpers: the embedded broker, realistic messages, topics, produce and count.

Every contender in a benchmark gets the same pre-generated ``messages`` (a list of ``(key, value)``
byte pairs) on a fresh input topic, and is measured the same way: a separate drain in the benchmark
process reads the output topic and timestamps when it holds N messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.embedded.stack import EmbeddedStack
from streams.settings import Settings

Message = tuple[bytes, bytes]

# Realistic citizen-report material: Vietnamese text with diacritics, HCMC places, the categories
# the intake accepts. Values come out at ~500-800 bytes of UTF-8 JSON, keys at ~10 bytes.
_CATEGORIES = ("flooding", "fallen_tree", "traffic_accident", "fire", "garbage", "pothole", "power_outage",
               "water_leak", "noise", "illegal_parking")
_STREETS = ("Nguyễn Huệ", "Lê Lợi", "Điện Biên Phủ", "Võ Văn Kiệt", "Cách Mạng Tháng Tám", "Nguyễn Thị Minh Khai",
            "Trần Hưng Đạo", "Hai Bà Trưng", "Phạm Văn Đồng", "Xô Viết Nghệ Tĩnh", "Lý Thường Kiệt", "Âu Cơ")
_WARDS = ("Phường Sài Gòn", "Phường Bến Thành", "Phường Tân Định", "Phường Bình Thạnh", "Phường Gia Định",
          "Phường Thủ Đức", "Phường Chợ Lớn", "Phường An Đông", "Phường Tân Sơn Nhất", "Phường Hạnh Thông")
_SENTENCES = (
    "Nước ngập sâu khoảng 40cm, xe máy chết máy hàng loạt, người dân phải dắt bộ.",
    "Cây xanh bị gió quật ngã chắn ngang đường, chưa có ai đến xử lý.",
    "Hai xe máy va chạm, một người bị thương nhẹ, giao thông ùn ứ kéo dài.",
    "Khói bốc lên từ tầng hai của căn nhà, người dân đang dùng bình chữa cháy mini.",
    "Rác thải sinh hoạt tập kết trên vỉa hè nhiều ngày, bốc mùi hôi thối.",
    "Ổ gà lớn giữa làn đường, buổi tối rất nguy hiểm cho người đi xe máy.",
    "Cả khu phố mất điện từ chiều, đèn giao thông ở ngã tư cũng không hoạt động.",
    "Đường ống nước bị vỡ, nước chảy tràn ra mặt đường suốt từ sáng.",
    "Quán karaoke mở nhạc rất lớn sau 22 giờ, ảnh hưởng giấc ngủ của cả hẻm.",
    "Ô tô đỗ trên vỉa hè và lòng đường, chắn lối vào hẻm.",
    "Đề nghị phường cử người đến kiểm tra và xử lý sớm.",
    "Tình trạng này lặp lại nhiều lần trong tháng, mong cơ quan chức năng quan tâm.",
)
_NAMES = ("Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Phúc", "Phạm Minh Thư", "Võ Thanh Tùng", "Đặng Thu Hà")


def make_messages(n: int, seed: int = 7) -> list[Message]:
    """``n`` citizen reports as ``(key, value)`` bytes, deterministic for a given ``seed``."""
    rng = random.Random(seed)
    messages: list[Message] = []
    for i in range(n):
        category = rng.choice(_CATEGORIES)
        report = {
            "type": "citizen_report",
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "category": category,
            "occurred_at": f"2025-09-{1 + i % 28:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00+07:00",
            "location": {"lat": round(10.70 + rng.random() * 0.15, 6), "lon": round(106.62 + rng.random() * 0.15, 6),
                         "accuracy_m": rng.choice((5, 10, 25, 50))},
            "address": f"{rng.randrange(1, 400)} {rng.choice(_STREETS)}, {rng.choice(_WARDS)}, TP. Hồ Chí Minh",
            "description": " ".join(rng.sample(_SENTENCES, rng.randint(2, 4))),
            "channel": rng.choice(("app", "hotline_1022", "zalo")),
            "reporter": {"name": rng.choice(_NAMES), "phone": f"09{rng.randrange(10**8):08d}"},
            "attachments": [f"https://media.ioc.example/{rng.getrandbits(48):012x}.jpg"] if rng.random() < 0.4 else [],
        }
        messages.append((f"r-{i:08d}".encode(), orjson.dumps(report)))
    return messages


@contextmanager
def embedded_settings(partitions: int = 4) -> Iterator[Settings]:
    """Start the embedded Tansu broker and Valkey (a pipeline row needs Redis); yield their settings.
    Their logs go to a temporary directory that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="ioc-bench-") as run_dir, \
            EmbeddedStack(Settings(partitions=partitions, data_dir=Path(run_dir) / "data"),
                          run_dir=Path(run_dir)) as stack:
        yield stack.settings


@contextmanager
def embedded_broker(partitions: int = 4) -> Iterator[str]:
    """:func:`embedded_settings`, yielding only the Kafka bootstrap address."""
    with embedded_settings(partitions) as settings:
        assert settings.kafka_bootstrap is not None
        yield settings.kafka_bootstrap


def create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    """Create benchmark topics (not part of the product's topic set), idempotently."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ioc-bench-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(name, partitions, 1) for name in names if name not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently: fine
                admin.create_topics(wanted)
    finally:
        admin.close()


async def produce(bootstrap: str, topic: str, messages: Sequence[Message]) -> float:
    """Produce all ``messages`` (keyed, so partitioning is the same for every contender) and wait for
    every ack; return the seconds it took."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024,
                                acks=1)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for key, value in messages:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await producer.stop()


@dataclass(frozen=True, slots=True)
class Drained:
    """What a drain saw: ``samples`` are ``(monotonic seconds, messages read so far)``, and the keys.
    (A result, not :data:`routers.progress.Progress`, which is told as work goes.)"""

    samples: tuple[tuple[float, int], ...]
    target: int
    keys: tuple[bytes, ...] = ()
    cpu_s: float | None = None  # contender CPU seconds from its first output message to the last one

    @property
    def count(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    @property
    def complete(self) -> bool:
        return self.count >= self.target


async def drain(bootstrap: str, topics: Sequence[str], target: int, timeout_s: float,
                alive: Callable[[], bool] | None = None, cpu: Callable[[], float] | None = None) -> Drained:
    """Read ``topics`` from the beginning (no consumer group) until ``target`` messages arrived or
    ``timeout_s`` passed (or ``alive()`` turned False: the contender died), timestamping each fetch.
    ``cpu()`` (the contender's CPU seconds so far) is read at the first and the last output message,
    which gives CPU per message without the contender's start-up.

    A real read, not end offsets: Tansu 0.6 answers ListOffsets(latest) with the base offset of a
    partition's last batch, so end offsets undercount by up to one batch per partition. Fetching
    with aiokafka's C record parser costs a few percent of a core at 40k messages/s.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", client_id="ioc-bench-drain",
                                fetch_max_wait_ms=50, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        partitions: list[TopicPartition] = []
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic)
            if not parts:
                raise RuntimeError(f"topic {topic} does not exist on the broker")
            partitions.extend(TopicPartition(topic, p) for p in sorted(parts))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        keys: list[bytes] = []
        count = 0
        samples: list[tuple[float, int]] = [(time.monotonic(), 0)]
        cpu_first = cpu_last = None
        deadline = time.monotonic() + timeout_s
        while count < target and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=100, max_records=20_000)
            got = 0
            for records in batches.values():
                got += len(records)
                keys.extend(r.key for r in records if r.key is not None)
            if got:
                count += got
                samples.append((time.monotonic(), count))
                if cpu is not None:
                    cpu_last = cpu()
                    cpu_first = cpu_last if cpu_first is None else cpu_first
            elif alive is not None and not alive():
                break
        cpu_s = cpu_last - cpu_first if cpu_first is not None and cpu_last is not None else None
        return Drained(tuple(samples), target, tuple(keys), cpu_s)
    finally:
        await consumer.stop()
