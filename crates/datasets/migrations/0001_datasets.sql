-- Portable SQL only (SQLite and Postgres): BIGINT for every integer, TEXT for everything else, times in
-- milliseconds since the epoch, ids made by the application.

-- A dataset exists once its first version is committed.
CREATE TABLE datasets (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    rows_count BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    schema_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (owner, name)
);
CREATE INDEX datasets_by_owner ON datasets (owner, created_at, id);

-- Every committed version.
CREATE TABLE versions (
    dataset_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    operation TEXT NOT NULL,
    rows_count BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    files_added BIGINT NOT NULL,
    rows_added BIGINT NOT NULL,
    committed_at BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, version)
);

-- The data files of each dataset's current version (what an overwrite removes).
CREATE TABLE files (
    dataset_id TEXT NOT NULL,
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    rows_count BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, path)
);

-- Presigned uploads, until processed.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    dataset_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    committed_version BIGINT
);

CREATE TABLE upload_files (
    upload_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    name TEXT NOT NULL,
    object_key TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    part_size BIGINT NOT NULL,
    multipart_id TEXT,
    PRIMARY KEY (upload_id, idx)
);

-- Shared datasets. The recipient token is never stored: it is derived from the server secret and salt.
CREATE TABLE shares (
    dataset_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    salt TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Bumped with every change to shares, so a share.yaml writer can tell whether what it wrote is current.
CREATE TABLE share_generation (
    id BIGINT PRIMARY KEY,
    generation BIGINT NOT NULL
);
INSERT INTO share_generation (id, generation) VALUES (1, 0);
