"""orderflow.features"""
