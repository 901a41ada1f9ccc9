"""orderflow.ingest"""
