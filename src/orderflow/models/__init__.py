"""orderflow.models"""
