"""Identity: people, organizations, memberships and roles, passwords, console sessions, audit."""
