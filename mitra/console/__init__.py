"""The officers' console: accounts, sessions, the audit trail and the web pages."""
