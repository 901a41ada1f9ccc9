"""orderflow.book"""
