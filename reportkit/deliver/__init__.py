"""Delivery: sending what publishing wrote, one module per channel.

email.py     SMTP (or .eml files in a dry run), failure notices, the record of what was sent
"""
