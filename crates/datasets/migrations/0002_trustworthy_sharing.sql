-- Trustworthy sharing: shares publish from the version current when they were made (unless the owner
-- shares the history), removed files are remembered until a vacuum deletes them, deletions of storage go
-- through an outbox, commits hold a lease on their log entry, and share.yaml writers serialise here.

-- The first version a share publishes, and whether the owner chose to share the history (startVersion 0).
-- Shares made before this migration published everything; from now on they publish from the current version.
ALTER TABLE shares ADD COLUMN start_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE shares ADD COLUMN history BIGINT NOT NULL DEFAULT 0;
UPDATE shares SET start_version = (SELECT d.version FROM datasets d WHERE d.id = shares.dataset_id);

-- The version each current file was added in.
ALTER TABLE files ADD COLUMN added_version BIGINT NOT NULL DEFAULT 0;

-- Files an overwrite removed: needed by versions added_version .. removed_version - 1 until a vacuum
-- finds no share and no retention window reaching those versions, then deleted from storage.
CREATE TABLE removed_files (
    dataset_id TEXT NOT NULL,
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    added_version BIGINT NOT NULL,
    removed_version BIGINT NOT NULL,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, path)
);

-- Storage to delete (a deleted dataset's prefix, an abandoned upload's objects), recorded in the same
-- transaction as the decision, deleted once share.yaml no longer serves it (generation reached).
CREATE TABLE deletions (
    id TEXT PRIMARY KEY,
    prefix TEXT NOT NULL,
    multipart_key TEXT,
    multipart_id TEXT,
    after_generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);

-- When an upload's commit last started writing its log entry (a lease: another upload may remove that
-- entry only once the lease is long over).
ALTER TABLE uploads ADD COLUMN committing_at BIGINT;

-- The share.yaml writer's lock row and the generation last written to the file.
CREATE TABLE share_file (
    id BIGINT PRIMARY KEY,
    written_generation BIGINT NOT NULL
);
INSERT INTO share_file (id, written_generation) VALUES (1, -1);

-- The first version whose files are all still in storage (a vacuum moves it past the versions whose
-- removed files it deleted): a share with history starts there. Datasets overwritten before this
-- migration keep only what their last overwrite wrote.
ALTER TABLE datasets ADD COLUMN history_from BIGINT NOT NULL DEFAULT 0;
UPDATE datasets SET history_from = COALESCE(
    (SELECT MAX(v.version) FROM versions v WHERE v.dataset_id = datasets.id AND v.operation = 'overwrite'), 0);
