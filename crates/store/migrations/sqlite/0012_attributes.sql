-- Friend attributes (属性, M09), friends' answers and saved segments (issue 6;
-- M05, M08, M11, M12). See crates/store/src/attributes.rs for the layout.

-- Attributes and their options as staff define them. Keys are stable: saved
-- segments, CSV files and the answer columns refer to them, so neither a key
-- nor a kind ever changes and nothing is ever deleted (retiring hides).
CREATE TABLE attributes (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN
        ('single_choice', 'multiple_choice', 'number', 'date', 'date_list', 'text')),
    position BIGINT NOT NULL CHECK (position >= 0),
    retired BOOLEAN NOT NULL DEFAULT FALSE,
    number_min BIGINT,
    number_max BIGINT,
    number_unit TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK ((kind = 'number') = (number_min IS NOT NULL AND number_max IS NOT NULL
                                AND number_unit IS NOT NULL)),
    CHECK (number_min <= number_max)
);

-- option_index is the option's stable number: the stored value of a single
-- choice, the bit of a multiple choice. Never reused, never changed.
CREATE TABLE attribute_options (
    attribute_id INTEGER NOT NULL REFERENCES attributes(id),
    option_index INTEGER NOT NULL CHECK (option_index BETWEEN 0 AND 65535),
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    position BIGINT NOT NULL CHECK (position >= 0),
    retired BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (attribute_id, option_index),
    UNIQUE (attribute_id, key),
    UNIQUE (attribute_id, label)
);

CREATE TRIGGER attributes_no_delete BEFORE DELETE ON attributes
BEGIN
    SELECT RAISE(ABORT, 'attributes are retired, never deleted');
END;

CREATE TRIGGER attributes_fixed BEFORE UPDATE OF key, kind ON attributes
WHEN NEW.key <> OLD.key OR NEW.kind <> OLD.kind
BEGIN
    SELECT RAISE(ABORT, 'an attribute keeps its key and kind');
END;

CREATE TRIGGER attribute_options_no_delete BEFORE DELETE ON attribute_options
BEGIN
    SELECT RAISE(ABORT, 'options are retired, never deleted');
END;

CREATE TRIGGER attribute_options_fixed BEFORE UPDATE OF attribute_id, option_index, key
ON attribute_options
WHEN NEW.attribute_id <> OLD.attribute_id OR NEW.option_index <> OLD.option_index
     OR NEW.key <> OLD.key
BEGIN
    SELECT RAISE(ABORT, 'an option keeps its attribute, index and key');
END;

-- One row per friend, scanned once by a segment count: the friend's channel
-- and status (copied from line_friends by the triggers below), the test-account
-- flag (M12), and typed answer columns a{id} (a{id}_{k}) that the store adds
-- with ALTER TABLE when staff create an attribute. No column here is ever
-- named from user input.
CREATE TABLE friend_answers (
    friend_id INTEGER PRIMARY KEY REFERENCES line_friends(id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('production', 'test')),
    status TEXT NOT NULL CHECK (status IN ('friend', 'blocked')),
    is_test BOOLEAN NOT NULL DEFAULT FALSE
);

INSERT INTO friend_answers (friend_id, channel, status)
SELECT id, channel, status FROM line_friends;

CREATE TRIGGER line_friends_answers_row AFTER INSERT ON line_friends
BEGIN
    INSERT INTO friend_answers (friend_id, channel, status)
    VALUES (NEW.id, NEW.channel, NEW.status);
END;

CREATE TRIGGER line_friends_answers_status AFTER UPDATE OF status ON line_friends
WHEN NEW.status <> OLD.status
BEGIN
    UPDATE friend_answers SET status = NEW.status WHERE friend_id = NEW.id;
END;

CREATE TRIGGER friend_answers_fixed BEFORE UPDATE OF friend_id, channel ON friend_answers
WHEN NEW.friend_id <> OLD.friend_id OR NEW.channel <> OLD.channel
BEGIN
    SELECT RAISE(ABORT, 'a friend''s answers stay with the friend');
END;

-- Date lists (children's birth dates, any number): one row per date, the
-- range index answers "has a child aged 3 to 5 months" without touching the
-- friends who have none. The friend's a{id} column counts the dates (NULL:
-- none), so "not answered" needs no look-up here. seq < 20 = domain MAX_DATES.
CREATE TABLE friend_answer_dates (
    friend_id INTEGER NOT NULL REFERENCES friend_answers(friend_id) ON DELETE CASCADE,
    attribute_id INTEGER NOT NULL REFERENCES attributes(id),
    seq INTEGER NOT NULL CHECK (seq >= 0 AND seq < 20),
    value TEXT NOT NULL CHECK (length(value) = 10),
    PRIMARY KEY (friend_id, attribute_id, seq)
) WITHOUT ROWID;
CREATE INDEX friend_answer_dates_value ON friend_answer_dates (attribute_id, value, friend_id);

-- Saved segments: the condition as the domain's tagged JSON.
CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    condition TEXT NOT NULL,
    created_by INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    updated_at TEXT NOT NULL
);
