"""The response cache's parts: stores (diskcache, Redis), keys and sealed entries.

The stage that uses them is :mod:`component.stages.cache`.
"""
