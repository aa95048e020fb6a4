"""The AMI bridge: a panoramisk connection with back-off, and AMI events as typed objects."""
