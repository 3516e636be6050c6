"""Binding conversions between Overcast's triggers/stores and the library's Datums."""
