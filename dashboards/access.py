"""Whose reporters' names, phones and emails a dashboard viewer may see.

The credentials and ward scopes themselves (operator token, ward viewers file) are
:mod:`streams.viewers`, shared with the workers' APIs; re-exported here for the dashboard.
A token travels as ``Authorization: Bearer <token>``, as the password of HTTP basic auth (any user
name), or in the ``ioc_dashboard_token`` cookie that ``/?token=<token>`` sets for wall screens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routers.privacy import mask_contacts, mask_email_field, mask_phone_field
from streams import webguard
from streams.viewers import ALL_WARDS, ANONYMOUS, COOKIE, AccessPolicy, Viewer, load_viewers, token_hash

__all__ = ["ALL_WARDS", "ANONYMOUS", "COOKIE", "MASKED_NAME", "AccessPolicy", "Viewer", "for_viewer", "load_viewers",
           "mask_reporter", "presented_token", "token_hash"]

MASKED_NAME = "***"


def presented_token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """Bearer, basic auth's password, or the wall screen's cookie (:func:`streams.webguard.presented_token`)."""
    return webguard.presented_token(headers, cookies, COOKIE)


def mask_reporter(reporter: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Names hidden; phones, whatever their format, keep only their last 2 digits; an email keeps its
    first character and top-level domain (``routers.privacy``)."""
    if not reporter:
        return None
    name, phone, email = reporter.get("name"), reporter.get("phone"), reporter.get("email")
    masked = {"name": MASKED_NAME if name else None, "phone": mask_phone_field(phone) if phone else None}
    if email:
        masked["email"] = mask_email_field(email)
    return masked


def for_viewer(item: Mapping[str, Any], viewer: Viewer) -> dict[str, Any]:
    """A feed item as this viewer may see it: personal data only for wards they are authorized for.

    Free text (description, address) may hold a phone number or email typed by the citizen: masked too.
    """
    out = dict(item)
    if viewer.may_see_personal_data(item.get("ward")):
        return out
    if out.get("reporter"):
        out["reporter"] = mask_reporter(out["reporter"])
        out["masked"] = True
    for key in ("description", "address"):
        if isinstance(out.get(key), str):
            out[key] = mask_contacts(out[key])
    return out
