"""orderflow.regimes"""
