"""Storage: the engine, the declarative base, shared column types and the migrations."""
