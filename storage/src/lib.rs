//! rallybot Store implementations on SQLite and PostgreSQL.
