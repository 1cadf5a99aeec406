-- One secret for all replicas, rotatable: the fingerprints of the secrets replicas may hold (a replica
-- whose current secret is not here refuses to start), and the secret each share's token is derived with.
CREATE TABLE secrets (
    fingerprint TEXT PRIMARY KEY,
    added_at BIGINT NOT NULL
);
ALTER TABLE shares ADD COLUMN secret_fingerprint TEXT;
