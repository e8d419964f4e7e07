"""The MQTT bridge: Frigate payloads and sensor readings from MQTT to the intake topics."""
