"""Workload generation: arrival processes, token lengths, traces -> a stream of requests."""
