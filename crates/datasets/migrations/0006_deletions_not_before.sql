-- A deletion that waits for a time: on S3 a presigned PUT URL keeps working until it expires, so the
-- objects of an abandoned upload, and of files a commit left out, are deleted again once the upload's
-- URLs have expired (whatever was PUT again meanwhile goes too).
ALTER TABLE deletions ADD COLUMN not_before BIGINT NOT NULL DEFAULT 0;
