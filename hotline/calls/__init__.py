"""Calls: the one record of every call, the tracker that builds it from AMI events, metrics."""
