"""The working-day calendar: one JSON file per year (see docs/workdays.md)."""
