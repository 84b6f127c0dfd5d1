"""The web console: server-rendered pages under /console and the identity server's pages."""
