"""The base layer: settings, database, time zone and day types, durable files, MQTT, web guards,
words. Imports nothing of ours above it."""
