"""A load generator that behaves like a city evening: citizen reports, camera detections and
sensor readings placed inside real wards, with the faults real intake has."""
