"""Who may act on an incident: the permission decision, as pure functions.

An *actor* is who sent a status update, known from the topic it arrived on (only that actor's
Kafka user may write it), never from a field of the message. Actors are written like routing
targets: ``ward:27139``, ``agency:fire``, ``city-ioc``.

* a **ward** may act only on incidents its ward owns, and speaks only for itself: an update from
  ``ward:27139`` must name ward 27139;
* an **agency** or the **city IOC** may act on an incident that was routed to it (a target of the
  rules' decision) or escalated to it (a target of one of its escalation rungs); it names the
  incident's ward in the update so the update reaches the ward's partition.

Example::

    >>> check_claim("ward:27139", update_naming_ward_27142)
    Traceback (most recent call last):
    routers.exceptions.Rejected: not_permitted: ward 27139 may only act on its own incidents ...

A refusal is :class:`~routers.exceptions.Rejected` with reason ``not_permitted``; the caller
dead-letters the update and leaves the incident unchanged.
"""

from __future__ import annotations

import dataclasses

from routers.exceptions import Rejected
from routers.incidents.model import Incident
from routers.incidents.status import Status
from routers.incidents.updates import StatusUpdate

CITY_IOC = "city-ioc"


def is_ward(actor: str) -> bool:
    return actor.startswith("ward:")


def ward_of(actor: str) -> str | None:
    return actor.partition(":")[2] if is_ward(actor) else None


def legacy_actor(update: StatusUpdate) -> str:
    """The shared, deprecated ``ioc.status`` cannot tell who wrote it: trust the ``ward`` field."""
    return f"ward:{update.ward}"


def check_claim(actor: str, update: StatusUpdate) -> None:
    """What can be refused from the update alone (before its incident is looked up)."""
    ward = ward_of(actor)
    if ward is None:
        return
    if update.ward != ward:
        raise Rejected("not_permitted",
                       f"ward {ward} may only act on its own incidents; the update names ward {update.ward}")
    if update.status == Status.REASSIGNED and update.to_ward == ward:
        raise Rejected("bad_update", "a reassignment must name another ward than the sender")


def reached(actor: str, incident: Incident) -> bool:
    """Whether ``incident`` was routed or escalated to the (non-ward) ``actor``."""
    if actor in incident.targets:
        return True
    return any(actor in step.targets for step in incident.escalations)


def check_permitted(actor: str, incident: Incident) -> None:
    """Raise ``not_permitted`` unless ``actor`` may act on ``incident``."""
    ward = ward_of(actor)
    if ward is not None:
        if incident.ward != ward:
            raise Rejected("not_permitted", f"incident {incident.id} belongs to ward {incident.ward}, not {ward}")
        return
    if not reached(actor, incident):
        raise Rejected("not_permitted", f"incident {incident.id} was neither routed nor escalated to {actor}")


def as_actor(actor: str, update: StatusUpdate) -> StatusUpdate:
    """The update with its audit name: an agency's or the city IOC's officer is recorded under the
    actor (``agency:fire/officer-3``) so the history tells who acted; a ward's stays as sent."""
    if is_ward(actor):
        return update
    sent = update.actor
    default = f"ward:{update.ward}"  # what update_from_json puts when the message had no actor
    return dataclasses.replace(update, actor=actor if sent in ("", default) else f"{actor}/{sent}")


def is_hand_back(actor: str, update: StatusUpdate) -> bool:
    """An agency or the city IOC gives an incident back to its ward: ``reassigned`` to the owning ward."""
    return not is_ward(actor) and update.status == Status.REASSIGNED and update.to_ward == update.ward
