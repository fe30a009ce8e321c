-- Images uploaded for LINE messages (issue 6, M07): one row per upload and its
-- renditions, stored in the (encrypted) database like facility photos. LINE's
-- servers fetch them without a login at /media/{token}/{rendition}; the token is
-- a long random id, never the row id.
CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL CHECK (purpose IN ('image', 'imagemap')),
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    upload_bytes INTEGER NOT NULL,
    file_name TEXT NOT NULL DEFAULT '',
    created_by INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX media_created ON media (created_at);

-- `original` (an image message's originalContentUrl), `preview` (≤ 240×240),
-- and for imagemaps the widths LINE requests: `240`, `300`, `460`, `700`, `1040`.
CREATE TABLE media_renditions (
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (media_id, name)
);
