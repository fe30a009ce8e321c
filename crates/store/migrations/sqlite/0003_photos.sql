-- Facility photos, stored in the (encrypted) database so backups and
-- multi-instance deployments need nothing else.
CREATE TABLE facility_photos (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes BLOB NOT NULL,
    caption TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX facility_photos_facility ON facility_photos (facility_id, sort_order);
