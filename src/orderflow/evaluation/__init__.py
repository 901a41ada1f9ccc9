"""orderflow.evaluation"""
