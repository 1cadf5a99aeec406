-- Recipients: one credential per colleague, granted datasets, one-time activation links, and the reads
-- the sharing servers recorded. A dataset's link share (anyone holding its snippet) stays in `shares`.

-- A credential is derived from the secret and the salt (stored nowhere itself); a rotation keeps the hash
-- of the one it replaced working until `previous_until`.
CREATE TABLE recipients (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    salt TEXT NOT NULL,
    secret_fingerprint TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    expires_at BIGINT,
    previous_token_hash TEXT,
    previous_until BIGINT,
    created_at BIGINT NOT NULL,
    last_read_at BIGINT,
    UNIQUE (owner, name)
);

-- One dataset granted to one recipient, published from start_version under table_name in the
-- recipient's own share (the name is chosen once, so a recipient's snippets never change under them).
CREATE TABLE grants (
    recipient_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    table_name TEXT NOT NULL,
    start_version BIGINT NOT NULL,
    history BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (recipient_id, dataset_id),
    UNIQUE (recipient_id, table_name)
);
CREATE INDEX grants_by_dataset ON grants (dataset_id);

-- One-time activation links: the SHA-256 of the code in the URL, never the code itself.
CREATE TABLE activation_links (
    code_hash TEXT PRIMARY KEY,
    recipient_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- Reads the sharing servers recorded, each once (the record's id), with the owner they belong to.
CREATE TABLE reads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    recipient_id TEXT,
    recipient_name TEXT NOT NULL,
    dataset_id TEXT,
    at BIGINT NOT NULL,
    operation TEXT NOT NULL,
    version BIGINT,
    files BIGINT,
    bytes BIGINT,
    status BIGINT NOT NULL,
    user_agent TEXT,
    address TEXT
);
CREATE INDEX reads_by_owner ON reads (owner, at);
