//! Delivery of alerts (placeholder until the notification module lands).
