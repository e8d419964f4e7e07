"""Incident lifecycle, pure: correlation, the incident model, the status state machine, SLA
deadlines (paused while waiting on the citizen), the escalation ladder and the messages published.

Nothing here knows about Kafka, Faust or Redis; ``streams.lifecycle`` wires it to topics.
"""

from routers.incidents.book import Effects, IncidentBook, Outbound, Signal
from routers.incidents.correlation import CorrelationPolicy, find_incident, incident_id
from routers.incidents.model import Escalation, Evidence, HistoryEntry, Incident, incident_from_json
from routers.incidents.routed import RoutedEvent, routed_from_envelope
from routers.incidents.status import Status, check_transition
from routers.incidents.updates import StatusUpdate, update_from_json

__all__ = [
    "CorrelationPolicy", "Effects", "Escalation", "Evidence", "HistoryEntry", "Incident", "IncidentBook",
    "Outbound", "RoutedEvent", "Signal", "Status", "StatusUpdate", "check_transition", "find_incident",
    "incident_from_json", "incident_id", "routed_from_envelope", "update_from_json",
]
