"""SQLite schema of a run folder, as an ordered list of migrations.

Migration N brings the database from ``user_version`` N-1 to N. Never edit a released
migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the whole first schema.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE prompts (
        id        TEXT PRIMARY KEY,
        position  INTEGER NOT NULL,
        text      TEXT NOT NULL,
        topic     TEXT NOT NULL,
        emotion   TEXT NOT NULL,
        variant   TEXT NOT NULL,
        subject   TEXT NOT NULL,
        camera    TEXT NOT NULL,
        category  TEXT NOT NULL,
        scene     TEXT NOT NULL,
        style     TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id          TEXT PRIMARY KEY,
        prompt_id   TEXT NOT NULL REFERENCES prompts(id),
        model       TEXT NOT NULL,
        seed        INTEGER NOT NULL,
        params      TEXT NOT NULL,
        state       TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'submitted', 'completed', 'failed')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        request_id  TEXT,
        request     TEXT,
        response    TEXT,
        last_error  TEXT,
        cost_usd    REAL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE TABLE images (
        id          INTEGER PRIMARY KEY,
        job_id      TEXT NOT NULL REFERENCES jobs(id),
        idx         INTEGER NOT NULL DEFAULT 0,
        sha256      TEXT NOT NULL,
        path        TEXT NOT NULL,
        bytes       INTEGER NOT NULL,
        format      TEXT NOT NULL,
        width       INTEGER NOT NULL,
        height      INTEGER NOT NULL,
        model       TEXT NOT NULL,
        seed        INTEGER,
        cost_usd    REAL NOT NULL DEFAULT 0,
        source_url  TEXT,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (job_id, idx)
    );
    CREATE INDEX images_sha ON images(sha256);
    CREATE TABLE measurement_specs (
        analyzer    TEXT NOT NULL,
        version     TEXT NOT NULL,
        name        TEXT NOT NULL,
        unit        TEXT NOT NULL,
        better      TEXT NOT NULL CHECK (better IN ('higher', 'lower', 'none', 'target')),
        description TEXT NOT NULL,
        PRIMARY KEY (analyzer, name)
    );
    CREATE TABLE measurements (
        image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        analyzer    TEXT NOT NULL,
        version     TEXT NOT NULL,
        name        TEXT NOT NULL,
        value       REAL,
        text        TEXT,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (image_id, analyzer, name)
    );
    CREATE TABLE analysis_runs (
        image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        analyzer    TEXT NOT NULL,
        version     TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('done', 'failed')),
        error       TEXT,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (image_id, analyzer)
    );
    CREATE TABLE ledger (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('generation', 'judge')),
        model       TEXT NOT NULL,
        job_id      TEXT,
        image_id    INTEGER,
        usd         REAL NOT NULL,
        detail      TEXT,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE texts (
        kind        TEXT NOT NULL,
        version     TEXT NOT NULL,
        body        TEXT NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (kind, version)
    );
    CREATE TABLE aggregates (
        name        TEXT PRIMARY KEY,
        body        TEXT NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    """,
    # 2: each measurement's roles (score, adherence answer, card line, ...) as JSON.
    """
    ALTER TABLE measurement_specs ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
    """,
    # 3: reference labels from people (several labellers per image), where an imported
    # image came from, and the review page's stored sample.
    """
    CREATE TABLE labels (
        image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        dimension   TEXT NOT NULL CHECK (dimension IN
                    ('camera_angle', 'shot_size', 'expression', 'scene_match', 'style_match')),
        labeller    TEXT NOT NULL,
        answer      TEXT NOT NULL,
        source      TEXT NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (image_id, dimension, labeller)
    );
    CREATE INDEX labels_dimension ON labels(dimension);
    CREATE TABLE image_sources (
        image_id    INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        source      TEXT NOT NULL UNIQUE
    );
    CREATE TABLE review_samples (
        name        TEXT NOT NULL,
        position    INTEGER NOT NULL,
        image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        PRIMARY KEY (name, position)
    );
    """,
    # 4: measurements an analyzer could not make for an image it did measure, with the reason
    #    (a judge answer's invalid field is kept out, the rest of the answer is stored).
    """
    CREATE TABLE missing_measurements (
        image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        analyzer    TEXT NOT NULL,
        version     TEXT NOT NULL,
        name        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        PRIMARY KEY (image_id, analyzer, name)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
