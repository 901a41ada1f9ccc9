"""Thin core under every stage: enums, errors, schemas, instruments, time, IO and the plug-in registry."""
