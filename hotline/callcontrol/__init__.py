"""Call control from the desktop: hold, hang-up, transfers, three-way calls, the call's steps."""
