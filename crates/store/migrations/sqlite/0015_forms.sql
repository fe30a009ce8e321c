-- Registration forms and surveys (issue 6; M05, M06, M08, M26). Items keep a
-- key unique within their form (never reused: `next_item`), so responses,
-- which hold their answers as JSON by item key, keep their meaning when items
-- are reordered or removed.
CREATE TABLE forms (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('preference', 'survey', 'staff')),
    is_open BOOLEAN NOT NULL DEFAULT FALSE,
    -- the form linked in the greeting a new friend receives; at most one
    first_follow BOOLEAN NOT NULL DEFAULT FALSE,
    next_item INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX forms_first_follow ON forms (first_follow) WHERE first_follow;

CREATE TABLE form_items (
    id INTEGER PRIMARY KEY,
    form_id INTEGER NOT NULL REFERENCES forms(id),
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    label TEXT NOT NULL,
    help TEXT NOT NULL DEFAULT '',
    required BOOLEAN NOT NULL DEFAULT FALSE,
    -- the domain's ItemSource as JSON (an attribute key, or a free question)
    source TEXT NOT NULL,
    UNIQUE (form_id, key)
);

CREATE TABLE form_responses (
    id INTEGER PRIMARY KEY,
    form_id INTEGER NOT NULL REFERENCES forms(id),
    -- NULL for a staff entry made for nobody in particular
    friend_id INTEGER REFERENCES line_friends(id),
    -- the staff member who entered it (staff-only forms)
    staff_id INTEGER,
    submitted_at TEXT NOT NULL,
    answers TEXT NOT NULL
);
CREATE INDEX form_responses_form ON form_responses (form_id, submitted_at);
CREATE INDEX form_responses_friend ON form_responses (friend_id, form_id, submitted_at);

-- Short-lived sessions of LIFF pages: created only from an ID token LINE
-- verified, bound to that friend. Only the token's SHA-256 is kept.
CREATE TABLE liff_sessions (
    token_hash TEXT PRIMARY KEY,
    friend_id INTEGER NOT NULL REFERENCES line_friends(id),
    expires_at TEXT NOT NULL
);
CREATE INDEX liff_sessions_expiry ON liff_sessions (expires_at);
