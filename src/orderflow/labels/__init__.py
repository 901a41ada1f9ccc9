"""orderflow.labels"""
