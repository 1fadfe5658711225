#!/usr/bin/env python3
"""The reference for the differential test: occurrence start instants of iCalendar files, computed by
Python's `icalendar` and `recurring_ical_events` (an independent implementation of RFC 5545 recurrence).

Usage: reference.py ZONE FROM TO FILE...
  ZONE      IANA zone in which floating and date-only times are read (as Clarion reads them)
  FROM, TO  the span, as Unix seconds; occurrences that run in [FROM, TO) are listed

Prints one JSON object per file: {"file": ..., "starts": [unix seconds, sorted]} or {"file": ..., "error": ...}.
"""
import datetime
import json
import sys
import zoneinfo

import icalendar
import recurring_ical_events


def instant(value, zone):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return int(value.timestamp())
    # A date: midnight in the calendar's zone.
    return int(datetime.datetime(value.year, value.month, value.day, tzinfo=zone).timestamp())


def main():
    zone = zoneinfo.ZoneInfo(sys.argv[1])
    start = datetime.datetime.fromtimestamp(int(sys.argv[2]), datetime.timezone.utc)
    end = datetime.datetime.fromtimestamp(int(sys.argv[3]), datetime.timezone.utc)
    for path in sys.argv[4:]:
        try:
            with open(path, "rb") as f:
                calendar = icalendar.Calendar.from_ical(f.read())
            events = recurring_ical_events.of(calendar).between(start, end)
            starts = sorted(instant(e["DTSTART"].dt, zone) for e in events)
            print(json.dumps({"file": path, "starts": starts}), flush=True)
        except Exception as e:  # the reference refusing a file is a result too
            print(json.dumps({"file": path, "error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main()
