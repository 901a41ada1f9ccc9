"""orderflow.pipeline"""
