"""orderflow.filters"""
