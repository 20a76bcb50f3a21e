"""Tracking and push (跟踪推送): subscriptions (``ledger.push.subscriptions``), signed webhook delivery
(``ledger.push.webhook``), server-sent events (``ledger.push.sse``)."""
