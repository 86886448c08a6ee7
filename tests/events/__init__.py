"""Lambda events as AWS delivers them (EventBridge scheduled event, API Gateway REST proxy
event), loaded and adapted by tests/support/events.py."""
