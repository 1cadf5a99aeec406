-- Bounded work per request: a file's object is read back once (its SHA-256 checked), then recorded.
ALTER TABLE upload_files ADD COLUMN verified_at BIGINT;
CREATE INDEX uploads_unprocessed ON uploads (committed_version, expires_at);
CREATE INDEX uploads_by_owner ON uploads (owner);
