"""orderflow.backtest"""
