"""The database's migrations: numbered .sql files shipped with the bot as package data."""
