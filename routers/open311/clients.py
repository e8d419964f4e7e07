"""Who may call the API (configured API keys) and for which city (jurisdictions).

Both are read once at start from the settings (``IOC_API_KEYS``, ``IOC_API_JURISDICTIONS``);
a malformed entry is refused there, naming it, never at request time.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from unidecode import unidecode

from routers.exceptions import Rejected
from routers.ingest.reports import CHANNELS

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MIN_KEY_CHARS = 16


@dataclass(frozen=True, slots=True)
class ApiClient:
    """An Open311 client (the 1022 portal, a citizen app): ``channel`` goes on its reports."""

    name: str
    channel: str
    key: str


class ApiKeys:
    """The configured clients, looked up by key in constant time per candidate."""

    def __init__(self, clients: tuple[ApiClient, ...]) -> None:
        self.clients = clients

    def client_for(self, offered: str | None) -> ApiClient | None:
        if not offered:
            return None
        found = None
        for client in self.clients:  # compare with every key: the time does not tell which one matched
            if hmac.compare_digest(client.key.encode(), offered.encode()):
                found = client
        return found


def parse_api_keys(text: str | None) -> ApiKeys:
    """``name:key`` or ``name:channel:key`` entries, comma- or newline-separated.

    >>> parse_api_keys("portal1022:portal:Xk2-9f8a7d6c5b4a3e2d").clients[0].channel
    'portal'
    """
    clients: list[ApiClient] = []
    for raw in re.split(r"[,\n]", text or ""):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        parts = entry.split(":")
        if len(parts) == 2:
            name, channel, key = parts[0], "app", parts[1]
        elif len(parts) == 3:
            name, channel, key = parts
        else:
            raise Rejected("bad_api_keys", f"API key entry {parts[0]!r}... is not name:key or name:channel:key")
        if not _NAME.match(name):
            raise Rejected("bad_api_keys", f"client name {name!r}: lower-case letters, digits, '_.-'")
        if channel not in CHANNELS:
            raise Rejected("bad_api_keys", f"client {name}: channel {channel!r} is not one of {sorted(CHANNELS)}")
        if len(key) < MIN_KEY_CHARS:
            raise Rejected("bad_api_keys", f"client {name}: the key is shorter than {MIN_KEY_CHARS} characters")
        if any(c.key == key for c in clients) or any(c.name == name for c in clients):
            raise Rejected("bad_api_keys", f"client {name}: its name or key is used twice")
        clients.append(ApiClient(name, channel, key))
    return ApiKeys(tuple(clients))


@dataclass(frozen=True, slots=True)
class City:
    key: str
    name: str  # the province-level name the address parser knows
    province_code: str
    aliases: tuple[str, ...]  # ascii, lower case: any of them in an address names the province


# Provinces merged into a city on 1 July 2025 count as the city: an old-format address in Thủ Dầu
# Một (Bình Dương) is inside the Hồ Chí Minh City jurisdiction and already names its province.
CITIES: Mapping[str, City] = MappingProxyType({
    "hcmc": City("hcmc", "Thành phố Hồ Chí Minh", "79",
                 ("ho chi minh", "hcm", "sai gon", "saigon", "binh duong", "ba ria", "vung tau", "brvt", "br-vt")),
    "hanoi": City("hanoi", "Thành phố Hà Nội", "01", ("ha noi", "hanoi")),
    "danang": City("danang", "Thành phố Đà Nẵng", "48", ("da nang", "danang", "quang nam")),
})


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    id: str
    city: City

    def complete_address(self, address: str) -> str:
        """The address with the city appended when it names no province of this jurisdiction:
        citizens write "12 Lê Lợi, P. Bến Nghé, Q.1" to their own city's portal.

        >>> JURISDICTION = Jurisdiction("hcmc", CITIES["hcmc"])
        >>> JURISDICTION.complete_address("P.6, Q.3")
        'P.6, Q.3, Thành phố Hồ Chí Minh'
        >>> JURISDICTION.complete_address("P.6, Q.3, TP.HCM")
        'P.6, Q.3, TP.HCM'
        """
        plain = " ".join(re.sub(r"[^a-z0-9-]+", " ", unidecode(address).lower()).split())
        padded = f" {plain} "
        if any(f" {alias} " in padded for alias in self.city.aliases) or "tphcm" in plain.replace(" ", ""):
            return address
        return f"{address}, {self.city.name}"


class Jurisdictions:
    def __init__(self, items: tuple[Jurisdiction, ...]) -> None:
        if not items:
            raise Rejected("bad_jurisdictions", "at least one jurisdiction is needed")
        self.items = items
        self.by_id = {j.id: j for j in items}

    @property
    def default(self) -> Jurisdiction:
        return self.items[0]

    def get(self, jurisdiction_id: str | None) -> Jurisdiction | None:
        """The named jurisdiction (None when unknown); the default when none is named."""
        if jurisdiction_id is None or jurisdiction_id == "":
            return self.default
        return self.by_id.get(jurisdiction_id)


def parse_jurisdictions(text: str) -> Jurisdictions:
    """``hcmc,hanoi`` or ``tphcm.gov.vn=hcmc,...``: the first one is the default."""
    items: list[Jurisdiction] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        jid, _, city = entry.partition("=") if "=" in entry else (entry, "=", entry)
        jid, city = jid.strip(), city.strip()
        if city not in CITIES:
            raise Rejected("bad_jurisdictions", f"jurisdiction {jid!r}: city {city!r} is not one of {sorted(CITIES)}")
        if not jid or len(jid) > 64 or any(j.id == jid for j in items):
            raise Rejected("bad_jurisdictions", f"jurisdiction id {jid!r} is empty, too long or used twice")
        items.append(Jurisdiction(jid, CITIES[city]))
    return Jurisdictions(tuple(items))
