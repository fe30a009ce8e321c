-- Facility catalogue (issue 3): units and combinations (片面), equipment,
-- purposes, activities, user categories, fees, reductions, opening hours,
-- booking slots, closed days, closures, blocks, terms, holidays.

ALTER TABLE facilities ADD COLUMN contact TEXT NOT NULL DEFAULT '';
ALTER TABLE facilities ADD COLUMN latitude REAL;
ALTER TABLE facilities ADD COLUMN longitude REAL;
ALTER TABLE facilities ADD COLUMN change_days_before INTEGER NOT NULL DEFAULT 3 CHECK (change_days_before >= 0);
ALTER TABLE facilities ADD COLUMN resident_may_change BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE facilities ADD COLUMN activity_free_text BOOLEAN NOT NULL DEFAULT TRUE;

ALTER TABLE rooms ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'availability', 'private'));
ALTER TABLE rooms ADD COLUMN min_minutes INTEGER NOT NULL DEFAULT 0 CHECK (min_minutes >= 0);

-- Bookable units (面): the atoms a booking occupies.
CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    UNIQUE (room_id, name)
);

-- What can be booked: a named set of units (全面 = all, A面 = one half).
CREATE TABLE combinations (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    UNIQUE (room_id, name)
);
CREATE TABLE combination_units (
    combination_id INTEGER NOT NULL REFERENCES combinations(id) ON DELETE CASCADE,
    unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
    PRIMARY KEY (combination_id, unit_id)
);

CREATE TABLE user_categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    needs_proof BOOLEAN NOT NULL DEFAULT FALSE,
    sort_order INTEGER NOT NULL DEFAULT 0
);

-- Which categories may book a facility, how far ahead, and how often (A14).
CREATE TABLE facility_categories (
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES user_categories(id) ON DELETE CASCADE,
    window_kind TEXT NOT NULL CHECK (window_kind IN ('months', 'days')),
    window_n INTEGER NOT NULL CHECK (window_n >= 0),
    opens_on_day INTEGER NOT NULL DEFAULT 1 CHECK (opens_on_day BETWEEN 1 AND 28),
    monthly_limit INTEGER CHECK (monthly_limit IS NULL OR monthly_limit > 0),
    PRIMARY KEY (facility_id, category_id)
);

-- Usage purposes (利用目的, A15) for a facility, a room or one combination.
CREATE TABLE purposes (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    room_id INTEGER REFERENCES rooms(id) ON DELETE CASCADE,
    combination_id INTEGER REFERENCES combinations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0
);

-- Activity content choices (活動内容, A18).
CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    UNIQUE (facility_id, name)
);

-- Equipment and ancillary facilities (備品・附属設備, A12/A13).
CREATE TABLE equipment (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    room_id INTEGER REFERENCES rooms(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    stock INTEGER NOT NULL CHECK (stock >= 0),
    unit_label TEXT NOT NULL,
    fee INTEGER NOT NULL CHECK (fee >= 0),
    per_hour BOOLEAN NOT NULL,
    with_room BOOLEAN NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE fee_rules (
    id INTEGER PRIMARY KEY,
    combination_id INTEGER NOT NULL REFERENCES combinations(id) ON DELETE CASCADE,
    category_id INTEGER REFERENCES user_categories(id) ON DELETE CASCADE,
    days INTEGER NOT NULL,
    start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL CHECK (end_min > start_min),
    per_hour BOOLEAN NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0)
);

-- Reasons for fee reductions (減免).
CREATE TABLE reductions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    percent INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
    include_equipment BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE opening_rules (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    days INTEGER NOT NULL,
    season_from TEXT,
    season_to TEXT,
    start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL CHECK (end_min > start_min),
    sort_order INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE slot_patterns (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    days INTEGER NOT NULL,
    season_from TEXT,
    season_to TEXT,
    sort_order INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE slot_defs (
    id INTEGER PRIMARY KEY,
    pattern_id INTEGER NOT NULL REFERENCES slot_patterns(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL CHECK (end_min > start_min),
    sort_order INTEGER NOT NULL DEFAULT 0
);

-- Regular closed days (休館日): kind weekly | nth | annual | holidays.
CREATE TABLE closed_rules (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('weekly', 'nth', 'annual', 'holidays')),
    weekday INTEGER,
    n INTEGER,
    shift_if_holiday BOOLEAN NOT NULL DEFAULT FALSE,
    season_from TEXT,
    season_to TEXT,
    sort_order INTEGER NOT NULL DEFAULT 0
);

-- One-off closures (臨時休館) of a facility or one room.
CREATE TABLE closures (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    room_id INTEGER REFERENCES rooms(id) ON DELETE CASCADE,
    from_date DATE NOT NULL,
    to_date DATE NOT NULL CHECK (to_date >= from_date),
    reason TEXT NOT NULL
);

-- Times closed to general use (A25), for a facility, a room or one combination's units.
CREATE TABLE blocks (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    room_id INTEGER REFERENCES rooms(id) ON DELETE CASCADE,
    combination_id INTEGER REFERENCES combinations(id) ON DELETE CASCADE,
    date DATE NOT NULL,
    start_min INTEGER,
    end_min INTEGER,
    reason TEXT NOT NULL
);
CREATE INDEX blocks_date ON blocks (facility_id, date);

-- Terms of use (承諾書, A17), versioned; the newest version in force applies.
CREATE TABLE facility_terms (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    effective_from DATE NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (facility_id, version)
);

-- Staff changes to the computed national holidays (A03): a name adds or
-- renames the day, NULL removes a computed holiday. Special-law holidays are
-- seeded here as data.
CREATE TABLE holiday_overrides (
    date DATE PRIMARY KEY,
    name TEXT,
    source TEXT NOT NULL CHECK (source IN ('special_law', 'staff', 'import'))
);
