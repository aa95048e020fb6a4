"""The centre's calendar: the official arrangement file and the calendar kept in the store."""
